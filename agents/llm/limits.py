"""Per-model limits: how many calls may be in flight (a semaphore: a call over the limit
waits for a slot instead of failing) and how many may start per minute (aiolimiter's leaky
bucket, sized to one second's worth of calls so a burst never exceeds what a provider that
enforces rpm per second would accept). Every attempt takes a slot and a start, retries
included: the provider counts them all."""

from __future__ import annotations

import asyncio
from types import TracebackType

from aiolimiter import AsyncLimiter


class ModelLimits:
    def __init__(self, concurrency: int, rpm: int | None) -> None:
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._starts: AsyncLimiter | None = None
        if rpm:
            burst = max(1, rpm // 60)
            self._starts = AsyncLimiter(burst, burst * 60.0 / rpm)

    async def __aenter__(self) -> None:
        await self._slots.acquire()
        if self._starts is not None:
            try:
                await self._starts.acquire()
            except BaseException:
                self._slots.release()
                raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._slots.release()
