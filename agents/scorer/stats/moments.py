"""Running mean, variance and skewness of a stream: O(1) work and memory per value, mergeable.

Welford's update for one value (Terriberry's extension to the third moment) and Chan, Golub
& LeVeque's pairwise formulas for merging two partial results, so partitions of one
experiment can be combined without the raw values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


# Scores live in [0, 1]: equal differences computed from different scores can differ in the
# last bits (0.7 - 0.6 != 0.6 - 0.5), a spread of ~1e-17 that would make a t statistic
# astronomically large. Below this, the spread is rounding and counts as none.
NO_SPREAD = 1e-9


@dataclass
class RunningMoments:
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0  # sum of squared deviations from the mean
    m3: float = 0.0  # sum of cubed deviations (the group-sequential design's skewness check)

    def add(self, x: float) -> None:
        n0 = self.n
        self.n += 1
        delta = x - self.mean
        step = delta / self.n
        term = delta * step * n0
        self.mean += step
        self.m3 += term * step * (self.n - 2) - 3.0 * step * self.m2
        self.m2 += term

    def merged(self, other: RunningMoments) -> RunningMoments:
        n = self.n + other.n
        if n == 0:
            return RunningMoments()
        delta = other.mean - self.mean
        mean = self.mean + delta * other.n / n
        m2 = self.m2 + other.m2 + delta * delta * self.n * other.n / n
        m3 = (self.m3 + other.m3
              + delta**3 * self.n * other.n * (self.n - other.n) / (n * n)
              + 3.0 * delta * (self.n * other.m2 - other.n * self.m2) / n)
        return RunningMoments(n, mean, m2, m3)

    @property
    def variance(self) -> float | None:
        """Sample variance (n - 1 denominator); None below two values."""
        if self.n < 2:
            return None
        return max(self.m2, 0.0) / (self.n - 1)

    @property
    def std(self) -> float | None:
        v = self.variance
        return None if v is None else math.sqrt(v)

    @property
    def constant(self) -> bool:
        """Two or more values and no spread beyond rounding (NO_SPREAD)."""
        return self.n >= 2 and (self.std or 0.0) <= NO_SPREAD

    @property
    def skewness(self) -> float | None:
        """Sample skewness g1 = m3 / m2^1.5 * sqrt(n); None without spread."""
        if self.n < 3 or self.m2 <= 1e-300:
            return None
        return math.sqrt(self.n) * self.m3 / self.m2**1.5

    @property
    def total(self) -> float:
        return self.n * self.mean

    @property
    def sum_of_squares(self) -> float:
        return self.m2 + self.n * self.mean * self.mean
