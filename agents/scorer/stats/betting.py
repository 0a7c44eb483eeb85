"""Anytime-valid inference for the mean of bounded differences, by betting.

Every paired difference x = variant - control of two scores in [0, 1] lies in [-1, 1]. For a
candidate mean m, a gambler who bets the fraction lam of her wealth on "x > m" multiplies it
by 1 + lam (x - m) each pair. If m is the true mean, and lam is chosen before x is seen, that
wealth is a non-negative martingale with mean 1 whatever the distribution of x (skewed,
discrete, two-point, pass/fail): by Ville's inequality it reaches 1/a with probability at
most a, ever. So {m : no gambler betting on m got rich} is a confidence sequence: valid at
every look, under continuous peeking, with no normal approximation and no burn-in (Waudby-
Smith & Ramdas, "Estimating means of bounded random variables by betting", JRSS-B 2023;
Shafer & Vovk's game-theoretic probability). For pass/fail pairs the differences are -1, 0
or +1 and a bet is exactly a likelihood ratio of the discordant pairs (Bernoulli(1/2) under
no difference), so the test is exact there too.

The construction here, and why:
- Two one-sided gamblers per m: K+ bets on x > m (finds the lower bound), K- on x < m (the
  upper bound). m is rejected at level a when either reaches 2/a (a union bound: Waudby-Smith
  & Ramdas' hedged capital with theta = 1/2). The always-valid p-value of "no difference" is
  min(1, 2 / running max of max(K+(0), K-(0))), so it is below a exactly when 0 has left
  the confidence sequence at level a.
- Each gambler is a mixture over a fixed grid of standardised bets: bet g stakes
  lam_g = min(delta_g / s, CAP), where s is the predictable (past-only) standard deviation
  of the differences, i.e. the Kelly bet of an effect of delta_g standard deviations. A
  mixture of martingales is a martingale, so the mixture is as valid as each bet, and it
  grows nearly as fast as the best bet of the grid in hindsight (a discrete analogue of the
  mSPRT's normal mixture, without its normal likelihood). Plug-in bets (aGRAPA, ONS)
  are the alternative; the grid needs no tuning by the data, is O(grid) per pair, and
  stops within ~7 % of the best constant bet in hindsight (benchmarks/sequential.py).
- Bets on the side that risks the range are scaled by 1 / (1 + |m|), which keeps every
  factor positive for any x in [-1, 1] and keeps K+ non-increasing (K- non-decreasing) in
  m, so the rejected candidates form two tails and the sequence is an interval; the
  vectorised path finds its ends by bisection on the same grid of m the streaming path
  keeps, and gets the same interval.
- The running intersection over time (per m, the running maximum of the capital) is kept,
  so the interval only shrinks. The candidates m are a grid of step GRID_STEP on [-1, 1]
  (the metric's range), plus the points a decision asks about (0, +-min_effect): reported
  bounds are the outermost rejected grid points, conservative by at most one step.

No library in reach does this: confseq (the authors' own implementation) does not build on
Python 3.11, expectation needs 3.12, and savvi / gbstats / spotify-confidence implement
normal-theory mixtures or group-sequential bounds, which are exactly what fails on skewed,
discrete scores (issue #13). tests/unit/scorer/stats/test_betting.py holds this module to
an independent brute-force computation, to the martingale property, and the benchmark to
the false-positive rate under a look after every pair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# Standardised effects the mixture bets on (in standard deviations of the differences):
# from 0.07 (an effect that needs ~1,600 pairs to detect) to 1.5, geometric, equal weights.
DELTAS = np.geomspace(0.07, 1.5, 10)
LOG_WEIGHTS = np.full(DELTAS.size, -math.log(DELTAS.size))
CAP = 0.9  # the largest fraction of wealth one bet may stake: a -1 difference keeps 10 %
# Pending pairs are folded in one pass once pairs x candidates still open reaches this: a
# few dozen pairs while the sequence is wide, hundreds once it is narrow (memory ~1 MB).
FLUSH_CELLS = 8192
PRIOR_SD, PRIOR_PAIRS = 0.3, 2.0  # the scale before data: 2 pseudo-pairs of sd 0.3
GRID_STEP = 0.01
LOW, HIGH = -1.0, 1.0  # the range of a difference of two scores in [0, 1]


def m_grid(extra: tuple[float, ...] = ()) -> np.ndarray:
    """The candidate means: a grid on [-1, 1] plus the decision points, sorted, unique."""
    steps = round((HIGH - LOW) / GRID_STEP)
    base = np.round(np.linspace(LOW, HIGH, steps + 1), 12)
    points = [p for p in extra if LOW < p < HIGH]
    return np.unique(np.concatenate([base, np.asarray(points, dtype=float), [0.0]]))


def stakes(scale: float | np.ndarray) -> np.ndarray:
    """The fraction staked by each bet of the grid (first axis), given the predictable scale
    (a number, or one per time on the second axis)."""
    s = np.asarray(scale, dtype=float)
    return np.minimum(DELTAS.reshape((-1,) + (1,) * s.ndim) / s, CAP)


def _side_scale(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate m, the factor on the stakes of K+ and of K- that keeps wealth positive."""
    return 1.0 / (1.0 + np.maximum(m, 0.0)), 1.0 / (1.0 + np.maximum(-m, 0.0))


