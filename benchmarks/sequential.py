"""Peeking on real eval distributions: false-positive rate, coverage and stopping time.

    python -m benchmarks.sequential [--quick]

A look after every trial, alpha 0.05, seeded, vectorised over streams with numpy through
the same functions the scorer runs (agents.scorer.stats.betting), plus a run through the
scorer's own ExperimentStats:

- Null families (true difference 0), the always-valid test of "no difference" rejecting at
  any look: normal differences; skewed continuous (centred truncated lognormal); the
  two-point law +0.05 / -0.95 (95 % / 5 %); scores on {0, 0.5, 1}; paired pass/fail near a
  90 % pass rate; unpaired arms with SD ratio 3 and an 80/20 allocation (blocks of
  arrival, betting.pseudo_pairs). Each FPR must be <= 0.05 within Monte-Carlo error: the
  script prints the standard error and the limit alpha + 2 SE. CS coverage: the share of
  streams whose sequence holds the true difference at every look (1 - FPR under the null,
  and at the true mean under the alternative below).
- Stopping: at a true paired d = 0.3 on bounded scores (test cases of 4 assertions, each
  case's pass probability q ~ Beta(2, 2), the variant's q + delta), the mean number of pairs
  at which the variant is declared better (capped at 3.4 x the fixed-horizon n) over the
  fixed-horizon n for 80 % power (R power.t.test, paired), and the power within 3.4 x n.
  The floor is the same test with one constant bet, the best in hindsight (it knows the
  distribution): no valid test on [-1, 1] can do much better.

The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from typing import TextIO, cast

import numpy as np
from scipy import stats as sps

from agents.scorer.stats import betting
from agents.scorer.stats import group_sequential as gs
from agents.scorer.stats.moments import NO_SPREAD
from agents.scorer.stats.planned_looks import (
    MIN_NONZERO,
    LookPlan,
    sign_test_z,
    skewed_for_z,
    z_from_t,
)
from agents.scorer.stats.power import t_test_sample_size

ALPHA = 0.05
EFFECT_D = 0.3
GS_LOOKS = 5
CHUNK = 500  # streams simulated at once: bounds memory to ~100 MB


Sampler = Callable[[np.random.Generator, int, int], np.ndarray]


def _normal(rng: np.random.Generator, s: int, n: int) -> np.ndarray:
    return np.clip(rng.normal(0.0, 0.2, (s, n)), -1, 1)  # a symmetric clip keeps mean 0


_LN_CAP = 10.0  # the lognormal is truncated here so that 0.1 * (G - mean) stays in [-1, 1]
_LN_MEAN = math.exp(0.5) * sps.norm.cdf(math.log(_LN_CAP) - 1.0) / sps.norm.cdf(math.log(_LN_CAP))


def _lognormal(rng: np.random.Generator, s: int, n: int) -> np.ndarray:
    g = rng.lognormal(0.0, 1.0, (s, n))
    while (over := g > _LN_CAP).any():
        g[over] = rng.lognormal(0.0, 1.0, int(over.sum()))
    return 0.1 * (g - _LN_MEAN)


def _two_point(rng: np.random.Generator, s: int, n: int) -> np.ndarray:
    return np.where(rng.random((s, n)) < 0.95, 0.05, -0.95)


def _three_level(rng: np.random.Generator, s: int, n: int) -> np.ndarray:
    levels, probs = np.array([0.0, 0.5, 1.0]), [0.2, 0.3, 0.5]
    return rng.choice(levels, (s, n), p=probs) - rng.choice(levels, (s, n), p=probs)


def _pass_fail(rng: np.random.Generator, s: int, n: int) -> np.ndarray:
    q = rng.beta(9.0, 1.0, (s, n))  # each test case's pass rate: ~90 % on average
    return (rng.random((s, n)) < q).astype(float) - (rng.random((s, n)) < q)


def _unpaired_raw(rng: np.random.Generator, s: int, n: int, share: float = 0.2
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Arm (1 = variant, 20 %) and score of each observation in arrival order."""
    arms = (rng.random((s, n)) < share).astype(int)
    sd = np.where(arms == 1, 0.3, 0.1)  # the variant's SD is 3 x the control's
    return arms, np.clip(0.5 + sd * rng.standard_normal((s, n)), 0, 1)


