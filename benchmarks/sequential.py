"""Simulation of peeking: A/A false-positive rates, coverage and stopping time of the mSPRT.

    python -m benchmarks.sequential [--quick]

Scenarios, each with a look after every trial (seeded; vectorised over experiments with
numpy, running the same functions the scorer runs, from agents.scorer.stats.sequential):

- A/A paired continuous: N(0, 1) differences per pair. Always-valid p (running minimum)
  against the naive paired t-test p-value looked at after every pair (its inflation).
- A/A binary: two arms with the same pass rate, trials alternating between the arms.
- Coverage: with a true paired effect d = 0.3 and in the binary A/A, the fraction of
  experiments whose confidence sequence contains the true difference at every look.
- Power: a true paired effect d = 0.3; mean number of pairs at which the sequential test
  stops for a winner, over the fixed-horizon n for 80 % power (R's power.t.test, paired).
- The engine end to end: A/A experiments folded trial by trial into ExperimentStats (the
  scorer's object, with its paired/two-sample switch), the running always-valid p at the end.

The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TextIO

import numpy as np
from scipy import stats

from agents.scorer.stats.power import t_test_sample_size
from agents.scorer.stats.sequential import (
    DEFAULT_MIXTURE_SD,
    always_valid_p,
    cs_t2_threshold,
    paired_look,
    two_sample_look,
)

ALPHA = 0.05
EFFECT_D = 0.3
PASS_RATE = 0.3
CHUNK = 1000  # experiments simulated at once: bounds memory to a few hundred MB


def run(quick: bool = False, experiments: int | None = None, seed: int = 20240601,
        progress: TextIO | None = None) -> dict:
    """Run every scenario and return the figures (the benchmark's JSON line)."""
    n_experiments = experiments or (2_000 if quick else 10_000)
    horizon = 300 if quick else 1_000  # pairs (paired) or trials per arm (binary)
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    totals = {key: 0.0 for key in (
        "av_paired", "naive_paired", "av_binary", "naive_binary", "cover_paired",
        "cover_binary", "stop_n", "stopped")}
    done = 0
    while done < n_experiments:
        size = min(CHUNK, n_experiments - done)
        null = rng.standard_normal((size, horizon))
        av, naive = _paired_fpr(null)
        totals["av_paired"] += av
        totals["naive_paired"] += naive
        a = rng.random((size, horizon)) < PASS_RATE
        b = rng.random((size, horizon)) < PASS_RATE
        av, naive, cover = _binary_fpr(a, b)
        totals["av_binary"] += av
        totals["naive_binary"] += naive
        totals["cover_binary"] += cover
        effect = rng.standard_normal((size, horizon)) + EFFECT_D
        cover, stop_sum, stopped = _paired_effect(effect)
        totals["cover_paired"] += cover
        totals["stop_n"] += stop_sum
        totals["stopped"] += stopped
        done += size
        if progress is not None:
            print(f"sequential: {done}/{n_experiments} experiments", file=progress)
    engine_runs = 200 if quick else 1_000
    engine_fpr = _engine_fpr(rng, engine_runs, 200)
    fixed_n = t_test_sample_size(EFFECT_D, ALPHA, 0.8, paired=True)
    mean_stop = totals["stop_n"] / n_experiments
    return {
        "benchmark": "sequential",
        "experiments": n_experiments,
        "looks": horizon,
        "alpha": ALPHA,
        "mixture_sd": DEFAULT_MIXTURE_SD,
        "fpr_always_valid_paired": totals["av_paired"] / n_experiments,
        "fpr_always_valid_binary": totals["av_binary"] / n_experiments,
        "fpr_naive_paired": totals["naive_paired"] / n_experiments,
        "fpr_naive_binary": totals["naive_binary"] / n_experiments,
        "fpr_engine_paired": engine_fpr,
        "engine_experiments": engine_runs,
        "coverage": min(totals["cover_paired"], totals["cover_binary"]) / n_experiments,
        "coverage_paired_effect": totals["cover_paired"] / n_experiments,
        "coverage_binary": totals["cover_binary"] / n_experiments,
        "effect_d": EFFECT_D,
        "fixed_n_80_power": fixed_n,
        "mean_stop_n": mean_stop,
        "power_sequential": totals["stopped"] / n_experiments,
        "stop_ratio": mean_stop / fixed_n,
        "seconds": round(time.perf_counter() - started, 2),
    }


def _paired_moments(d: np.ndarray):
    n = np.arange(1, d.shape[1] + 1, dtype=float)
    mean = np.cumsum(d, axis=1) / n
    m2 = np.maximum(np.cumsum(d * d, axis=1) - n * mean * mean, 0.0)
    var = np.divide(m2, n - 1, out=np.zeros_like(m2), where=n > 1)
    return n, mean, var


def _running_min_p(t2, nu, r, valid) -> np.ndarray:
    p = np.where(valid, always_valid_p(t2, nu, r), 1.0)
    return np.minimum.accumulate(p, axis=1)


def _paired_fpr(d: np.ndarray) -> tuple[int, int]:
    """(always-valid rejections, naive rejections) over the A/A experiments in d."""
    n, mean, var = _paired_moments(d)
    valid = n >= 2
    t2, nu, r, _ = paired_look(n, mean, var)
    av = _running_min_p(t2, nu, r, valid)[:, -1] <= ALPHA
    with np.errstate(divide="ignore", invalid="ignore"):
        t_abs = np.sqrt(t2)
    naive_p = np.where(valid, 2 * stats.t.sf(t_abs, np.maximum(nu, 1)), 1.0)
    naive = (naive_p <= ALPHA).any(axis=1)
    return int(av.sum()), int(naive.sum())


def _binary_fpr(a: np.ndarray, b: np.ndarray) -> tuple[int, int, int]:
    """Trials alternate A, B, A, B: looks after each trial, 2 * horizon looks in all."""
    k = np.arange(1, a.shape[1] + 1, dtype=float)
    sa, sb = np.cumsum(a, axis=1, dtype=float), np.cumsum(b, axis=1, dtype=float)
    # After trial 2k-1: A has k trials, B has k-1; after trial 2k: both have k.
    n_a = np.concatenate([k, k], axis=0)[None, :].repeat(a.shape[0], axis=0)
    n_b = np.concatenate([k - 1, k], axis=0)[None, :].repeat(a.shape[0], axis=0)
    s_a = np.concatenate([sa, sa], axis=1)
    s_b = np.concatenate([np.pad(sb[:, :-1], ((0, 0), (1, 0))), sb], axis=1)
    order = np.argsort(np.concatenate([2 * k - 1, 2 * k]), kind="stable")
    n_a, n_b, s_a, s_b = (x[:, order] for x in (n_a, n_b, s_a, s_b))
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_a = np.where(n_a > 0, s_a / np.maximum(n_a, 1), 0.0)
        mean_b = np.where(n_b > 0, s_b / np.maximum(n_b, 1), 0.0)
        m2_a, m2_b = s_a - n_a * mean_a**2, s_b - n_b * mean_b**2  # 0/1 data: sum x^2 = sum x
        valid = (n_a >= 1) & (n_b >= 1) & (n_a + n_b >= 3)
        t2, nu, r, se = two_sample_look(n_a, mean_a, m2_a, n_b, mean_b, m2_b)
        av = _running_min_p(t2, nu, r, valid)[:, -1] <= ALPHA
        pooled = (s_a + s_b) / (n_a + n_b)
        z_se = np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
        z = np.where(z_se > 0, (mean_b - mean_a) / np.where(z_se > 0, z_se, 1), 0.0)
        naive = ((2 * stats.norm.sf(np.abs(z)) <= ALPHA) & valid).any(axis=1)
        c = cs_t2_threshold(nu, r, ALPHA)
        half = np.sqrt(c) * se
        miss = valid & (se > 0) & np.isfinite(c) & (np.abs(mean_b - mean_a) > half)
    return int(av.sum()), int(naive.sum()), int((~miss.any(axis=1)).sum())


def _paired_effect(d: np.ndarray) -> tuple[int, float, int]:
    """(experiments covered at every look, sum of stopping n, experiments stopped)."""
    n, mean, var = _paired_moments(d)
    valid = n >= 2
    t2, nu, r, se = paired_look(n, mean, var)
    p = _running_min_p(t2, nu, r, valid)
    win = (p <= ALPHA) & (mean > 0)
    stopped = win.any(axis=1)
    stop_n = np.where(stopped, win.argmax(axis=1) + 1, d.shape[1])
    with np.errstate(invalid="ignore"):
        c = cs_t2_threshold(nu, r, ALPHA)
        half = np.sqrt(c) * se
        miss = valid & (se > 0) & np.isfinite(c) & (np.abs(mean - EFFECT_D) > half)
    return int((~miss.any(axis=1)).sum()), float(stop_n.sum()), int(stopped.sum())


def _engine_fpr(rng: np.random.Generator, runs: int, pairs: int) -> float:
    """Share of A/A experiments whose always-valid p fell to alpha, through ExperimentStats."""
    from agents.scorer.stats import ExperimentStats, Observation
    from schemas.experiment import AnalysisConfig

    rejected = 0
    for run_no in range(runs):
        st = ExperimentStats.new(AnalysisConfig(alpha=ALPHA))
        difficulty = rng.uniform(0.2, 0.8, pairs)
        noise = rng.normal(0.0, 0.15, (2, pairs))
        for i in range(pairs):
            for arm, vid in enumerate(("control", "variant")):
                st.fold(Observation(f"{run_no}-{vid}-{i}", vid, vid, arm == 0, (), f"case{i}|m|0",
                                    "m", float(difficulty[i] + noise[arm, i])))
        variant = st.analyze(final=False).variations[1]
        rejected += variant.p_always_valid is not None and variant.p_always_valid <= ALPHA
    return rejected / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 experiments, 300 looks")
    parser.add_argument("--experiments", type=int, default=None)
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()
    print(json.dumps(run(args.quick, args.experiments, args.seed, progress=sys.stderr)))


if __name__ == "__main__":
    main()
