"""Running mean and variance of a stream: O(1) work and memory per value, mergeable.

Welford's update for one value and Chan, Golub & LeVeque's pairwise formula for merging two
partial results, so partitions of one experiment can be combined without the raw values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class RunningMoments:
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0  # sum of squared deviations from the mean

    def add(self, x: float) -> None:
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (x - self.mean)

    def merged(self, other: RunningMoments) -> RunningMoments:
        n = self.n + other.n
        if n == 0:
            return RunningMoments()
        delta = other.mean - self.mean
        mean = self.mean + delta * other.n / n
        m2 = self.m2 + other.m2 + delta * delta * self.n * other.n / n
        return RunningMoments(n, mean, m2)

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
    def total(self) -> float:
        return self.n * self.mean

    @property
    def sum_of_squares(self) -> float:
        return self.m2 + self.n * self.mean * self.mean
