"""The cyclic garbage collector, tuned for a process that streams events.

Each trial allocates a few hundred container objects (pydantic models, dicts, futures,
aiohttp's request and response), nearly all freed by reference counting. With CPython's
default threshold (a young collection every 700 allocations net) the collector ran ~100
times per 2,000 trials of the fan-out benchmark, and each run also walked the older
generations full of modules, classes and the runtime's own long-lived objects: 0.15-0.3 ms
of CPU per trial, measured with gc.callbacks (benchmarks/RESULTS.md, "fanout"). Moving
what exists once the runtime has started out of the collector's view (gc.freeze) and
collecting the young generation every 10,000 allocations cut that to ~0.03 ms. Cycles are
still collected; only less often.
"""

from __future__ import annotations

import gc
from functools import cache

YOUNG_THRESHOLD = 10_000  # CPython's default: 700
OLDER_THRESHOLDS = (20, 20)  # default (10, 10): the older generations hold less churn now


@cache
def tune_gc() -> None:
    """Once per process, after its long-lived objects exist (a runtime's start)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
