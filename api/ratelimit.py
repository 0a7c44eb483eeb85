"""Per-user rate limits: a token bucket per user id, refilled at users.rate_limit_per_minute.

In-process: each API process keeps its own buckets, so N processes behind a load balancer
allow up to N times the limit. Shared limits would need a shared counter (Redis, or a
PostgreSQL row per user); one process is what this deployment runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, Bucket] = {}

    def take(self, user_id: str, per_minute: int) -> float:
        """Spend one request of the user's budget: 0.0 if allowed, else the seconds until
        the next one would be. A limit of 0 or less means unlimited.

        The bucket holds a minute's worth of requests, so a quiet user may burst up to the
        whole limit at once, then gets one request every 60/limit seconds.
        """
        if per_minute <= 0:
            return 0.0
        now = self._clock()
        rate = per_minute / 60.0
        bucket = self._buckets.get(user_id)
        if bucket is None:
            bucket = self._buckets[user_id] = Bucket(tokens=float(per_minute), updated=now)
        else:
            bucket.tokens = min(float(per_minute), bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate
