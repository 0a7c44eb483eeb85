"""The running statistics of one experiment: fold trials in, ask for an analysis at any time.

Folding is O(1) per trial: running moments per variation and per variation x model, the
paired differences against the control (a pair is the same cell "test case|model|repetition"
in both), and one always-valid look per affected variation, so the mSPRT p-value and the
confidence sequence see every trial (their running minimum / intersection is what makes
peeking safe). Memory per trial is O(1): the trial record (for de-duplication and merging)
and the cell value (for pairing).

The analysis itself (classic tests, multiplicity, Bayesian summary, decision) is computed on
demand from those sufficient statistics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import stats as sps

from agents.scorer.stats import classic
from agents.scorer.stats.bayes import Posterior, best_and_loss
from agents.scorer.stats.moments import RunningMoments
from agents.scorer.stats.multiple import adjust_p_values
from agents.scorer.stats.power import prop_test_sample_size, t_test_sample_size
from agents.scorer.stats.sequential import (
    DEFAULT_MIXTURE_SD,
    always_valid_p,
    cs_t2_threshold,
    paired_look,
    two_sample_look,
)
from agents.scorer.stats.srm import srm_p_value
from schemas.events import VariationResult
from schemas.experiment import AnalysisConfig

STATE_VERSION = 1

Decision = Literal["winner", "control-best", "inconclusive", "running"]


@dataclass(frozen=True)
class Observation:
    """One trial's outcome as the statistics see it."""

    trial_id: str
    variation_id: str
    variation_name: str
    is_control: bool
    patterns: tuple[str, ...]
    cell: str  # "test_case_id|model|repetition": the same cell across variations is a pair
    model: str
    value: float | None  # score in [0, 1] (0/1 for metric "pass"); None = failed trial
    cost_usd: float = 0.0


@dataclass
class AnalysisSummary:
    variations: list[VariationResult]  # control first
    srm_p_value: float | None
    decision: Decision
    winner_id: str | None
    reason: str
    additional_samples_needed: int | None


@dataclass
class _Arm:
    """One variation's running statistics."""

    variation_id: str
    name: str
    is_control: bool
    patterns: tuple[str, ...]
    assigned: int = 0  # trials folded, failed ones included (what the SRM check counts)
    failed: int = 0
    cost: float = 0.0
    moments: RunningMoments = field(default_factory=RunningMoments)
    by_model: dict[str, RunningMoments] = field(default_factory=dict)
    cells: dict[str, float] = field(default_factory=dict)  # first value per cell
    pairs: RunningMoments = field(default_factory=RunningMoments)  # self - control per cell
    av_p: float = 1.0  # running minimum of the always-valid p-value against the control
    cs_low: float | None = None  # running intersection of the confidence sequence
    cs_high: float | None = None


@dataclass
class _Comparison:
    """A variation against the control, before multiplicity adjustment."""

    arm: _Arm
    test: str | None = None
    p_value: float | None = None
    lift: float | None = None
    lift_ci: tuple[float, float] | None = None
    relative_lift: float | None = None
    effect_size_d: float | None = None
    paired: bool = False
    p_adjusted: float | None = None
    rank_test: str | None = None
    p_rank: float | None = None


