"""Power and sample size in the conventions of R's power.t.test and power.prop.test.

Two-sided tests with `strict = FALSE`, as R's defaults: the power counts only the rejection
tail on the side of the effect. Sample sizes are the exact root in n (R's uniroot stops at
a tolerance of about 1e-4 in n; the root agrees to that).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.optimize import brentq
from scipy.stats import nct, norm
from scipy.stats import t as student_t

_N_MIN, _N_MAX = 2.0, 1e7  # R's search interval for n


def t_test_power(n: float, effect_size: float, alpha: float = 0.05, paired: bool = False) -> float:
    """Power of a two-sided t-test with n per group (n pairs if paired); effect in SD units.

    effect_size is R's delta / sd: the standardized mean difference (Cohen's d) for two
    samples, the mean difference over the SD of differences (d_z) for paired data.
    """
    _check_alpha(alpha)
    if paired:
        df, ncp = n - 1, math.sqrt(n) * abs(effect_size)
    else:
        df, ncp = 2 * (n - 1), math.sqrt(n / 2) * abs(effect_size)
    critical = student_t.isf(alpha / 2, df)
    return float(nct.sf(critical, df, ncp))


def t_test_sample_size(
    effect_size: float, alpha: float = 0.05, power: float = 0.8, paired: bool = False
) -> float:
    """n per group (pairs if paired) that gives `power`, as R's power.t.test(n = NULL)."""
    _check_alpha(alpha)
    _check_power(power)
    if effect_size == 0:
        raise ValueError("the effect size must be non-zero")
    return _solve_n(lambda n: t_test_power(n, effect_size, alpha, paired) - power)


def prop_test_power(n: float, p1: float, p2: float, alpha: float = 0.05) -> float:
    """Power of the two-sided two-proportion test with n per group, as R's power.prop.test."""
    _check_alpha(alpha)
    _check_proportions(p1, p2)
    q = norm.isf(alpha / 2)
    p_bar = (p1 + p2) / 2
    spread = math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    z = (math.sqrt(n) * abs(p1 - p2) - q * math.sqrt(2 * p_bar * (1 - p_bar))) / spread
    return float(norm.cdf(z))


def prop_test_sample_size(p1: float, p2: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """n per group that gives `power`, as R's power.prop.test(n = NULL)."""
    _check_alpha(alpha)
    _check_power(power)
    _check_proportions(p1, p2)
    if p1 == p2:
        raise ValueError("p1 and p2 must differ")
    return _solve_n(lambda n: prop_test_power(n, p1, p2, alpha) - power)


@dataclass(frozen=True)
class PlanCheck:
    """Whether a planned sample can detect the smallest effect the user cares about."""

    n_planned: int
    n_needed: int | None
    power_at_min_effect: float | None
    warning: str | None


def check_plan(
    n_planned: int,
    min_effect: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    metric: str = "score",
    sd: float = 0.25,
    baseline: float = 0.5,
    paired: bool = True,
) -> PlanCheck:
    """Validate a test configuration: warn when n_planned (per variation, or pairs) is short.

    For metric "score", sd is the guessed standard deviation of the scores (or of the paired
    differences); for "pass", baseline is the guessed pass rate of the control.
    """
    if min_effect <= 0:
        return PlanCheck(n_planned, None, None, None)
    if metric == "pass":
        p2 = min(baseline + min_effect, 1.0 - 1e-9)
        if p2 <= baseline:
            return PlanCheck(n_planned, None, None, "min_effect leaves no room above the baseline")
        needed = prop_test_sample_size(baseline, p2, alpha, power)
        achieved = prop_test_power(n_planned, baseline, p2, alpha) if n_planned >= 2 else 0.0
    else:
        d = min_effect / sd
        needed = t_test_sample_size(d, alpha, power, paired)
        achieved = t_test_power(n_planned, d, alpha, paired) if n_planned >= 2 else 0.0
    n_needed = math.ceil(needed)
    warning = None
    if n_planned < n_needed:
        unit = "pairs" if paired and metric != "pass" else "trials per variation"
        warning = (
            f"the plan has {n_planned} {unit} but detecting an effect of {min_effect:g} with "
            f"{power:.0%} power at alpha {alpha:g} takes {n_needed}; power now {achieved:.0%}"
        )
    return PlanCheck(n_planned, n_needed, achieved, warning)


def _solve_n(gap) -> float:
    if gap(_N_MIN) >= 0:
        return _N_MIN
    if gap(_N_MAX) < 0:
        raise ValueError("the effect is too small: more than 10^7 per group would be needed")
    return float(brentq(gap, _N_MIN, _N_MAX, xtol=1e-10, rtol=1e-14, maxiter=500))


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


def _check_power(power: float) -> None:
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be in (0, 1), got {power}")


def _check_proportions(p1: float, p2: float) -> None:
    for p in (p1, p2):
        if not 0.0 < p < 1.0:
            raise ValueError(f"proportions must be in (0, 1), got {p}")
