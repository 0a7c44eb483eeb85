"""Multiple-comparison adjustment of p-values, as R's p.adjust (via statsmodels)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from statsmodels.stats.multitest import multipletests

Correction = Literal["holm", "bh"]

_STATSMODELS_METHOD = {"holm": "holm", "bh": "fdr_bh"}


def adjust_p_values(p_values: Sequence[float], method: Correction = "holm") -> list[float]:
    """Adjusted p-values in input order: Holm (1979) step-down or Benjamini-Hochberg (1995)."""
    if method not in _STATSMODELS_METHOD:
        raise ValueError(f"unknown correction {method!r}: use holm or bh")
    if not p_values:
        return []
    for p in p_values:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p-value {p} is outside [0, 1]")
    _, adjusted, _, _ = multipletests(list(p_values), method=_STATSMODELS_METHOD[method])
    return [float(p) for p in adjusted]
