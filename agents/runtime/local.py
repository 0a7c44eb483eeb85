"""The embedded runtime: every step and sink in one process over asyncio queues, no servers.

Each step and each sink gets its own queue (as each Faust agent has its own stream), so
every consumer of a topic sees every event. Every event is encoded by the same codec as on
Kafka (so an event too large for a topic fails here as it would there) and handled by the
same `dispatch` as in the Faust runtime. What crosses a queue is the bytes and, beside
them, the event itself: an event a step of this process built was validated when it was
built (events are frozen pydantic models), so its consumers and observers share it instead
of each decoding its bytes again — which was most of the runtime's CPU per trial. Bytes from
outside (`publish_raw`) are decoded once for every consumer; bytes the codec would refuse
(NUL escapes, see topics.codec.decode) are left to each consumer to decode and dead-letter,
as on Kafka. The Kafka runtime decodes every message (the boundary where bytes come from
other processes).

State follows the Faust runtime: a step's `state_table` names a table (steps naming the
same table share it; on Kafka it is partitioned like the consumed topic), `shared_table`
a global table, `window_table` a table whose entries expire (window.py); a step that
declares no table gets none (writing to it is an error).
"""

from __future__ import annotations

import asyncio
import functools
import contextlib
import logging
import zlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.runtime.contract import NO_STATE, Agent, Step, StepContext
from agents.runtime.dispatch import Delivery, Outgoing, dispatch, outgoing
from agents.runtime.failures import RetryPolicy, call_with_retries
from agents.runtime.gc_tuning import tune_gc
from agents.runtime.sink_writer import write_batch
from agents.runtime.window import DEFAULT_WINDOW_S, WindowedState
from agents.sinks.contract import Sink
from schemas.events import Event
from topics.catalogue import Topic
from topics.codec import NUL_MARK, DecodeError, decode

log = logging.getLogger("promptopt.local")

Observer = Callable[[Topic, Event], Awaitable[None] | None]


@dataclass
class _Consumer:
    """A step or a sink with its queue and worker tasks."""

    name: str
    queue: asyncio.Queue[Delivery] = field(default_factory=asyncio.Queue)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    step: Step | None = None
    ctx: StepContext | None = None


