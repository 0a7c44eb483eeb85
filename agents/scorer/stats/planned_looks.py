"""The group-sequential test of one comparison as its pairs arrive: looks at planned counts.

A LookPlan turns the design (group_sequential.design: bounds on the z scale for information
fractions) into pair counts: look k happens when the comparison has ceil(t_k x planned pairs)
pairs, counted as pairs complete, so where a look falls never depends on the scores. A
LookMonitor records each look once, with the moments of the differences then, and the
decision reads the latest look only: between looks nothing can be decided.

At a look with n pairs (mean m, sd s): t = m / (s / sqrt(n)) on n - 1 degrees of freedom,
z its normal-scale equivalent by tail probability (Jennison & Turnbull, section 11.4), and
the repeated confidence interval m +- c_k s / sqrt(n), c_k the efficacy bound mapped to the t
scale the same way: these intervals hold the true difference at every look simultaneously
with probability >= 1 - 2 alpha_design (J&T ch. 9), so "winner" and "control-best" read them
as the other designs read theirs. When the trials end before the last planned look (failed
or skipped trials) the analysis then is the final look at the information reached, spending
all the alpha left (the Lan-DeMets convention).

Zero spread (every difference equal, e.g. the control fails every case and the variation
passes it): t is undefined, so the look's z is the exact one-sided sign test's, p = 2^-n on
the n non-zero pairs (every pair then), mapped to z = Phi^-1(1 - p) with the differences'
sign; every difference 0 is no evidence, z = 0. The bounds decide as usual: when a pair's
sign is a fair coin, n pairs all of one sign have probability 2^-n, so z >= b_k on this path
happens no more often than the 1 - Phi(b_k) the bound allows. The interval is then
classic.constant_sample_interval at 2 alpha_design (exact for any differences in [-1, 1], at
every look at once), and a bound counts as crossed only when the interval agrees (for a
small common difference the sign test can cross before the mean's interval clears 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import stats as sps

from agents.scorer.stats import classic
from agents.scorer.stats import group_sequential as gs
from agents.scorer.stats.moments import NO_SPREAD, RunningMoments

# Futility spends beta with Hwang-Shih-DeCani gamma = -2, gsDesign's default futility
# spending: with O'Brien-Fleming-type alpha spending and 5 looks the expected sample at the
# design's alternative is 0.81 of the fixed-horizon n (O'Brien-Fleming-type beta spending:
# 0.83), and 0.57 when there is no difference.
FUTILITY_SPENDING = gs.hwang_shih_decani(-2.0)
MIN_PAIRS = 3  # a t statistic needs a spread; a look is never earlier than this

# When a look's z test is not trustworthy (see normality_warnings).
SKEW_RULE = "n <= 28 + 25 g1^2 (Sugden, Smith & Jones 2000, refining Cochran's rule)"
MIN_NONZERO = 25  # informative (non-tied) pairs, as for McNemar's normal approximation
MIN_EACH_OUTCOME = 5  # passes and fails per arm (np >= 5) when the metric is pass/fail


@dataclass(frozen=True)
class Look:
    """One look at one comparison."""

    number: int  # 1-based
    of: int  # planned looks
    pairs: int
    mean: float
    sd: float
    skewness: float | None
    nonzero: int  # pairs whose difference is not 0
    z: float  # the t's normal equivalent; without spread, the exact sign test's
    upper: float  # efficacy bound (z scale); -upper is the harm bound
    lower: float | None  # non-binding futility bound; None at the final look
    low: float  # repeated confidence interval of the mean difference, within [-1, 1]
    high: float
    final: bool
    exact: bool = False  # no spread: z from the sign test, the interval the exact bound

    # The interval's side is implied by the bound for a t look (same critical value); for an
    # exact look it is the mean's own evidence, which a bound crossing must not contradict.
    @property
    def efficacy(self) -> bool:
        return self.z >= self.upper and self.low > 0

    @property
    def harm(self) -> bool:
        return self.z <= -self.upper and self.high < 0

    @property
    def futile(self) -> bool:
        return self.lower is not None and self.z < self.lower

    @property
    def crossed(self) -> Literal["efficacy", "harm", "futility"] | None:
        """The bound this look's z crossed: the design stops there (futility: may stop)."""
        if self.efficacy:
            return "efficacy"
        if self.harm:
            return "harm"
        return "futility" if self.futile else None


