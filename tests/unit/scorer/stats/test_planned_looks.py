"""The group-sequential design in the scorer: looks at planned pair counts, decisions from the
bounds, futility, the final look after lost trials, and the near-normality warnings."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import stats as sps

from agents.scorer.handler import ScorerServices, fold_trial
from agents.scorer.stats import ExperimentStats, Observation
from agents.scorer.stats import classic
from agents.scorer.stats import group_sequential as gs
from agents.scorer.stats.planned_looks import LookPlan, t_critical, z_from_t
from schemas.events import AnalysisReady, TrialCompleted, TrialScored, TrialSpec
from schemas.experiment import AnalysisConfig, ModelSpec, TestCase, VariationRef


def gs_config(**kw) -> AnalysisConfig:
    return AnalysisConfig(**{"design": "group-sequential", "looks": 5, "family_size": 1,
                             "planned_pairs": 100, **kw})


def fold_pairs(stats: ExperimentStats, control: np.ndarray, variant: np.ndarray,
               start: int = 0) -> None:
    for i, (c, v) in enumerate(zip(control, variant, strict=True), start):
        stats.fold(Observation(f"c{i}", "c", "control", True, (), f"case{i}|m|0", "m", float(c)))
        stats.fold(Observation(f"v{i}", "v", "variant", False, (), f"case{i}|m|0", "m", float(v)))


def scores(rng: np.random.Generator, n: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """4-assertion scores around a per-case difficulty; the variant's pass rate + shift."""
    q = rng.beta(2.0, 2.0, n)
    return rng.binomial(4, q) / 4, rng.binomial(4, np.clip(q + shift, 0, 1)) / 4


def test_looks_happen_at_the_planned_pair_counts_and_nothing_is_decided_between_them():
    stats = ExperimentStats(gs_config())
    assert stats.look_plan is not None and stats.look_plan.counts == (20, 40, 60, 80, 100)
    control, variant = np.full(30, 0.2), np.full(30, 0.9)
    variant[::3] = 0.8  # a huge effect with some spread
    fold_pairs(stats, control[:19], variant[:19])
    early = stats.analyze(final=False)
    assert stats.looks_taken == 0 and early.decision == "running"
    assert "waiting for the first planned look" in early.reason
    assert early.variations[1].group_sequential.next_look_pairs == 20
    fold_pairs(stats, control[19:20], variant[19:20], start=19)
    assert stats.looks_taken == 1
    at_look = stats.analyze(final=False)
    assert at_look.decision == "winner" and at_look.winner_id == "v"
    assert "group-sequential look 1 of 5 at 20 pairs" in at_look.reason
    assert at_look.reason.startswith("stopped for efficacy at look 1 of 5: ")
    assert "crossed the efficacy bound z=4.88" in at_look.reason
    assert at_look.variations[1].group_sequential.crossed == "efficacy"
    assert early.variations[1].group_sequential.crossed is None
    look = at_look.variations[1].group_sequential
    assert look.look == 1 and look.efficacy_z == pytest.approx(4.8769, abs=2e-4)


def test_a_significant_lift_between_looks_waits_for_the_look():
    # A fixed-horizon t test on 30 pairs would call this; the design only looks at 20, 40.
    rng = np.random.default_rng(4)
    stats = ExperimentStats(gs_config())
    control, variant = scores(rng, 40, 0.3)
    fold_pairs(stats, control[:30], variant[:30])
    z_now = stats.variations[0].pairs.mean / (stats.variations[0].pairs.std / np.sqrt(30))
    assert z_now > 3.0
    summary = stats.analyze(final=False)
    assert summary.variations[1].group_sequential.look == 1  # still the look at 20 pairs
    assert summary.variations[1].group_sequential.pairs == 20


def test_the_winner_s_direction_comes_from_the_repeated_ci_and_worse_is_control_best():
    stats = ExperimentStats(gs_config())
    rng = np.random.default_rng(8)
    control, _ = scores(rng, 20, 0.0)
    fold_pairs(stats, np.clip(control + 0.6, 0, 1), np.clip(control - 0.1, 0, 1) * 0.5)
    summary = stats.analyze(final=False)
    assert summary.decision == "control-best" and summary.winner_id == "c"
    v = summary.variations[1]
    assert v.cs_high < 0 and v.group_sequential.z <= -v.group_sequential.efficacy_z
    assert summary.reason.startswith("stopped for harm at look 1 of 5: ")
    assert "crossed the harm bound z=-4.88" in summary.reason


