"""Each variation against the control, fixed-horizon: the classic test, its CI and effect size.

Paired (cells of both arms) when at least two pairs exist: paired t, or exact McNemar for
pass/fail. Otherwise two samples: Welch, or two-proportion z / Fisher's exact (Cochran's
rule) for pass/fail. A rank check beside it (Wilcoxon signed-rank / Mann-Whitney). Zero
spread is never proof: a t-test without spread is undefined, so the exact sign test (paired)
or the exact rank-sum test (two samples) answers instead, and the CI is the exact interval
for a constant sample (classic.constant_sample_interval), never the width-0 t interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from agents.scorer.stats import classic
from agents.scorer.stats.arms import Arm
from agents.scorer.stats.moments import NO_SPREAD, RunningMoments
from agents.scorer.stats.tails import t_isf, t_sf


@dataclass
class Comparison:
    """A variation against the control, before multiplicity adjustment."""

    arm: Arm
    test: str | None = None
    p_value: float | None = None
    lift: float | None = None
    lift_ci: tuple[float, float] | None = None  # at the family-adjusted level
    relative_lift: float | None = None
    effect_size_d: float | None = None
    paired: bool = False
    p_adjusted: float | None = None
    rank_test: str | None = None
    p_rank: float | None = None


def compare(arm: Arm, control: Arm, binary: bool, ci_alpha: float) -> Comparison:
    """The classic comparison of arm - control; its CI at level 1 - ci_alpha, in [-1, 1]."""
    comp = Comparison(arm)
    if arm.pairs.n >= 2:
        _paired(comp, arm, control, binary, ci_alpha)
    elif arm.moments.n >= 1 and control.moments.n >= 1:
        _two_samples(comp, arm, control, binary, ci_alpha)
    if comp.lift_ci is not None:
        comp.lift_ci = (max(-1.0, comp.lift_ci[0]), min(1.0, comp.lift_ci[1]))
    if comp.lift is not None and control.moments.n and control.moments.mean != 0:
        comp.relative_lift = comp.lift / control.moments.mean
    if not binary:
        comp.rank_test, comp.p_rank = _rank_check(arm, control, comp.paired)
    return comp


def _paired(comp: Comparison, arm: Arm, control: Arm, binary: bool, ci_alpha: float) -> None:
    comp.paired = True
    n, mean, sd = arm.pairs.n, arm.pairs.mean, arm.pairs.std or 0.0
    if binary:
        total, squares = arm.pairs.total, arm.pairs.sum_of_squares
        # Differences are +1, 0 or -1: the sums give the discordant counts.
        wins, losses = round((squares + total) / 2), round((squares - total) / 2)
        comp.test, comp.p_value = "mcnemar-exact", classic.mcnemar_exact(wins, losses).p_value
    elif not arm.pairs.constant:
        comp.test = "paired-t"
        comp.p_value = float(2 * t_sf(abs(mean / (sd / math.sqrt(n))), n - 1))
    else:
        # Every difference equal: the t statistic is undefined, not infinite.
        comp.test = "sign-exact"
        comp.p_value = 1.0 if abs(mean) <= NO_SPREAD else float(
            sps.binomtest(n, n, 0.5).pvalue)
    comp.lift = mean
    if arm.pairs.constant:
        comp.lift_ci = classic.constant_sample_interval(mean, n, ci_alpha)
        return
    half = float(t_isf(ci_alpha / 2, n - 1)) * sd / math.sqrt(n)
    comp.lift_ci = (mean - half, mean + half)
    comp.effect_size_d = mean / sd  # d_z, as power.t.test(paired)


def _two_samples(comp: Comparison, arm: Arm, control: Arm, binary: bool, ci_alpha: float
                 ) -> None:
    a, b = control.moments, arm.moments
    comp.lift = b.mean - a.mean
    if binary:
        s1, s2 = round(a.total), round(b.total)
        if small_table(s1, a.n, s2, b.n):
            comp.test, comp.p_value = "fisher-exact", classic.fisher_exact(s1, a.n, s2, b.n).p_value
        else:
            comp.test = "two-proportion-z"
            comp.p_value = classic.two_proportion_z(s1, a.n, s2, b.n).p_value
        comp.lift_ci = classic.wald_difference_ci(s1, a.n, s2, b.n, ci_alpha)
    elif a.n >= 2 and b.n >= 2:
        va, vb = a.variance or 0.0, b.variance or 0.0
        se2 = va / a.n + vb / b.n
        if not (a.constant and b.constant):
            comp.test = "welch"
            df = se2**2 / ((va / a.n) ** 2 / (a.n - 1) + (vb / b.n) ** 2 / (b.n - 1))
            comp.p_value = float(2 * t_sf(abs(comp.lift / math.sqrt(se2)), df))
            half = float(t_isf(ci_alpha / 2, df)) * math.sqrt(se2)
            comp.lift_ci = (comp.lift - half, comp.lift + half)
        else:
            # Both arms constant: Welch is undefined; the exact rank-sum test is not. The CI
            # joins each arm's exact interval for a constant sample of scores in [0, 1].
            comp.test, comp.p_value = "mann-whitney", _constant_samples(arm, control)
            low_a, high_a = classic.constant_sample_interval(a.mean, a.n, ci_alpha / 2, 0.0, 1.0)
            low_b, high_b = classic.constant_sample_interval(b.mean, b.n, ci_alpha / 2, 0.0, 1.0)
            comp.lift_ci = (low_b - high_a, high_b - low_a)
    pooled = pooled_sd(a, b)
    comp.effect_size_d = comp.lift / pooled if pooled else None


def _constant_samples(arm: Arm, control: Arm) -> float:
    x, y = np.array(list(arm.cells.values())), np.array(list(control.cells.values()))
    if np.ptp(np.concatenate([x, y])) == 0:
        return 1.0
    return float(sps.mannwhitneyu(x, y, alternative="two-sided", method="exact").pvalue)


def _rank_check(arm: Arm, control: Arm, paired: bool) -> tuple[str | None, float | None]:
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


def small_table(s1: int, n1: int, s2: int, n2: int) -> bool:
    """Cochran's rule: any expected count under 5 sends a 2x2 table to Fisher's exact test."""
    total, successes = n1 + n2, s1 + s2
    expected = [n * k / total for n in (n1, n2) for k in (successes, total - successes)]
    return min(expected) < 5


def pooled_sd(a: RunningMoments, b: RunningMoments) -> float | None:
    if a.n + b.n < 3:
        return None
    pooled = math.sqrt(max(a.m2 + b.m2, 0.0) / (a.n + b.n - 2))
    return pooled or None
