"""What a retry can cure, decided once (agents/runtime/failures.py)."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from pymongo.errors import AutoReconnect, BulkWriteError, DocumentTooLarge, ServerSelectionTimeoutError

from agents.runtime.failures import ServiceNotReady, is_retriable
from topics.codec import EventTooLarge


@pytest.mark.parametrize("err", [
    ServiceNotReady("x"), TimeoutError(), ConnectionRefusedError(), OSError("unreachable"),
    asyncpg.CannotConnectNowError("starting"), asyncpg.AdminShutdownError("bye"),
    asyncpg.SerializationError("retry"), asyncpg.ConnectionDoesNotExistError("closed"),
    # what the quick fault run's sink got while PostgreSQL was down, and dead-lettered
    asyncpg.exceptions.InternalClientError(
        "cannot switch to state 15; another operation (2) is in progress"),
    AutoReconnect("x"), ServerSelectionTimeoutError("x"), KafkaConnectionError(),
    BulkWriteError({"writeErrors": [], "writeConcernErrors": [{"code": 64}]}),
])
def test_transient_failures_are_retried(err):
    assert is_retriable(err)


@pytest.mark.parametrize("err", [
    ValueError("bad"), KeyError("k"), AttributeError("none"),
    asyncpg.CharacterNotInRepertoireError('invalid byte sequence for encoding "UTF8": 0x00'),
    asyncpg.UniqueViolationError("dup"), asyncpg.StringDataRightTruncationError("long"),
    asyncpg.ProgramLimitExceededError("index row too big"),
    DocumentTooLarge("16MB"), MessageSizeTooLargeError(), FileNotFoundError("x"),
    BulkWriteError({"writeErrors": [{"index": 0, "code": 2}], "writeConcernErrors": []}),
])
def test_failures_in_the_data_are_not(err):
    assert not is_retriable(err)


def test_a_wrapped_cause_decides():
    try:
        try:
            raise ConnectionResetError("reset")
        except ConnectionResetError as cause:
            raise RuntimeError("write failed") from cause
    except RuntimeError as err:
        assert is_retriable(err)


def test_too_large_is_the_events_fault():
    assert not is_retriable(EventTooLarge(2, 1, "ExperimentControl"))
