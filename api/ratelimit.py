"""In-process token buckets, for what must not cost a database query: failed
authentication per client address (api.auth). The users' request limits are shared by all
API processes and live in PostgreSQL (rate_limit_take, schemas/sql/002_tenancy.sql).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_BUCKETS = 100_000  # a flood from many addresses must not grow memory without bound


@dataclass
class Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, Bucket] = {}

    def _refilled(self, key: str, per_minute: int) -> Bucket:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._forget_full(now, per_minute)
            bucket = self._buckets[key] = Bucket(tokens=float(per_minute), updated=now)
        else:
            bucket.tokens = min(float(per_minute),
                                bucket.tokens + (now - bucket.updated) * per_minute / 60.0)
            bucket.updated = now
        return bucket

    def _forget_full(self, now: float, per_minute: int) -> None:
        # A bucket that has refilled is the same as no bucket: drop those first.
        full = [k for k, b in self._buckets.items()
                if b.tokens + (now - b.updated) * per_minute / 60.0 >= per_minute]
        for key in full or list(self._buckets)[: len(self._buckets) // 2]:
            del self._buckets[key]

    def take(self, key: str, per_minute: int) -> float:
        """Spend one token: 0.0 if there was one, else the seconds until the next one
        would be. A limit of 0 or less means unlimited.

        The bucket holds a minute's worth of tokens, so a quiet key may burst up to the
        whole limit at once, then gets one every 60/limit seconds.
        """
        if per_minute <= 0:
            return 0.0
        bucket = self._refilled(key, per_minute)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) * 60.0 / per_minute

    def peek(self, key: str, per_minute: int) -> float:
        """Like take, without spending: 0.0 if a token is there."""
        if per_minute <= 0 or key not in self._buckets:
            return 0.0
        bucket = self._refilled(key, per_minute)
        return 0.0 if bucket.tokens >= 1.0 else (1.0 - bucket.tokens) * 60.0 / per_minute
