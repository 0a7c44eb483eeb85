"""Multiple-comparison adjustment of p-values, as R's p.adjust.

Written out rather than taken from statsmodels' multipletests, which runs a full
gc.collect() on every call (over 100 ms in a busy worker): the scorer adjusts on every
snapshot. The tests hold both to agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

Correction = Literal["holm", "bh"]


def adjust_p_values(p_values: Sequence[float], method: Correction = "holm") -> list[float]:
    """Adjusted p-values in input order: Holm (1979) step-down or Benjamini-Hochberg (1995)."""
    if method not in ("holm", "bh"):
        raise ValueError(f"unknown correction {method!r}: use holm or bh")
    for p in p_values:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p-value {p} is outside [0, 1]")
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    if method == "holm":
        # p_(i) * (m - i + 1), made non-decreasing from the smallest p up.
        running = 0.0
        for rank, i in enumerate(order):
            running = max(running, min(1.0, (m - rank) * p_values[i]))
            adjusted[i] = running
    else:
        # p_(i) * m / i, made non-increasing from the largest p down.
        running = 1.0
        for rank in range(m - 1, -1, -1):
            i = order[rank]
            running = min(running, m * p_values[i] / (rank + 1))
            adjusted[i] = running
    return adjusted
