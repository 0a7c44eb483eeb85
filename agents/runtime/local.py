"""The embedded runtime: every step in one process over asyncio queues, no servers.

Each step gets its own queue (as each Faust agent has its own consumer group), so every
consumer of a topic sees every event. Events cross queues as bytes through the same codec
as on Kafka, so a handler sees exactly what it would see in production, and anything that
fails to decode goes to dead-letter the same way.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.runtime import metrics
from agents.runtime.contract import Agent, Step, StepContext
from schemas.events import Event
from topics.catalogue import DEAD_LETTER, Topic
from topics.codec import DecodeError, dead_letter, decode, encode

log = logging.getLogger("promptopt.local")

Observer = Callable[[Topic, Event], Awaitable[None] | None]


@dataclass
class _Message:
    topic: Topic
    key: str
    value: bytes
    partition: int
    offset: int


@dataclass
class _StepRunner:
    step: Step
    ctx: StepContext
    queue: asyncio.Queue[_Message] = field(default_factory=asyncio.Queue)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class LocalRuntime:
    """Run agents in-process. Use as `async with LocalRuntime(agents) as rt:`."""

    def __init__(
        self,
        agents: Sequence[Agent],
        settings: Any = None,
        *,
        observers: Sequence[tuple[Topic, Observer]] = (),
    ) -> None:
        self._agents = list(agents)
        self._settings = settings
        self._observers: dict[str, list[Observer]] = defaultdict(list)
        for topic, observer in observers:
            self._observers[topic.name].append(observer)
        self._runners: dict[str, list[_StepRunner]] = defaultdict(list)
        self._services: dict[str, Any] = {}
        self._shared: dict[str, dict[str, Any]] = defaultdict(dict)
        self._offsets: dict[tuple[str, int], int] = defaultdict(int)
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._errors: list[BaseException] = []

    def observe(self, topic: Topic, observer: Observer) -> None:
        self._observers[topic.name].append(observer)

    async def __aenter__(self) -> LocalRuntime:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        for agent in self._agents:
            services = await agent.open_services(self._settings) if agent.open_services else None
            self._services[agent.name] = services
            for step in agent.steps:
                shared = self._shared[step.shared_table] if step.shared_table else {}
                ctx = StepContext(state={}, shared=shared, services=services)
                runner = _StepRunner(step, ctx)
                runner.tasks = [
                    asyncio.create_task(self._work(runner), name=f"{step.name}#{i}")
                    for i in range(max(1, step.concurrency))
                ]
                self._runners[step.consumes.name].append(runner)

    async def close(self) -> None:
        for runners in self._runners.values():
            for runner in runners:
                for task in runner.tasks:
                    task.cancel()
                await asyncio.gather(*runner.tasks, return_exceptions=True)
        for agent in self._agents:
            if agent.close_services and self._services.get(agent.name) is not None:
                await agent.close_services(self._services[agent.name])
        self._runners.clear()

    def shared(self, table: str) -> dict[str, Any]:
        return self._shared[table]

    async def publish(self, topic: Topic, event: Event) -> None:
        await self.publish_raw(topic, topic.key_of(event), encode(event))

    async def publish_raw(self, topic: Topic, key: str, value: bytes) -> None:
        """Put bytes on a topic as a producer would; invalid bytes are dead-lettered on read."""
        partition = zlib.crc32(key.encode()) % topic.partitions
        offset = self._offsets[(topic.name, partition)]
        self._offsets[(topic.name, partition)] = offset + 1
        message = _Message(topic, key, value, partition, offset)
        await self._notify(message)
        for runner in self._runners.get(topic.name, ()):
            self._pending += 1
            self._idle.clear()
            runner.queue.put_nowait(message)

    async def run_until_idle(self, timeout: float | None = None) -> None:
        """Wait until every queue is drained and no handler is running."""
        await asyncio.wait_for(self._idle.wait(), timeout)
        if self._errors:
            raise self._errors[0]

    async def _notify(self, message: _Message) -> None:
        observers = self._observers.get(message.topic.name, ())
        try:
            event = decode(message.topic, message.value)
        except DecodeError:
            return  # observers only see valid events; the consuming steps dead-letter it
        metrics.observe(message.topic, event)
        for observer in observers:
            result = observer(message.topic, event)
            if asyncio.iscoroutine(result):
                await result

    async def _work(self, runner: _StepRunner) -> None:
        while True:
            message = await runner.queue.get()
            try:
                await self._process(runner, message)
            except Exception as err:  # a bug in the runtime itself: surface it to the caller
                log.exception("runtime error in %s", runner.step.name)
                self._errors.append(err)
            finally:
                self._pending -= 1
                if self._pending == 0:
                    self._idle.set()

    async def _process(self, runner: _StepRunner, message: _Message) -> None:
        step = runner.step
        try:
            event = decode(message.topic, message.value)
        except DecodeError as err:
            await self._dead_letter(step, message, str(err))
            return
        try:
            emits = await step.handle(event, runner.ctx)
        except Exception as err:
            log.exception("%s failed on %s@%s", step.name, message.topic.name, message.offset)
            await self._dead_letter(step, message, f"{step.name} failed: {err!r}")
            return
        metrics.STEP_EVENTS.labels(step=step.name, outcome="ok").inc()
        for emit in emits:
            await self.publish(emit.topic, emit.event)

    async def _dead_letter(self, step: Step, message: _Message, reason: str) -> None:
        metrics.STEP_EVENTS.labels(step=step.name, outcome="dead-letter").inc()
        record = dead_letter(
            message.topic,
            message.value,
            reason,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            agent=step.name,
        )
        await self.publish(DEAD_LETTER, record)
