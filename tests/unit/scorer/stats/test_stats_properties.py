"""Property tests (hypothesis) for the statistics engine."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy.stats import beta
from statsmodels.stats.multitest import multipletests

from agents.scorer.stats import ExperimentStats, Observation
from agents.scorer.stats.bayes import compare_binary
from agents.scorer.stats.moments import RunningMoments
from agents.scorer.stats.multiple import adjust_p_values
from agents.scorer.stats.power import t_test_power, t_test_sample_size
from agents.scorer.stats.srm import srm_p_value
from schemas.experiment import AnalysisConfig

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

values = st.floats(0.0, 1.0, allow_nan=False)


@FAST
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=0, max_size=60),
       st.integers(0, 60))
def test_merged_moments_equal_the_whole(xs, cut):
    cut = min(cut, len(xs))
    left, right, whole = RunningMoments(), RunningMoments(), RunningMoments()
    for x in xs[:cut]:
        left.add(x)
    for x in xs[cut:]:
        right.add(x)
    for x in xs:
        whole.add(x)
    merged = left.merged(right)
    assert merged.n == len(xs)
    if xs:
        assert math.isclose(merged.mean, float(np.mean(xs)), rel_tol=1e-9, abs_tol=1e-9)
    if len(xs) >= 2:
        assert math.isclose(merged.variance, float(np.var(xs, ddof=1)), rel_tol=1e-6,
                            abs_tol=1e-6)
        assert math.isclose(whole.variance, float(np.var(xs, ddof=1)), rel_tol=1e-6,
                            abs_tol=1e-6)


trial_lists = st.lists(
    st.tuples(st.sampled_from(["ctl", "a", "b"]), st.integers(0, 8), values,
              st.booleans()),
    min_size=1, max_size=40)


def observations(rows) -> list[Observation]:
    """As the trials agent makes them: one trial per (variation, cell), its id derived from
    both, so a variation never has two different trials in one cell."""
    out, seen = [], set()
    for vid, cell, value, failed in rows:
        if (vid, cell) in seen:
            continue
        seen.add((vid, cell))
        out.append(Observation(f"{vid}-{cell}", vid, vid.upper(), vid == "ctl", (),
                               f"c{cell}|m|0", "m", None if failed else value))
    return out


@FAST
@given(trial_lists, st.randoms(use_true_random=False))
def test_redelivery_and_reordering_never_change_the_counts(rows, rnd):
    trials = observations(rows)
    once = ExperimentStats(AnalysisConfig())
    for o in trials:
        once.fold(o)
    replayed = trials + rnd.sample(trials, len(trials))  # at-least-once: everything twice
    rnd.shuffle(replayed)
    twice = ExperimentStats(AnalysisConfig())
    folded = sum(twice.fold(o) for o in replayed)
    assert folded == len(trials) == twice.n_folded
    a = {v.variation_id: v for v in once.analyze(final=True).variations}
    b = {v.variation_id: v for v in twice.analyze(final=True).variations}
    assert a.keys() == b.keys()
    for vid in a:
        assert (a[vid].n, a[vid].n_failed) == (b[vid].n, b[vid].n_failed)
        if a[vid].mean is not None:
            assert math.isclose(a[vid].mean, b[vid].mean, rel_tol=1e-9, abs_tol=1e-12)
        if a[vid].lift is not None:
            assert math.isclose(a[vid].lift, b[vid].lift, rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=12))
def test_holm_and_bh_bounds(ps):
    holm, bh = adjust_p_values(ps, "holm"), adjust_p_values(ps, "bh")
    for p, h, b in zip(ps, holm, bh, strict=True):
        assert p <= b + 1e-12 and b <= h + 1e-12 and h <= 1.0
        assert h <= min(1.0, p * len(ps)) + 1e-12  # Holm never exceeds Bonferroni
    order = np.argsort(ps, kind="stable")
    assert all(np.diff(np.array(holm)[order]) >= -1e-12)  # monotone in the raw p
    # The same numbers as statsmodels' multipletests (R's p.adjust conventions).
    assert holm == pytest.approx(list(multipletests(ps, method="holm")[1]), abs=1e-12)
    assert bh == pytest.approx(list(multipletests(ps, method="fdr_bh")[1]), abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 40), st.integers(0, 40), st.integers(0, 40), st.integers(0, 40))
def test_exact_bayes_matches_numerical_integration(sa, fa, sb, fb):
    a, b, c, d = 1 + sa, 1 + fa, 1 + sb, 1 + fb
    r = compare_binary(sa, sa + fa, sb, sb + fb)
    p_num, _ = integrate.quad(lambda x: beta.pdf(x, c, d) * beta.cdf(x, a, b), 0, 1,
                              epsabs=1e-12, limit=200)
    assert r.p_b_beats_a == pytest.approx(p_num, abs=1e-7)

    # E[(p_b - p_a)+] = E over p_a = x of E[(p_b - x)+], and for p_b ~ Beta(c, d):
    # E[(p_b - x)+] = c / (c + d) * P(Beta(c + 1, d) > x) - x * P(p_b > x).
    def shortfall(x: float) -> float:
        return c / (c + d) * beta.sf(x, c + 1, d) - x * beta.sf(x, c, d)

    loss_num, _ = integrate.quad(lambda x: beta.pdf(x, a, b) * shortfall(x), 0, 1,
                                 epsabs=1e-12, limit=200)
    assert r.expected_loss_a == pytest.approx(loss_num, abs=1e-7)
    assert r.expected_loss_b - r.expected_loss_a == pytest.approx(a / (a + b) - c / (c + d),
                                                                 abs=1e-9)


@FAST
@given(st.floats(0.1, 2.0), st.floats(0.01, 0.1), st.floats(0.5, 0.95), st.booleans())
def test_sample_size_gives_the_power_and_one_less_does_not(d, alpha, power, paired):
    n = t_test_sample_size(d, alpha, power, paired)
    assert t_test_power(n, d, alpha, paired) == pytest.approx(power, abs=1e-9)
    if n > 2.5:
        assert t_test_power(n - 0.5, d, alpha, paired) < power


@FAST
@given(st.lists(st.integers(1, 10_000), min_size=2, max_size=6), st.integers(1, 5))
def test_srm_is_one_on_exact_proportions_and_a_probability_otherwise(weights, k):
    exact = [w * k for w in weights]
    assert srm_p_value(exact, weights) == pytest.approx(1.0)
    skewed = [exact[0] * 3 + 50, *exact[1:]]
    p = srm_p_value(skewed, weights)
    assert 0.0 <= p < 1.0