@dataclass(frozen=True)
class LookPlan:
    """Pair counts and bounds of the planned looks of every comparison of one experiment."""

    counts: tuple[int, ...]
    planned_pairs: int
    design: gs.Design

    @classmethod
    def make(cls, timing: tuple[float, ...], planned_pairs: int, alpha: float, power: float,
             family_size: int) -> LookPlan:
        """alpha: two-sided, split over the family (Bonferroni) and the two directions."""
        counts: list[int] = []
        for t in timing:
            count = max(MIN_PAIRS, math.ceil(t * planned_pairs - 1e-9))
            if not counts or count > counts[-1]:
                counts.append(count)  # a look at a count already reached is no new look
            elif t == timing[-1]:
                counts[-1] = max(counts[-1], count)
        last = counts[-1]
        fractions = tuple(c / last for c in counts)
        design = gs.design(fractions, alpha / (2 * family_size), 1.0 - power,
                           gs.obrien_fleming, FUTILITY_SPENDING)
        return cls(tuple(counts), max(planned_pairs, last), design)

    def describe(self) -> str:
        return (f"group-sequential, {len(self.counts)} looks at "
                f"{', '.join(str(c) for c in self.counts)} pairs")

    def detectable_d(self) -> float:
        """The standardised effect the plan detects with the planned power."""
        return self.design.drift / math.sqrt(self.counts[-1])


@dataclass
class LookMonitor:
    """The looks one comparison has had."""

    plan: LookPlan
    looks: list[Look] = field(default_factory=list)
    nonzero: int = 0

    @property
    def latest(self) -> Look | None:
        return self.looks[-1] if self.looks else None

    def add(self, difference: float, pairs: RunningMoments) -> bool:
        """After each pair (its moments already updated): True when this pair made a look."""
        self.nonzero += difference != 0.0
        k = len(self.looks)
        if k < len(self.plan.counts) and pairs.n == self.plan.counts[k]:
            self.looks.append(self._look(k, pairs, self.plan.design.upper[k],
                                         None if k == len(self.plan.counts) - 1
                                         else self.plan.design.lower[k]))
            return True
        return False

    def final_look(self, pairs: RunningMoments) -> Look | None:
        """The look the final analysis reads: the last planned one if it happened, else one
        now, at the information reached, spending the alpha left (pure)."""
        last = self.latest
        if last is not None and (last.final or last.pairs == pairs.n):
            return last if last.final else _as_final(last)
        if pairs.n < MIN_PAIRS:
            return None
        timing = (*(look.pairs for look in self.looks), pairs.n)
        upper = gs.efficacy_bounds(tuple(c / self.plan.counts[-1] for c in timing),
                                   self.plan.design.alpha)
        return self._look(len(self.looks), pairs, float(upper[-1]), None)

    def _look(self, k: int, pairs: RunningMoments, upper: float, lower: float | None) -> Look:
        n, mean, sd = pairs.n, pairs.mean, pairs.std or 0.0
        if pairs.constant:
            low, high = classic.constant_sample_interval(mean, n, 2 * self.plan.design.alpha)
            return Look(k + 1, len(self.plan.counts), n, mean, 0.0, None, self.nonzero,
                        float(sign_test_z(mean, self.nonzero)), upper, lower, low, high,
                        final=lower is None, exact=True)
        z = float(z_from_t(mean / (sd / math.sqrt(n)), n - 1))
        critical = math.inf if math.isinf(upper) else float(t_critical(upper, n - 1))
        half = critical * sd / math.sqrt(n)
        low, high = max(-1.0, mean - half), min(1.0, mean + half)
        return Look(k + 1, len(self.plan.counts), n, mean, sd, pairs.skewness, self.nonzero,
                    z, upper, lower, low, high, final=lower is None)