def _unpaired(rng: np.random.Generator, s: int, n: int, share: float = 0.2) -> list[np.ndarray]:
    arms, values = _unpaired_raw(rng, s, n, share)
    return [betting.pseudo_pairs(a, v)[0] for a, v in zip(arms, values, strict=True)]


NULLS: dict[str, Sampler] = {
    "normal": _normal,
    "lognormal_skewed": _lognormal,
    "two_point": _two_point,
    "three_level_0_half_1": _three_level,
    "pass_fail_90pct": _pass_fail,
}


def _rejections(x: np.ndarray, m: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Per stream: the first look (1-based, 0 = never) at which K+ and K- against m reject."""
    lam = betting.stakes(betting.scales(x))
    plus, minus = betting.mixture_paths(x, m, lam)
    level = betting.threshold(ALPHA)
    out = []
    for path in (plus, minus):
        hit = path >= level
        out.append(np.where(hit.any(axis=-1), hit.argmax(axis=-1) + 1, 0))
    return out[0], out[1]


def _fpr(sampler: Sampler, rng: np.random.Generator, streams: int, looks: int) -> float:
    rejected = 0
    for start in range(0, streams, CHUNK):
        plus, minus = _rejections(sampler(rng, min(CHUNK, streams - start), looks))
        rejected += int(((plus > 0) | (minus > 0)).sum())
    return rejected / streams


def _unpaired_fpr(rng: np.random.Generator, streams: int, looks: int) -> float:
    rejected = 0
    for diffs in _unpaired(rng, streams, looks):
        if diffs.size:
            plus, minus = _rejections(diffs[None, :])
            rejected += int(plus[0] > 0 or minus[0] > 0)
    return rejected / streams


def _assertion_scores(rng: np.random.Generator, s: int, n: int, delta: float) -> np.ndarray:
    q = rng.beta(2.0, 2.0, (s, n))
    control = rng.binomial(4, q) / 4
    variant = rng.binomial(4, np.clip(q + delta, 0, 1)) / 4
    return variant - control


def _delta_for_d(target: float) -> tuple[float, float, float]:
    """The shift of the pass probability that gives the target d, and the (mean, sd) of the
    differences, from 400,000 seeded cases."""
    lo, hi = 0.0, 0.5
    for _ in range(25):
        mid = (lo + hi) / 2
        x = _assertion_scores(np.random.default_rng(99), 1, 400_000, mid)
        lo, hi = (mid, hi) if x.mean() / x.std() < target else (lo, mid)
    x = _assertion_scores(np.random.default_rng(99), 1, 400_000, lo)
    return lo, float(x.mean()), float(x.std())


def _stopping(rng: np.random.Generator, streams: int) -> dict:
    delta, mean, sd = _delta_for_d(EFFECT_D)
    d = mean / sd
    fixed_n = t_test_sample_size(d, ALPHA, 0.8, paired=True)
    horizon = math.ceil(3.4 * fixed_n)
    sample = _assertion_scores(np.random.default_rng(98), 1, 200_000, delta)[0]
    bets = np.linspace(0.01, betting.CAP, 90)
    kelly = float(bets[np.argmax([np.log1p(b * sample).mean() for b in bets])])
    stops, oracle_stops, covered, stopped = [], [], 0, 0
    level = betting.threshold(ALPHA)
    for start in range(0, streams, CHUNK):
        x = _assertion_scores(rng, min(CHUNK, streams - start), horizon, delta)
        plus, _ = _rejections(x)
        stopped += int((plus > 0).sum())
        stops.append(np.where(plus > 0, plus, horizon))
        at_truth = _rejections(x, mean)
        covered += int(((at_truth[0] == 0) & (at_truth[1] == 0)).sum())
        oracle = np.cumsum(np.log1p(kelly * x), axis=-1) >= level
        oracle_stops.append(np.where(oracle.any(axis=-1), oracle.argmax(axis=-1) + 1, horizon))
    mean_stop = float(np.concatenate(stops).mean())
    oracle_stop = float(np.concatenate(oracle_stops).mean())
    return {
        "effect_d": d, "effect_mean": mean, "effect_sd": sd, "effect_delta": delta,
        "fixed_n_80_power": fixed_n, "horizon": horizon,
        "mean_stop_n": mean_stop, "stop_ratio": mean_stop / fixed_n,
        "power_within_3_4_n": stopped / streams,
        "coverage_alternative": covered / streams,
        "floor_kelly_bet": kelly, "floor_stop_ratio": oracle_stop / fixed_n,
    }


# -- the group-sequential design (planned looks; near-normal data only) ---------------------


def _gs_plan(planned_pairs: int, looks: int = GS_LOOKS) -> LookPlan:
    return LookPlan.make(gs.equal_timing(looks), planned_pairs, ALPHA, 0.8, 1)


def _gs_outcomes(z: np.ndarray, plan: LookPlan, futility: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per stream: the look index it stops at, and its outcome (1 efficacy, -1 harm, 0
    futility or the end), from z at each look (nan: undefined, decides nothing)."""
    upper, lower = np.asarray(plan.design.upper), np.asarray(plan.design.lower)
    with np.errstate(invalid="ignore"):
        win, harm = z >= upper, z <= -upper
        stop = win | harm
        if futility:
            stop[:, :-1] |= z[:, :-1] < lower[:-1]
    at = np.where(stop.any(axis=1), stop.argmax(axis=1), z.shape[1] - 1)
    rows = np.arange(z.shape[0])
    return at, np.where(win[rows, at], 1, np.where(harm[rows, at], -1, 0))


def _gs_paired(x: np.ndarray, plan: LookPlan) -> dict[str, np.ndarray]:
    """z, skewness and tie counts of paired differences x (streams x pairs) at the looks."""
    idx = np.asarray(plan.counts) - 1
    n = np.asarray(plan.counts, dtype=float)
    c1, c2, c3 = (np.cumsum(x**p, axis=1)[:, idx] for p in (1, 2, 3))
    mean = c1 / n
    m2 = np.maximum(c2 - c1 * mean, 0.0)
    m3 = c3 - 3 * mean * c2 + 2 * n * mean**3
    sd = np.sqrt(m2 / (n - 1))
    nonzero = np.cumsum(x != 0, axis=1)[:, idx]
    # No spread: the scorer's exact sign test (LookMonitor); its interval check (a bound
    # crossed only when the exact interval agrees) is implied for +-1 differences and
    # never met on the other families' looks, so it is left out here.
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > NO_SPREAD, z_from_t(mean / (sd / np.sqrt(n)), n - 1),
                     sign_test_z(mean, nonzero))
        skew = np.where(m2 > 1e-12, np.sqrt(n) * m3 / m2**1.5, 0.0)
    doubtful = skewed_for_z(n, skew) | (nonzero < MIN_NONZERO) | (sd <= NO_SPREAD)
    return {"z": z, "doubtful": doubtful}


