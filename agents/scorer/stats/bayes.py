"""Bayesian summaries: P(best) and the expected loss of shipping each variation.

Two binary arms with uniform Beta(1, 1) priors have exact answers (Evan Miller, "Formulas
for Bayesian A/B testing", 2015; Chris Stucchio, "Bayesian A/B testing at VWO", 2015), and so
does one paired difference (a Student t: its CDF and partial expectation). More arms use
seeded Monte Carlo so an analysis is reproducible. These figures are reported, never decide
(the confidence sequence does), and the scorer computes them at every snapshot: that is why
two arms get the closed forms and the Monte Carlo stops at MONTE_CARLO_DRAWS.

When trials pair by cell, the arms are not independent: a hard test case lowers every arm's
score at once, so what is known about the differences is far sharper than what is known
about each mean. paired_best_and_loss draws from the posterior of the vector of mean
differences against the control, (v_1 - c, ..., v_k - c), under the normal model with the
scale-invariant prior: a multivariate t with n - k degrees of freedom (Box & Tiao 1973,
section 8.2), so small samples get heavy tails, not false certainty. A weak prior of
PRIOR_PAIRS pseudo-cells of spread PRIOR_SD keeps zero-spread samples from claiming it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, gammaln, stdtr

from agents.scorer.stats.tails import norm_sf

_EXACT_TERMS = 2_000_000  # beyond this many terms in the exact sum, use the normal approximation
# 10,000 draws: a P(best) within 0.005 (one Monte-Carlo SE at worst), at a quarter of the
# cost of 40,000 (~5 ms of an analysis for 3 variations; the snapshots repeat it).
MONTE_CARLO_DRAWS = 10_000
MONTE_CARLO_SEED = 20170813  # fixed: the same state always gives the same analysis


def prob_beta_greater(a: float, b: float, c: float, d: float) -> float:
    """P(Y > X) for X ~ Beta(a, b), Y ~ Beta(c, d) with integer c (Evan Miller's sum)."""
    if c > _EXACT_TERMS:
        return _normal_prob_greater(a, b, c, d)
    i = np.arange(int(c), dtype=float)
    terms = betaln(a + i, b + d) - np.log(d + i) - betaln(1 + i, d) - betaln(a, b)
    return float(min(1.0, max(0.0, np.exp(terms).sum())))


def _normal_prob_greater(a: float, b: float, c: float, d: float) -> float:
    mean_x, mean_y = a / (a + b), c / (c + d)
    var_x = a * b / ((a + b) ** 2 * (a + b + 1))
    var_y = c * d / ((c + d) ** 2 * (c + d + 1))
    return norm_sf((mean_x - mean_y) / math.sqrt(var_x + var_y))  # P(Y - X > 0)


@dataclass(frozen=True)
class BinaryComparison:
    p_b_beats_a: float
    expected_loss_a: float  # E[max(p_b - p_a, 0)]: what shipping A gives up
    expected_loss_b: float  # E[max(p_a - p_b, 0)]


def compare_binary(successes_a: int, trials_a: int, successes_b: int, trials_b: int
                   ) -> BinaryComparison:
    """Exact P(p_b > p_a) and expected losses under uniform priors."""
    for s, n in ((successes_a, trials_a), (successes_b, trials_b)):
        if n < 0 or not 0 <= s <= n:
            raise ValueError(f"successes must lie in [0, trials], got {s}/{n}")
    a, b = 1 + successes_a, 1 + trials_a - successes_a
    c, d = 1 + successes_b, 1 + trials_b - successes_b
    p_b = prob_beta_greater(a, b, c, d)
    # E[p_b 1{p_b > p_a}] = E[p_b] P(Beta(c+1, d) > Beta(a, b)), and likewise for p_a.
    mean_a, mean_b = a / (a + b), c / (c + d)
    upper_b = mean_b * prob_beta_greater(a, b, c + 1, d)
    upper_a = mean_a * prob_beta_greater(a + 1, b, c, d)
    loss_a = max(0.0, upper_b - upper_a)  # E[(p_b - p_a) 1{p_b > p_a}]
    # (p_a - p_b)+ = (p_b - p_a)+ - (p_b - p_a), so the other loss follows from the means.
    loss_b = max(0.0, loss_a - (mean_b - mean_a))
    return BinaryComparison(p_b, loss_a, loss_b)


# One pseudo-cell of spread 0.1 (a tenth of the score range): enough that zero spread does
# not mean zero uncertainty, too little to blur the sharp differences pairing gives.
PRIOR_SD, PRIOR_PAIRS = 0.1, 1.0


@dataclass(frozen=True)
class Posterior:
    """A variation's posterior: Beta(alpha, beta) for pass rates, or a location-scale
    Student t (mean, scale, df) for mean scores."""

    kind: str  # "beta" or "t"
    first: float
    second: float
    df: float = math.inf


def mean_posterior(n: int, mean: float, m2: float) -> Posterior:
    """The t posterior of one arm's mean score, with the weak prior on its spread."""
    df = n - 1 + PRIOR_PAIRS
    scale = math.sqrt((m2 + PRIOR_PAIRS * PRIOR_SD**2) / (df * n))
    return Posterior("t", mean, scale, df)


def paired_best_and_loss(mean: np.ndarray, scatter: np.ndarray, n: int,
                         draws: int = MONTE_CARLO_DRAWS) -> list[tuple[float, float]]:
    """(P(best), expected loss) for the control then each variation, from n complete cells
    with mean difference vector `mean` (k,) and scatter matrix (k, k) of the differences."""
    k = mean.size
    df = n - k + PRIOR_PAIRS
    if df <= 0:
        raise ValueError(f"{n} complete cells cannot inform {k} differences")
    scale = (scatter + PRIOR_PAIRS * PRIOR_SD**2 * np.eye(k)) / (n * df)
    if k == 1 and df > 1:  # the partial expectation needs a finite mean
        return one_difference_best_and_loss(float(mean[0]), math.sqrt(scale[0, 0]), df)
    return paired_draws(mean, scale, df, draws)


def one_difference_best_and_loss(mu: float, s: float, df: float) -> list[tuple[float, float]]:
    """(P(best), expected loss) for the control and one variation whose difference to it is
    D = mu + s T_df: P(variation best) = F(mu / s); shipping the variation loses E[(-D)+],
    keeping the control E[D+]."""
    p_variation = float(stdtr(df, mu / s))
    return [(1.0 - p_variation, _t_positive_part(mu, s, df)),
            (p_variation, _t_positive_part(-mu, s, df))]


def _t_positive_part(mu: float, s: float, df: float) -> float:
    """E[X+] for X = mu + s T_df (df > 1): mu F(r) + s (df + r^2) / (df - 1) f(r), r = mu/s.

    The density is written out with gammaln because scipy.special has the t CDF as a ufunc
    (stdtr) but no density; scipy.stats.t.pdf would cost its argument handling again."""
    r = mu / s
    log_pdf = (gammaln((df + 1) / 2) - gammaln(df / 2) - 0.5 * math.log(df * math.pi)
               - (df + 1) / 2 * math.log1p(r * r / df))
    return max(0.0, mu * float(stdtr(df, r)) + s * (df + r * r) / (df - 1) * math.exp(log_pdf))


def paired_draws(mean: np.ndarray, scale: np.ndarray, df: float, draws: int
                  ) -> list[tuple[float, float]]:
    """The Monte-Carlo form for any number of differences (multivariate t with shape `scale`)."""
    k = mean.size
    root = np.linalg.cholesky(scale)
    rng = np.random.default_rng(MONTE_CARLO_SEED)
    z = rng.standard_normal((draws, k))
    stretch = np.sqrt(df / rng.chisquare(df, draws))
    differences = mean + (z @ root.T) * stretch[:, None]
    return _best_and_loss(np.column_stack([np.zeros(draws), differences]).T)


def best_and_loss(posteriors: Sequence[Posterior], draws: int = MONTE_CARLO_DRAWS
                  ) -> list[tuple[float, float]]:
    """(P(best), expected loss E[max_j theta_j - theta_i]) per posterior: exact for two
    pass rates (integer Beta parameters, as the uniform prior gives), else seeded Monte Carlo."""
    if not posteriors:
        return []
    if len(posteriors) == 2 and all(_integer_beta(p) for p in posteriors):
        first, second = posteriors
        exact = compare_binary(int(first.first) - 1, int(first.first + first.second) - 2,
                               int(second.first) - 1, int(second.first + second.second) - 2)
        return [(1.0 - exact.p_b_beats_a, exact.expected_loss_a),
                (exact.p_b_beats_a, exact.expected_loss_b)]
    rng = np.random.default_rng(MONTE_CARLO_SEED)
    samples = np.empty((len(posteriors), draws))
    for row, post in enumerate(posteriors):
        if post.kind == "beta":
            samples[row] = rng.beta(post.first, post.second, size=draws)
        else:
            samples[row] = post.first + post.second * rng.standard_t(post.df, size=draws)
    return _best_and_loss(samples)


def _integer_beta(post: Posterior) -> bool:
    return (post.kind == "beta" and post.first >= 1 and post.second >= 1
            and float(post.first).is_integer() and float(post.second).is_integer())


def _best_and_loss(samples: np.ndarray) -> list[tuple[float, float]]:
    """Per row (arm) of posterior draws: share of draws it is the best, mean shortfall."""
    best = samples.max(axis=0)
    winners = np.bincount(samples.argmax(axis=0), minlength=samples.shape[0]) / samples.shape[1]
    losses = (best - samples).mean(axis=1)
    return [(float(w), float(loss)) for w, loss in zip(winners, losses, strict=True)]