class ExperimentStats:
    """Streaming, duplicate-proof, mergeable statistics of one experiment."""

    def __init__(
        self,
        config: AnalysisConfig,
        planned_allocation: dict[str, float] | None = None,
        mixture_sd: float = DEFAULT_MIXTURE_SD,
    ) -> None:
        self.config = config
        self.planned_allocation = dict(planned_allocation) if planned_allocation else None
        self.mixture_sd = mixture_sd
        self._arms: dict[str, _Arm] = {}
        self._control: str | None = None
        self._trials: dict[str, list[Any]] = {}  # trial id -> [variation, cell, model, value, cost]

    @classmethod
    def new(
        cls, config: AnalysisConfig, planned_allocation: dict[str, float] | None = None
    ) -> ExperimentStats:
        return cls(config, planned_allocation)

    @property
    def n_folded(self) -> int:
        return len(self._trials)

    # -- folding ---------------------------------------------------------------------------

    def fold(self, obs: Observation) -> bool:
        """Fold one trial in; False (and nothing changes) if its trial id was folded before."""
        if obs.trial_id in self._trials:
            return False
        value = obs.value
        if value is not None:
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"trial {obs.trial_id}: value must be finite, got {value}")
            if self.config.metric == "pass" and value not in (0.0, 1.0):
                raise ValueError(f"trial {obs.trial_id}: metric 'pass' needs 0 or 1, got {value}")
        arm = self._arm_for(obs)
        self._trials[obs.trial_id] = [obs.variation_id, obs.cell, obs.model, value, obs.cost_usd]
        arm.assigned += 1
        arm.cost += obs.cost_usd
        if value is None:
            arm.failed += 1
            return True
        arm.moments.add(value)
        arm.by_model.setdefault(obs.model, RunningMoments()).add(value)
        new_cell = obs.cell not in arm.cells
        if new_cell:
            arm.cells[obs.cell] = value
        control = self._arms.get(self._control) if self._control else None
        if control is None:
            return True
        if arm is control:
            # A control value can complete a pair for every variation, and it moves every
            # two-sample comparison: each one gets a look (O(number of variations)).
            for other in self._arms.values():
                if other is control:
                    continue
                if new_cell and obs.cell in other.cells:
                    other.pairs.add(other.cells[obs.cell] - value)
                self._look(other, control)
        else:
            if new_cell and obs.cell in control.cells:
                arm.pairs.add(value - control.cells[obs.cell])
            self._look(arm, control)
        return True

    def _arm_for(self, obs: Observation) -> _Arm:
        arm = self._arms.get(obs.variation_id)
        if arm is None:
            arm = _Arm(obs.variation_id, obs.variation_name, obs.is_control, tuple(obs.patterns))
            self._arms[obs.variation_id] = arm
            if obs.is_control and self._control is None:
                # Variations seen before their control pair up as the control's cells arrive.
                self._control = obs.variation_id
        return arm

    def _look(self, arm: _Arm, control: _Arm) -> None:
        """One always-valid look at arm - control: update the running minimum and intersection.

        Paired once two pairs exist, two-sample (pooled) before that. The first looks carry
        almost no evidence (the mixture ratio starts at 1), so the switch costs no validity
        worth measuring; benchmarks/sequential.py measures each test on its own.
        """
        if arm.pairs.n >= 2:
            t2, nu, r, se = paired_look(arm.pairs.n, arm.pairs.mean, arm.pairs.variance,
                                        self.mixture_sd)
            estimate = arm.pairs.mean
        elif arm.moments.n >= 1 and control.moments.n >= 1 and (
            arm.moments.n + control.moments.n >= 3
        ):
            a, b = control.moments, arm.moments
            t2, nu, r, se = two_sample_look(a.n, a.mean, a.m2, b.n, b.mean, b.m2, self.mixture_sd)
            estimate = b.mean - a.mean
        else:
            return
        p_now = float(always_valid_p(t2, nu, r))
        arm.av_p = min(arm.av_p, p_now)
        se = float(se)
        if not se > 0:
            return  # no spread yet: no interval to intersect
        c = float(cs_t2_threshold(nu, r, self.config.alpha))
        if not math.isfinite(c):
            return
        half = math.sqrt(c) * se
        low, high = estimate - half, estimate + half
        arm.cs_low = low if arm.cs_low is None else max(arm.cs_low, low)
        arm.cs_high = high if arm.cs_high is None else min(arm.cs_high, high)
        if arm.cs_low > arm.cs_high:
            # The running intersection emptied (a rare event, probability < alpha under the
            # model): keep the latest interval rather than report an empty one.
            arm.cs_low, arm.cs_high = low, high

    # -- state -----------------------------------------------------------------------------

    def to_state(self) -> dict:
        """A JSON-serialisable snapshot; from_state(to_state()) analyses identically."""
        return {
            "version": STATE_VERSION,
            "config": self.config.model_dump(mode="json"),
            "planned_allocation": self.planned_allocation,
            "mixture_sd": self.mixture_sd,
            "control": self._control,
            "arms": [_arm_state(arm) for arm in self._arms.values()],
            "trials": {tid: list(rec) for tid, rec in self._trials.items()},
        }

    @classmethod
    def from_state(cls, state: dict) -> ExperimentStats:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unknown statistics state version {state.get('version')!r}")
        new = cls(
            AnalysisConfig.model_validate(state["config"]),
            state.get("planned_allocation"),
            float(state.get("mixture_sd", DEFAULT_MIXTURE_SD)),
        )
        new._control = state.get("control")
        for raw in state["arms"]:
            arm = _arm_from_state(raw)
            new._arms[arm.variation_id] = arm
        new._trials = {tid: list(rec) for tid, rec in state["trials"].items()}
        return new

    def merge(self, other: ExperimentStats) -> ExperimentStats:
        """A new ExperimentStats with every trial of both, each trial id counted once.

        Trials of `other` that self lacks are folded in after self's, in other's order. The
        always-valid running minimum and sequence intersection of `other`'s own history are
        not carried over (a minimum over a different ordering is not a valid p-value); the
        merged stream looks again from every folded trial on.
        """
        merged = ExperimentStats.from_state(self.to_state())
        for tid, (vid, cell, model, value, cost) in other._trials.items():
            if tid in merged._trials:
                continue
            meta = other._arms[vid]
            merged.fold(Observation(tid, vid, meta.name, meta.is_control, meta.patterns, cell,
                                    model, value, cost))
        return merged

    # -- analysis --------------------------------------------------------------------------

    def analyze(self, *, final: bool) -> AnalysisSummary:
        """The analysis now. Pure: it does not change the running statistics.

        Per variation against the control: p_value is the classic test named in `test`
        (paired-t or McNemar when cells pair, Welch, two-proportion z or Fisher otherwise);
        p_always_valid and cs_low/cs_high are the mSPRT p-value and confidence sequence;
        p_adjusted is the Holm/BH adjustment of the p-value the design decides on (the
        always-valid one for design "sequential", the classic one for "fixed"), and lift CIs
        are the classic fixed-horizon intervals. Decisions: "winner" needs an adjusted p <=
        alpha with a lift >= min_effect; "control-best" when every variation is significantly
        worse, or (min_effect > 0) no variation's upper bound reaches min_effect (futility);
        a sequential design may decide before `final`, a fixed one says "running" until then.
        """
        config = self.config
        control = self._arms.get(self._control) if self._control else None
        others = [arm for arm in self._arms.values() if arm is not control]
        comparisons = [self._compare(arm, control) for arm in others] if control else []
        sequential = config.design == "sequential"
        # The p-value the design decides on: always-valid for sequential, classic for fixed.
        decided: list[_Comparison] = []
        raw: list[float] = []
        for comp in comparisons:
            p = comp.arm.av_p if sequential else comp.p_value
            if p is not None and comp.lift is not None:
                decided.append(comp)
                raw.append(p)
        for comp, p_adj in zip(decided, adjust_p_values(raw, config.correction), strict=True):
            comp.p_adjusted = p_adj

        ordered = ([control] if control else []) + others
        bayes = self._bayes(ordered)
        by_id = {c.arm.variation_id: c for c in comparisons}
        results = [self._result(arm, by_id.get(arm.variation_id), bayes.get(arm.variation_id))
                   for arm in ordered]
        decision, winner, reason = self._decide(final, control, decided)
        extra = None
        if decision == "inconclusive":
            extra = self._additional_samples(control, decided)
            if extra is not None:
                reason += f"; about {extra} more per variation for {config.power:.0%} power"
        return AnalysisSummary(results, self._srm(), decision, winner, reason, extra)

    def _compare(self, arm: _Arm, control: _Arm) -> _Comparison:
        comp = _Comparison(arm)
        alpha, binary = self.config.alpha, self.config.metric == "pass"
        if arm.pairs.n >= 2:
            comp.paired = True
            n, mean, sd = arm.pairs.n, arm.pairs.mean, arm.pairs.std or 0.0
            if binary:
                total, squares = arm.pairs.total, arm.pairs.sum_of_squares
                # Differences are +1, 0 or -1: the sums give the discordant counts.
                wins, losses = round((squares + total) / 2), round((squares - total) / 2)
                result = classic.mcnemar_exact(wins, losses)
                comp.test, comp.p_value = "mcnemar-exact", result.p_value
            else:
                comp.test = "paired-t"
                if sd > 0:
                    t = mean / (sd / math.sqrt(n))
                    comp.p_value = float(2 * sps.t.sf(abs(t), n - 1))
                else:
                    comp.p_value = 1.0 if mean == 0 else 0.0
            half = float(sps.t.isf(alpha / 2, n - 1)) * sd / math.sqrt(n)
            comp.lift, comp.lift_ci = mean, (mean - half, mean + half)
            comp.effect_size_d = mean / sd if sd > 0 else None  # d_z, as power.t.test(paired)
        elif arm.moments.n >= 1 and control.moments.n >= 1:
            a, b = control.moments, arm.moments
            comp.lift = b.mean - a.mean
            if binary:
                s1, s2 = round(a.total), round(b.total)
                if _small_table(s1, a.n, s2, b.n):
                    result = classic.fisher_exact(s1, a.n, s2, b.n)
                    comp.test = "fisher-exact"
                else:
                    result = classic.two_proportion_z(s1, a.n, s2, b.n)
                    comp.test = "two-proportion-z"
                comp.p_value = result.p_value
                comp.lift_ci = classic.wald_difference_ci(s1, a.n, s2, b.n, alpha)
            elif a.n >= 2 and b.n >= 2:
                comp.test = "welch"
                va, vb = a.variance or 0.0, b.variance or 0.0
                se2 = va / a.n + vb / b.n
                if se2 > 0:
                    df = se2**2 / ((va / a.n) ** 2 / (a.n - 1) + (vb / b.n) ** 2 / (b.n - 1))
                    t = comp.lift / math.sqrt(se2)
                    comp.p_value = float(2 * sps.t.sf(abs(t), df))
                    half = float(sps.t.isf(alpha / 2, df)) * math.sqrt(se2)
                else:
                    comp.p_value, half = (1.0 if comp.lift == 0 else 0.0), 0.0
                comp.lift_ci = (comp.lift - half, comp.lift + half)
            pooled = _pooled_sd(a, b)
            comp.effect_size_d = comp.lift / pooled if pooled else None
        if comp.lift is not None and control.moments.n and control.moments.mean != 0:
            comp.relative_lift = comp.lift / control.moments.mean
        if not binary:
            comp.rank_test, comp.p_rank = _rank_check(arm, control, comp.paired)
        return comp

    def _result(self, arm: _Arm, comp: _Comparison | None, bayes: tuple[float, float] | None
                ) -> VariationResult:
        m = arm.moments
        ci: tuple[float | None, float | None] = (None, None)
        if m.n >= 1 and self.config.metric == "pass":
            ci = classic.wilson_interval(round(m.total), m.n, self.config.alpha)
        elif m.n >= 2:
            ci = classic.mean_interval(m.n, m.mean, m.std or 0.0, self.config.alpha)
        fields: dict[str, Any] = {}
        if comp is not None:
            fields = {
                "test": comp.test,
                "p_value": comp.p_value,
                "rank_test": comp.rank_test,
                "p_rank": comp.p_rank,
                "p_adjusted": comp.p_adjusted,
                "p_always_valid": arm.av_p,
                "cs_low": arm.cs_low,
                "cs_high": arm.cs_high,
                "lift": comp.lift,
                "lift_ci_low": comp.lift_ci[0] if comp.lift_ci else None,
                "lift_ci_high": comp.lift_ci[1] if comp.lift_ci else None,
                "relative_lift": comp.relative_lift,
                "effect_size_d": comp.effect_size_d,
            }
        return VariationResult(
            variation_id=arm.variation_id,
            name=arm.name,
            is_control=arm.is_control and arm.variation_id == self._control,
            patterns=arm.patterns,
            n=m.n,
            n_failed=arm.failed,
            mean=m.mean if m.n else None,
            std=m.std,
            ci_low=ci[0],
            ci_high=ci[1],
            p_best=bayes[0] if bayes else None,
            expected_loss=bayes[1] if bayes else None,
            cost_usd=arm.cost,
            by_model={model: {"n": mm.n, "mean": mm.mean, "std": mm.std}
                      for model, mm in arm.by_model.items()},
            **fields,
        )

    def _bayes(self, arms: list[_Arm]) -> dict[str, tuple[float, float]]:
        """P(best) and expected loss among the variations with enough data to have a posterior."""
        posteriors, ids = [], []
        for arm in arms:
            m = arm.moments
            if self.config.metric == "pass" and m.n >= 1:
                s = round(m.total)
                posteriors.append(Posterior("beta", 1.0 + s, 1.0 + m.n - s))
            elif self.config.metric != "pass" and m.n >= 2:
                # Normal posterior of the mean under a flat prior; a floor keeps zero-spread
                # samples (all scores equal) from claiming certainty.
                sd = max(m.std or 0.0, 1e-3)
                posteriors.append(Posterior("normal", m.mean, sd / math.sqrt(m.n)))
            else:
                continue
            ids.append(arm.variation_id)
        if len(posteriors) < 2:
            return {}
        return dict(zip(ids, best_and_loss(posteriors), strict=True))

    def _srm(self) -> float | None:
        ids = list(self._arms)
        if self.planned_allocation:
            ids += [vid for vid in self.planned_allocation if vid not in self._arms]
        if len(ids) < 2:
            return None
        counts = [self._arms[vid].assigned if vid in self._arms else 0 for vid in ids]
        if sum(counts) == 0:
            return None
        allocation = self.planned_allocation or {}
        default = 1.0 / len(ids)
        weights = [allocation.get(vid, default) or default for vid in ids]
        return srm_p_value(counts, weights)

    def _decide(self, final: bool, control: _Arm | None, comps: list[_Comparison]
                ) -> tuple[Decision, str | None, str]:
        config = self.config
        if control is None:
            return ("inconclusive" if final else "running", None,
                    "no control variation has reported a trial yet")
        if not comps:
            return ("inconclusive" if final else "running", None,
                    "no variation has enough trials to compare with the control")
        sequential = config.design == "sequential"
        if not sequential and not final:
            return "running", None, (
                f"fixed design: waiting for the planned sample ({self.n_folded} trials so far)")

        def interval(c: _Comparison) -> tuple[float | None, float | None]:
            if sequential:
                return c.arm.cs_low, c.arm.cs_high
            return c.lift_ci if c.lift_ci else (None, None)

        alpha, min_effect = config.alpha, config.min_effect
        method = "Holm" if config.correction == "holm" else "BH"
        what = "confidence sequence" if sequential else "CI"
        level = f"{1 - alpha:.0%}"

        def evidence(c: _Comparison) -> str:
            low, high = interval(c)
            span = f"{_fmt(low, '-inf')}..{_fmt(high, '+inf')}"
            label = "always-valid p" if sequential else f"p ({c.test})"
            return (f"{_signed(c.lift)} ({level} {what} {span}), "
                    f"{method}-adjusted {label}={_p(c.p_adjusted)}")

        def describe(c: _Comparison) -> str:
            return f"{c.arm.name} {evidence(c)}"

        def significant(c: _Comparison) -> bool:
            return c.p_adjusted is not None and c.p_adjusted <= alpha

        winners = [c for c in comps if significant(c) and _lift(c) > 0 and _lift(c) >= min_effect]
        if winners:
            best = max(winners, key=_lift)
            return "winner", best.arm.variation_id, (
                f"{best.arm.name} beats the control by {evidence(best)}")
        worse = all(significant(c) and _lift(c) < 0 for c in comps)
        if worse:
            return "control-best", control.variation_id, (
                "every variation is worse than the control: " + "; ".join(map(describe, comps)))
        if min_effect > 0:
            highs = [interval(c)[1] for c in comps]
            if all(h is not None and h < min_effect for h in highs):
                return "control-best", control.variation_id, (
                    f"futility: no variation can beat the control by {min_effect:g} "
                    f"(every upper bound is below it): " + "; ".join(map(describe, comps)))
        small = [c for c in comps if significant(c) and 0 < _lift(c) < min_effect]
        summary = "; ".join(map(describe, comps))
        if small:
            summary = (f"{', '.join(c.arm.name for c in small)} beat the control, but by less "
                       f"than the minimum effect {min_effect:g} that matters: {summary}")
        if not final:
            return "running", None, "no decision yet: " + summary
        if small:
            return "inconclusive", None, summary
        return "inconclusive", None, "no significant difference: " + summary

    def _additional_samples(self, control: _Arm | None, comps: list[_Comparison]) -> int | None:
        """Extra pairs (or trials per variation) for the configured power, fixed horizon.

        For the variation with the best observed lift, at min_effect if set, else at the
        observed effect; Bonferroni alpha / m over the m comparisons.
        """
        if control is None or not comps:
            return None
        config = self.config
        best = max(comps, key=_lift)
        effect = config.min_effect if config.min_effect > 0 else abs(_lift(best))
        if effect <= 0:
            return None
        alpha = config.alpha / len(comps)
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
                sd = _pooled_sd(control.moments, best.arm.moments)
                if not sd:
                    return None
                needed = t_test_sample_size(effect / sd, alpha, config.power)
                have = min(control.moments.n, best.arm.moments.n)
        except ValueError:
            return None
        return max(0, math.ceil(needed) - have)