def prior_scale(n: float, m2: float) -> float:
    """The scale the next bet uses: past differences' spread, shrunk to the prior early on."""
    return math.sqrt((PRIOR_PAIRS * PRIOR_SD**2 + m2) / (PRIOR_PAIRS + n))


@dataclass
class BettingSequence:
    """The streaming confidence sequence of one comparison, for any level 1 - a, a >= alpha.

    best[side, i]: running maximum over time of the mixture's log wealth against candidate
    m_i (side 0: K+, side 1: K-). A candidate is settled once either side has rejected it at
    level alpha (it never re-enters a running intersection); only the unsettled ones, and 0
    (whose exact wealth is the p-value), keep their wealth per bet in log_k[g, side, j] for
    the candidates active[j]. So a pair costs O(bets x candidates still inside the
    sequence): the whole grid at first, a few dozen once the sequence is narrow.

    Folding is lazy: add() records the difference and the stake's scale (decided before it,
    as always) in O(1) Python, and the wealth is brought up to date in one numpy pass over
    the pending pairs when something is read, or once pending pairs x open candidates reach
    FLUSH_CELLS. A numpy call on these small arrays costs microseconds whatever its size,
    so one pass over a batch replaces ~20 calls per pair; the arithmetic per pair and time
    step is the same, so the reported sequence is too (benchmarks/stats_cost.py).
    """

    grid: np.ndarray
    alpha: float
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    _best: np.ndarray = field(init=False, repr=False)
    active: np.ndarray = field(init=False)
    log_k: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self._best = np.zeros((2, self.grid.size))
        self.active = np.arange(self.grid.size)
        self.log_k = np.zeros((DELTAS.size, 2, self.grid.size))
        self._zero = int(np.searchsorted(self.grid, 0.0))
        self._level = threshold(self.alpha)
        self._pending: list[float] = []
        self._pending_scale: list[float] = []
        self._compile()

    def _compile(self) -> None:
        plus, minus = _side_scale(self.grid[self.active])
        self._signed_scale = np.stack([plus, -minus])  # (2, active)
        self._points = self.grid[self.active]

    @property
    def best(self) -> np.ndarray:
        self._flush()
        return self._best

    def add(self, x: float) -> None:
        if not LOW <= x <= HIGH:
            raise ValueError(f"a difference must lie in [{LOW}, {HIGH}], got {x}")
        self._pending.append(x)
        self._pending_scale.append(prior_scale(self.n, self.m2))  # decided before x
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (x - self.mean)
        if len(self._pending) * self.active.size >= FLUSH_CELLS:
            self._flush()

    def _flush(self) -> None:
        """Bring the wealth and its running maxima up to date with the pending pairs."""
        if not self._pending:
            return
        x = np.asarray(self._pending)
        lam = stakes(np.asarray(self._pending_scale)).T  # (time, bets)
        self._pending, self._pending_scale = [], []
        moves = self._signed_scale * (x[:, None, None] - self._points)  # (time, 2, active)
        steps = np.log1p(lam[:, :, None, None] * moves[:, None, :, :])  # (time, bets, 2, act.)
        steps[0] += self.log_k
        paths = np.cumsum(steps, axis=0)  # wealth per bet after each pair of the batch
        self.log_k = paths[-1]
        best = self._best[:, self.active]
        _raise_running_max(best, paths)
        self._best[:, self.active] = best
        settled = (best >= self._level).any(axis=0) & (self.active != self._zero)
        if settled.any():
            keep = ~settled
            self.active, self.log_k = self.active[keep], self.log_k[:, :, keep]
            self._compile()

    def p_value(self) -> float:
        """Always-valid two-sided p-value of "mean difference 0" (running minimum)."""
        return p_from_log_wealth(float(self.best[:, self._zero].max()))

    def interval(self, alpha: float | None = None) -> tuple[float, float]:
        """The running-intersection confidence sequence at level 1 - alpha, on the grid."""
        return interval_from_best(self.grid, self.best[0], self.best[1], self._check(alpha))

    def rejects(self, m: float, side: str, alpha: float | None = None) -> bool:
        """Has the gambler against m on `side` ("above": the mean is > m; "below": < m)
        reached 2/alpha at some look? m must be a point of the grid."""
        i = int(np.searchsorted(self.grid, m))
        if i >= self.grid.size or not math.isclose(self.grid[i], m, abs_tol=1e-12):
            raise ValueError(f"{m} is not a candidate of this sequence's grid")
        level = threshold(self._check(alpha))
        return bool(self.best[0 if side == "above" else 1, i] >= level)

    def emptied(self, alpha: float | None = None) -> bool:
        """Did the two tails meet? It happens with probability < alpha for identically
        distributed pairs; more often it means the difference drifted over time."""
        level = threshold(self._check(alpha))
        plus, minus = np.flatnonzero(self.best[0] >= level), np.flatnonzero(self.best[1] >= level)
        return bool(plus.size and minus.size and plus[-1] >= minus[0])

    def _check(self, alpha: float | None) -> float:
        # Settled candidates stopped at this sequence's own alpha: a laxer level (larger
        # alpha) would reject them too, a stricter one might not.
        if alpha is None:
            return self.alpha
        if alpha < self.alpha * (1 - 1e-12):
            raise ValueError(f"this sequence answers at alpha >= {self.alpha:g}, not {alpha:g}")
        return alpha


