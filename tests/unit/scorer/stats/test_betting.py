"""The betting confidence sequence: exact arithmetic, the martingale, both paths agree."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.scorer.stats import betting

ALPHA = 0.05


def brute_force_wealth(x: list[float], m: float, side: int) -> list[float]:
    """The mixture's wealth after each difference, by the definition, one bet at a time."""
    out, totals = [], [1.0] * betting.DELTAS.size
    mean, m2 = 0.0, 0.0
    for n, value in enumerate(x):
        scale = math.sqrt((betting.PRIOR_PAIRS * betting.PRIOR_SD**2 + m2)
                          / (betting.PRIOR_PAIRS + n))
        room = 1.0 / (1.0 + max(m if side == 0 else -m, 0.0))
        for g, delta in enumerate(betting.DELTAS):
            stake = min(delta / scale, betting.CAP) * room
            totals[g] *= 1.0 + (stake if side == 0 else -stake) * (value - m)
        out.append(sum(totals) / len(totals))
        step = value - mean
        mean += step / (n + 1)
        m2 += step * (value - mean)
    return out


def test_wealth_matches_the_definition_computed_by_hand():
    x = [0.3, -0.2, 0.9, -1.0, 1.0, 0.05, 0.05, -0.95]
    for m, side in itertools.product((-0.4, 0.0, 0.25, 0.9), (0, 1)):
        plus, minus = betting.mixture_paths(np.array(x), m)
        ours = np.exp(plus if side == 0 else minus)
        assert ours == pytest.approx(brute_force_wealth(x, m, side), rel=1e-10)


def test_wealth_is_a_martingale_under_any_distribution_with_that_mean():
    # Exact expectation over every sequence of a two-point law (+0.05 w.p. 0.95, -0.95 w.p.
    # 0.05: the worst case for the t-mixture), three steps: E[K_3] = 1 exactly.
    values, probs = (0.05, -0.95), (0.95, 0.05)
    for side in (0, 1):
        expected = 0.0
        for path in itertools.product(range(2), repeat=3):
            x = [values[i] for i in path]
            weight = math.prod(probs[i] for i in path)
            expected += weight * brute_force_wealth(x, 0.0, side)[-1]
        assert expected == pytest.approx(1.0, abs=1e-12)


def test_streaming_and_vectorised_paths_report_the_same():
    rng = np.random.default_rng(3)
    for effect, n in ((0.08, 400), (0.0, 300), (-0.15, 200)):
        x = np.clip(rng.normal(effect, 0.25, n), -1, 1)
        seq = betting.BettingSequence(betting.m_grid((0.05, -0.05)), ALPHA)
        first = None
        for i, value in enumerate(x, 1):
            seq.add(float(value))
            if first is None and seq.p_value() <= ALPHA:
                first = i
        whole = betting.analyze_stream(x, ALPHA, (0.05, -0.05))
        assert whole.first_rejection == first
        assert whole.p_value == pytest.approx(seq.p_value(), rel=1e-9)
        assert (whole.cs_low, whole.cs_high) == seq.interval()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1.0, 1.0), min_size=1, max_size=40))
def test_the_sequence_is_an_interval_in_range_holding_the_sample_mean_early(xs):
    seq = betting.BettingSequence(betting.m_grid(), ALPHA)
    for value in xs:
        seq.add(value)
    low, high = seq.interval()
    assert -1.0 <= low <= high <= 1.0
    plus = seq.best[0] >= betting.threshold(ALPHA)
    minus = seq.best[1] >= betting.threshold(ALPHA)
    # K+ rejects a prefix of the candidates and K- a suffix: the sequence is an interval.
    assert not np.any(np.diff(plus.astype(int)) > 0)
    assert not np.any(np.diff(minus.astype(int)) < 0)


def test_zero_spread_is_not_proof():
    # Eleven identical differences of +0.1 are weak evidence for a bounded mean: a bet can
    # never multiply wealth by more than 1 + 0.9 * 0.1 a pair.
    seq = betting.BettingSequence(betting.m_grid(), ALPHA)
    for _ in range(11):
        seq.add(0.1)
    assert seq.p_value() > ALPHA
    assert seq.interval()[0] < 0 < seq.interval()[1]


def test_pass_fail_pairs_bet_only_on_the_discordant_ones():
    # Concordant pairs (difference 0) leave the wealth against 0 unchanged; the scale they
    # feed only resizes the next bets. So 20 wins in 20 discordant pairs reject at once
    # however many ties surround them.
    wins = [1.0] * 20
    seq = betting.BettingSequence(betting.m_grid(), ALPHA)
    for value in wins:
        seq.add(value)
    assert seq.p_value() < 1e-4 and seq.interval()[0] > 0.5


def test_unpaired_blocks_depend_only_on_the_order_of_arrival():
    arms = np.array([0, 0, 0, 1, 0, 1, 1, 0])
    values = np.array([0.2, 0.4, 0.6, 1.0, 0.0, 0.5, 0.7, 0.1])
    diffs, closed = betting.pseudo_pairs(arms, values)
    assert diffs == pytest.approx([1.0 - 0.4, 0.5 - 0.0, 0.7 - 0.1])
    assert closed.tolist() == [3, 5, 7]


def test_a_difference_outside_the_range_is_refused():
    seq = betting.BettingSequence(betting.m_grid(), ALPHA)
    with pytest.raises(ValueError, match="must lie in"):
        seq.add(1.5)
    assert seq.n == 0
