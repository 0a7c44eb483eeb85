"""The Kafka runtime on the real servers: topics verified and fixed, readers that only wait
on partitions that exist, the first write of a global table, trial documents that keep the
first completed trial, /health and /state on a worker."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
import uuid
from dataclasses import replace

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from agents.sinks.mongo import MongoSink
from schemas.events import ExperimentControl, TrialCompleted, TrialScored, TrialSpec
from schemas.experiment import ModelSpec, TestCase, VariationRef
from tests.integration.conftest import free_port
from topics.admin import TopicMismatch, ensure_topics
from topics.catalogue import (
    ANALYSIS_READY,
    DEAD_LETTER,
    EXPERIMENT_CONTROL,
    TRIAL_COMPLETED,
    TRIAL_SCORED,
)
from topics.client import PromptOptClient
from topics.codec import decode
from topics.reader import open_reader

pytestmark = pytest.mark.integration


async def describe(bootstrap: str, name: str) -> tuple[int, dict[str, str]]:
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [topic] = await admin.describe_topics([name])
        [response] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name)])
        configs = {e[0]: e[1] for e in response.resources[0][4]}
        return len(topic["partitions"]), configs
    finally:
        await admin.close()


async def create_raw(bootstrap: str, name: str, partitions: int) -> None:
    """A topic as a client would get it from the broker's defaults, returned once the
    broker's metadata lists its partitions: CreateTopics answers before that (a reader
    opened at once, in one run of 5, found no such topic)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
        for _ in range(100):
            [topic] = await admin.describe_topics([name])
            if len(topic.get("partitions") or ()) == partitions:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{name}: {partitions} partitions not in the metadata after 10 s")
    finally:
        await admin.close()


async def test_regression_topics_made_with_broker_defaults_are_fixed_to_the_catalogue(
        settings):
    """analysis-ready became delete-policy and trial-requested got 4 partitions (of 8)
    when a client touched them first: a worker now fixes both at start."""
    bootstrap = settings.kafka_bootstrap
    tag = uuid.uuid4().hex[:8]
    compacted = replace(ANALYSIS_READY, name=f"t-analysis-{tag}")  # compact, 4 partitions
    wide = replace(TRIAL_COMPLETED, name=f"t-trials-{tag}", partitions=8)
    await create_raw(bootstrap, compacted.name, 4)
    await create_raw(bootstrap, wide.name, 4)

    report = await ensure_topics(bootstrap, (compacted, wide))
    assert report.created == [] and report.partitions_added == {wide.name: (4, 8)}
    assert report.configs_fixed[compacted.name]["cleanup.policy"] == ("delete", "compact")
    for _ in range(50):  # the broker applies an altered config a moment later
        partitions, configs = await describe(bootstrap, compacted.name)
        if configs["cleanup.policy"] == "compact":
            break
        await asyncio.sleep(0.1)
    assert partitions == 4 and configs["cleanup.policy"] == "compact"
    assert (await describe(bootstrap, wide.name))[0] == 8
    again = await ensure_topics(bootstrap, (compacted, wide))  # nothing left to fix
    assert again.as_dict() == {"created": [], "partitions_added": {}, "configs_fixed": {}}


async def test_a_topic_with_more_partitions_than_the_catalogue_stops_with_what_to_do(settings):
    narrow = replace(TRIAL_COMPLETED, name=f"t-narrow-{uuid.uuid4().hex[:8]}", partitions=2)
    await create_raw(settings.kafka_bootstrap, narrow.name, 6)
    with pytest.raises(TopicMismatch, match=r"has 6 partitions, the catalogue 2.*Delete the "
                                            r"topic"):
        await ensure_topics(settings.kafka_bootstrap, (narrow,))


async def test_regression_a_reader_waited_forever_on_partitions_that_do_not_exist(settings):
    """topics.reader assumed the catalogue's partition count; on a topic made with fewer
    it waited on the missing ones for good. It reads the broker's partitions."""
    name = f"t-reader-{uuid.uuid4().hex[:8]}"
    await create_raw(settings.kafka_bootstrap, name, 2)
    consumer = await asyncio.wait_for(open_reader(settings.kafka_bootstrap, name), 15)
    try:
        assert {tp.partition for tp in consumer.assignment()} == {0, 1}
    finally:
        await consumer.stop()


