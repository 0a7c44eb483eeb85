"""Which failures a retry can cure, decided in one place for every step and every sink.

A failure is *retriable* when the event is fine and the moment is not: a service that is
not open yet, a database or broker that is down or slow, a timeout. The runtimes retry
those with backoff and do not move past the event. Every other failure is a property of
the event (it does not parse, a constraint rejects it, it is too large, a handler cannot
make sense of it): retrying would fail the same way forever, so the event goes to
dead-letter with the reason and the stream goes on.

The dependency libraries are imported lazily: the embedded runtime must not pay for
asyncpg or pymongo when it uses neither.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import TypeVar

from promptopt.retries import first_then_retrying
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_delay,
    stop_never,
    wait_exponential_jitter,
)

log = logging.getLogger("promptopt.retry")

# SQLSTATE classes of PostgreSQL errors that are about the server, not the data:
# 08 connection, 40 transaction rollback (serialization, deadlock), 53 insufficient
# resources, 57 operator intervention (admin shutdown, cannot connect now), 58 system error.
RETRIABLE_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})


class RetryLater(Exception):
    """Raise from a handler or sink when the event is fine but cannot be handled yet."""


class ServiceNotReady(RetryLater):
    """A step's services (LLM client, database pool, ...) are not open yet."""


@cache
def _transient_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [RetryLater, TimeoutError, ConnectionError]
    try:
        import asyncpg

        # InternalClientError: a pooled connection left mid-operation when its server went
        # away ("cannot switch to state 15; another operation (2) is in progress"); the pool
        # replaces it, so the retry runs on a fresh one. The quick fault run dead-lettered a
        # valid analysis so, while PostgreSQL was down.
        types += [asyncpg.InterfaceError, asyncpg.PostgresConnectionError,
                  asyncpg.exceptions.InternalClientError]
    except ImportError:  # pragma: no cover - a deployment without the PostgreSQL sink
        pass
    try:
        from pymongo import errors as mongo

        types += [mongo.ConnectionFailure, mongo.ExecutionTimeout, mongo.WTimeoutError,
                  mongo.WaitQueueTimeoutError, mongo.WriteConcernError]
    except ImportError:  # pragma: no cover
        pass
    try:
        from aiokafka import errors as kafka

        types += [kafka.KafkaConnectionError, kafka.KafkaTimeoutError,
                  kafka.RequestTimedOutError, kafka.NodeNotReadyError]
    except ImportError:  # pragma: no cover
        pass
    try:
        import httpx

        types += [httpx.TransportError]
    except ImportError:  # pragma: no cover
        pass
    return tuple(types)


def is_retriable(err: BaseException) -> bool:
    """True when retrying the same event later can succeed (see the module docstring)."""
    if isinstance(err, BaseExceptionGroup):
        return all(is_retriable(e) for e in err.exceptions)
    if isinstance(err, _transient_types()):
        return True
    sqlstate = getattr(err, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate[:2] in RETRIABLE_SQLSTATE_CLASSES:
        return True
    if getattr(err, "retriable", False) is True:  # aiokafka's own flag
        return True
    if _mongo_retriable(err):
        return True
    # OSError covers refused and reset connections, unreachable hosts, DNS failures; a
    # missing file or a permission problem is a deployment error, not a moment.
    if isinstance(err, OSError) and not isinstance(err, FileNotFoundError | PermissionError):
        return True
    cause = err.__cause__
    return cause is not None and cause is not err and is_retriable(cause)


def _mongo_retriable(err: BaseException) -> bool:
    has_label = getattr(err, "has_error_label", None)
    if has_label is not None and (has_label("RetryableWriteError")
                                  or has_label("TransientTransactionError")):
        return True
    details = getattr(err, "details", None)
    if type(err).__name__ == "BulkWriteError" and isinstance(details, dict):
        # Write-concern trouble is the server's; per-document writeErrors are the data's.
        return bool(details.get("writeConcernErrors")) and not details.get("writeErrors")
    return False


def describe(err: BaseException) -> str:
    """The reason recorded for an event: the error's type and message, bounded."""
    text = f"{type(err).__name__}: {err}" if str(err) else repr(err)
    return text[:1000]


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for retriable failures: exponential with jitter from initial_s up to max_s.

    give_up_s None retries until the runtime stops (cancellation ends the wait at once),
    which is what a worker wants: the event is fine, and moving past it would lose it.
    A number makes the failure final after that long (the event is then dead-lettered).
    """

    initial_s: float = 0.2
    max_s: float = 30.0
    give_up_s: float | None = None


T = TypeVar("T")


async def call_with_retries(fn: Callable[[], Awaitable[T]], policy: RetryPolicy,
                            what: str) -> T:
    """Await fn(), again after a backoff for as long as it fails retriably."""

    def log_retry(state: RetryCallState) -> None:
        err = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("%s: %s; retry %d in %.1fs", what, describe(err) if err else "?",
                    state.attempt_number, wait)

    def retrying() -> AsyncRetrying:
        return AsyncRetrying(
            retry=retry_if_exception(is_retriable),
            wait=wait_exponential_jitter(initial=policy.initial_s, max=policy.max_s),
            stop=stop_never if policy.give_up_s is None else stop_after_delay(policy.give_up_s),
            before_sleep=log_retry,
            reraise=True,
        )

    # Every event a step handles passes here: tenacity is built only after a failure.
    return await first_then_retrying(fn, retrying)
