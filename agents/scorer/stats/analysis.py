"""The analysis of an experiment now: per variation results, multiplicity, Bayes, SRM, decision.

Pure: it reads the running statistics of arms.ExperimentStats and changes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from agents.scorer.stats import classic
from agents.scorer.stats.arms import Arm, ExperimentStats
from agents.scorer.stats.bayes import (
    Posterior,
    best_and_loss,
    mean_posterior,
    paired_best_and_loss,
)
from agents.scorer.stats.comparisons import Comparison, compare, pooled_sd
from agents.scorer.stats.decision import Decision, Evidence, Setting, decide
from agents.scorer.stats.multiple import Correction, adjust_p_values
from agents.scorer.stats.planned_looks import Look, normality_warnings
from agents.scorer.stats.power import prop_test_sample_size, t_test_sample_size
from agents.scorer.stats.srm import srm_p_value
from schemas.events import LookResult, VariationResult


@dataclass
class AnalysisSummary:
    variations: list[VariationResult]  # control first
    srm_p_value: float | None
    decision: Decision
    winner_id: str | None
    reason: str
    additional_samples_needed: int | None
    design: str
    family_size: int
    cs_level: float
    warnings: tuple[str, ...] = ()


def analyze(stats: ExperimentStats, *, final: bool) -> AnalysisSummary:
    """The analysis now.

    Per variation against the control: `test`/`p_value` are the classic fixed-horizon test,
    `p_always_valid` the betting sequence's p-value of "no difference", `p_adjusted` the
    Holm/BH adjustment over the planned family of the p-value the design decides on, and
    cs_low/cs_high the interval the decision reads, at level 1 - alpha / family size (the
    group-sequential design: the repeated confidence interval of the latest planned look,
    no p-value adjustment: its bounds are at the family's Bonferroni level).
    """
    config = stats.config
    control = stats.control
    sequential = config.design == "sequential"
    looks = {arm.variation_id: _look(arm, final) for arm in stats.variations}
    family_alpha = stats.family_alpha
    comparisons = ([compare(arm, control, config.metric == "pass", family_alpha)
                    for arm in stats.variations] if control else [])
    deciding = {c.arm.variation_id: _deciding_p(c, sequential) for c in comparisons}
    _adjust(comparisons, deciding, stats.family_size, config.correction)

    evidence = [_evidence(c, deciding[c.arm.variation_id], stats, sequential,
                          looks[c.arm.variation_id])
                for c in comparisons if c.lift is not None]
    setting = Setting(
        design=config.design, final=final, alpha=config.alpha, family_size=stats.family_size,
        min_effect=config.min_effect, correction=config.correction,
        interval_name=INTERVAL_NAMES[config.design],
        p_name="always-valid p" if sequential else "p")
    decision, winner, reason = decide(setting, stats.control_id, evidence)

    ordered = ([control] if control else []) + stats.variations
    bayes = _bayes(stats)
    by_id = {c.arm.variation_id: c for c in comparisons}
    intervals = {e.variation_id: (e.low, e.high) for e in evidence}
    results = [_result(stats, arm, by_id.get(arm.variation_id), bayes.get(arm.variation_id),
                       intervals.get(arm.variation_id, (None, None)),
                       looks.get(arm.variation_id))
               for arm in ordered]
    extra = None
    if decision == "inconclusive":
        extra = _additional_samples(stats, comparisons)
        if extra is not None:
            reason += f"; about {extra} more per variation for {config.power:.0%} power"
    warnings = tuple(
        f"{arm.name}: the confidence sequence emptied, so its differences drifted during the "
        "experiment (for example the test cases changed in the middle of it); its interval "
        "is the point where the two tails met" for arm in stats.variations
        if arm.pairs.n and sequential and arm.sequence.emptied(family_alpha))
    if control is not None:
        warnings += tuple(_look_warnings(stats, control, looks))
    return AnalysisSummary(results, _srm(stats), decision, winner, reason, extra,
                           config.design, stats.family_size, 1.0 - family_alpha, warnings)


INTERVAL_NAMES = {"sequential": "confidence sequence", "fixed": "CI",
                  "group-sequential": "repeated CI"}


def _look(arm: Arm, final: bool) -> Look | None:
    """The look a group-sequential comparison decides on now (None: not that design, or no
    look yet); at the final analysis, a last look at the information reached."""
    if arm.monitor is None:
        return None
    return arm.monitor.final_look(arm.pairs) if final else arm.monitor.latest


def _look_warnings(stats: ExperimentStats, control: Arm, looks: dict[str, Look | None]
                   ) -> list[str]:
    out: list[str] = []
    for arm in stats.variations:
        look = looks.get(arm.variation_id)
        if look is not None:
            counts = [(round(a.moments.total), a.moments.n) for a in (control, arm)]
            out += normality_warnings(arm.name, look, counts, stats.config.metric)
    return out


def _deciding_p(comp: Comparison, sequential: bool) -> float | None:
    if comp.arm.monitor is not None:
        return None  # group-sequential: the bounds decide, at the family's level
    if sequential:
        return comp.arm.sequence.p_value() if comp.arm.pairs.n else None
    return comp.p_value


def _adjust(comparisons: list[Comparison], deciding: dict[str, float | None], family: int,
            correction: Correction) -> None:
    """Holm/BH over the planned family: a planned variation without a p-value counts as 1."""
    with_p = [c for c in comparisons if deciding[c.arm.variation_id] is not None]
    raw = [deciding[c.arm.variation_id] for c in with_p]
    padding = max(0, family - len(raw))
    adjusted = adjust_p_values([*raw, *([1.0] * padding)], correction)  # type: ignore[list-item]
    for comp, p in zip(with_p, adjusted, strict=False):
        comp.p_adjusted = p


def _evidence(comp: Comparison, p: float | None, stats: ExperimentStats, sequential: bool,
              look: Look | None) -> Evidence:
    config = stats.config
    bar = config.min_effect
    arm = comp.arm
    if arm.monitor is not None:
        if look is None:
            return Evidence(arm.variation_id, arm.name, comp.lift, None, None, False, False,
                            False, None, None)
        above = look.efficacy and (bar <= 0 or look.low > bar)
        futile = look.futile or (bar > 0 and look.high < bar)
        return Evidence(arm.variation_id, arm.name, comp.lift, look.low, look.high, above,
                        look.harm, futile, None, None, look)
    if sequential:
        seq, level = arm.sequence, stats.family_alpha
        has_pairs = arm.pairs.n > 0
        low, high = seq.interval(level) if has_pairs else (None, None)
        above = has_pairs and seq.rejects(bar, "above", level)
        below_zero = has_pairs and seq.rejects(0.0, "below", level)
        below_min = has_pairs and bar > 0 and seq.rejects(bar, "below", level)
    else:
        low, high = comp.lift_ci if comp.lift_ci else (None, None)
        significant = comp.p_adjusted is not None and comp.p_adjusted <= config.alpha
        above = significant and low is not None and low > bar
        below_zero = significant and high is not None and high < 0
        below_min = bar > 0 and high is not None and high < bar
    return Evidence(arm.variation_id, arm.name, comp.lift, low, high, bool(above),
                    bool(below_zero), bool(below_min), p, comp.p_adjusted)


def _look_result(arm: Arm, look: Look | None) -> LookResult | None:
    monitor = arm.monitor
    if monitor is None:
        return None
    counts = monitor.plan.counts
    if look is None:
        return LookResult(look=0, looks=len(counts), pairs=arm.pairs.n,
                          next_look_pairs=counts[0])
    upcoming = [c for c in counts if c > look.pairs]
    return LookResult(look=look.number, looks=look.of, pairs=look.pairs, z=look.z,
                      efficacy_z=look.upper, futility_z=look.lower,
                      next_look_pairs=None if look.final or not upcoming else upcoming[0],
                      final=look.final, crossed=look.crossed)


def _result(stats: ExperimentStats, arm: Arm, comp: Comparison | None,
            bayes: tuple[float, float] | None, interval: tuple[float | None, float | None],
            look: Look | None = None) -> VariationResult:
    m = arm.moments
    config = stats.config
    ci: tuple[float | None, float | None] = (None, None)
    if m.n >= 1 and config.metric == "pass":
        ci = classic.wilson_interval(round(m.total), m.n, config.alpha)
    elif m.n >= 2:
        low, high = classic.mean_interval(m.n, m.mean, m.std or 0.0, config.alpha)
        ci = (max(0.0, low), min(1.0, high))  # scores live in [0, 1]
    fields: dict[str, Any] = {}
    if comp is not None:
        fields = {
            "test": comp.test, "p_value": comp.p_value, "rank_test": comp.rank_test,
            "p_rank": comp.p_rank, "p_adjusted": comp.p_adjusted,
            "p_always_valid": arm.sequence.p_value() if arm.pairs.n else None,
            "cs_low": interval[0], "cs_high": interval[1], "lift": comp.lift,
            "lift_ci_low": comp.lift_ci[0] if comp.lift_ci else None,
            "lift_ci_high": comp.lift_ci[1] if comp.lift_ci else None,
            "relative_lift": comp.relative_lift, "effect_size_d": comp.effect_size_d,
            "group_sequential": _look_result(arm, look),
        }
    return VariationResult(
        variation_id=arm.variation_id, name=arm.name,
        is_control=arm.is_control and arm.variation_id == stats.control_id,
        patterns=arm.patterns, n=m.n, n_failed=arm.failed, mean=m.mean if m.n else None,
        std=m.std, ci_low=ci[0], ci_high=ci[1],
        p_best=bayes[0] if bayes else None, expected_loss=bayes[1] if bayes else None,
        cost_usd=arm.cost,
        by_model={model: {"n": mm.n, "mean": mm.mean, "std": mm.std}
                  for model, mm in arm.by_model.items()},
        **fields,
    )


def _bayes(stats: ExperimentStats) -> dict[str, tuple[float, float]]:
    """P(best) and expected loss: from the paired posterior when enough cells are complete
    for every arm, else from independent posteriors of each arm's mean."""
    control, variations = stats.control, stats.variations
    if control is not None and variations:
        vectors = stats.cell_vectors()
        if vectors.n >= len(variations) + 1:
            ids = [control.variation_id] + [a.variation_id for a in variations]
            values = paired_best_and_loss(vectors.mean, vectors.scatter, vectors.n)
            return dict(zip(ids, values, strict=True))
    posteriors, ids = [], []
    for arm in ([control] if control else []) + variations:
        m = arm.moments
        if stats.config.metric == "pass" and m.n >= 1:
            s = round(m.total)
            posteriors.append(Posterior("beta", 1.0 + s, 1.0 + m.n - s))
        elif stats.config.metric != "pass" and m.n >= 2:
            posteriors.append(mean_posterior(m.n, m.mean, m.m2))
        else:
            continue
        ids.append(arm.variation_id)
    if len(posteriors) < 2:
        return {}
    return dict(zip(ids, best_and_loss(posteriors), strict=True))


def _srm(stats: ExperimentStats) -> float | None:
    """Trials per arm against equal allocation over the planned arms (a planned variation
    that never reported counts 0: losing a whole arm is the worst mismatch)."""
    counts = [arm.assigned for arm in stats.arms.values()]
    if stats.config.family_size is not None:
        counts += [0] * max(0, stats.config.family_size + 1 - len(counts))
    if len(counts) < 2 or sum(counts) == 0:
        return None
    return srm_p_value(counts)


def _additional_samples(stats: ExperimentStats, comps: list[Comparison]) -> int | None:
    """Extra pairs (or trials per variation) for the configured power, fixed horizon, at the
    family's Bonferroni level, for the variation with the best observed lift: at min_effect
    if set, else at the observed effect."""
    control = stats.control
    comps = [c for c in comps if c.lift is not None]
    if control is None or not comps:
        return None
    config = stats.config
    best = max(comps, key=lambda c: c.lift or 0.0)
    effect = config.min_effect if config.min_effect > 0 else abs(best.lift or 0.0)
    if effect <= 0:
        return None
    alpha = stats.family_alpha
    try:
        if best.paired:
            sd = best.arm.pairs.std
            if not sd:
                return None
            needed = t_test_sample_size(effect / sd, alpha, config.power, paired=True)
            have = best.arm.pairs.n
        elif config.metric == "pass":
            p1 = min(max(control.moments.mean, 0.001), 0.999)
            p2 = p1 + effect if p1 + effect < 1 else p1 - effect
            if not 0 < p2 < 1:
                return None
            needed = prop_test_sample_size(p1, p2, alpha, config.power)
            have = min(control.moments.n, best.arm.moments.n)
        else:
            sd = pooled_sd(control.moments, best.arm.moments)
            if not sd:
                return None
            needed = t_test_sample_size(effect / sd, alpha, config.power)
            have = min(control.moments.n, best.arm.moments.n)
    except ValueError:
        return None
    return max(0, math.ceil(needed) - have)