def test_no_difference_stops_for_futility_at_an_interim_look_non_binding():
    stats = ExperimentStats(gs_config())
    rng = np.random.default_rng(11)
    control, variant = scores(rng, 60, -0.05)
    fold_pairs(stats, control, variant)
    summary = stats.analyze(final=False)
    look = summary.variations[1].group_sequential
    assert look.look == 3 and look.z < look.futility_z
    assert summary.decision == "futile"
    assert "futility bound" in summary.reason
    assert summary.reason.startswith("stopped for futility (non-binding) at look 3 of 5: ")
    assert f"fell below the futility bound z={look.futility_z:.2f}" in summary.reason
    assert look.crossed == "futility"


def test_trials_lost_before_the_last_look_end_in_a_final_look_spending_the_alpha_left():
    stats = ExperimentStats(gs_config())
    rng = np.random.default_rng(2)
    control, variant = scores(rng, 70, 0.12)  # 70 of 100 planned pairs: the rest failed
    fold_pairs(stats, control, variant)
    interim = stats.analyze(final=False).variations[1].group_sequential
    final = stats.analyze(final=True).variations[1].group_sequential
    assert interim.look == 3 and not interim.final
    assert final.final and final.look == 4 and final.pairs == 70 and final.futility_z is None
    bounds = gs.efficacy_bounds((0.2, 0.4, 0.6, 0.7), 0.025)
    assert final.efficacy_z == pytest.approx(bounds[-1], abs=1e-6)
    # All the alpha is spent at 70 pairs: a lower bound than the planned look 4's.
    assert final.efficacy_z < stats.look_plan.design.upper[3]


# -- zero spread: every difference equal (the control fails every case, the variant passes) --


def _first_sign_test_crossing(plan: LookPlan) -> int:
    """The 1-based look whose bound the exact sign-test p = 2^-n first reaches."""
    return next(k + 1 for k, (n, b) in enumerate(zip(plan.counts, plan.design.upper,
                                                     strict=True))
                if 2.0 ** -n <= sps.norm.sf(b))


def _fold_until_decided(stats: ExperimentStats, control: float, variant: float, n: int):
    for i in range(n):
        fold_pairs(stats, np.array([control]), np.array([variant]), start=i)
        summary = stats.analyze(final=False)
        if summary.decision != "running":
            return i + 1, summary
    return n, stats.analyze(final=True)


def test_zero_spread_pass_fail_40_of_40_stops_for_efficacy_at_the_sign_test_s_look():
    # The defect: 40/40 passes against 0/40, a 3-look plan: sd 0, z undefined, every look
    # "no bound crossed", the round ended inconclusive.
    stats = ExperimentStats(gs_config(looks=3, planned_pairs=40, metric="pass"))
    plan = stats.look_plan
    assert plan is not None and plan.counts == (14, 27, 40)
    folded, summary = _fold_until_decided(stats, 0.0, 1.0, 40)
    k = _first_sign_test_crossing(plan)
    assert k == 1 and folded == plan.counts[k - 1]  # 2^-14 = 6.1e-5 <= 1 - Phi(3.61)
    assert summary.decision == "winner" and summary.winner_id == "v"
    assert summary.reason.startswith(f"stopped for efficacy at look {k} of 3: ")
    assert "exact sign test, p = 2^-14" in summary.reason
    v = summary.variations[1]
    look = v.group_sequential
    assert look.crossed == "efficacy" and look.z == pytest.approx(sps.norm.isf(2.0**-14))
    # The interval is the exact bound for a constant sample, never the width-0 t interval:
    # P(a pair is +1) >= 0.05^(1/13) at the design's 1 - 2 alpha.
    assert v.cs_low == pytest.approx(2 * 0.05 ** (1 / 13) - 1) and v.cs_high == 1.0
    assert 0 < v.cs_low < 1


