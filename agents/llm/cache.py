"""A cache of deterministic LLM calls: the same call at temperature 0 (or with a fixed seed)
is made once; later identical calls are answered from here, marked cached and free.

Calls meant to sample (temperature > 0, no seed) are never cached, so repetitions still
measure the model's variance. Identical calls already in flight are joined, not repeated.

Behind the in-process LRU, a second level may keep answers beyond the process: a SQLite
file (`path`: a rerun of `promptopt run` is answered from it) or a shared store (`shared`,
Redis: every worker answers a call another worker already paid for). Joining identical calls
in flight is per process; across processes the second call may still be made once.
`open_cache(settings, value_type)` builds the one the settings ask for.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import sqlite3
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from promptopt.redis_cache import SharedStore
from schemas.experiment import ModelSpec

T = TypeVar("T")


def is_deterministic(model: ModelSpec) -> bool:
    # temperature None means the provider's default (usually 1): sampling, not deterministic.
    return model.seed is not None or model.temperature == 0


def cache_key(model: ModelSpec, messages: list[dict[str, Any]]) -> str:
    params = [
        model.id,
        model.api_base,
        model.temperature,
        model.seed,
        model.max_tokens,
        messages,
    ]
    if model.logprobs:  # an answer without them does not serve a call asking for them
        params.append("logprobs")
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


class ResponseCache:
    """In-memory LRU of successful results, with single-flight for concurrent identical calls."""

    def __init__(
        self,
        max_entries: int = 100_000,
        path: str | Path | None = None,
        value_type: type | None = None,
        shared: SharedStore | None = None,
    ) -> None:
        """`path` or `shared` need `value_type` (a dataclass, how stored JSON is read back)."""
        self._entries: OrderedDict[str, Any] = OrderedDict()
        self._in_flight: dict[str, asyncio.Future[Any]] = {}
        self._max = max_entries
        self._value_type = value_type
        self._db: sqlite3.Connection | None = None
        self._shared = shared
        if (path is not None or shared is not None) and value_type is None:
            raise ValueError("a persistent cache needs the value_type to read entries back")
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path)
            # A cache may lose its last writes on a crash; it must not slow every call down.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=OFF")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS llm_cache (key TEXT PRIMARY KEY, value TEXT)"
            )
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Any | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        elif self._db is not None and self._value_type is not None:
            row = self._db.execute("SELECT value FROM llm_cache WHERE key = ?", (key,)).fetchone()
            if row is not None:
                value = self._value_type(**json.loads(row[0]))
                self._remember(key, value)
        return value

    def put(self, key: str, value: Any) -> None:
        self._remember(key, value)
        if self._db is not None:
            self._db.execute(
                "INSERT OR REPLACE INTO llm_cache (key, value) VALUES (?, ?)",
                (key, json.dumps(dataclasses.asdict(value))),
            )
            self._db.commit()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    async def aclose(self) -> None:
        self.close()
        if self._shared is not None:
            await self._shared.close()
            self._shared = None

    async def _get_shared(self, key: str) -> Any | None:
        if self._shared is None or self._value_type is None:
            return None
        stored = await self._shared.get(key)
        if stored is None:
            return None
        try:
            value = self._value_type(**stored)
        except TypeError:  # written by another version of the value type: a miss
            return None
        self._remember(key, value)
        return value

    def _remember(self, key: str, value: Any) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def get_or_call(
        self,
        key: str,
        call: Callable[[], Awaitable[T]],
        keep: Callable[[T], bool],
    ) -> tuple[T, bool]:
        """(result, from_cache). `keep(result)` says whether a fresh result may be cached
        (failures are not: the next identical call tries again)."""
        hit = self.get(key)
        if hit is None and key not in self._in_flight:
            hit = await self._get_shared(key)
        if hit is not None:
            self.hits += 1
            return hit, True
        pending = self._in_flight.get(key)
        if pending is not None:
            result = await asyncio.shield(pending)
            if keep(result):
                self.hits += 1
                return result, True
            return await self.get_or_call(key, call, keep)  # the leader failed: try ourselves
        self.misses += 1
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            result = await call()
        except BaseException as err:
            future.set_exception(err)
            future.exception()  # mark retrieved: followers re-raise it themselves
            raise
        finally:
            self._in_flight.pop(key, None)
        if keep(result):
            self.put(key, result)
            if self._shared is not None:
                # T is one of the client's result dataclasses (LLMResult, EmbedResult).
                shared = dataclasses.asdict(result)  # type: ignore[call-overload]
                await self._shared.set(key, shared)
        future.set_result(result)
        return result, False


def open_cache(settings: Any, value_type: type) -> ResponseCache:
    """The cache `settings.llm_cache` asks for: "memory", "file" (llm_cache_path) or
    "redis" (shared by every process at settings.redis_url)."""
    if settings.llm_cache == "redis":
        from promptopt.redis_cache import RedisCache

        shared = RedisCache(settings.redis_url, "llm", ttl_s=settings.llm_cache_ttl_s,
                            prefix=settings.cache_prefix)
        return ResponseCache(value_type=value_type, shared=shared)
    if settings.llm_cache == "file":
        return ResponseCache(path=settings.llm_cache_path, value_type=value_type)
    return ResponseCache()