def _gs_null(sampler: Sampler, rng: np.random.Generator, streams: int, plan: LookPlan
             ) -> dict[str, float]:
    """FPR ignoring every futility stop (non-binding: the worst case), the share of streams
    warned at the last look, and the FPR among rejections no warning flagged."""
    false, warned, unflagged = 0, 0, 0
    for start in range(0, streams, CHUNK):
        stats = _gs_paired(sampler(rng, min(CHUNK, streams - start), plan.counts[-1]), plan)
        at, outcome = _gs_outcomes(stats["z"], plan, futility=False)
        rows = np.arange(at.size)
        rejected = outcome != 0
        false += int(rejected.sum())
        warned += int(stats["doubtful"][:, -1].sum())
        unflagged += int((rejected & ~stats["doubtful"][rows, at]).sum())
    return {"fpr": false / streams, "warned": warned / streams,
            "fpr_unwarned": unflagged / streams}


def _gs_unpaired_null(rng: np.random.Generator, streams: int, plan: LookPlan
                      ) -> dict[str, float]:
    """Welch's z at looks by observation counts (unpaired arms: per-arm variances)."""
    arms, values = _unpaired_raw(rng, streams, plan.counts[-1])
    idx = np.asarray(plan.counts) - 1
    b = np.cumsum(arms, axis=1)[:, idx]
    a = np.asarray(plan.counts) - b
    sums = [np.cumsum(values * (arms == k), axis=1)[:, idx] for k in (0, 1)]
    squares = [np.cumsum(values**2 * (arms == k), axis=1)[:, idx] for k in (0, 1)]
    with np.errstate(divide="ignore", invalid="ignore"):
        va = (squares[0] - sums[0] ** 2 / a) / (a - 1)
        vb = (squares[1] - sums[1] ** 2 / b) / (b - 1)
        se2 = va / a + vb / b
        df = se2**2 / ((va / a) ** 2 / (a - 1) + (vb / b) ** 2 / (b - 1))
        t = (sums[1] / b - sums[0] / a) / np.sqrt(se2)
        z = np.where((a >= 2) & (b >= 2) & (se2 > 0), z_from_t(t, df), np.nan)
    _, outcome = _gs_outcomes(z, plan, futility=False)
    return {"fpr": float((outcome != 0).mean()), "warned": 0.0,
            "fpr_unwarned": float((outcome != 0).mean())}


