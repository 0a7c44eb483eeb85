"""Sample-ratio mismatch: do the observed trial counts fit the planned allocation?

A small p-value means the assignment is broken (a variation loses trials to errors, a
budget cut, a bug), and every other result of the experiment is suspect.
"""

from __future__ import annotations

from collections.abc import Sequence

from scipy.stats import chisquare


def srm_p_value(counts: Sequence[int], weights: Sequence[float] | None = None) -> float:
    """Pearson chi-square goodness-of-fit p-value of counts against weights (default equal)."""
    if len(counts) < 2:
        raise ValueError("the sample-ratio check needs at least two groups")
    if any(c < 0 for c in counts):
        raise ValueError("counts must be non-negative")
    total = sum(counts)
    if total <= 0:
        raise ValueError("the sample-ratio check needs at least one trial")
    if weights is None:
        weights = [1.0] * len(counts)
    if len(weights) != len(counts):
        raise ValueError("give one weight per count")
    if any(w <= 0 for w in weights):
        raise ValueError("weights must be positive")
    scale = total / sum(weights)
    expected = [w * scale for w in weights]
    return float(chisquare(list(counts), f_exp=expected).pvalue)