def threshold(alpha: float) -> float:
    """log(2/alpha): the log wealth at which one side's gambler rejects at level alpha."""
    return math.log(2.0 / alpha)


def p_from_log_wealth(log_wealth: float) -> float:
    return min(1.0, 2.0 * math.exp(-log_wealth)) if log_wealth > 0 else 1.0


def interval_from_best(grid: np.ndarray, best_plus: np.ndarray, best_minus: np.ndarray,
                       alpha: float) -> tuple[float, float]:
    """Outermost rejected grid points of each tail (the range's ends when none is)."""
    level = threshold(alpha)
    low_rejected = np.flatnonzero(best_plus >= level)
    high_rejected = np.flatnonzero(best_minus >= level)
    low = float(grid[low_rejected[-1]]) if low_rejected.size else LOW
    high = float(grid[high_rejected[0]]) if high_rejected.size else HIGH
    if low > high:  # both tails met (probability < alpha): report the point where they did
        low = high = float(grid[low_rejected[-1]])
    return low, high


# -- the vectorised path: whole streams at once (benchmark, `promptopt stats sequential`) --


def scales(x: np.ndarray) -> np.ndarray:
    """The predictable scale before each difference of x (last axis is time)."""
    n = np.arange(1, x.shape[-1] + 1, dtype=float)
    c1, c2 = np.cumsum(x, axis=-1), np.cumsum(x * x, axis=-1)
    m2 = np.maximum(c2 - c1 * c1 / n, 0.0)
    before = np.concatenate([np.zeros_like(m2[..., :1]), m2[..., :-1]], axis=-1)
    n_before = n - 1.0
    return np.sqrt((PRIOR_PAIRS * PRIOR_SD**2 + before) / (PRIOR_PAIRS + n_before))