async def test_regression_a_seek_back_left_a_partition_with_nothing_committed_past_its_first_events(
        settings):
    """The quick faults run lost a trial: a batch holding a partition's first events came
    back while a rebalance had stopped Faust's flow, Faust dropped it and sought back to the
    committed offsets, and aiokafka's seek_to_committed seeks only partitions with one above
    0 — reading went on after the dropped events. seek_uncommitted starts such a partition
    where the reset policy would."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    from agents.runtime.offsets import seek_uncommitted

    name = f"t-seek-{uuid.uuid4().hex[:8]}"
    await create_raw(settings.kafka_bootstrap, name, 1)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:
        for i in range(3):
            await producer.send_and_wait(name, f"event {i}".encode())
    finally:
        await producer.stop()
    tp, changelog = TopicPartition(name, 0), TopicPartition(f"{name}-changelog", 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                                group_id=f"g-{name}", enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign([tp])
        taken = await consumer.getmany(tp, timeout_ms=10_000)
        assert [r.offset for r in taken[tp]] == [0, 1, 2]  # the batch Faust dropped
        committed = {tp: await consumer.committed(tp)}
        await consumer.seek_to_committed(tp)
        assert committed == {tp: None} and await consumer.position(tp) == 3  # aiokafka's gap
        assert await seek_uncommitted(consumer, {**committed, changelog: None}, "earliest",
                                      [changelog.topic]) == [tp]
        again = await consumer.getmany(tp, timeout_ms=10_000)
        assert [r.value for r in again[tp]] == [b"event 0", b"event 1", b"event 2"]
    finally:
        await consumer.stop()


async def test_regression_a_read_offset_set_back_behind_the_fetch_reads_the_events_again(
        settings):
    """The full fault run of 16:49 lost 307 trials: Faust's seek back set a partition's
    reading to 708 while the fetcher stood at 1002, Faust took 1002 for a gap of 709-1001
    counted as done, and committed past events nobody had graded. A real Faust worker with
    our consumer on the loopback broker: reading set back to 3 while the fetch stands at 10,
    one more event, and 3-9 are handed on again, with nothing counted as a gap."""
    import faust
    from aiokafka import AIOKafkaProducer
    from faust.types import TP

    from agents.runtime.offsets import use_in_flight_safe_consumer

    name = f"t-read-{uuid.uuid4().hex[:8]}"
    await create_raw(settings.kafka_bootstrap, name, 1)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    app = faust.App(f"g-{name}", broker=f"kafka://{settings.kafka_bootstrap}",
                    store="memory://", web_enabled=False, topic_allow_declare=False,
                    consumer_auto_offset_reset="earliest")
    use_in_flight_safe_consumer(app)
    seen: list[int] = []

    @app.agent(app.topic(name, value_serializer="raw"))
    async def read(stream):  # type: ignore[no-untyped-def]
        async for event in stream.events():
            seen.append(event.message.offset)

    async def until(count: int) -> None:
        for _ in range(600):
            if len(seen) >= count:
                return
            await asyncio.sleep(0.05)

    try:
        for i in range(10):
            await producer.send_and_wait(name, f"event {i}".encode())
        await app.start()
        await until(10)
        assert seen == list(range(10))
        tp = TP(name, 0)
        app.consumer._readings[tp].sought(3)  # what the seek back did; the fetch is at 10
        await producer.send_and_wait(name, b"event 10")
        await until(18)
        assert seen[10:] == [3, 4, 5, 6, 7, 8, 9, 10]
        assert not app.consumer._gap[tp]
    finally:
        await producer.stop()
        await app.stop()


def completed(trial_id: str, experiment_id: str, **outcome) -> TrialCompleted:
    return TrialCompleted(trial=TrialSpec(
        trial_id=trial_id, experiment_id=experiment_id, test_case=TestCase(id="c"),
        variation=VariationRef(variation_id="v", name="control", is_control=True),
        model=ModelSpec(id="sim/small"), expected_trials=1), **outcome)


async def test_regression_a_replay_overwrote_trial_documents_with_cache_hits(migrated):
    """After a replay every trial document said cached, cost 0, latency 0. The first
    trial-completed of a trial stays, as the scorer folds the first."""
    experiment_id = f"keep-{uuid.uuid4().hex[:8]}"
    t1, t2 = f"{experiment_id}-1", f"{experiment_id}-2"
    first = completed(t1, experiment_id, cost_usd=0.054, latency_ms=812.0, attempts=2)
    replay = completed(t1, experiment_id, cost_usd=0.0, latency_ms=0.0, attempts=0,
                       cached=True)
    other = completed(t2, experiment_id, cost_usd=0.01)
    sink = MongoSink(migrated.mongo_uri, migrated.mongo_db)
    await sink.open()
    try:
        await sink.write(TRIAL_COMPLETED, [first])
        await sink.write(TRIAL_COMPLETED, [replay, other, replay])  # one batch, repeated too
        docs = {d["_id"]: d for d in await sink.db.trial_results.find(
            {"experiment_id": experiment_id}).to_list(None)}
    finally:
        await sink.close()
    assert set(docs) == {t1, t2}
    assert (docs[t1]["cost_usd"], docs[t1]["latency_ms"], docs[t1]["cached"],
            docs[t1]["attempts"]) == (0.054, 812.0, False, 2)


async def test_regression_documents_and_analysis_disagreed_on_cost_after_a_kill(migrated):
    """A trial re-run after a kill -9 has two trial-completed copies; scorer.grade (which
    is concurrent) published their trial-scored in the other order, so the scorer folded
    the second copy while the document kept the first (faults benchmark: $0.001551 in the
    analysis, $0.00152 in the documents). The document takes the copy the scorer folds,
    the first trial-scored, and never changes after it."""
    experiment_id = f"order-{uuid.uuid4().hex[:8]}"
    t1 = f"{experiment_id}-1"
    first = completed(t1, experiment_id, cost_usd=0.000031, latency_ms=900.0, attempts=3)
    rerun = completed(t1, experiment_id, cost_usd=0.0, latency_ms=0.0, attempts=0,
                      cached=True)
    sink = MongoSink(migrated.mongo_uri, migrated.mongo_db)
    await sink.open()
    try:
        await sink.write(TRIAL_COMPLETED, [first, rerun])
        # grade reordered: the re-run's score first (what the scorer folds), then both again
        await sink.write(TRIAL_SCORED, [TrialScored(trial=rerun, score=1.0, passed=True),
                                        TrialScored(trial=first, score=0.0, passed=False)])
        await sink.write(TRIAL_SCORED, [TrialScored(trial=first, score=0.0, passed=False)])
        doc = await sink.db.trial_results.find_one({"_id": t1})
    finally:
        await sink.close()
    assert (doc["cost_usd"], doc["cached"], doc["attempts"]) == (0.0, True, 0)
    assert doc["quality_metrics"]["score"] == 1.0


def get_json(port: int, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


async def dead_letters_from(bootstrap: str, agent_prefix: str, since: int) -> list:
    consumer = await open_reader(bootstrap, DEAD_LETTER.name)
    try:
        records = []
        for batch in (await consumer.getmany(timeout_ms=3000)).values():
            records += [decode(DEAD_LETTER, r.value) for r in batch if r.offset >= since]
        return [r for r in records if r.agent.startswith(agent_prefix)]
    finally:
        await consumer.stop()


async def end_of(bootstrap: str, topic: str) -> int:
    consumer = await open_reader(bootstrap, topic)
    try:
        ends = await consumer.end_offsets(list(consumer.assignment()))
        return sum(ends.values())
    finally:
        await consumer.stop()


async def test_regression_a_workers_first_stop_command_was_dead_lettered(
        start_worker, settings):
    """A global table picks each write's partition with the producer's partitioner, which
    failed ("'NoneType' object is not iterable") until the producer had the changelog's
    metadata: every worker dead-lettered its first stop command and pattern outcome."""
    before = await end_of(settings.kafka_bootstrap, DEAD_LETTER.name)
    _, port = start_worker()
    for _ in range(100):  # until the worker is consuming
        _, body = get_json(port, "/health")
        if body.get("ready"):
            break
        await asyncio.sleep(0.3)
    experiment_id = f"stop-{uuid.uuid4().hex[:8]}"
    async with PromptOptClient(settings.kafka_bootstrap) as client:
        await client.publish(EXPERIMENT_CONTROL, ExperimentControl(
            experiment_id=experiment_id, command="stop", reason="by a test"))
    for _ in range(50):
        _, state = get_json(port, "/state")
        if state.get("trials-control"):
            break
        await asyncio.sleep(0.2)
    assert await dead_letters_from(settings.kafka_bootstrap, "trials.", before) == []
    assert state.get("trials-control", 0) >= 1  # the flag is held (windowed, it expires)


async def test_health_says_503_and_why_when_a_sink_cannot_open(start_worker, settings):
    down = free_port()  # nothing listens: PostgreSQL is "down" for this worker
    _, port = start_worker(env_extra={
        "PROMPTOPT_POSTGRES_DSN": f"postgresql://promptopt@127.0.0.1:{down}/promptopt",
        "PROMPTOPT_HEALTH_STALL_S": "3"})
    # The agents open (the trials agent imports litellm first: seconds on a loaded box);
    # the PostgreSQL sink cannot.
    for _ in range(300):
        status, body = get_json(port, "/health")
        if body["waiting_for"] == ["sink.postgres"]:
            break
        await asyncio.sleep(0.2)
    assert body["waiting_for"] == ["sink.postgres"]
    for _ in range(40):
        status, body = get_json(port, "/health")
        if status == 503:
            break
        await asyncio.sleep(0.5)
    assert status == 503 and not body["healthy"] and body["waiting_for"] == ["sink.postgres"]