def test_zero_spread_all_ties_is_no_evidence_running_then_futile_per_plan():
    stats = ExperimentStats(gs_config(looks=3, planned_pairs=40, metric="pass"))
    plan = stats.look_plan
    assert plan is not None
    fold_pairs(stats, np.ones(14), np.ones(14))
    first = stats.analyze(final=False)
    assert first.variations[1].group_sequential.z == 0.0
    assert plan.design.lower[0] < 0 and first.decision == "running"  # 0 is above it
    low, high = first.variations[1].cs_low, first.variations[1].cs_high
    assert low == pytest.approx(-high) and 0 < high < 1
    fold_pairs(stats, np.ones(13), np.ones(13), start=14)
    second = stats.analyze(final=False)
    assert plan.design.lower[1] > 0 and second.decision == "futile"
    assert second.variations[1].group_sequential.crossed == "futility"


def test_zero_spread_all_worse_stops_for_harm():
    stats = ExperimentStats(gs_config(looks=3, planned_pairs=40, metric="pass"))
    folded, summary = _fold_until_decided(stats, 1.0, 0.0, 40)
    assert folded == 14 and summary.decision == "control-best" and summary.winner_id == "c"
    look = summary.variations[1].group_sequential
    assert look.crossed == "harm" and look.z == pytest.approx(-sps.norm.isf(2.0**-14))
    assert summary.variations[1].cs_high < 0


def test_zero_spread_on_scores_waits_until_the_mean_s_exact_interval_clears_zero():
    # A common difference of 0.1 from varying scores (0.7 - 0.6 != 0.6 - 0.5 in the last
    # bits: rounding is no spread). Look 1 (20 pairs): 2^-20 is not below the bound yet;
    # look 2: it is, and the mean's exact interval lies above 0.
    stats = ExperimentStats(gs_config())
    control = np.resize([0.1, 0.3, 0.5, 0.6, 0.8], 40)
    fold_pairs(stats, control[:20], control[:20] + 0.1)
    first = stats.analyze(final=False)
    assert first.decision == "running"
    assert first.variations[1].group_sequential.z == pytest.approx(sps.norm.isf(2.0**-20))
    assert any("every difference is equal (+0.100)" in w and "exact sign test" in w
               for w in first.warnings)
    fold_pairs(stats, control[20:], control[20:] + 0.1, start=20)
    second = stats.analyze(final=False)
    assert second.decision == "winner" and 0 < second.variations[1].cs_low < 0.1
    # A tiny common difference: the sign test crosses, the mean's interval still reaches 0,
    # so the look does not stop (a bound never contradicts its interval).
    tiny = ExperimentStats(gs_config())
    fold_pairs(tiny, np.full(40, 0.5), np.full(40, 0.52))
    summary = tiny.analyze(final=False)
    look = summary.variations[1].group_sequential
    assert look.z >= look.efficacy_z and look.crossed is None
    assert summary.decision == "running" and summary.variations[1].cs_low < 0
    assert "its interval still reaches 0" in summary.reason


def test_zero_spread_in_the_fixed_design_gets_the_exact_interval_not_a_width_0_ci():
    fixed = ExperimentStats(AnalysisConfig(design="fixed", metric="pass", family_size=1))
    fold_pairs(fixed, np.zeros(40), np.ones(40))
    v = fixed.analyze(final=True).variations[1]
    assert v.test == "mcnemar-exact" and v.p_value == pytest.approx(2 * 0.5**40)
    assert v.lift_ci_low == pytest.approx(2 * 0.05 ** (1 / 39) - 1) and v.lift_ci_high == 1.0
    unpaired = ExperimentStats(AnalysisConfig(design="fixed", family_size=1))
    for i in range(10):  # no common cells: two constant samples
        unpaired.fold(Observation(f"c{i}", "c", "control", True, (), f"a{i}|m|0", "m", 0.4))
        unpaired.fold(Observation(f"v{i}", "v", "variant", False, (), f"b{i}|m|0", "m", 0.5))
    u = unpaired.analyze(final=True).variations[1]
    assert u.test == "mann-whitney" and u.lift_ci_low < 0.1 < u.lift_ci_high