def _gs_stopping(rng: np.random.Generator, streams: int, fixed_n: float, delta: float,
                 looks: int = GS_LOOKS) -> dict[str, object]:
    """At the d = 0.3 alternative, every crossing stopping (futility included):

    - as designed: the maximum sample is gsDesign's n.I = inflation x the fixed n of
      power.t.test (normal theory); the mean pairs at stop over that fixed n, and the power;
    - at 80 % power on this family: discrete differences cost the t test power (the fixed
      test on power.t.test's n has less than 80 % here), so the smallest fixed n and the
      smallest maximum sample with >= 80 % simulated power, on common random numbers, and
      the ratio of the design's mean stop to that fixed n.

    Monte-Carlo error: the first ratio's SE is the SD of the stopping sample over sqrt(streams)
    (its denominator is fixed); the second's two sample sizes are themselves picked from
    simulated power curves, so its SE comes from GS_BATCHES independent batches (batch means:
    the SD of the batches' ratios over sqrt(batches))."""
    designed = math.ceil(_gs_plan(1000, looks).design.inflation * fixed_n)
    longest = designed + 40
    x = np.concatenate([_assertion_scores(rng, min(CHUNK, streams - start), longest, delta)
                        for start in range(0, streams, CHUNK)])
    counts, outcome, plan = _gs_group(x, designed, looks)
    stop = np.asarray(plan.counts)[counts]
    at_80 = _gs_at_80_power(x, fixed_n, designed, looks)
    batches = [_gs_at_80_power(part, fixed_n, designed, looks)
               for part in np.array_split(x, GS_BATCHES)]
    ratios = [b["ratio"] for b in batches if b is not None]
    return {"gs_looks": list(plan.counts), "gs_max_pairs": plan.counts[-1],
            "gs_upper": [round(b, 4) for b in plan.design.upper],
            "gs_futility": [round(b, 4) for b in plan.design.lower],
            "gs_streams": int(x.shape[0]),
            "gs_mean_stop_n": float(stop.mean()), "gs_stop_ratio": float(stop.mean()) / fixed_n,
            "gs_stop_ratio_se": float(stop.std(ddof=1) / math.sqrt(stop.size)) / fixed_n,
            "gs_power": float((outcome == 1).mean()),
            "fixed_power_at_fixed_n": _fixed_power(x, math.ceil(fixed_n)),
            "fixed_n_80_simulated": at_80 and at_80["fixed_n"],
            "gs_max_pairs_80": at_80 and at_80["max_pairs"],
            "gs_mean_stop_n_80": at_80 and at_80["mean_stop"],
            "gs_power_80": at_80 and at_80["power"],
            "gs_stop_ratio_80": at_80 and at_80["ratio"],
            "gs_stop_ratio_80_se": (float(np.std(ratios, ddof=1) / math.sqrt(len(ratios)))
                                    if len(ratios) > 1 else None)}


