"""The Kafka runtime: every step as a Faust agent, every sink as a batching Faust agent.

Messages stay raw bytes until a step decodes them with the shared codec, so a bad event is
dead-lettered with its partition and offset instead of failing inside Faust's
deserialiser. Step state lives in Faust tables (changelog-backed; a restarted worker
recovers it), shared state in global tables every worker replicates.

Failure story: a handler exception or an undecodable value -> dead-letter, the stream
goes on. A sink write that fails (database down) is retried with backoff and the batch is
not acknowledged until it lands, so nothing is lost; sinks are idempotent, so the retry
and any redelivery after a crash are harmless.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agents.runtime import metrics
from agents.runtime.contract import Agent, Step, StepContext
from agents.sinks.contract import Sink
from promptopt.settings import Settings
from topics.catalogue import DEAD_LETTER, PROMPT_SUBMITTED, TOPICS, Topic
from topics.codec import DecodeError, dead_letter, decode, encode

log = logging.getLogger("promptopt.faust")

SINK_BATCH = 200
SINK_WITHIN_S = 0.5


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
        broker_session_timeout=settings.faust_session_timeout_s,
        broker_heartbeat_interval=settings.faust_heartbeat_interval_s,
        broker_rebalance_timeout=max(10.0, settings.faust_session_timeout_s * 2),
        stream_recovery_delay=0.5,
        consumer_auto_offset_reset="earliest",
        web_port=settings.faust_web_port,
        web_host=settings.faust_web_host,
        web_bind=settings.faust_web_host,
        producer_acks=-1,
        GlobalTable=type("SharedGlobalTable", (SharedGlobalTable,),
                         {"shared_id": settings.faust_shared_id or settings.faust_app_id}),
    )
    kafka_topics = {
        t.name: app.topic(t.name, key_type=bytes, value_type=bytes, partitions=t.partitions,
                          key_serializer="raw", value_serializer="raw")
        for t in TOPICS
    }
    services: dict[str, Any] = {}
    tables: dict[str, Any] = {}

    json_schema = faust.Schema(key_serializer="json", value_serializer="json")

    def table(name: str, partitions: int, *, global_: bool) -> Any:
        if name not in tables:
            if global_:
                # Written from streams of any partition count, read everywhere: one
                # changelog partition, chosen by key rather than by the current event.
                tables[name] = app.GlobalTable(name, default=None, partitions=1,
                                               use_partitioner=True, schema=json_schema)
            else:
                # Co-partitioned with the consumed topic: its key is the state's key.
                tables[name] = app.Table(name, default=None, partitions=partitions,
                                         schema=json_schema)
        return tables[name]

    for agent in agents:
        for step in agent.steps:
            if steps is not None and step.name not in steps:
                continue
            ctx = StepContext(
                state=table(step.state_table, step.consumes.partitions, global_=False)
                if step.state_table else {},
                shared=table(step.shared_table, step.consumes.partitions, global_=True)
                if step.shared_table else {},
            )
            _add_step(app, kafka_topics, agent, step, ctx, services)

    for sink in sinks:
        for topic in sink.topics:
            _add_sink(app, kafka_topics, sink, topic)

    @app.service
    class Lifecycle(faust.Service):  # opens services and sinks before the agents run
        async def on_start(self) -> None:
            for agent in agents:
                if agent.open_services and agent.name not in services:
                    services[agent.name] = await agent.open_services(settings)
            for sink in sinks:
                await sink.open()

        async def on_stop(self) -> None:
            for agent in agents:
                if agent.close_services and services.get(agent.name) is not None:
                    await agent.close_services(services.pop(agent.name))
            for sink in sinks:
                await sink.close()

    @app.page("/metrics")
    async def prometheus(web: Any, request: Any) -> Any:
        # aiohttp refuses a charset inside content_type, which CONTENT_TYPE_LATEST has.
        return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    return app


def _add_step(app, kafka_topics, agent: Agent, step: Step, ctx: StepContext, services) -> None:
    source: Topic = step.consumes
    dead = kafka_topics[DEAD_LETTER.name]

    async def process(stream: Any) -> None:
        async for message in stream.events():
            msg = message.message
            ctx.services = services.get(agent.name)
            try:
                event = decode(source, msg.value)
            except DecodeError as err:
                await _send_dead(dead, source, msg, str(err), step.name)
                continue
            if source is PROMPT_SUBMITTED:
                metrics.observe(source, event)  # published outside the fleet: count on entry
            try:
                emits = await step.handle(event, ctx)
            except Exception as err:  # never let one event kill the worker
                log.exception("%s failed on %s[%s]@%s", step.name, msg.topic, msg.partition,
                              msg.offset)
                await _send_dead(dead, source, msg, f"{step.name} failed: {err!r}", step.name)
                continue
            metrics.STEP_EVENTS.labels(step=step.name, outcome="ok").inc()
            for emit in emits:
                await kafka_topics[emit.topic.name].send(
                    key=emit.key.encode(), value=encode(emit.event))
                metrics.observe(emit.topic, emit.event)

    app.agent(kafka_topics[source.name], name=step.name,
              concurrency=max(1, step.concurrency))(process)


async def _send_dead(dead, source: Topic, msg: Any, reason: str, step_name: str) -> None:
    metrics.STEP_EVENTS.labels(step=step_name, outcome="dead-letter").inc()
    record = dead_letter(source, msg.value, reason, partition=msg.partition, offset=msg.offset,
                         key=msg.key, agent=step_name)
    metrics.observe(DEAD_LETTER, record)
    await dead.send(key=source.name.encode(), value=encode(record))


def _add_sink(app, kafka_topics, sink: Sink, topic: Topic) -> None:
    async def process(stream: Any) -> None:
        async for batch in stream.take(SINK_BATCH, within=SINK_WITHIN_S):
            events = []
            for raw in batch:
                try:
                    events.append(decode(topic, raw))
                except DecodeError:
                    continue  # the topic's consuming step dead-letters it
            await _write_until_it_lands(sink, topic, events)

    # A sink gets its own consumer name so it reads every event independently of the steps.
    app.agent(kafka_topics[topic.name], name=f"{sink.name}.{topic.name}")(process)


async def _write_until_it_lands(sink: Sink, topic: Topic, events: list) -> None:
    delay = 0.5
    while True:
        try:
            await sink.write(topic, events)
            return
        except Exception:
            log.exception("%s could not write %d %s events; retrying in %.1fs",
                          sink.name, len(events), topic.name, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
