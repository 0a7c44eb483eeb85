"""Sinks in the local runtime: batching, retry of what a retry cures, dead-letter of the
events whose data no write can take (split until the bad one is alone), order kept."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from agents.runtime.failures import RetryPolicy
from agents.runtime.local import LocalRuntime
from schemas.events import DeadLetter, Event, ExperimentControl
from topics.catalogue import DEAD_LETTER, EXPERIMENT_CONTROL, Topic

FAST = RetryPolicy(initial_s=0.001, max_s=0.01)
REFUSED = "<a value this database cannot store>"


class ListSink:
    """Writes to a list; refuses REFUSED as PostgreSQL refuses NUL; can be 'down' a while."""

    name = "sink.list"
    topics = (EXPERIMENT_CONTROL,)

    def __init__(self, down_for: int = 0) -> None:
        self.rows: list[str] = []
        self.batches: list[int] = []
        self.down_for = down_for
        self.opened = self.closed = False

    async def open(self) -> None:
        self.opened = True

    async def close(self) -> None:
        self.closed = True

    async def write(self, topic: Topic, events: Sequence[Event]) -> None:
        self.batches.append(len(events))
        if self.down_for > 0:
            self.down_for -= 1
            raise ConnectionRefusedError("server down")
        # A value the database refuses (a NUL would be, but the codec refuses NUL before any
        # sink sees it: tests/unit/topics/test_codec_unstorable.py).
        if any(REFUSED in e.reason for e in events):  # a transaction: all or nothing
            raise asyncpg.CharacterNotInRepertoireError(
                'invalid byte sequence for encoding "UTF8": 0x00')
        self.rows += [e.experiment_id for e in events]


def control(i: int, reason: str = "") -> ExperimentControl:
    return ExperimentControl(experiment_id=f"e{i}", command="stop", reason=reason)


async def run(sink: ListSink, events: list[ExperimentControl]) -> list[DeadLetter]:
    dead: list[DeadLetter] = []
    async with LocalRuntime([], sinks=[sink], retry=FAST, sink_batch=50,
                            observers=[(DEAD_LETTER, lambda t, e: dead.append(e))]) as rt:
        assert sink.opened
        for event in events:
            await rt.publish(EXPERIMENT_CONTROL, event)
        await rt.run_until_idle(timeout=10)
    assert sink.closed
    return dead


async def test_regression_one_event_a_database_refuses_no_longer_blocks_the_sink():
    events = [control(i, f"{REFUSED} from a user" if i == 13 else "") for i in range(40)]
    sink = ListSink()
    dead = await run(sink, events)
    assert sink.rows == [f"e{i}" for i in range(40) if i != 13]  # the rest, in order
    [record] = dead
    assert record.agent == "sink.list" and record.source_topic == "experiment-control"
    assert "CharacterNotInRepertoireError" in record.reason and record.key == "e13"
    assert len(sink.batches) > 2  # the failing batch was split to find the bad event


async def test_a_sink_that_is_down_is_retried_and_loses_nothing():
    sink = ListSink(down_for=3)
    dead = await run(sink, [control(i) for i in range(25)])
    assert dead == [] and sink.rows == [f"e{i}" for i in range(25)]
    assert sink.batches[:3] == [sink.batches[0]] * 3  # the same batch, retried