GS_BATCHES = 8  # batch means for the SE of the ratio at >= 80 % simulated power


def _gs_group(x: np.ndarray, planned: int, looks: int
              ) -> tuple[np.ndarray, np.ndarray, LookPlan]:
    """Per stream of paired differences x: the look index it stops at and its outcome."""
    plan = _gs_plan(planned, looks)
    at, outcome = _gs_outcomes(_gs_paired(x[:, :planned], plan)["z"], plan, futility=True)
    return at, outcome, plan


def _fixed_power(x: np.ndarray, n: int) -> float:
    """The two-sided paired t test's power on the first n pairs of each stream."""
    y = x[:, :n]
    t = y.mean(axis=1) / (y.std(axis=1, ddof=1) / math.sqrt(n))
    return float((t > sps.t.isf(ALPHA / 2, n - 1)).mean())


def _gs_at_80_power(x: np.ndarray, fixed_n: float, designed: int, looks: int
                    ) -> dict[str, float] | None:
    """The smallest fixed n and design maximum with >= 80 % power on these streams, and the
    design's mean stop over that fixed n (None: not reached within the simulated pairs)."""
    longest = x.shape[1]
    fixed_80 = next((n for n in range(math.floor(fixed_n) - 10, longest)
                     if _fixed_power(x, n) >= 0.8), None)
    for planned in range(designed - 10, longest + 1):
        at, outcome, plan = _gs_group(x, planned, looks)
        if (outcome == 1).mean() >= 0.8:
            break
    else:
        return None
    if fixed_80 is None:
        return None
    mean_stop = float(np.asarray(plan.counts)[at].mean())
    return {"fixed_n": fixed_80, "max_pairs": planned, "mean_stop": mean_stop,
            "power": float((outcome == 1).mean()), "ratio": mean_stop / fixed_80}


def _gs_normal_reference(rng: np.random.Generator, streams: int, fixed_n: float, d: float
                         ) -> dict[str, float]:
    """Why the design's ratio on eval scores differs from its normal-theory figure: the same
    plan on normal differences with the same d, (a) by numerical integration (gsDesign's
    E{N} at the true drift d sqrt(max pairs)), (b) simulated with the SD known (the z test
    the theory assumes: this checks the simulation against the integration), (c) simulated
    with the paired t mapped to z, as the scorer tests. (c) - (b) is what estimating the
    variance at looks of 20-60 pairs costs; the eval-score figure less (c), discreteness."""
    designed = math.ceil(_gs_plan(1000).design.inflation * fixed_n)
    plan = _gs_plan(designed)
    counts = np.asarray(plan.counts)
    theory = plan.design.stopping(d * math.sqrt(counts[-1]))
    out: dict[str, list[np.ndarray]] = {"known_sd": [], "t": []}
    wins: dict[str, int] = {"known_sd": 0, "t": 0}
    for start in range(0, streams, CHUNK):
        y = rng.normal(d, 1.0, (min(CHUNK, streams - start), counts[-1]))
        for name, z in (("known_sd", np.cumsum(y, axis=1)[:, counts - 1] / np.sqrt(counts)),
                        ("t", _gs_paired(y, plan)["z"])):
            at, outcome = _gs_outcomes(z, plan, futility=True)
            out[name].append(counts[at])
            wins[name] += int((outcome == 1).sum())
    result = {"normal_theory_ratio": theory["expected_fraction"] * counts[-1] / fixed_n,
              "normal_theory_power": theory["power"]}
    for name, stops in out.items():
        stop = np.concatenate(stops)
        result[f"normal_{name}_ratio"] = float(stop.mean()) / fixed_n
        result[f"normal_{name}_ratio_se"] = float(stop.std(ddof=1) / math.sqrt(stop.size)) / fixed_n
        result[f"normal_{name}_power"] = wins[name] / stop.size
    return result


