"""/ready: is every server the API depends on answering? Each check runs concurrently
under its own timeout; a check passes by returning and fails by raising."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pymongo import AsyncMongoClient

Check = Callable[[], Awaitable[None]]


async def run_checks(checks: Mapping[str, Check], timeout_s: float) -> dict[str, dict[str, Any]]:
    async def one(check: Check) -> dict[str, Any]:
        start = time.perf_counter()
        try:
            await asyncio.wait_for(check(), timeout_s)
            outcome: dict[str, Any] = {"ok": True}
        except TimeoutError:
            outcome = {"ok": False, "error": f"no answer within {timeout_s:g} s"}
        except Exception as err:
            outcome = {"ok": False, "error": str(err) or type(err).__name__}
        outcome["ms"] = round((time.perf_counter() - start) * 1000, 1)
        return outcome

    results = await asyncio.gather(*(one(c) for c in checks.values()))
    return dict(zip(checks, results, strict=True))


class MongoPing:
    """`ping` on the MongoDB-wire server, over one client kept for the app's lifetime."""

    def __init__(self, uri: str, timeout_s: float) -> None:
        self._uri = uri
        self._timeout_ms = int(timeout_s * 1000)
        self._client: AsyncMongoClient | None = None

    async def __call__(self) -> None:
        if self._client is None:
            self._client = AsyncMongoClient(self._uri, serverSelectionTimeoutMS=self._timeout_ms,
                                            connectTimeoutMS=self._timeout_ms)
        await self._client.admin.command("ping")

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
