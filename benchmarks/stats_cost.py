"""The cost of folding one trial into an experiment's running statistics, small vs huge.

    python -m benchmarks.stats_cost [--quick]

Folds trials of a 3-variation paired experiment (one control, two variants; every cell run
by all three) into one ExperimentStats. Times the fold of a batch of new trials when the
experiment holds 10^3 trials (the baseline, measured in the same run) and when it holds
10^6 (10^5 with --quick). cost_ratio = time per fold at the large size / at the small size:
O(1) folding keeps it near 1. Best of several batches at each size, to shed scheduler noise;
each batch ends with a read of every betting sequence, so the lazy fold's deferred numpy
pass is inside the time.

The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import time

from agents.scorer.stats import ExperimentStats, Observation
from schemas.experiment import AnalysisConfig

VARIATIONS = (("control", True), ("variant-a", False), ("variant-b", False))
SMALL = 1_000
BATCH = 2_000
REPEATS = 7


class _TrialSource:
    """Seeded trials in cell order: each cell (test case, model, repetition) for every variation."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._made = 0

    def take(self, count: int) -> list[Observation]:
        out = []
        for _ in range(count):
            index = self._made
            self._made += 1
            cell_no, arm = divmod(index, len(VARIATIONS))
            vid, control = VARIATIONS[arm]
            cell = f"case-{cell_no % 5000}|model-{cell_no // 5000 % 3}|{cell_no // 15000}"
            value = min(1.0, max(0.0, self._rng.gauss(0.6 + 0.02 * arm, 0.2)))
            out.append(Observation(f"trial-{index}", vid, vid, control, (), cell,
                                   f"model-{cell_no // 5000 % 3}", value, 0.0001))
        return out


def _time_folds(stats: ExperimentStats, source: _TrialSource) -> float:
    """Seconds per fold over the best of REPEATS batches; each batch grows the experiment."""
    best = float("inf")
    for _ in range(REPEATS):
        batch = source.take(BATCH)
        gc.collect()
        started = time.perf_counter()
        for obs in batch:
            stats.fold(obs)
        for arm in stats.variations:
            arm.sequence.p_value()  # a read folds the pending pairs in: their cost counts
        best = min(best, (time.perf_counter() - started) / BATCH)
    return best


def run(quick: bool = False, seed: int = 7) -> dict:
    large = 100_000 if quick else 1_000_000
    started = time.perf_counter()
    source = _TrialSource(seed)
    stats = ExperimentStats(AnalysisConfig())
    for obs in source.take(SMALL):
        stats.fold(obs)
    small_n = stats.n_folded
    small = _time_folds(stats, source)
    # Grow to the large size (untimed), then time the same batches there.
    while stats.n_folded < large:
        for obs in source.take(min(50_000, large - stats.n_folded)):
            stats.fold(obs)
        print(f"stats_cost: {stats.n_folded} trials folded", file=sys.stderr)
    large_n = stats.n_folded
    big = _time_folds(stats, source)
    duplicate = stats.fold(Observation("trial-0", "control", "control", True, (), "x", "m", 0.5))
    return {
        "benchmark": "stats_cost",
        "small_trials": small_n,
        "large_trials": large_n,
        "fold_us_small": small * 1e6,
        "fold_us_large": big * 1e6,
        "cost_ratio": big / small,
        "duplicate_ignored": not duplicate,
        "seconds": round(time.perf_counter() - started, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^5 trials instead of 10^6")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps(run(args.quick, args.seed)))


if __name__ == "__main__":
    main()
