"""The betting confidence sequence against the references of its field.

confseq (Waudby-Smith & Ramdas' own code, github.com/gostevehoward/confseq) documents no
fixed numbers for its betting CS: its tests (test/python_tests/test_betting.py,
test_predmix.py) check properties, and the paper ("Estimating means of bounded random
variables by betting", JRSS-B 2023, section 4 and figures 3-5) compares widths with the
predictable plug-in Hoeffding and empirical-Bernstein CSs. Where our construction matches
theirs we check the same property; where it differs we say how and check what still must
hold:

- Theirs bets on [0, 1] data with one predictable plug-in bet (aGRAPA / PrPl) per
  candidate, hedged over the two sides with theta = 1/2 and a grid of 1,000 candidates; ours
  bets on differences in [-1, 1] with a mixture of 10 fixed standardised bets scaled by the
  predictable SD, the same theta = 1/2 split (a side rejects at 2 / alpha), and a 0.01 grid
  (bounds conservative by one step). So our width has a floor of about two grid steps, and
  we compare widths with that slack.
- The Hoeffding and empirical-Bernstein CSs below are written here from the paper's
  formulas (its Propositions 1 and Theorem 2, predictable plug-in lambdas, running
  intersection), on y = (x + 1) / 2 in [0, 1], and mapped back.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from agents.scorer.stats import betting

ALPHA = 0.05


def _plugin_lower(y: np.ndarray, alpha: float, kind: str) -> np.ndarray:
    """The paper's predictable plug-in lower CS for the mean of y in [0, 1] (one-sided at
    alpha), running intersection: Hoeffding (kind "H") or empirical Bernstein ("EB")."""
    t = np.arange(1, y.size + 1, dtype=float)
    if kind == "H":
        lam = np.minimum(np.sqrt(8 * math.log(1 / alpha) / (t * np.log1p(t))), 1.0)
        penalty = lam**2 / 8
    else:
        mu = (0.5 + np.cumsum(y)) / (t + 1)
        mu_before = np.concatenate([[0.5], mu[:-1]])
        var = (0.25 + np.cumsum((y - mu) ** 2)) / (t + 1)
        var_before = np.concatenate([[0.25], var[:-1]])
        lam = np.minimum(np.sqrt(2 * math.log(1 / alpha) / (var_before * t * np.log1p(t))),
                         0.5)
        penalty = 4 * (y - mu_before) ** 2 * (-np.log1p(-lam) - lam) / 4
    low = (np.cumsum(lam * y) - math.log(1 / alpha) - np.cumsum(penalty)) / np.cumsum(lam)
    return np.maximum.accumulate(low)


def plugin_width(x: np.ndarray, kind: str) -> float:
    """Width of the two-sided plug-in CS (alpha / 2 a side) for differences x in [-1, 1]."""
    y = (x + 1) / 2
    low = _plugin_lower(y, ALPHA / 2, kind)[-1]
    high = 1 - _plugin_lower(1 - y, ALPHA / 2, kind)[-1]
    return 2 * (min(high, 1.0) - max(low, 0.0))


LAWS = {
    # a difference of two low-variance scores, centred off zero
    "beta-scores": lambda rng, n: rng.beta(10, 30, n) - rng.beta(10, 30, n) + 0.05,
    # pass/fail pairs, 50 % against 40 %
    "pass-fail": lambda rng, n: rng.binomial(1, 0.5, n) - rng.binomial(1, 0.4, n) * 1.0,
    # the two-point law
    "two-point": lambda rng, n: np.where(rng.random(n) < 0.95, 0.05, -0.95),
    "uniform": lambda rng, n: rng.uniform(-1, 1, n),
}


@pytest.mark.parametrize("law", sorted(LAWS))
def test_width_is_below_hoeffding_and_within_the_grid_of_empirical_bernstein(law):
    # The paper's figures: the betting CS is never wider than the plug-in Hoeffding CS and
    # at most as wide as the plug-in empirical-Bernstein CS (up to our 0.01 grid).
    rng = np.random.default_rng(sorted(LAWS).index(law) + 17)
    x = np.clip(LAWS[law](rng, 5000), -1, 1)
    for n in (100, 1000, 5000):
        ours = betting.analyze_stream(x[:n], ALPHA)
        width = ours.cs_high - ours.cs_low
        assert width < plugin_width(x[:n], "H")
        assert width <= plugin_width(x[:n], "EB") + 2 * betting.GRID_STEP + 1e-12


def test_the_sequence_is_nested_in_alpha_at_every_look():
    # confseq test_predmix: CSs at alpha 0.01 contain those at 0.05, which contain 0.1.
    rng = np.random.default_rng(3)
    seq = betting.BettingSequence(betting.m_grid(), 0.01)
    for i, value in enumerate(np.clip(rng.normal(0.05, 0.3, 600), -1, 1)):
        seq.add(float(value))
        if i % 50 == 49:
            wide, mid, narrow = (seq.interval(a) for a in (0.01, 0.05, 0.1))
            assert wide[0] <= mid[0] <= narrow[0] <= narrow[1] <= mid[1] <= wide[1]


def test_two_sided_power_against_both_sides_as_confseq_theta_one_half():
    # confseq test_betting_mart_power: on Bernoulli(1/2) data the hedged (theta = 1/2)
    # martingale exceeds 20 against 0.25 and against 0.75. On differences 2 B - 1 those
    # candidates are -0.5 and +0.5; each side's mixture must pass 20 (x 2 for our split).
    rng = np.random.default_rng(0)
    x = 2.0 * rng.binomial(1, 0.5, 10_000) - 1.0
    plus, _ = betting.mixture_paths(x, -0.5)
    _, minus = betting.mixture_paths(x, 0.5)
    assert plus.max() > math.log(40) and minus.max() > math.log(40)
    # ... and neither side gets rich against the truth, 0.
    plus0, minus0 = betting.mixture_paths(x, 0.0)
    assert max(plus0.max(), minus0.max()) < math.log(2 / ALPHA)


def test_rejected_candidates_are_exactly_those_whose_wealth_crossed():
    # confseq test_cs_from_martingale: outside [l, u] the martingale exceeded 1/alpha;
    # inside (beyond one grid step from the ends) it never did.
    rng = np.random.default_rng(9)
    x = np.clip(rng.beta(2, 5, 800) - rng.beta(2, 5, 800) + 0.03, -1, 1)
    result = betting.analyze_stream(x, ALPHA)
    level = betting.threshold(ALPHA)
    for m in np.round(np.arange(-0.3, 0.31, 0.01), 2):
        plus, minus = betting.mixture_paths(x, float(m))
        crossed = max(plus.max(), minus.max()) >= level
        if m < result.cs_low - 1e-9 or m > result.cs_high + 1e-9:
            assert crossed, m
        elif result.cs_low + betting.GRID_STEP <= m <= result.cs_high - betting.GRID_STEP:
            assert not crossed, m


@pytest.mark.parametrize("mean", [-0.6, 0.0, 0.6])
def test_time_uniform_coverage_on_bernoulli_differences_as_confseq_checks(mean):
    # confseq test_betting_mart_crossing_probabilities: Bernoulli(m) data, alpha 0.1,
    # the share of streams whose martingale ever crosses is not significantly above alpha.
    rng = np.random.default_rng(int(10 * mean) + 50)
    p = (mean + 1) / 2
    streams, n, alpha = 400, 2000, 0.1
    x = 2.0 * rng.binomial(1, p, (streams, n)) - 1.0
    plus, minus = betting.mixture_paths(x, mean)
    crossed = int((np.maximum(plus, minus).max(axis=1) >= betting.threshold(alpha)).sum())
    assert sps.binomtest(crossed, streams, alpha, alternative="greater").pvalue > 0.01