def log_wealth(x: np.ndarray, m: float, side: int, lam: np.ndarray) -> np.ndarray:
    """log wealth of each bet (bets x ... x time) against candidate m; side 0: K+, 1: K-.

    x: (..., time); lam: stakes(scales(x)), shaped (bets, ..., time)."""
    plus, minus = _side_scale(np.array([m]))
    signed = float(plus[0]) if side == 0 else -float(minus[0])
    return np.cumsum(np.log1p(lam * (signed * (x - m))), axis=-1)


def mixture_paths(x: np.ndarray, m: float, lam: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """log K+ and log K- of the mixture against m after each difference of x (..., time)."""
    if lam is None:
        lam = stakes(scales(x))
    weights = LOG_WEIGHTS.reshape((-1,) + (1,) * np.ndim(x))
    return (_logsumexp(log_wealth(x, m, 0, lam) + weights, axis=0),
            _logsumexp(log_wealth(x, m, 1, lam) + weights, axis=0))


@dataclass(frozen=True)
class StreamResult:
    n: int
    first_rejection: int | None  # 1-based index of the difference at which 0 left the CS
    direction: str  # "above" (mean > 0), "below", or "none"
    p_value: float
    cs_low: float
    cs_high: float


def analyze_stream(x: np.ndarray, alpha: float, extra: tuple[float, ...] = ()) -> StreamResult:
    """What BettingSequence reports after folding x, computed on the whole stream at once:
    the test of 0 from the two wealth paths, the interval by bisection on the grid (each tail
    is monotone in m) with one O(n x bets) pass per step."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 1:
        raise ValueError("one stream at a time")
    if x.size and not (np.all(x >= LOW) and np.all(x <= HIGH)):
        raise ValueError(f"differences must lie in [{LOW}, {HIGH}]")
    grid = m_grid(extra)
    if x.size == 0:
        return StreamResult(0, None, "none", 1.0, LOW, HIGH)
    lam = stakes(scales(x))
    level = threshold(alpha)
    zero = [log_wealth(x, 0.0, side, lam) for side in (0, 1)]
    p = p_from_log_wealth(max(_max_mixture(k) for k in zero))
    first, direction = None, "none"
    if p <= alpha:
        # Only the times at which some bet alone is above the level can have the mixture there.
        tops = [k.max(axis=0) for k in zero]
        candidates = np.flatnonzero(np.maximum(tops[0], tops[1]) >= level)
        paths = [_logsumexp(k[:, candidates] + LOG_WEIGHTS[:, None], axis=0) for k in zero]
        crossed = np.maximum(paths[0], paths[1]) >= level
        at = int(np.argmax(crossed))
        first = int(candidates[at])
        direction = "above" if paths[0][at] >= paths[1][at] else "below"

    def rejected(i: int, side: int) -> bool:
        return _max_mixture(log_wealth(x, float(grid[i]), side, lam), floor=level) >= level

    # K+ rejects a prefix of the grid, K- a suffix: search each end outward from a guess
    # near it (the fixed-horizon interval), so a stream costs a handful of passes.
    spread = 3.0 * float(np.std(x)) / math.sqrt(x.size) + GRID_STEP
    mean = float(np.mean(x))
    low_i = _prefix_end(lambda i: rejected(i, 0), grid.size,
                        int(np.searchsorted(grid, mean - spread)))
    high_i = _suffix_start(lambda i: rejected(i, 1), grid.size,
                           int(np.searchsorted(grid, mean + spread)))
    low = float(grid[low_i]) if low_i is not None else LOW
    high = float(grid[high_i]) if high_i is not None else HIGH
    if low > high:
        low = high = float(grid[low_i])  # type: ignore[index]
    return StreamResult(int(x.size), None if first is None else first + 1, direction, p,
                        low, high)


def _prefix_end(pred, size: int, guess: int) -> int | None:
    """Largest i with pred(i), for a predicate true exactly on a prefix of range(size);
    galloping out from `guess`, then bisection: O(log distance) calls. -1 and size stand
    for "before the start" (true) and "past the end" (false)."""
    guess = min(max(guess, 0), size - 1)
    step = 1
    if pred(guess):
        true_at, probe = guess, guess + 1
        while probe < size and pred(probe):
            true_at, step = probe, step * 2
            probe = true_at + step
        false_at = min(probe, size)
    else:
        false_at, probe = guess, guess - 1
        while probe >= 0 and not pred(probe):
            false_at, step = probe, step * 2
            probe = false_at - step
        true_at = max(probe, -1)
    while false_at - true_at > 1:
        mid = (true_at + false_at) // 2
        if pred(mid):
            true_at = mid
        else:
            false_at = mid
    return None if true_at < 0 else true_at


def _suffix_start(pred, size: int, guess: int) -> int | None:
    """Smallest i with pred(i), for a predicate true exactly on a suffix of range(size)."""
    found = _prefix_end(lambda i: pred(size - 1 - i), size, size - 1 - guess)
    return None if found is None else size - 1 - found


def _raise_running_max(best: np.ndarray, paths: np.ndarray) -> None:
    """best = max(best, the mixture over the bets of each time's wealth), in place.

    paths: (time, bets, 2, active). The mixture (equal weights) never exceeds the best
    single bet, so only the (time, candidate) cells whose best bet is above the running
    maximum before the batch need the exponentials."""
    top = paths.max(axis=1)  # (time, 2, active)
    # The mixture lies within log(bets) below the best bet, so by time t the running maximum
    # is at least top - log(bets) of every earlier time: only cells above that can count.
    floor = np.maximum(best, np.maximum.accumulate(top - math.log(DELTAS.size), axis=0))
    cells = top > floor
    if cells.any():
        t, side, j = np.nonzero(cells)
        mixture = _logsumexp(paths[t, :, side, j].T + LOG_WEIGHTS[:, None], axis=0)
        np.maximum.at(best, (side, j), mixture)


def _max_mixture(log_k: np.ndarray, floor: float = -math.inf) -> float:
    """max over time of the mixture of log_k (bets x time), or a value below `floor` when
    it is certainly below it: the mixture lies within log(bets) below the best bet."""
    top = log_k.max(axis=0)
    peak = float(top.max())
    if peak < floor:
        return peak
    cols = top >= max(floor, peak - math.log(DELTAS.size))
    return float(_logsumexp(log_k[:, cols] + LOG_WEIGHTS[:, None], axis=0).max())


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    top = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(top, axis=axis) + np.log(np.sum(np.exp(a - top), axis=axis))


# -- unpaired arms --------------------------------------------------------------------------


def pseudo_pairs(arms: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Differences (b - a) of blocks of unpaired observations, and where each block closes.

    arms: 0 (a) or 1 (b) per observation in arrival order. A value waits until the other arm
    has one; then the waiting values of each arm are averaged and differenced. Which values
    form a block depends only on the order of arrival, never on the values, so under random
    assignment the blocks are independent, each with mean mean_b - mean_a and in [-1, 1]:
    the betting sequence over them is valid for the difference of means with each arm's own
    variance (no pooling), at any allocation. Returns (differences, index of the observation
    that closed each block).
    """
    diffs: list[float] = []
    closed: list[int] = []
    total = [0.0, 0.0]
    count = [0, 0]
    for index, (arm, value) in enumerate(zip(arms.tolist(), values.tolist(), strict=True)):
        total[arm] += value
        count[arm] += 1
        other = 1 - arm
        if count[other]:
            diffs.append(total[1] / count[1] - total[0] / count[0])
            closed.append(index)
            total, count = [0.0, 0.0], [0, 0]
    return np.asarray(diffs, dtype=float), np.asarray(closed, dtype=int)
