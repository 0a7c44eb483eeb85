"""first_then_retrying: the first attempt bare, tenacity only after a failure, and the loop
behaving as if it had made the first call itself (attempt numbers, waits, give-up)."""

from __future__ import annotations

import pytest
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_none

from promptopt.retries import first_then_retrying


class Flaky:
    """Fails with the given errors in turn, then answers."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def loop_factory(attempts: int, seen: list[tuple[int, str]], built: list[int]):
    def retrying() -> AsyncRetrying:
        built.append(1)
        return AsyncRetrying(
            stop=stop_after_attempt(attempts), wait=wait_none(),
            retry=retry_if_exception_type(ConnectionError), reraise=True,
            before_sleep=lambda s: seen.append((s.attempt_number, str(s.outcome.exception()))))
    return retrying


async def test_a_call_that_succeeds_never_builds_the_retry_loop():
    built: list[int] = []
    fn = Flaky()
    assert await first_then_retrying(fn, loop_factory(3, [], built)) == "ok"
    assert fn.calls == 1 and built == []


async def test_the_first_failure_is_the_loops_first_attempt():
    seen: list[tuple[int, str]] = []
    fn = Flaky(ConnectionError("down"), ConnectionError("still down"))
    assert await first_then_retrying(fn, loop_factory(5, seen, [])) == "ok"
    # Three calls in all (not four): the loop replayed the first failure, did not repeat it.
    assert fn.calls == 3
    assert seen == [(1, "down"), (2, "still down")]


async def test_attempts_are_counted_from_the_first_call():
    fn = Flaky(*(ConnectionError(f"e{i}") for i in range(10)))
    with pytest.raises(ConnectionError, match="e2"):
        await first_then_retrying(fn, loop_factory(3, [], []))
    assert fn.calls == 3


async def test_an_error_the_loop_does_not_retry_is_raised_after_one_call():
    fn = Flaky(ValueError("bad input"))
    with pytest.raises(ValueError, match="bad input"):
        await first_then_retrying(fn, loop_factory(3, [], []))
    assert fn.calls == 1
