"""The API's side of Kafka: publish commands and prompts, check the broker, follow analyses.

One producer (topics.client.PromptOptClient) and one admin client live as long as the app;
each stream viewer gets its own consumer. Both start lazily, so the API starts while Kafka
is away and says so per request (503) and in /ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError, MessageSizeTooLargeError

from schemas.events import AnalysisReady, Event
from topics.catalogue import ANALYSIS_READY, TOPICS, Topic
from topics.client import PromptOptClient
from topics.codec import DecodeError, EventTooLarge, decode, encode
from topics.reader import open_reader


class BusUnavailable(Exception):
    """Kafka cannot be reached; the API answers 503."""


@dataclass(frozen=True)
class CaughtUp:
    """Said once by a feed, after the current state (the backlog) and before the first live
    analysis: from here on the viewer sees the experiments as they are, not as they were.
    `backlog`: how many analyses the current state was."""

    backlog: int


class AnalysisFeed(Protocol):
    def __aiter__(self) -> AsyncIterator[AnalysisReady | CaughtUp]: ...

    async def close(self) -> None: ...


class Bus(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, topic: Topic, event: Event) -> None:
        """Publish and wait for the broker's ack; raise BusUnavailable if it does not come."""

    async def check(self) -> None:
        """Raise BusUnavailable unless the broker answers a metadata request and every
        catalogued topic exists."""

    async def follow(self, experiment_id: str | None, team: str | None) -> AnalysisFeed:
        """A started feed of analysis-ready for one experiment (None: all of them) of one
        team (None: every team's; the caller has checked the experiment's owner)."""


class KafkaBus:
    def __init__(self, bootstrap: str, *, timeout_s: float = 10.0) -> None:
        self._bootstrap = bootstrap
        self._timeout_s = timeout_s
        self._client: PromptOptClient | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        with contextlib.suppress(BusUnavailable):
            await self._producer()

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.__aexit__(None, None, None)
            self._client = None
        if self._admin is not None:
            await self._admin.close()
            self._admin = None

    async def _producer(self) -> PromptOptClient:
        async with self._lock:
            if self._client is None:
                client = PromptOptClient(self._bootstrap)
                try:
                    await asyncio.wait_for(client.__aenter__(), self._timeout_s)
                except (KafkaError, OSError, TimeoutError) as err:
                    with contextlib.suppress(Exception):
                        await client.__aexit__(None, None, None)
                    raise BusUnavailable(f"Kafka unreachable at {self._bootstrap}: {err!r}"
                                         ) from err
                self._client = client
            return self._client

    async def publish(self, topic: Topic, event: Event) -> None:
        client = await self._producer()
        try:
            await asyncio.wait_for(client.publish(topic, event), self._timeout_s)
        except MessageSizeTooLargeError as err:
            raise EventTooLarge(len(encode(event, limit=None)), 0) from err
        except (KafkaError, TimeoutError) as err:
            raise BusUnavailable(f"Kafka did not accept the event: {err!r}") from err

    async def check(self) -> None:
        try:
            async with self._lock:
                if self._admin is None:
                    admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap,
                                                request_timeout_ms=int(self._timeout_s * 1000))
                    await admin.start()
                    self._admin = admin
            existing = set(await self._admin.list_topics())
        except (KafkaError, OSError, TimeoutError) as err:
            raise BusUnavailable(f"Kafka metadata request failed: {err!r}") from err
        missing = [t.name for t in TOPICS if t.name not in existing]
        if missing:
            raise BusUnavailable(f"topics missing: {', '.join(missing)} "
                                 "(`promptopt topics create`)")

    async def follow(self, experiment_id: str | None, team: str | None) -> KafkaFeed:
        # No group: every viewer reads every partition, nothing committed.
        try:
            consumer = await asyncio.wait_for(
                open_reader(self._bootstrap, ANALYSIS_READY.name), self._timeout_s)
        except (KafkaError, OSError, TimeoutError) as err:
            raise BusUnavailable(f"Kafka unreachable at {self._bootstrap}: {err!r}") from err
        return KafkaFeed(consumer, experiment_id, team)


def supersedes(event: AnalysisReady, known: AnalysisReady | None) -> bool:
    """Whether `event` is a newer state of its experiment round than `known`. A round's final
    analysis is its decision: the snapshots a replaying scorer publishes again after it (a new
    consumer group reads trial-completed from the start) do not undo it."""
    if known is None:
        return True
    if known.final != event.final:
        return event.final
    return event.seq >= known.seq


CATCH_UP_S = 5.0  # longest a viewer waits for the backlog before going live
CATCH_UP_CHECK_S = 2.0


class KafkaFeed:
    """analysis-ready from the earliest offset: first the current state (the latest analysis
    of every experiment round already on the topic, oldest first), then CaughtUp, then each
    new one live.

    Collapsing the backlog is what compaction would do anyway; it spares a late viewer the
    replay of every snapshot compaction has not removed yet.
    """

    def __init__(self, consumer: AIOKafkaConsumer, experiment_id: str | None,
                 team: str | None) -> None:
        self._consumer = consumer
        self._key = experiment_id.encode() if experiment_id is not None else None
        self._team = team
        self._closed = False
        self._ends: dict | None = None  # end offsets when partitions were first assigned

    async def close(self) -> None:
        # Called by the stream's end and by the response's background task: once is enough.
        if not self._closed:
            self._closed = True
            await self._consumer.stop()

    async def __aiter__(self) -> AsyncIterator[AnalysisReady | CaughtUp]:
        backlog: dict[tuple[str, int], AnalysisReady] | None = {}
        # Catching up is bounded: whatever keeps the consumer from reaching the end offsets
        # it saw (a slow join, a partition moving), the viewer goes live after this long.
        give_up_at = time.monotonic() + CATCH_UP_S
        while True:
            batches = await self._consumer.getmany(timeout_ms=500, max_records=500)
            for records in batches.values():
                for record in records:
                    if self._key is not None and record.key != self._key:
                        continue
                    try:
                        event = decode(ANALYSIS_READY, record.value)
                    except DecodeError:
                        continue  # dead-lettered by the agents that consume it
                    if self._team is not None and event.team_id != self._team:
                        continue  # another team's work (or nobody's: admins only)
                    if backlog is None:
                        yield event
                    elif supersedes(event, backlog.get((event.experiment_id, event.round))):
                        backlog[(event.experiment_id, event.round)] = event
            if backlog is None:
                continue
            if time.monotonic() > give_up_at or await self._caught_up():
                for event in sorted(backlog.values(), key=lambda e: e.occurred_at):
                    yield event
                yield CaughtUp(len(backlog))
                backlog = None

    async def _caught_up(self) -> bool:
        """Whether every partition's position reached the end offset seen the first time
        partitions were assigned."""
        parts = list(self._consumer.assignment())
        if not parts:
            return False  # partitions not assigned yet
        try:
            async with asyncio.timeout(CATCH_UP_CHECK_S):
                if self._ends is None:
                    self._ends = await self._consumer.end_offsets(parts)
                positions = {tp: await self._consumer.position(tp) for tp in parts}
        except (TimeoutError, KafkaError):
            return False
        return all(pos >= self._ends.get(tp, 0) for tp, pos in positions.items())
