"""Sample-ratio mismatch: do the observed trial counts fit the planned allocation?

A small p-value means the assignment is broken (a variation loses trials to errors, a
budget cut, a bug), and every other result of the experiment is suspect.
"""

from __future__ import annotations

from collections.abc import Sequence

from agents.scorer.stats.tails import chi2_sf


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
    if any(w < 0 for w in weights) or not any(w > 0 for w in weights):
        raise ValueError("weights must be non-negative, and some positive")
    # A group planned at weight 0 expects no trials: with none it drops out of the test,
    # with any it is a mismatch for certain (it must never borrow an equal share).
    if any(w == 0 and c > 0 for c, w in zip(counts, weights, strict=True)):
        return 0.0
    kept = [(c, w) for c, w in zip(counts, weights, strict=True) if w > 0]
    if len(kept) < 2:
        return 1.0
    scale = total / sum(w for _, w in kept)
    # Pearson's statistic by hand: scipy.stats.chisquare's argument handling costs ~1 ms, at
    # every snapshot; the reference tests hold it to chisquare.
    statistic = sum((c - w * scale) ** 2 / (w * scale) for c, w in kept)
    return chi2_sf(statistic, len(kept) - 1)
