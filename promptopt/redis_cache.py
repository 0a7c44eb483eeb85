"""The cache every process shares: JSON values in Redis, each with a time to live.

    cache = RedisCache(settings.redis_url, "llm", ttl_s=3600, prefix=settings.cache_prefix)
    await cache.set(key, {"text": ...})
    value = await cache.get(key)            # None on a miss, and while Redis is away

Three users (the seeds' caching layer): the LLM client's deterministic answers (every worker
answers a call another already paid for), optimization results by prompt hash (a repeated
synchronous /optimize costs nothing) and the pattern library by type.

A cache outage never fails a caller: `get` answers None and `set` does nothing, with one
warning, and Redis is tried again after `retry_after_s` (no timeout is paid on every call
while it is down). Keys are `<prefix>:<namespace>:<key>`, so several deployments or test
runs can share one server.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Protocol

from prometheus_client import Counter

log = logging.getLogger("promptopt.cache")

CACHE_REQUESTS = Counter(
    "shared_cache_requests_total",
    "Reads of the shared (Redis) cache by namespace and result (hit, miss, error).",
    ["namespace", "result"],
)


class SharedStore(Protocol):
    """What users of the shared cache rely on (RedisCache; an in-memory one in tests): JSON
    values; a store that is down answers None and ignores writes, never raises."""

    async def get(self, key: str) -> Any | None: ...

    async def set(self, key: str, value: Any) -> None: ...

    async def close(self) -> None: ...


class RedisCache:
    def __init__(
        self,
        url: str,
        namespace: str,
        *,
        ttl_s: float,
        prefix: str = "promptopt",
        timeout_s: float = 0.5,
        retry_after_s: float = 5.0,
    ) -> None:
        import redis.asyncio as redis

        # Short socket timeouts: a cache that answers slowly is worse than none.
        self._redis = redis.from_url(url, socket_timeout=timeout_s,
                                     socket_connect_timeout=timeout_s)
        self._url = url
        self.namespace = namespace
        self._prefix = f"{prefix}:{namespace}:"
        self._ttl_s = ttl_s
        self._retry_after_s = retry_after_s
        self._down_until = 0.0

    def _key(self, key: str) -> str:
        return self._prefix + key

    def _available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _went_down(self, err: Exception) -> None:
        if self._down_until == 0.0 or self._available():
            log.warning("shared cache at %s unavailable (%r); going on without it, "
                        "retrying in %.0f s", self._url, err, self._retry_after_s)
        self._down_until = time.monotonic() + self._retry_after_s

    async def get(self, key: str) -> Any | None:
        if not self._available():
            CACHE_REQUESTS.labels(self.namespace, "error").inc()
            return None
        try:
            raw = await self._redis.get(self._key(key))
        except Exception as err:  # redis.RedisError, OSError, timeouts: all mean "no cache"
            self._went_down(err)
            CACHE_REQUESTS.labels(self.namespace, "error").inc()
            return None
        if raw is None:
            CACHE_REQUESTS.labels(self.namespace, "miss").inc()
            return None
        CACHE_REQUESTS.labels(self.namespace, "hit").inc()
        try:
            return json.loads(raw)
        except ValueError:  # written by something else: treat as a miss, overwrite later
            return None

    async def set(self, key: str, value: Any, *, ttl_s: float | None = None) -> None:
        if not self._available():
            return
        ttl_ms = int(1000 * (ttl_s if ttl_s is not None else self._ttl_s))
        try:
            await self._redis.set(self._key(key), json.dumps(value, default=str), px=ttl_ms)
        except Exception as err:
            self._went_down(err)

    async def delete(self, key: str) -> None:
        if not self._available():
            return
        try:
            await self._redis.delete(self._key(key))
        except Exception as err:
            self._went_down(err)

    async def ping(self) -> None:
        """Raise unless Redis answers (for /ready); does not change the outage state."""
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()
