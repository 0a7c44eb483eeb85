"""Group-sequential designs with planned looks: Lan-DeMets spending, non-binding futility.

For users who plan their looks ("design: group-sequential", `looks: 5`): the comparison is
tested only at K planned information fractions t_1 < ... < t_K = 1 (of the planned pairs),
with the classic z statistic. The efficacy bound b_k spends the one-sided type I error
alpha through the Lan-DeMets O'Brien-Fleming-type function alpha(t) = 2 - 2 Phi(z_{1-alpha/2}
/ sqrt(t)); the futility bound a_k spends beta = 1 - power through the same type of function
under the design's alternative (beta spending). Futility is non-binding: the efficacy bounds
are computed as if the trial never stopped for futility, so ignoring a futility stop keeps
the type I error at most alpha (gsDesign's test.type = 4). The alternative is the drift theta
(E Z at full information) at which the last futility bound meets the last efficacy bound:
the effect the planned sample detects with the planned power, theta / sqrt(planned pairs)
standard deviations of the differences. Because the bounds do not depend on the scores'
spread, they are fixed before any data are seen.

Why here and not a library: the numerical integration (Armitage, McPherson & Rowe's
recursion on Jennison & Turnbull's grid, their ch. 19) is gsdesign's (a port of R gsDesign's
C routines by one of gsDesign2's authors, MIT, tested against R snapshots); it has no
spending functions, bound search or futility, so those few lines are here. savvi, gbstats and
spotify-confidence (group-sequential for proportions/means, z-only, no beta spending) do not
give non-binding beta-spending futility. tests/unit/scorer/stats/test_group_sequential.py
holds this module to published bounds (gsDesign's documented designs, ldbounds' Lan-DeMets
O'Brien-Fleming bounds, Jennison & Turnbull's Table 2.3 constants).

The z statistic at a look is the paired t statistic mapped to the normal scale by its tail
probability (Jennison & Turnbull's "significance level approach", section 11.4), so small
looks are not anti-conservative by the t-vs-normal gap. It is valid only when the mean of the
differences is near normal at each look: `normality_warnings` says when it is not.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

import numpy as np
from gsdesign import h1, hupdate
from scipy import optimize
from scipy import stats as sps

GRID_R = 18  # Jennison & Turnbull's grid size, gsDesign's default: bounds to ~1e-6

Spending = Callable[[float, float], float]  # (total, information fraction) -> spent so far


def obrien_fleming(total: float, t: float) -> float:
    """Lan-DeMets O'Brien-Fleming-type spending (gsDesign sfLDOF, ldbounds iuse = 1)."""
    if t <= 0:
        return 0.0
    if t >= 1:
        return total
    return float(2.0 * sps.norm.sf(sps.norm.isf(total / 2.0) / math.sqrt(t)))


def hwang_shih_decani(gamma: float) -> Spending:
    """Hwang-Shih-DeCani spending with parameter gamma (gsDesign sfHSD)."""
    def spend(total: float, t: float) -> float:
        t = min(max(t, 0.0), 1.0)
        if gamma == 0:
            return total * t
        return total * (1.0 - math.exp(-gamma * t)) / (1.0 - math.exp(-gamma))
    return spend


def pocock(total: float, t: float) -> float:
    """Lan-DeMets Pocock-type spending (gsDesign sfLDPocock)."""
    t = min(max(t, 0.0), 1.0)
    return total * math.log(1.0 + (math.e - 1.0) * t)


# -- the recursion -------------------------------------------------------------------------


def _left_to_spend(probs: Callable[[float], tuple[float, float]], increment: float, *,
                   side: int) -> Callable[[float], float]:
    """The crossing probability at a bound less what this look may spend, decreasing in
    its argument: the upper bound b (side 0), or -b for a lower bound (side 1)."""
    if side == 0:
        return lambda b: probs(b)[0] - increment
    return lambda negb: probs(-negb)[1] - increment


def _step(grid: tuple[np.ndarray, np.ndarray, np.ndarray] | None, theta: float,
          info_prev: float, info: float) -> Callable[[float], tuple[float, float]]:
    """P(Z_k > b) and P(Z_k < b) jointly with "still running at look k - 1", as functions
    of b. grid: the sub-density of Z_{k-1} on the continuation region (None at look 1)."""
    if grid is None:
        mu = theta * math.sqrt(info)
        return lambda b: (float(sps.norm.sf(b - mu)), float(sps.norm.cdf(b - mu)))
    z, _, h = grid
    delta = info - info_prev
    centre = z * math.sqrt(info_prev) + theta * delta
    rt_info, rt_delta = math.sqrt(info), math.sqrt(delta)

    def probs(b: float) -> tuple[float, float]:
        if math.isinf(b):
            mass = float(h.sum())
            return (0.0, mass) if b > 0 else (mass, 0.0)
        x = (b * rt_info - centre) / rt_delta
        return float(h @ sps.norm.sf(x)), float(h @ sps.norm.cdf(x))
    return probs


_EMPTY = (np.zeros(0), np.zeros(0), np.zeros(0))


def _advance(grid, theta: float, info_prev: float, info: float, a: float, b: float):
    """The sub-density of Z_k on (a, b), the region where the design continues."""
    if a >= b or (grid is not None and grid[2].size == 0):
        return _EMPTY  # every path stopped
    if grid is None:
        return h1(GRID_R, theta, info, a, b)
    return hupdate(GRID_R, theta, info, a, b, theta, info_prev, grid)