def _group_sequential(rng: np.random.Generator, streams: int, stopping: dict) -> dict:
    """The default design (5 looks) in full, and 10 looks' stopping figures beside it."""
    delta, fixed_n = stopping["effect_delta"], stopping["fixed_n_80_power"]
    # The stopping figures are cheap (a cumulative sum per stream): 4x the streams of the
    # FPR runs, so their Monte-Carlo SE is ~0.0015 of the fixed n.
    out = _gs_stopping(rng, 4 * streams, fixed_n, delta)
    ten = _gs_stopping(rng, 4 * streams, fixed_n, delta, looks=10)
    reference = _gs_normal_reference(rng, 4 * streams, fixed_n, stopping["effect_d"])
    nulls = {}
    for planned in (cast(int, out["gs_max_pairs"]), 1000):
        plan = _gs_plan(planned)
        rows = {name: _gs_null(sampler, rng, streams, plan) for name, sampler in NULLS.items()}
        rows["unpaired_sd3_80_20"] = _gs_unpaired_null(rng, streams, plan)
        nulls[str(planned)] = rows
    return {**out, "gs_normal_reference": reference, "gs_null": nulls,
            "gs_10_looks": {k.removeprefix("gs_"): v for k, v in ten.items()
                            if k not in ("gs_upper", "gs_futility")}}


def _engine_fpr(rng: np.random.Generator, runs: int, pairs: int) -> float:
    """Share of A/A experiments folded trial by trial into the scorer's ExperimentStats
    (two-point scores around a per-case difficulty) whose always-valid p fell to alpha."""
    from agents.scorer.stats import ExperimentStats, Observation
    from schemas.experiment import AnalysisConfig

    rejected = 0
    for run_no in range(runs):
        stats = ExperimentStats(AnalysisConfig(alpha=ALPHA))
        base = rng.uniform(0.0, 0.05, pairs)
        for i in range(pairs):
            for arm, vid in enumerate(("control", "variant")):
                value = base[i] + (0.95 if rng.random() < 0.95 else 0.0)
                stats.fold(Observation(f"{run_no}-{vid}-{i}", vid, vid, arm == 0, (),
                                       f"case{i}|m|0", "m", float(value)))
        variant = stats.analyze(final=False).variations[1]
        rejected += variant.p_always_valid is not None and variant.p_always_valid <= ALPHA
    return rejected / runs


