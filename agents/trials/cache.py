"""A cache of deterministic LLM calls: the same call at temperature 0 (or with a fixed seed)
is made once; later identical calls are answered from here, marked cached and free.

Calls meant to sample (temperature > 0, no seed) are never cached, so repetitions still
measure the model's variance. Identical calls already in flight are joined, not repeated.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

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
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


class ResponseCache:
    """In-memory LRU of successful results, with single-flight for concurrent identical calls."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._entries: OrderedDict[str, Any] = OrderedDict()
        self._in_flight: dict[str, asyncio.Future[Any]] = {}
        self._max = max_entries
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Any | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: str, value: Any) -> None:
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
        future.set_result(result)
        return result, False