def test_the_constant_sample_interval_holds_its_level_whatever_the_atoms():
    # Exact, not simulated: a sample of n is constant at v with probability P(X = v)^n; the
    # interval can miss the mean (the rest of the mass at -1 or +1) only when P(X = v) is
    # below r. The value is read off the data, so the misses of every atom add up: k atoms
    # of mass 1/k, or one atom of mass p beside k equal ones, never miss more than alpha
    # (Clopper-Pearson's r = alpha^(1/n) would: four atoms of 0.22 at n = 2 miss 0.19).
    for n in (2, 3, 14, 40, 200):
        low, high = classic.constant_sample_interval(0.3, n, 0.05)
        r = 1 - (0.3 - low) / 1.3
        assert 0.3 + (1 - r) * 0.7 == pytest.approx(high)
        k = np.arange(1, 2001)[:, None]
        big = np.linspace(0.0, 1.0, 101)[None, :]
        small = (1 - big) / k
        missed = (np.where(big < r - 1e-12, big**n, 0.0)
                  + k * np.where(small < r - 1e-12, small**n, 0.0))
        assert missed.max() <= 0.05 + 1e-12, n
    assert classic.constant_sample_interval(1.0, 1, 0.05) == (-1.0, 1.0)


def test_skewed_or_sparse_differences_get_a_warning_and_near_normal_ones_do_not():
    rng = np.random.default_rng(3)
    skewed = ExperimentStats(gs_config(planned_pairs=500))
    control = np.full(100, 0.95)
    variant = np.where(rng.random(100) < 0.95, 1.0, 0.0)  # two-point differences
    fold_pairs(skewed, control, variant)
    warnings = skewed.analyze(final=False).warnings
    assert any("skewed" in w and "28 + 25 g1^2" in w for w in warnings), warnings

    normal = ExperimentStats(gs_config(planned_pairs=500))
    c = np.clip(0.5 + 0.1 * rng.standard_normal(100), 0, 1)
    fold_pairs(normal, c, np.clip(c + 0.02 + 0.1 * rng.standard_normal(100), 0, 1))
    assert normal.analyze(final=False).warnings == ()

    passes = ExperimentStats(gs_config(planned_pairs=500, metric="pass"))
    c, v = np.ones(100), np.ones(100)
    c[[5, 40, 77]] = 0.0  # pass rates 97 % and 98 %: five discordant pairs
    v[[12, 60]] = 0.0
    fold_pairs(passes, c, v)
    warnings = passes.analyze(final=False).warnings
    assert any("pairs differ" in w for w in warnings)
    assert any("pass rate is too near 0 or 1" in w for w in warnings)


def test_look_plan_merges_looks_that_fall_on_one_pair_count():
    plan = LookPlan.make((0.2, 0.4, 0.6, 0.8, 1.0), 8, 0.05, 0.8, 1)
    assert plan.counts == (3, 4, 5, 7, 8)  # never fewer than 3 pairs at a look
    tiny = LookPlan.make((0.2, 0.4, 1.0), 4, 0.05, 0.8, 1)
    assert tiny.counts == (3, 4)
    assert tiny.design.timing == (0.75, 1.0)


def test_looks_accept_information_fractions_and_refuse_bad_ones():
    assert gs_config(looks=(0.5, 1.0)).timing() == (0.5, 1.0)
    assert gs_config(looks=4).timing() == (0.25, 0.5, 0.75, 1.0)
    for bad in ((0.5, 0.4, 1.0), (0.5, 0.9), (0.0, 1.0), 0, 21):
        with pytest.raises(ValidationError, match="looks"):
            gs_config(looks=bad)


def test_group_sequential_without_a_planned_size_is_refused():
    with pytest.raises(ValueError, match="planned pairs"):
        ExperimentStats(AnalysisConfig(design="group-sequential"))


def _scored(i: int, variation: VariationRef, right: bool) -> TrialScored:
    completed = TrialCompleted(
        trial=TrialSpec(
            trial_id=f"{variation.variation_id}-{i}", experiment_id="exp", variation=variation,
            test_case=TestCase(id=f"t{i}", expected="positive"), model=ModelSpec(id="sim/small"),
            expected_trials=200, analysis=gs_config()),
        response="positive" if right else "negative")
    return TrialScored(trial=completed, score=float(right), passed=right)


