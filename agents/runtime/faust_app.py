"""The Kafka runtime: every step as a Faust agent, every sink as a batching Faust agent.

Messages stay raw bytes until `dispatch` decodes them with the shared codec (the same
function the local runtime calls), so a bad event is dead-lettered with its partition and
offset instead of failing inside Faust's deserialiser.

State: a step's `state_table` is a Faust table partitioned like the consumed topic (steps
naming the same table must consume topics of one partition count and key, so the table is
co-partitioned with both); `shared_table` is a global table every worker replicates.

Failure story:
- Start-up: no step takes an event before its agent's services are open, no sink before
  it is open (a gate each); opening is retried while a dependency is down, and a sink
  whose database is down holds only itself, not the steps.
- A retriable failure (failures.py) is retried inside dispatch or the sink writer; the
  event is not acknowledged meanwhile, so its offset is not committed.
- A bad event is dead-lettered and acknowledged; the stream goes on.
- Events are acknowledged by hand, only once handled or written: Faust's automatic acks
  would also ack the event in flight when a stream is closed at shutdown, and the commit
  that follows would skip it. At shutdown the worker commits what was acknowledged and
  stops at once (stream_wait_empty off), even while a sink waits for its database.
- kill -9: nothing unacknowledged was committed; the group re-delivers it, and handlers and
  sinks are idempotent.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Sequence
from typing import Any

import faust
from faust.types import TP
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agents.runtime.contract import NO_STATE, SERVICES_NOT_OPEN, Agent, Step, StepContext
from agents.runtime.dispatch import Delivery, Outgoing, dispatch
from agents.runtime.gc_tuning import tune_gc
from agents.runtime.failures import RetryLater, RetryPolicy, call_with_retries
from agents.runtime.offsets import use_in_flight_safe_consumer
from agents.runtime.progress import PartitionHealth, Progress, starved
from agents.runtime.sink_writer import write_batch
from agents.runtime.window import WindowedState
from agents.sinks.contract import Sink
from promptopt.settings import Settings
from topics.admin import ChangelogTopic
from topics.catalogue import BY_NAME, TOPICS, Topic

log = logging.getLogger("promptopt.faust")

HEALTH_CACHE_S = 2.0


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(settings.retry_initial_s, settings.retry_max_s, settings.retry_give_up_s)


class SharedGlobalTable(faust.GlobalTable):
    """A global table whose changelog is named by the deployment (settings.faust_shared_id),
    not by this worker's app id. Workers of different roles (`promptopt worker --role`)
    must be different Faust apps, i.e. consumer groups: Faust's assignor hands every member
    of a group the standby partitions of every table, and a member without that table fails.
    Shared state (the pattern statistics the patterns agent writes and the optimizer reads)
    still has to be one changelog for all of them."""

    shared_id = ""

    def _changelog_topic_name(self) -> str:
        return f"{self.shared_id}-{self.name}-changelog"


def build_app(
    agents: Sequence[Agent],
    settings: Settings,
    *,
    sinks: Sequence[Sink] = (),
    steps: set[str] | None = None,
) -> faust.App:
    """A Faust app running `agents` (optionally only the named steps) and `sinks`."""
    app = faust.App(
        settings.faust_app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        datadir=settings.faust_data_dir,
        topic_partitions=settings.faust_partitions,
        topic_replication_factor=1,
        # Faust creates only its internal topics (changelogs, the assignor's); the
        # catalogue's are created and verified before the worker starts (topics.admin).
        broker_session_timeout=settings.faust_session_timeout_s,
        broker_heartbeat_interval=settings.faust_heartbeat_interval_s,
        broker_rebalance_timeout=max(10.0, settings.faust_session_timeout_s * 2),
        stream_recovery_delay=0.5,
        stream_wait_empty=False,
        consumer_auto_offset_reset="earliest",
        web_port=settings.faust_web_port,
        web_host=settings.faust_web_host,
        web_bind=settings.faust_web_host,
        producer_acks=-1,
        GlobalTable=type("SharedGlobalTable", (SharedGlobalTable,),
                         {"shared_id": settings.faust_shared_id or settings.faust_app_id}),
    )
    use_in_flight_safe_consumer(app)  # offsets.py: Faust commits past slow events otherwise
    runtime = _FaustRuntime(app, settings, retry_policy(settings))
    selected = [(agent, step) for agent in agents for step in agent.steps
                if steps is None or step.name in steps]
    for agent, step in selected:
        runtime.add_step(agent, step)
    for sink in sinks:
        for topic in sink.topics:
            runtime.add_sink(sink, topic)
    runtime.add_lifecycle([agent for agent in agents
                           if any(a is agent for a, _ in selected)], sinks)
    runtime.add_pages()
    app.promptopt_internal_topics = runtime.internal_topics()  # type: ignore[attr-defined]
    return app


def internal_topics(app: faust.App) -> list[ChangelogTopic]:
    """The app's changelog and assignor topics, to create before it starts (a worker does;
    topics.admin says why)."""
    return list(getattr(app, "promptopt_internal_topics", []))


class _FaustRuntime:
    def __init__(self, app: faust.App, settings: Settings, policy: RetryPolicy) -> None:
        self.app = app
        self.settings = settings
        self.policy = policy
        self.gates: dict[str, asyncio.Event] = {}  # agent or sink name -> set once open
        self.stall_described = False
        self.progress = Progress(stall_s=settings.health_stall_s)
        # A starved partition is re-read well before it counts as stalled (refetch_starved).
        self.refetch_after_s = max(5.0, settings.health_stall_s / 4)
        self._refetched: dict[TP, float] = {}
        self.started = time.monotonic()
        self.consumers: dict[str, list[str]] = defaultdict(list)  # topic -> consumer names
        self.contexts: dict[str, list[StepContext]] = defaultdict(list)  # agent -> contexts
        self.services: dict[str, Any] = {}
        self.global_changelogs: dict[str, set[str]] = defaultdict(set)  # agent -> topics
        self._tables: dict[str, tuple[Any, int]] = {}
        self._windows: dict[str, WindowedState] = {}
        self._topics = {
            t.name: app.topic(t.name, key_type=bytes, value_type=bytes, partitions=t.partitions,
                              key_serializer="raw", value_serializer="raw")
            for t in TOPICS
        }
        self._health: tuple[float, dict[str, Any]] | None = None
        self._json = faust.Schema(key_serializer="json", value_serializer="json")

    # -- state ---------------------------------------------------------------------------

    def table(self, name: str, source: Topic, configs: dict[str, str] | None = None) -> Any:
        """The partitioned table `name`, co-partitioned with `source`."""
        if name in self._tables:
            table, partitions = self._tables[name]
            if partitions != source.partitions:
                raise ValueError(f"table {name!r} is shared by steps consuming topics of "
                                 f"{partitions} and {source.partitions} partitions; a "
                                 "partitioned table needs one partition count")
            return table
        table = self.app.Table(name, default=None, partitions=source.partitions,
                               schema=self._json,
                               extra_topic_configs=configs or self.changelog_configs())
        self._tables[name] = (table, source.partitions)
        return table

    def changelog_configs(self) -> dict[str, str]:
        s = self.settings
        return {"segment.ms": str(s.state_segment_ms),
                "delete.retention.ms": str(s.state_tombstones_ms)}

    def window_table(self, name: str, source: Topic) -> WindowedState:
        """The windowed table `name`: its changelog also deletes what is older than the
        window (compact,delete), so a recovering worker does not load expired markers."""
        if name not in self._windows:
            self._windows[name] = self._windowed(self.table(name, source,
                                                            self.window_configs()))
        return self._windows[name]

    def window_configs(self) -> dict[str, str]:
        window_ms = int(self.settings.state_window_s * 1000)
        return {**self.changelog_configs(), "cleanup.policy": "compact,delete",
                "retention.ms": str(window_ms),
                "segment.ms": str(max(60_000, min(window_ms // 4,
                                                  self.settings.state_segment_ms)))}

    def _windowed(self, table: Any) -> WindowedState:
        return WindowedState(table, self.settings.state_window_s,
                             drop_local=lambda key: table.data.pop(key, None),
                             local_items=lambda: list(table.data.items()))

    def global_table(self, name: str, *, expires: bool = False) -> Any:
        if name in self._windows:
            return self._windows[name]
        if name not in self._tables:
            # Written from streams of any partition count, read everywhere: one changelog
            # partition, chosen by key rather than by the current event.
            table = self.app.GlobalTable(
                name, default=None, partitions=1, use_partitioner=True, schema=self._json,
                extra_topic_configs=self.window_configs() if expires
                else self.changelog_configs())
            self._tables[name] = (table, 1)
        table = self._tables[name][0]
        if expires:
            self._windows[name] = self._windowed(table)
            return self._windows[name]
        return table

    # -- agents --------------------------------------------------------------------------

    def internal_topics(self) -> list[ChangelogTopic]:
        app_id = self.app.conf.id
        topics = [ChangelogTopic(f"{app_id}-__assignor-__leader", 1, ())]
        for table, partitions in self._tables.values():
            configs = {"cleanup.policy": "compact", **(table.extra_topic_configs or {})}
            topics.append(ChangelogTopic(table.changelog_topic.get_topic_name(), partitions,
                                         tuple(sorted(configs.items()))))
        return topics

    async def learn_partitions(self, topic: str) -> None:
        """Make the producer know `topic`'s partitions. A global table chooses the
        partition of each write by key with the producer's partitioner, which fails
        ("'NoneType' object is not iterable") on a topic it has no metadata for yet: the
        first stop command or pattern outcome of every worker was dead-lettered so."""
        try:
            producer = self.app.producer._ensure_producer()
        except Exception as err:  # not started yet
            raise RetryLater(f"producer not started: {err}") from err
        await producer.partitions_for(topic)

    async def send(self, item: Outgoing) -> Awaitable[Any]:
        """Hands the record to the producer; the result completes when the broker has it."""
        return await self._topics[item.topic.name].send(key=item.key, value=item.value)

    def owns(self, tp: Any) -> bool:
        return bool(self.app.consumer.owns(tp))

    def add_step(self, agent: Agent, step: Step) -> None:
        source = step.consumes
        ctx = StepContext(
            state=self.table(step.state_table, source) if step.state_table else NO_STATE,
            shared=self.global_table(step.shared_table, expires=step.shared_expires)
            if step.shared_table else NO_STATE,
            window=self.window_table(step.window_table, source) if step.window_table
            else NO_STATE,
            services=SERVICES_NOT_OPEN if agent.open_services else None,
        )
        self.contexts[agent.name].append(ctx)
        self.consumers[source.name].append(step.name)
        if step.shared_table:
            table = self._tables[step.shared_table][0]
            self.global_changelogs[agent.name].add(table.changelog_topic.get_topic_name())
        gate = self.gates.setdefault(agent.name, asyncio.Event())

        # A step whose state is partitioned acts only on partitions this worker owns: Faust
        # does not wait for a step to finish at a rebalance (stream_wait_empty=False, or a
        # slow LLM step would hold every rebalance), so an event may be taken up after its
        # partition moved; its new owner handles it from the committed offset, and writes
        # from here would land in that owner's changelog after it recovered from it.
        owned = step.state_table is not None or step.window_table is not None

        async def process(stream: Any) -> None:
            await gate.wait()
            manual = stream.noack()
            async for event in manual.events():
                msg = event.message
                if owned and not self.owns(msg.tp):
                    await manual.ack(event)
                    continue
                delivery = Delivery(source, msg.value, msg.key, msg.partition, msg.offset)
                handled = await dispatch(step, delivery, ctx, self.policy)
                sent = [await self.send(item) for item in handled.out]
                if handled.writes is not None and handled.writes.dirty:
                    if sent:
                        await asyncio.gather(*sent)  # published before the state says so
                    if not owned or self.owns(msg.tp):
                        handled.apply()
                await manual.ack(event)
                self.progress.done(step.name, source.name, msg.partition, msg.offset)
                if step.background:
                    await asyncio.sleep(0)  # let answers of calls in flight in between

        self.app.agent(self._topics[source.name], name=step.name,
                       concurrency=max(1, step.concurrency))(process)

    def add_sink(self, sink: Sink, topic: Topic) -> None:
        name = f"{sink.name}.{topic.name}"  # its own consumer: reads every event of the topic
        self.consumers[topic.name].append(name)
        batch_size, within = self.settings.sink_batch, self.settings.sink_within_s
        gate = self.gates.setdefault(sink.name, asyncio.Event())

        async def write_loop(queue: asyncio.Queue[Any], manual: Any) -> None:
            loop = asyncio.get_running_loop()
            while True:
                batch = [await queue.get()]
                deadline = loop.time() + within
                while len(batch) < batch_size:
                    try:
                        batch.append(await asyncio.wait_for(queue.get(),
                                                            max(0.0, deadline - loop.time())))
                    except TimeoutError:
                        break
                deliveries = [Delivery(topic, e.message.value, e.message.key,
                                       e.message.partition, e.message.offset) for e in batch]
                for item in await write_batch(sink, topic, deliveries, self.policy):
                    await self.send(item)
                for event in batch:  # only now: a batch still being written is not acked
                    await manual.ack(event)
                    self.progress.done(name, topic.name, event.message.partition,
                                       event.message.offset)

        async def process(stream: Any) -> None:
            await gate.wait()
            manual = stream.noack()
            queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=batch_size)
            writer = asyncio.create_task(write_loop(queue, manual), name=name)
            try:
                async for event in manual.events():
                    put = asyncio.ensure_future(queue.put(event))
                    done, _ = await asyncio.wait({put, writer},
                                                 return_when=asyncio.FIRST_COMPLETED)
                    if writer in done:
                        put.cancel()
                        writer.result()  # a bug in the writer: let Faust see it
            finally:
                writer.cancel()

        self.app.agent(self._topics[topic.name], name=name)(process)

    # -- lifecycle -----------------------------------------------------------------------

    def add_lifecycle(self, agents: Sequence[Agent], sinks: Sequence[Sink]) -> None:
        runtime = self

        async def open_agent(agent: Agent) -> None:
            for topic in runtime.global_changelogs.get(agent.name, ()):
                await call_with_retries(functools.partial(runtime.learn_partitions, topic),
                                        runtime.policy, f"metadata of {topic}")
            if agent.open_services is not None:
                services = await call_with_retries(
                    functools.partial(agent.open_services, runtime.settings), runtime.policy,
                    f"opening {agent.name} services")
                runtime.services[agent.name] = services
                for ctx in runtime.contexts[agent.name]:
                    ctx.services = services
            runtime.gates.setdefault(agent.name, asyncio.Event()).set()
            log.info("%s: services open, consuming", agent.name)

        async def open_sink(sink: Sink) -> None:
            await call_with_retries(sink.open, runtime.policy, f"opening {sink.name}")
            runtime.gates.setdefault(sink.name, asyncio.Event()).set()
            log.info("%s: open, consuming", sink.name)

        async def open_all() -> None:
            await asyncio.gather(*(open_agent(a) for a in agents),
                                 *(open_sink(s) for s in sinks))
            tune_gc()  # what is open now lives as long as the worker

        @self.app.service
        class Lifecycle(faust.Service):
            async def on_start(self) -> None:
                # In the background: the worker joins its group meanwhile, and its agents
                # wait at the gate, so a dependency that is down delays, never races.
                self.add_future(open_all())

            async def on_stop(self) -> None:
                for agent in agents:
                    if agent.close_services and runtime.services.get(agent.name) is not None:
                        await agent.close_services(runtime.services.pop(agent.name))
                for sink in sinks:
                    try:
                        await sink.close()
                    except Exception:
                        log.exception("closing %s", sink.name)

        @self.app.timer(max(1.0, self.settings.health_stall_s / 4))
        async def watch_progress() -> None:
            # Keeps the stall clocks honest between /health calls, and says so in the log.
            report = await runtime.health()
            for p in report["stalled"]:
                log.warning("stalled: %s on %s[%d], lag %d, nothing finished for %.0fs",
                            p["consumer"], p["topic"], p["partition"], p["lag"], p["idle_s"])
            if report["stalled"] and not runtime.stall_described:
                # Once per stall: where the consumer and every task wait, so a stall seen
                # once in CI can be diagnosed from its log alone.
                runtime.stall_described = True
                try:
                    log.warning("stall state:\n%s", describe_stall(runtime.app, report["stalled"]))
                except Exception:  # it reads Faust's internals: a diagnostic never stops a worker
                    log.exception("describing the stall")
            elif not report["stalled"]:
                runtime.stall_described = False
            try:
                await runtime.refetch_starved(report["partitions"])
            except Exception:  # it seeks through Faust's internals: never stops the timer
                log.exception("re-reading starved partitions")

    async def refetch_starved(self, partitions: list[dict[str, Any]]) -> None:
        """Seek a partition the fetcher stopped delivering back to its committed offset.

        Seen under load (faults benchmark, loaded test runs): a partition with lag, every
        gate of Faust's fetch open (assigned, active, not paused, not held by a full queue),
        its queues empty, nothing of it in flight — and no event delivered until the next
        rebalance, whose seek to the committed offsets ended it. In the runs that named it,
        the partition had nothing committed and no read offset, right after aiokafka's first
        offset fetch for it failed (NotLeaderForPartitionError at start-up): its position
        was never set. Re-reading from the committed offset is what the rebalance does;
        events finished since are handled again, which every step and sink tolerates
        (at-least-once)."""
        if self.app.rebalancing or not self.app.consumer.flow_active:
            return
        consumer = self.app.consumer
        busy = {(m.tp.topic, m.tp.partition) for m in list(consumer._unacked_messages)
                if not m.acked}
        queued = {name for channel in getattr(self.app.topics, "_topics", ())
                  if getattr(channel, "_queue", None) is not None and channel._queue.qsize()
                  for name in getattr(channel, "topics", ())}
        busy |= {(p["topic"], p["partition"]) for p in partitions if p["topic"] in queued}
        now = time.monotonic()
        report = [PartitionHealth(**p) for p in partitions]
        for topic, partition in starved(report, busy, self.refetch_after_s):
            tp = TP(topic, partition)
            if now - self._refetched.get(tp, 0.0) < self.refetch_after_s:
                continue
            self._refetched[tp] = now
            # Nothing committed yet (a partition's first events): from its start, as the
            # group's reset policy (earliest) would; an offset gone from the log resets so.
            committed = consumer._committed_offset.get(tp)
            offset = committed if committed is not None else 0
            log.warning("refetching %s[%d] from offset %d (committed %s): lag and nothing "
                        "delivered for %.0fs with every fetch gate open (read offset %s)",
                        topic, partition, offset, committed, self.refetch_after_s,
                        consumer._read_offset.get(tp))
            await consumer.seek(tp, offset)

    # -- web -----------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._health is not None and now - self._health[0] < HEALTH_CACHE_S:
            return self._health[1]
        consumer = self.app.consumer
        assigned = [tp for tp in consumer.assignment() if tp.topic in BY_NAME]
        ends = await consumer.highwaters(*assigned) if assigned else {}
        report = self.progress.report(
            self.consumers,
            [(tp.topic, tp.partition) for tp in assigned],
            {(tp.topic, tp.partition): end for tp, end in ends.items()},
            {(tp.topic, tp.partition): consumer._committed_offset.get(tp) for tp in assigned},
        )
        stalled = [p.__dict__ for p in report if p.stalled]
        closed = sorted(name for name, gate in self.gates.items() if not gate.is_set())
        body = {
            # Opening may wait for a dependency, but not longer than a stall would.
            "healthy": not closed or now - self.started < self.settings.health_stall_s,
            "ready": not closed,
            "waiting_for": closed,
            "stall_s": self.settings.health_stall_s,
            "stalled": stalled,
            "partitions": [p.__dict__ for p in report],
        }
        body["healthy"] = body["healthy"] and not stalled
        self._health = (now, body)
        return body

    def add_pages(self) -> None:
        runtime = self

        @self.app.page("/metrics")
        async def prometheus(web: Any, request: Any) -> Any:
            # aiohttp refuses a charset inside content_type, which CONTENT_TYPE_LATEST has.
            return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

        @self.app.page("/state")
        async def state(web: Any, request: Any) -> Any:
            # Entries this worker holds per table (its partitions' share): what the soak
            # benchmark watches stay flat.
            return web.json({name: len(table.data) for name, (table, _) in
                             runtime._tables.items()})

        @self.app.page("/health")
        async def health(web: Any, request: Any) -> Any:
            body = await runtime.health()
            return web.json(body, status=200 if body["healthy"] else 503)


def describe_stall(app: Any, stalled: list[dict[str, Any]]) -> str:
    """The consumer's flow state, where each stalled partition stands in Faust's and
    aiokafka's fetch sets, and the await chain of every task, for the log."""
    consumer = app.consumer
    recovery = app.tables.recovery
    lines = [f"  flow: can_resume={consumer.can_resume_flow.is_set()} "
             f"recovery_completed={recovery.completed.is_set()} "
             f"in_recovery={recovery.in_recovery} "
             f"app_flow_active={app.flow_control.is_active()} "
             f"paused={sorted(map(str, consumer._paused_partitions))[:20]} "
             f"active={len(consumer._active_partitions or ())}"]
    kafka = getattr(getattr(consumer, "_thread", None), "_consumer", None)
    kafka_paused = {tuple(tp) for tp in kafka.paused()} if kafka is not None else set()
    active = {tuple(tp) for tp in consumer._active_partitions or ()}
    for p in stalled:
        tp = (p["topic"], p["partition"])
        # A partition is fetched only when Faust lists it active (or buffered) and aiokafka
        # has it unpaused: the line says which of the four gates holds it.
        lines.append(f"  partition {tp[0]}[{tp[1]}]: active={tp in active} "
                     f"paused={tp in {tuple(t) for t in consumer._paused_partitions}} "
                     f"buffered={tp in {tuple(t) for t in consumer._buffered_partitions}} "
                     f"kafka_paused={tp in kafka_paused} "
                     f"read_offset={consumer._read_offset.get(TP(*tp))} "
                     f"committed={consumer._committed_offset.get(TP(*tp))}")
    for channel in sorted(getattr(app.topics, "_topics", ()), key=str):
        # A queue under pressure holds its partitions out of the fetch until it drains.
        queue = getattr(channel, "_queue", None)
        if queue is not None:
            lines.append(f"  queue {channel}: size={queue.qsize()}/{queue.maxsize} pending_drop="
                         f"{len(getattr(queue, '_pending_pressure_drop_callbacks', ()))}")
    for task in sorted(asyncio.all_tasks(), key=lambda t: t.get_name()):
        lines.append(f"  {task.get_name()}: {awaiting(task.get_coro())}")
    return "\n".join(lines)


def awaiting(coro: Any, depth: int = 12) -> str:
    """The await chain of a suspended coroutine, outermost first (Task.get_stack gives only
    the outermost frame of a suspended coroutine)."""
    hops = []
    while coro is not None and depth > 0:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None) or \
            getattr(coro, "ag_frame", None)
        if frame is None:
            hops.append(type(coro).__name__)
            break
        hops.append(f"{frame.f_code.co_qualname}:{frame.f_lineno}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None) or \
            getattr(coro, "ag_await", None)
        depth -= 1
    return " -> ".join(hops)