class LocalRuntime:
    """Run agents (and sinks) in-process. Use as `async with LocalRuntime(agents) as rt:`."""

    def __init__(
        self,
        agents: Sequence[Agent],
        settings: Any = None,
        *,
        sinks: Sequence[Sink] = (),
        observers: Sequence[tuple[Topic, Observer]] = (),
        retry: RetryPolicy = RetryPolicy(),
        sink_batch: int = 200,
    ) -> None:
        self._agents = list(agents)
        self._sinks = list(sinks)
        self._settings = settings
        self._retry = retry
        self._sink_batch = sink_batch
        self._observers: dict[str, list[Observer]] = defaultdict(list)
        for topic, observer in observers:
            self._observers[topic.name].append(observer)
        self._consumers: dict[str, list[_Consumer]] = defaultdict(list)
        self._services: dict[str, Any] = {}
        self._tables: dict[str, dict[str, Any]] = defaultdict(dict)
        self._windows: dict[str, WindowedState] = {}
        self._window_s = getattr(settings, "state_window_s", DEFAULT_WINDOW_S)
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
        """Open every agent's services and every sink, then start consuming: no event is
        handled before what its step needs is open."""
        for agent in self._agents:
            if agent.open_services is not None:
                self._services[agent.name] = await call_with_retries(
                    functools.partial(agent.open_services, self._settings), self._retry,
                    f"opening {agent.name} services")
        for sink in self._sinks:
            await call_with_retries(sink.open, self._retry, f"opening {sink.name}")
        for agent in self._agents:
            services = self._services.get(agent.name)
            for step in agent.steps:
                ctx = StepContext(
                    state=self._tables[step.state_table] if step.state_table else NO_STATE,
                    shared=(self.window(step.shared_table) if step.shared_expires
                            else self._tables[step.shared_table]) if step.shared_table
                    else NO_STATE,
                    window=self.window(step.window_table) if step.window_table else NO_STATE,
                    services=services,  # open already: start() opened them first
                )
                consumer = _Consumer(step.name, step=step, ctx=ctx)
                consumer.tasks = [
                    asyncio.create_task(self._run_step(consumer), name=f"{step.name}#{i}")
                    for i in range(max(1, step.concurrency))
                ]
                self._consumers[step.consumes.name].append(consumer)
        for sink in self._sinks:
            for topic in sink.topics:
                consumer = _Consumer(f"{sink.name}.{topic.name}")
                consumer.tasks = [asyncio.create_task(self._run_sink(consumer, sink, topic),
                                                      name=consumer.name)]
                self._consumers[topic.name].append(consumer)
        tune_gc()  # once per process: what is open now lives as long as the runtime

    async def close(self) -> None:
        for consumers in self._consumers.values():
            for consumer in consumers:
                for task in consumer.tasks:
                    task.cancel()
                await asyncio.gather(*consumer.tasks, return_exceptions=True)
        self._consumers.clear()
        for sink in self._sinks:
            with contextlib.suppress(Exception):
                await sink.close()
        for agent in self._agents:
            if agent.close_services and self._services.get(agent.name) is not None:
                await agent.close_services(self._services.pop(agent.name))

    def table(self, name: str) -> dict[str, Any]:
        """A state table by name (what steps see as ctx.state or ctx.shared)."""
        return self._tables[name]

    def window(self, name: str) -> WindowedState:
        """A windowed table by name (what steps see as ctx.window)."""
        if name not in self._windows:
            self._windows[name] = WindowedState(self._tables[name], self._window_s)
        return self._windows[name]

    async def publish(self, topic: Topic, event: Event) -> None:
        await self._send(outgoing(topic, event))

    async def publish_raw(self, topic: Topic, key: str, value: bytes) -> None:
        """Put bytes on a topic as a producer would; invalid bytes are dead-lettered on read."""
        try:
            event: Event | None = decode(topic, value)
        except DecodeError:
            event = None  # each consuming step dead-letters it; observers never see it
        await self._deliver(topic, key, value, event)

    async def _deliver(self, topic: Topic, key: str, value: bytes, event: Event | None) -> None:
        partition = zlib.crc32(key.encode()) % topic.partitions
        offset = self._offsets[(topic.name, partition)]
        self._offsets[(topic.name, partition)] = offset + 1
        delivery = Delivery(topic, value, key, partition, offset, event)
        if event is not None:
            await self._notify(topic, event)
        for consumer in self._consumers.get(topic.name, ()):
            self._pending += 1
            self._idle.clear()
            consumer.queue.put_nowait(delivery)

    async def run_until_idle(self, timeout: float | None = None) -> None:
        """Wait until every queue is drained and no handler or sink is running."""
        await asyncio.wait_for(self._idle.wait(), timeout)
        if self._errors:
            raise self._errors[0]

    async def _send(self, item: Outgoing) -> None:
        if NUL_MARK in item.value:  # what decode refuses: consumers fail as on Kafka
            await self.publish_raw(item.topic, item.key.decode(), item.value)
        else:
            await self._deliver(item.topic, item.key.decode(), item.value, item.event)

    async def _notify(self, topic: Topic, event: Event) -> None:
        for observer in self._observers.get(topic.name, ()):
            result = observer(topic, event)
            if asyncio.iscoroutine(result):
                await result

    async def _run_step(self, consumer: _Consumer) -> None:
        assert consumer.step is not None and consumer.ctx is not None
        while True:
            delivery = await consumer.queue.get()
            try:
                handled = await dispatch(consumer.step, delivery, consumer.ctx, self._retry)
                for item in handled.out:
                    await self._send(item)
                handled.apply()  # the state after what it says was sent (staged.py)
            except Exception as err:  # a bug in the runtime itself: surface it to the caller
                log.exception("runtime error in %s", consumer.name)
                self._errors.append(err)
            finally:
                self._done(1)
            if consumer.step.background and not consumer.queue.empty():
                await asyncio.sleep(0)  # Step.background: let answers in between

    async def _run_sink(self, consumer: _Consumer, sink: Sink, topic: Topic) -> None:
        while True:
            batch = [await consumer.queue.get()]
            while len(batch) < self._sink_batch and not consumer.queue.empty():
                batch.append(consumer.queue.get_nowait())
            try:
                for item in await write_batch(sink, topic, batch, self._retry):
                    await self._send(item)
            except Exception as err:
                log.exception("runtime error in %s", consumer.name)
                self._errors.append(err)
            finally:
                self._done(len(batch))

    def _done(self, n: int) -> None:
        self._pending -= n
        if self._pending == 0:
            self._idle.set()
