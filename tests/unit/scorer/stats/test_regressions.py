"""One regression test per numbered defect of issue #13 (and its false-positive table).

Each name says the defect it pins; the docstring restates the reproduction.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from scipy import stats as sps

from agents.scorer.stats import ExperimentStats, Observation, betting
from agents.scorer.stats.srm import srm_p_value
from schemas.experiment import AnalysisConfig

ALPHA = 0.05


def pair(stats: ExperimentStats, i: int, control: float | None, variant: float | None,
         vid: str = "v") -> None:
    stats.fold(Observation(f"c{i}", "c", "control", True, (), f"t{i}|m|0", "m", control))
    stats.fold(Observation(f"{vid}{i}", vid, vid, False, (), f"t{i}|m|0", "m", variant))


def variant(summary, vid: str = "v"):
    return next(v for v in summary.variations if v.variation_id == vid)


def test_defect_1_the_winner_direction_comes_from_the_confidence_sequence():
    """30 cases worse by 0.3 then 300 better by 0.04 gave "winner (95 % CS -0.043..-0.024)"."""
    stats = ExperimentStats(AnalysisConfig())
    for i, d in enumerate([-0.3] * 30 + [0.04] * 300):
        pair(stats, i, 0.5, 0.5 + d)
        summary = stats.analyze(final=False)
        v = variant(summary)
        if summary.decision == "winner":
            assert v.cs_low is not None and v.cs_low >= 0
        if summary.decision == "control-best":
            assert v.cs_high is not None and v.cs_high <= 0
    assert summary.decision != "winner"
    assert summary.warnings  # the drift emptied the sequence, and the analysis says so


def test_defect_2_zero_spread_is_never_proof():
    """control [0.5, 0.6] vs variant [0.6, 0.7] gave "winner, p = 0" in the fixed design;
    eleven identical differences counted as maximal evidence."""
    fixed = ExperimentStats(AnalysisConfig(design="fixed"))
    for i, (c, v) in enumerate([(0.5, 0.6), (0.6, 0.7)]):
        pair(fixed, i, c, v)
    summary = fixed.analyze(final=True)
    assert summary.decision != "winner"
    assert variant(summary).p_value == pytest.approx(0.5)  # the exact sign test
    for design in ("fixed", "sequential"):
        stats = ExperimentStats(AnalysisConfig(design=design))
        for i in range(11):
            pair(stats, i, 0.4, 0.5)
        v = variant(stats.analyze(final=True))
        assert v.p_value == pytest.approx(2 * 0.5**11) and v.test == "sign-exact"
        assert v.p_always_valid > ALPHA  # a bounded difference of 0.1, eleven times


def test_defect_3_the_family_is_the_planned_variations_not_those_with_data():
    """Three planned variations, two of which failed every trial: the third was adjusted
    as a family of one (p 0.019) where Holm over the planned three gives 0.056."""
    rng = random.Random(4)
    stats = ExperimentStats(AnalysisConfig(design="fixed", family_size=3))
    for i in range(40):
        base = rng.uniform(0.3, 0.6)
        pair(stats, i, base, min(1.0, base + 0.035 + rng.gauss(0, 0.1)), "v3")
        for vid in ("v1", "v2"):
            stats.fold(Observation(f"{vid}{i}", vid, vid, False, (), f"t{i}|m|0", "m", None))
    summary = stats.analyze(final=True)
    v3 = variant(summary, "v3")
    assert 0.0167 < v3.p_value < 0.05  # significant alone, not for a family of three
    assert v3.p_adjusted == pytest.approx(3 * v3.p_value)
    assert summary.family_size == 3 and summary.decision != "winner"
    assert summary.cs_level == pytest.approx(1 - ALPHA / 3)


def test_defect_4_futility_is_its_own_decision_not_control_best():
    """Every upper bound below min_effect was reported as "control-best"."""
    rng = random.Random(2)
    stats = ExperimentStats(AnalysisConfig(min_effect=0.2))
    for i in range(300):
        base = rng.uniform(0.3, 0.6)
        pair(stats, i, base, min(1.0, max(0.0, base + rng.gauss(0, 0.05))))
    summary = stats.analyze(final=False)
    assert summary.decision == "futile" and summary.winner_id is None
    v = variant(summary)
    assert v.cs_high < 0.2 and v.cs_low < 0 < v.cs_high  # not proven worse than the control


def test_defect_5_the_unpaired_sequential_test_never_pools_variances():
    """A/A, SD ratio 3, the variant getting 10 % of the trials: FPR 0.60 with pooling."""
    rng = np.random.default_rng(5)
    streams, trials, rejected = 300, 1000, 0
    for _ in range(streams):
        arms = (rng.random(trials) < 0.1).astype(int)
        sd = np.where(arms == 1, 0.3, 0.1)
        values = np.clip(0.5 + sd * rng.standard_normal(trials), 0, 1)  # both means 0.5
        diffs, _ = betting.pseudo_pairs(arms, values)
        rejected += betting.analyze_stream(diffs, ALPHA).first_rejection is not None
    fpr = rejected / streams
    assert fpr <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / streams)


def test_defect_6_p_best_uses_the_paired_posterior():
    """At correlation 0.96 between arms, P(best) was 0.68 where the paired posterior
    (Student t of the mean difference, n - 1 degrees of freedom) gives 0.99."""
    rng = np.random.default_rng(6)
    n = 40
    base = rng.uniform(0.2, 0.8, n)
    control = np.clip(base + rng.normal(0, 0.03, n), 0, 1)
    better = np.clip(base + 0.02 + rng.normal(0, 0.03, n), 0, 1)
    assert np.corrcoef(control, better)[0, 1] > 0.95
    stats = ExperimentStats(AnalysisConfig())
    for i in range(n):
        pair(stats, i, float(control[i]), float(better[i]))
    d = better - control
    reference = sps.t.cdf(d.mean() / (d.std(ddof=1) / math.sqrt(n)), n - 1)
    assert reference > 0.98
    assert variant(stats.analyze(final=True)).p_best == pytest.approx(reference, abs=0.01)


def test_defect_7_srm_keeps_a_planned_weight_of_zero():
    """A planned weight of 0 was turned into 1/k: a false alarm."""
    assert srm_p_value([100, 100, 0], [1, 1, 0]) == pytest.approx(1.0)
    assert srm_p_value([100, 100, 3], [1, 1, 0]) == 0.0  # trials where none were planned


def test_defect_7_the_intervals_stay_in_the_metric_range():
    """The CS was not clipped: an upper bound of 1.09 for a difference of scores in [0, 1]."""
    for design in ("fixed", "sequential"):
        stats = ExperimentStats(AnalysisConfig(design=design))
        for i, (c, v) in enumerate([(0.0, 1.0), (0.1, 1.0), (0.0, 0.9), (0.05, 1.0)]):
            pair(stats, i, c, v)
        summary = stats.analyze(final=True)
        v = variant(summary)
        assert -1.0 <= v.cs_low <= v.cs_high <= 1.0
        assert -1.0 <= v.lift_ci_low <= v.lift_ci_high <= 1.0
        assert 0.0 <= v.ci_low <= v.ci_high <= 1.0


def test_two_point_scores_keep_the_always_valid_false_positive_rate():
    """+0.05 on 95 % of cases, -0.95 on 5 % (mean 0): the t-mixture rejected 58 % of A/A
    streams under a look after every pair."""
    rng = np.random.default_rng(8)
    streams, looks = 1000, 300
    x = np.where(rng.random((streams, looks)) < 0.95, 0.05, -0.95)
    lam = betting.stakes(betting.scales(x))
    plus, minus = betting.mixture_paths(x, 0.0, lam)
    level = betting.threshold(ALPHA)
    fpr = ((plus.max(axis=-1) >= level) | (minus.max(axis=-1) >= level)).mean()
    assert fpr <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / streams)