def crossing_probabilities(theta: float, info: np.ndarray, lower: np.ndarray,
                           upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per look, P(first crossing of the upper bound there) and of the lower bound, for a
    drift theta (E Z_k = theta sqrt(info_k)): gsDesign's gsProbability."""
    k = len(info)
    up, low = np.zeros(k), np.zeros(k)
    grid = None
    for i in range(k):
        prev = info[i - 1] if i else 0.0
        probs = _step(grid, theta, prev, float(info[i]))
        up[i] = probs(float(upper[i]))[0]
        low[i] = probs(float(lower[i]))[1]
        if i < k - 1:
            grid = _advance(grid, theta, prev, float(info[i]), float(lower[i]), float(upper[i]))
    return up, low


def _solve(f: Callable[[float], float], lo: float = -12.0, hi: float = 40.0) -> float:
    """The root of a decreasing function of the bound, or an end of the range."""
    if f(lo) <= 0:
        return lo
    if f(hi) >= 0:
        return math.inf
    return float(optimize.brentq(f, lo, hi, xtol=1e-10))


def efficacy_bounds(timing: tuple[float, ...], alpha: float,
                    spending: Spending = obrien_fleming) -> np.ndarray:
    """Upper bounds b_k spending one-sided alpha over `timing` (information fractions, the
    last the final analysis, which spends what is left), computed under no difference as if
    nothing stopped for futility (non-binding)."""
    return _spending_bounds(timing, alpha, spending, 0.0, None)[0]


def futility_bounds(theta: float, timing: tuple[float, ...], upper: np.ndarray, beta: float,
                    spending: Spending = obrien_fleming) -> np.ndarray:
    """Lower bounds a_k spending beta under drift theta, with stopping at either bound;
    a bound above the efficacy bound is set to it (gsDesign's convention)."""
    return _spending_bounds(timing, beta, spending, theta, upper)[0]


def _spending_bounds(timing: tuple[float, ...], total: float, spending: Spending,
                     theta: float, upper: np.ndarray | None) -> tuple[np.ndarray, float]:
    """One bound per look, each spending spending(total, t_k) - spending(total, t_{k-1})
    (the last look: what is left). upper None: efficacy bounds (upper crossings, continuing
    below the bound); else futility bounds (lower crossings, continuing between the bound
    and upper). Also returns the last bound before it is capped at upper[-1]."""
    info = np.asarray(timing, dtype=float)
    bounds = np.zeros(info.size)
    grid, spent, last = None, 0.0, math.nan
    for i, t in enumerate(info):
        target = total if i == info.size - 1 else spending(total, float(t))
        increment = target - spent
        prev = info[i - 1] if i else 0.0
        probs = _step(grid, theta, prev, float(t))
        if upper is None:
            bounds[i] = _solve(_left_to_spend(probs, increment, side=0))
            low, high = -math.inf, float(bounds[i])
        else:
            last = -_solve(_left_to_spend(probs, increment, side=1))
            bounds[i] = min(last, float(upper[i]))
            low, high = float(bounds[i]), float(upper[i])
        spent = target
        if i < info.size - 1:
            grid = _advance(grid, theta, prev, float(t), low, high)
    return bounds, last


@dataclass(frozen=True)
class Design:
    """A group-sequential design on the z scale, for information fractions `timing`."""

    timing: tuple[float, ...]
    alpha: float  # one-sided
    beta: float
    upper: tuple[float, ...]  # efficacy bounds
    lower: tuple[float, ...]  # non-binding futility bounds (the last equals the last upper)
    drift: float  # theta: E Z at full information under the design's alternative

    @property
    def looks(self) -> int:
        return len(self.timing)

    @property
    def inflation(self) -> float:
        """Maximum sample over the fixed-horizon sample with the same alpha and power."""
        fixed = sps.norm.isf(self.alpha) + sps.norm.isf(self.beta)
        return (self.drift / fixed) ** 2

    def stopping(self, theta: float) -> dict[str, object]:
        """Crossing probabilities per look and the expected information fraction at stop,
        when every crossing stops (gsDesign's E{N} / n.I)."""
        info = np.asarray(self.timing)
        up, low = crossing_probabilities(theta, info, np.asarray(self.lower),
                                         np.asarray(self.upper))
        stop = up + low
        expected = float(np.sum(stop[:-1] * info[:-1]) + (1 - np.sum(stop[:-1])) * info[-1])
        return {"upper": up, "lower": low, "power": float(up.sum()),
                "expected_fraction": expected}


@lru_cache(maxsize=64)
def design(timing: tuple[float, ...], alpha: float, beta: float,
           alpha_spending: Spending = obrien_fleming,
           beta_spending: Spending = obrien_fleming) -> Design:
    """The design: efficacy bounds, and the drift at which beta spending's last futility
    bound meets the last efficacy bound (power 1 - beta there)."""
    _check_timing(timing)
    if not 0 < alpha < 0.5 or not 0 < beta < 0.5:
        raise ValueError("alpha (one-sided) and beta must lie in (0, 0.5)")
    upper = efficacy_bounds(timing, alpha, alpha_spending)
    if len(timing) == 1:
        drift = float(sps.norm.isf(alpha) + sps.norm.isf(beta))
        return Design(timing, alpha, beta, tuple(upper), tuple(upper), drift)

    fixed = float(sps.norm.isf(alpha) + sps.norm.isf(beta))
    drift = float(optimize.brentq(
        lambda th: _unclipped_gap(th, timing, upper, beta, beta_spending),
        fixed * 0.9, fixed * 2.0, xtol=1e-9))
    lower = futility_bounds(drift, timing, upper, beta, beta_spending)
    lower[-1] = upper[-1]
    return Design(timing, alpha, beta, tuple(upper), tuple(lower), drift)


def _unclipped_gap(theta: float, timing: tuple[float, ...], upper: np.ndarray, beta: float,
                   spending: Spending) -> float:
    """a_K - b_K with the last futility bound not capped at b_K (the root-finder needs a
    sign change): beta spent under theta up to the final look."""
    return _spending_bounds(timing, beta, spending, theta, upper)[1] - float(upper[-1])


def _check_timing(timing: tuple[float, ...]) -> None:
    if not timing or any(not 0 < t <= 1 for t in timing) or timing[-1] != 1.0 or any(
            b <= a for a, b in pairwise(timing)):
        raise ValueError("information fractions must increase within (0, 1] and end at 1")


def equal_timing(looks: int) -> tuple[float, ...]:
    return tuple((k + 1) / looks for k in range(looks))