async def test_the_scorer_publishes_an_analysis_at_each_planned_look():
    from agents.runtime.contract import StepContext

    control = VariationRef(variation_id="c", name="control", is_control=True)
    variant = VariationRef(variation_id="v", name="v1")
    rng = np.random.default_rng(1)
    state: dict = {}
    services = ScorerServices(snapshot_every=1000)  # no snapshots: only looks publish
    published = []
    for i in range(45):
        for ref, rate in ((control, 0.5), (variant, 0.55)):
            emits = await fold_trial(_scored(i, ref, bool(rng.random() < rate)),
                                     StepContext(state=state, shared={}, services=services))
            published += [e.event for e in emits if isinstance(e.event, AnalysisReady)]
    assert [a.variations[1].group_sequential.look for a in published] == [1, 2]
    assert [a.trials_done for a in published] == [40, 80]


# -- the design's intervals and its early final look, by simulation ---------------------------


def _moments_at(x: np.ndarray, counts: list[int] | tuple[int, ...]):
    """n, mean and sd of each stream's first `counts` differences (streams x looks)."""
    n, idx = np.asarray(counts, dtype=float), np.asarray(counts) - 1
    c1, c2 = np.cumsum(x, axis=1)[:, idx], np.cumsum(x * x, axis=1)[:, idx]
    mean = c1 / n
    return n, mean, np.sqrt(np.maximum(c2 - c1 * mean, 0.0) / (n - 1))


STREAMS = 20_000
MC_SE = math.sqrt(0.05 * 0.95 / STREAMS)


def test_repeated_cis_cover_the_true_difference_at_every_look_at_once():
    # Jennison & Turnbull ch. 9: the repeated CIs hold the true difference at all K looks
    # simultaneously with probability 1 - 2 alpha (one-sided), here 0.95: on normal and on
    # {0, 0.5, 1} score differences, with the t mapped to the bound as the scorer does it.
    plan = LookPlan.make(gs.equal_timing(5), 100, 0.05, 0.8, 1)
    critical = np.array([t_critical(u, c - 1) for u, c in zip(plan.design.upper, plan.counts,
                                                               strict=True)])
    rng = np.random.default_rng(7)
    levels, probs = np.array([0.0, 0.5, 1.0]), [0.2, 0.3, 0.5]
    for truth, x in ((0.1, rng.normal(0.1, 0.3, (STREAMS, 100))),
                     (0.0, rng.choice(levels, (STREAMS, 100), p=probs)
                      - rng.choice(levels, (STREAMS, 100), p=probs))):
        n, mean, sd = _moments_at(x, plan.counts)
        covered = (np.abs(mean - truth) <= critical * sd / np.sqrt(n)).all(axis=1).mean()
        assert 0.95 - 3 * MC_SE <= covered <= 0.95 + 5 * MC_SE, covered


def test_an_early_final_look_spending_the_alpha_left_keeps_the_type_one_error():
    # Trials lost for reasons unrelated to the scores end a stream at 50, 70 or 90 of 100
    # planned pairs: the looks before, then a final look there with the alpha left (the
    # bound LookMonitor.final_look uses). Two-sided, futility ignored (non-binding).
    plan = LookPlan.make(gs.equal_timing(5), 100, 0.05, 0.8, 1)
    rng = np.random.default_rng(9)
    x = rng.normal(0.0, 0.3, (STREAMS, 100))
    ends = rng.choice([50, 70, 90], STREAMS)
    rejected = np.zeros(STREAMS, dtype=bool)
    for end in (50, 70, 90):
        counts = [c for c in plan.counts if c < end] + [end]
        upper = gs.efficacy_bounds(tuple(c / 100 for c in counts), plan.design.alpha)
        n, mean, sd = _moments_at(x[ends == end], counts)
        z = z_from_t(mean / (sd / np.sqrt(n)), n - 1)
        rejected[ends == end] = (np.abs(z) >= upper).any(axis=1)
    assert rejected.mean() <= 0.05 + 3 * MC_SE, rejected.mean()
