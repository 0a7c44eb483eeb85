"""A call that pays for tenacity only when it fails.

Building a tenacity `AsyncRetrying` and going through its loop costs ~25-40 us a call here
(the object, its statistics, its action chain, `inspect` checks on every callback, and a
DeprecationWarning per `wait_exponential_jitter(initial=...)`), which on the hot paths (every
event a step handles, every LLM request) cost more than the work around it. Almost every
call succeeds at once, so the first attempt is made bare; only when it raises is the
tenacity loop built, and its first attempt re-raises that same error, so the loop decides
whether to retry, waits and logs exactly as if it had made the first call itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying

T = TypeVar("T")


async def first_then_retrying(fn: Callable[[], Awaitable[T]],
                              retrying: Callable[[], AsyncRetrying]) -> T:
    """await fn(); if it raises, retry it under the loop `retrying()` builds."""
    try:
        return await fn()
    except Exception as err:  # not CancelledError: a cancelled call is not retried
        first: Exception | None = err

    async def again() -> T:
        nonlocal first
        if first is not None:
            err, first = first, None
            raise err
        return await fn()

    async for attempt in retrying():
        with attempt:
            return await again()
    raise AssertionError("unreachable: tenacity either returns or raises")
