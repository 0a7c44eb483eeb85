"""Fixed-horizon tests, in R's default conventions (t.test, wilcox.test, prop.test, fisher.test).

scipy and statsmodels do the distributions. What is written here is only what they do not
match R on: the rank tests' choice between the exact and the normal-approximation p-value
(R: exact when n < 50 and there are no ties and, for the signed-rank test, no zero
differences; otherwise normal with continuity and tie corrections), and R's statistic V
(sum of the positive ranks) for the signed-rank test.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from agents.scorer.stats.tails import norm_isf, norm_sf, t_isf

CompareTest = Literal["welch", "student", "paired-t", "wilcoxon", "mann-whitney"]
COMPARE_TESTS: tuple[str, ...] = ("welch", "student", "paired-t", "wilcoxon", "mann-whitney")

_EXACT_BELOW = 50  # R's wilcox.test default: exact = (n < 50)


@dataclass(frozen=True)
class TestResult:
    __test__ = False  # not a pytest class

    statistic: float
    df: float | None
    p_value: float
    ci_low: float | None = None  # CI of the mean difference (a - b) where the test has one
    ci_high: float | None = None


def compare(a: Sequence[float], b: Sequence[float], test: CompareTest, alpha: float = 0.05
            ) -> TestResult:
    """Two-sided test of a against b; differences are a minus b."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.size == 0 or y.size == 0:
        raise ValueError("both samples need at least one value")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("values must be finite numbers")
    if test in ("paired-t", "wilcoxon") and x.size != y.size:
        raise ValueError(f"paired tests need samples of equal length ({x.size} != {y.size})")
    if test in ("welch", "paired-t") and min(x.size, y.size) < 2:
        raise ValueError("this t-test needs at least two values per sample")
    if test == "welch":
        return _t_test(stats.ttest_ind(x, y, equal_var=False), alpha, x, y)
    if test == "student":
        return _t_test(stats.ttest_ind(x, y, equal_var=True), alpha, x, y)
    if test == "paired-t":
        return _t_test(stats.ttest_rel(x, y), alpha, x, y)
    if test == "wilcoxon":
        return signed_rank(x - y)
    if test == "mann-whitney":
        return rank_sum(x, y)
    raise ValueError(f"unknown test {test!r}: use one of {', '.join(COMPARE_TESTS)}")


def _t_test(result, alpha: float, x: np.ndarray, y: np.ndarray) -> TestResult:
    if not math.isfinite(float(result.statistic)):
        raise ValueError("the t statistic is undefined: too few values or no spread")
    ci = result.confidence_interval(confidence_level=1.0 - alpha)
    return TestResult(float(result.statistic), float(result.df), float(result.pvalue),
                      float(ci.low), float(ci.high))


def signed_rank(d: np.ndarray) -> TestResult:
    """Wilcoxon signed-rank test of differences d, as R's wilcox.test(x, y, paired = TRUE)."""
    nonzero = d[d != 0]  # R drops zero differences before ranking
    n = nonzero.size
    if n == 0:
        raise ValueError("every difference is zero: the signed-rank test is undefined")
    ranks = stats.rankdata(np.abs(nonzero))
    v = float(ranks[nonzero > 0].sum())
    ties = _tie_counts(np.abs(nonzero))
    zeros = nonzero.size != d.size
    if n < _EXACT_BELOW and not ties.size and not zeros:
        p = stats.wilcoxon(nonzero, method="exact").pvalue
        return TestResult(v, None, float(min(1.0, p)))
    sigma2 = n * (n + 1) * (2 * n + 1) / 24 - float(np.sum(ties**3 - ties)) / 48
    z = v - n * (n + 1) / 4
    return TestResult(v, None, _normal_p(z, sigma2))


def rank_sum(x: np.ndarray, y: np.ndarray) -> TestResult:
    """Mann-Whitney U (Wilcoxon rank-sum) test, as R's wilcox.test(x, y): W is U of x."""
    nx, ny = x.size, y.size
    ranks = stats.rankdata(np.concatenate([x, y]))
    w = float(ranks[:nx].sum() - nx * (nx + 1) / 2)
    ties = _tie_counts(np.concatenate([x, y]))
    if nx < _EXACT_BELOW and ny < _EXACT_BELOW and not ties.size:
        p = stats.mannwhitneyu(x, y, alternative="two-sided", method="exact").pvalue
        return TestResult(w, None, float(min(1.0, p)))
    total = nx + ny
    sigma2 = (nx * ny / 12) * ((total + 1) - float(np.sum(ties**3 - ties)) / (total * (total - 1)))
    z = w - nx * ny / 2
    return TestResult(w, None, _normal_p(z, sigma2))