def _rank_check(arm: _Arm, control: _Arm, paired: bool) -> tuple[str | None, float | None]:
    """Wilcoxon signed-rank on the pairs (every difference zero: p = 1, nothing to rank),
    else Mann-Whitney U on the two samples; O(n log n), so only at analysis time."""
    if paired:
        diffs = np.array([v - control.cells[c] for c, v in arm.cells.items()
                          if c in control.cells])
        if not diffs.any():
            return "wilcoxon", 1.0
        return "wilcoxon", classic.signed_rank(diffs).p_value
    x, y = np.array(list(arm.cells.values())), np.array(list(control.cells.values()))
    if x.size < 2 or y.size < 2:
        return None, None
    if np.ptp(np.concatenate([x, y])) == 0:
        return "mann-whitney", 1.0  # every value tied: no evidence of a difference
    return "mann-whitney", classic.rank_sum(x, y).p_value


def _lift(c: _Comparison) -> float:
    """The lift of a comparison that has one (the decision only sees those)."""
    return c.lift if c.lift is not None else 0.0


def _small_table(s1: int, n1: int, s2: int, n2: int) -> bool:
    """Cochran's rule: any expected count under 5 sends a 2x2 table to Fisher's exact test."""
    total, successes = n1 + n2, s1 + s2
    expected = [n * k / total for n in (n1, n2) for k in (successes, total - successes)]
    return min(expected) < 5