def _as_final(look: Look) -> Look:
    # The trials ended right at an interim look: that look is the final analysis (its bound
    # is kept: re-testing the same information would spend alpha twice).
    return Look(look.number, look.of, look.pairs, look.mean, look.sd, look.skewness,
                look.nonzero, look.z, look.upper, None, look.low, look.high, final=True,
                exact=look.exact)


def sign_test_z(mean: np.ndarray | float, nonzero: np.ndarray | int) -> np.ndarray:
    """z of n equal differences: Phi^-1(1 - 2^-n) signed as they are (the one-sided exact
    sign test on the n non-zero pairs); 0 when they are all 0 (works on arrays). 2^-n below
    the smallest float (n > 1074) is held there: z about 38, beyond every bound."""
    p = np.maximum(np.ldexp(1.0, -np.asarray(nonzero)), 5e-324)
    z = np.copysign(sps.norm.isf(p), mean)
    return np.where((np.asarray(nonzero) == 0) | (np.abs(mean) <= NO_SPREAD), 0.0, z)


def z_from_t(t: np.ndarray | float, df: np.ndarray | float) -> np.ndarray:
    """The normal-scale equivalent of a t statistic: the same upper tail probability."""
    return sps.norm.isf(sps.t.sf(t, df))


def t_critical(bound: float, df: np.ndarray | float) -> np.ndarray:
    """A z-scale bound on the t scale at df degrees of freedom (the same tail probability)."""
    return sps.t.isf(sps.norm.sf(bound), df)


def skewed_for_z(pairs: np.ndarray | int, skewness: np.ndarray | float) -> np.ndarray | bool:
    """Too skewed for a normal mean at this n (works on arrays)."""
    return pairs <= 28 + 25 * np.square(skewness)


def normality_warnings(name: str, look: Look, arm_counts: list[tuple[int, int]],
                       metric: str) -> list[str]:
    """Why this look's z test may not hold its level, if it may not.

    The rules (benchmarks/sequential.py shows the false-positive rate where they fire):
    skewed differences (n <= 28 + 25 g1^2); fewer than 25 non-tied pairs (discrete scores,
    pass rates near 0 or 1); for pass/fail, an arm with fewer than 5 passes or 5 fails.
    arm_counts: (successes, trials) of the control and the variation."""
    out = []
    where = f"{name}: group-sequential look {look.number} of {look.of} ({look.pairs} pairs)"
    if look.skewness is not None and skewed_for_z(look.pairs, look.skewness):
        out.append(f"{where}: the differences are skewed (g1 = {look.skewness:.2f}) for a z "
                   f"test on {look.pairs} pairs ({SKEW_RULE}); its error rate may exceed "
                   "alpha; design: sequential is valid for any scores")
    if look.exact:
        return [f"{where}: every difference is equal ({look.mean:+.3f}): no normal "
                f"approximation, the z is the exact sign test's (p = 2^-{look.nonzero}) and "
                "the interval the exact bound for a constant sample"]
    if look.nonzero < MIN_NONZERO:
        out.append(f"{where}: only {look.nonzero} pairs differ (scores too discrete or pass "
                   f"rates near 0 or 1; a z test needs >= {MIN_NONZERO}); design: sequential "
                   "is exact here")
    if metric == "pass":
        thin = [s for s, n in arm_counts if min(s, n - s) < MIN_EACH_OUTCOME]
        if thin:
            out.append(f"{where}: a pass rate is too near 0 or 1 (fewer than "
                       f"{MIN_EACH_OUTCOME} passes or fails in an arm) for a z test")
    return out