def run(quick: bool = False, streams: int | None = None, seed: int = 20240601,
        progress: TextIO | None = None) -> dict:
    """Every scenario; returns the figures (the benchmark's JSON line)."""
    n_streams = streams or (1_000 if quick else 10_000)
    looks = 300 if quick else 1_000
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    se = math.sqrt(ALPHA * (1 - ALPHA) / n_streams)
    fpr = {}
    for name, sampler in NULLS.items():
        fpr[name] = _fpr(sampler, rng, n_streams, looks)
        _say(progress, f"{name}: FPR {fpr[name]:.4f}")
    fpr["unpaired_sd3_80_20"] = _unpaired_fpr(rng, n_streams, looks)
    _say(progress, f"unpaired_sd3_80_20: FPR {fpr['unpaired_sd3_80_20']:.4f}")
    stopping = _stopping(rng, n_streams // 2)
    _say(progress, f"stopping ratio {stopping['stop_ratio']:.3f}")
    group = _group_sequential(rng, n_streams, stopping)
    _say(progress, f"group-sequential stop ratio {group['gs_stop_ratio']:.3f} (power "
                   f"{group['gs_power']:.3f}); at 80 % power "
                   f"{_num(group['gs_stop_ratio_80'], 3)}")
    engine_runs = 40 if quick else 300
    engine = _engine_fpr(rng, engine_runs, 200)
    return {
        "benchmark": "sequential",
        "quick": quick,
        "streams": n_streams,
        "looks": looks,
        "alpha": ALPHA,
        "fpr": fpr,
        "fpr_mc_se": se,
        "fpr_limit": ALPHA + 2 * se,
        "fpr_all_within_limit": all(v <= ALPHA + 2 * se for v in fpr.values()),
        "coverage_null": {k: 1 - v for k, v in fpr.items()},
        **stopping,
        **group,
        "fpr_engine_two_point": engine,
        "engine_experiments": engine_runs,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _say(progress: TextIO | None, message: str) -> None:
    if progress is not None:
        print(f"sequential: {message}", file=progress, flush=True)


def _print_table(figures: dict, out: TextIO) -> None:
    print(f"A/A under a look after every trial ({figures['streams']} streams x "
          f"{figures['looks']} looks; MC SE {figures['fpr_mc_se']:.4f}, limit "
          f"{figures['fpr_limit']:.4f}):", file=out)
    for name, value in figures["fpr"].items():
        print(f"  {name:24s} FPR {value:.4f}  coverage {1 - value:.4f}", file=out)
    print(f"d = {figures['effect_d']:.3f}: mean stop {figures['mean_stop_n']:.1f} pairs / "
          f"fixed n {figures['fixed_n_80_power']:.1f} = {figures['stop_ratio']:.3f} "
          f"(floor {figures['floor_stop_ratio']:.3f}); power within 3.4 n "
          f"{figures['power_within_3_4_n']:.3f}", file=out)
    print(f"group-sequential ({GS_LOOKS} looks at {figures['gs_looks']} pairs, O'Brien-Fleming-"
          f"type alpha, HSD(-2) non-binding futility; {figures['gs_streams']} streams): mean stop "
          f"{figures['gs_mean_stop_n']:.1f} / fixed n {figures['fixed_n_80_power']:.1f} = "
          f"{figures['gs_stop_ratio']:.4f} +- {figures['gs_stop_ratio_se']:.4f} (SE); power "
          f"{figures['gs_power']:.3f} (the fixed t test's here: "
          f"{figures['fixed_power_at_fixed_n']:.3f})", file=out)
    print(f"  at >= 80 % simulated power: fixed n {figures['fixed_n_80_simulated']}, design max "
          f"{figures['gs_max_pairs_80']} pairs, mean stop {_num(figures['gs_mean_stop_n_80'], 1)} "
          f"= {_num(figures['gs_stop_ratio_80'], 4)} +- {_num(figures['gs_stop_ratio_80_se'], 4)}"
          f" (SE, batch means; power {_num(figures['gs_power_80'], 3)})", file=out)
    ref = figures["gs_normal_reference"]
    print(f"  the same plan on normal differences, d {figures['effect_d']:.2f}: normal theory "
          f"{ref['normal_theory_ratio']:.4f} (power {ref['normal_theory_power']:.3f}); simulated "
          f"with the SD known {ref['normal_known_sd_ratio']:.4f} +- "
          f"{ref['normal_known_sd_ratio_se']:.4f}, with the paired t "
          f"{ref['normal_t_ratio']:.4f} +- {ref['normal_t_ratio_se']:.4f}", file=out)
    ten = figures["gs_10_looks"]
    print(f"  10 looks: as designed {ten['stop_ratio']:.4f} +- {ten['stop_ratio_se']:.4f} (power "
          f"{ten['power']:.3f}); at >= 80 % power: max {ten['max_pairs_80']} pairs, mean stop "
          f"{_num(ten['mean_stop_n_80'], 1)} = {_num(ten['stop_ratio_80'], 4)} +- "
          f"{_num(ten['stop_ratio_80_se'], 4)} (power {_num(ten['power_80'], 3)})", file=out)
    for planned, rows in figures["gs_null"].items():
        print(f"  group-sequential A/A, {planned} planned pairs (futility ignored):", file=out)
        for name, row in rows.items():
            print(f"    {name:24s} FPR {row['fpr']:.4f}  warned {row['warned']:.3f}  "
                  f"FPR unwarned {row['fpr_unwarned']:.4f}", file=out)


def _num(x: float | None, digits: int) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 streams, 300 looks")
    parser.add_argument("--streams", type=int, default=None)
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()
    figures = run(args.quick, args.streams, args.seed, progress=sys.stderr)
    _print_table(figures, sys.stdout)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