def _pooled_sd(a: RunningMoments, b: RunningMoments) -> float | None:
    if a.n + b.n < 3:
        return None
    pooled = math.sqrt(max(a.m2 + b.m2, 0.0) / (a.n + b.n - 2))
    return pooled or None


def _arm_state(arm: _Arm) -> dict:
    return {
        "id": arm.variation_id,
        "name": arm.name,
        "control": arm.is_control,
        "patterns": list(arm.patterns),
        "assigned": arm.assigned,
        "failed": arm.failed,
        "cost": arm.cost,
        "moments": _moments_state(arm.moments),
        "by_model": {model: _moments_state(m) for model, m in arm.by_model.items()},
        "cells": dict(arm.cells),
        "pairs": _moments_state(arm.pairs),
        "av_p": arm.av_p,
        "cs": [arm.cs_low, arm.cs_high],
    }


def _arm_from_state(raw: dict) -> _Arm:
    return _Arm(
        variation_id=raw["id"],
        name=raw["name"],
        is_control=raw["control"],
        patterns=tuple(raw["patterns"]),
        assigned=raw["assigned"],
        failed=raw["failed"],
        cost=raw["cost"],
        moments=RunningMoments(*raw["moments"]),
        by_model={model: RunningMoments(*m) for model, m in raw["by_model"].items()},
        cells=dict(raw["cells"]),
        pairs=RunningMoments(*raw["pairs"]),
        av_p=raw["av_p"],
        cs_low=raw["cs"][0],
        cs_high=raw["cs"][1],
    )


def _moments_state(m: RunningMoments) -> list:
    return [m.n, m.mean, m.m2]


def _fmt(x: float | None, unbounded: str) -> str:
    return unbounded if x is None else f"{x:.3g}"


def _signed(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.3g}"


def _p(p: float | None) -> str:
    return "n/a" if p is None else f"{p:.3g}"