def _normal_p(z: float, sigma2: float) -> float:
    """Two-sided normal p-value with R's continuity correction of 0.5 towards the mean."""
    if sigma2 <= 0:
        raise ValueError("every value is tied: the rank test is undefined")
    corrected = (z - math.copysign(0.5, z) if z != 0 else 0.0) / math.sqrt(sigma2)
    return float(min(1.0, 2 * norm_sf(abs(corrected))))


def _tie_counts(values: np.ndarray) -> np.ndarray:
    _, counts = np.unique(values, return_counts=True)
    return counts[counts > 1].astype(float)


def two_proportion_z(s1: int, n1: int, s2: int, n2: int) -> TestResult:
    """Pooled two-proportion z-test of p2 - p1 (R's prop.test(correct = FALSE) has X^2 = z^2).

    The CI is the unpooled Wald interval of the difference at 95 %; callers wanting another
    level use wald_difference_ci.
    """
    if min(n1, n2) <= 0:
        raise ValueError("each group needs at least one trial")
    p1, p2 = s1 / n1, s2 / n2
    pooled = (s1 + s2) / (n1 + n2)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se0 == 0:
        return TestResult(0.0, None, 1.0, *wald_difference_ci(s1, n1, s2, n2))
    z = (p2 - p1) / se0
    p = float(2 * norm_sf(abs(z)))
    return TestResult(z, None, p, *wald_difference_ci(s1, n1, s2, n2))


def wald_difference_ci(s1: int, n1: int, s2: int, n2: int, alpha: float = 0.05
                       ) -> tuple[float, float]:
    p1, p2 = s1 / n1, s2 / n2
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    q = norm_isf(alpha / 2)
    return max(-1.0, p2 - p1 - q * se), min(1.0, p2 - p1 + q * se)


def fisher_exact(s1: int, n1: int, s2: int, n2: int) -> TestResult:
    """Fisher's exact test of the 2x2 table, as R's fisher.test; statistic = odds ratio."""
    table = [[s1, n1 - s1], [s2, n2 - s2]]
    result = stats.fisher_exact(table, alternative="two-sided")
    return TestResult(float(result.statistic), None, float(result.pvalue))


def mcnemar_exact(b: int, c: int) -> TestResult:
    """Exact McNemar test on discordant pairs (b: only the variant passed, c: only the control).

    The exact binomial form, R's binom.test(b, b + c); statistic = b.
    """
    if b + c == 0:
        return TestResult(0.0, None, 1.0)
    return TestResult(float(b), None, float(stats.binomtest(b, b + c, 0.5).pvalue))


def wilson_interval(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval (R's prop.test(x, n, correct = FALSE)$conf.int)."""
    low, high = proportion_confint(successes, n, alpha=alpha, method="wilson")
    return float(low), float(high)


def constant_sample_interval(value: float, n: int, alpha: float, low: float = -1.0,
                             high: float = 1.0) -> tuple[float, float]:
    """An exact 1 - alpha interval for the mean of any distribution on [low, high] from n
    values that all equal `value` (zero spread: a t interval would have width 0).

    Why it holds: the data are constant at some value v; for every v with P(X = v) < r the
    chance of that is P(X = v)^n < P(X = v) r^(n - 1), which sums over v to at most r^(n - 1);
    with r = alpha^(1 / (n - 1)) (n - 1, not Clopper-Pearson's n, because v is read off the
    data) P(X = value) >= r except with probability alpha, and the rest of the mass lies
    anywhere in [low, high]. It holds at every planned look at once with the same alpha: a
    sample constant at a later look was constant at each earlier one and r grows with n, so
    the failures over all looks are contained in those at the first look that fails.
    """
    if n < 2:
        return low, high
    rest = 1.0 - alpha ** (1.0 / (n - 1))  # the mass that may lie away from `value`
    return value - rest * (value - low), value + rest * (high - value)


def mean_interval(n: int, mean: float, sd: float, alpha: float = 0.05) -> tuple[float, float]:
    """Student t interval of a mean (R's t.test(x)$conf.int)."""
    half = t_isf(alpha / 2, n - 1) * sd / math.sqrt(n)
    return mean - half, mean + half
