"""Create every catalogued topic, or verify an existing one against the catalogue.

Run by every worker before it starts and by `promptopt topics create`; safe to run again
and from several processes at once. A topic that exists but differs from the catalogue (it
was created by hand, or by a client before the workers, with the broker's defaults) is
fixed where Kafka allows it:
- too few partitions: partitions are added (keys then map to new partitions; fine before
  the topic holds data, which is when this usually happens);
- a config the catalogue owns (cleanup.policy, retention.ms, ...) differs: it is altered,
  keeping the topic's other dynamic configs.
Kafka cannot take partitions away, so a topic with more partitions than the catalogue
raises TopicMismatch with what to do; the worker stops with that message.

It returns only once every partition answers ListOffsets. Right after CreateTopics, KRaft
lists a leader for each new partition before that broker serves it: ListOffsets meanwhile
fails with NOT_LEADER_OR_FOLLOWER and the client retries it later. A consumer that takes
its position then (a group with auto_offset_reset=latest, or a Faust table recovering a
new changelog, which keeps its source partitions paused until it knows the changelog's end)
skips records produced meanwhile or waits on a partition: the "stall after a fresh broker
start" of the integration tests. Waiting here closes that window for everyone after.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from topics.catalogue import TOPICS

log = logging.getLogger("promptopt.topics")

DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs config_source: set on the topic itself
TOPIC_ALREADY_EXISTS = 36  # Kafka's error code


class TopicSpec(Protocol):
    """What ensure_topics needs of a topic: catalogue Topics and changelog topics alike."""

    @property
    def name(self) -> str: ...

    @property
    def partitions(self) -> int: ...

    def config(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class ChangelogTopic:
    """A state table's changelog, created with the catalogue's topics before the worker
    starts (Faust would create it on first use, with the race described above)."""

    name: str
    partitions: int
    configs: tuple[tuple[str, str], ...]

    def config(self) -> dict[str, str]:
        return dict(self.configs)


class TopicMismatch(RuntimeError):
    """An existing topic differs from the catalogue in a way Kafka cannot fix in place."""


@dataclass
class TopicsReport:
    created: list[str] = field(default_factory=list)
    partitions_added: dict[str, tuple[int, int]] = field(default_factory=dict)  # from, to
    configs_fixed: dict[str, dict[str, tuple[str | None, str]]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"created": self.created,
                "partitions_added": {k: list(v) for k, v in self.partitions_added.items()},
                "configs_fixed": {k: {c: list(v) for c, v in d.items()}
                                  for k, d in self.configs_fixed.items()}}


async def ensure_topics(bootstrap: str, topics: Sequence[TopicSpec] = TOPICS) -> TopicsReport:
    """Create missing topics and fix the ones that differ; see the module docstring."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
    await admin.start()
    try:
        report = TopicsReport()
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t.name not in existing]
        if missing:
            response = await admin.create_topics([
                NewTopic(t.name, num_partitions=t.partitions, replication_factor=1,
                         topic_configs=t.config())
                for t in missing
            ])
            errors = {e[0]: (e[1], e[2] if len(e) > 2 else "")  # v0-v1 have no message
                      for e in response.topic_errors if e[1]}
            # TOPIC_ALREADY_EXISTS: another process made it since we listed (or the list
            # lagged behind a creation): verify it like any existing topic.
            refused = {n: e for n, e in errors.items() if e[0] != TOPIC_ALREADY_EXISTS}
            if refused:
                raise TopicMismatch(f"Kafka refused to create topics: {refused}")
            report.created = [t.name for t in missing if t.name not in errors]
        present = [t for t in topics if t.name not in report.created]
        if present:
            await _verify_partitions(admin, present, report)
            await _verify_configs(admin, present, report)
        for name, (old, new) in report.partitions_added.items():
            log.warning("topic %s had %d partitions, the catalogue says %d: added", name,
                        old, new)
        for name, fixed in report.configs_fixed.items():
            log.warning("topic %s configs fixed to the catalogue's: %s", name, fixed)
    finally:
        await admin.close()
    await wait_until_served(bootstrap, topics)
    return report


async def wait_until_served(bootstrap: str, topics: Sequence[TopicSpec],
                            timeout_s: float = 60.0) -> None:
    """Until every partition of `topics` answers ListOffsets (aiokafka retries the ones
    whose leader is not serving yet); see the module docstring for why.

    The partitions are assigned first: a client refreshes metadata only for the topics it
    knows, and one that had read the cluster before new partitions reached its metadata
    would otherwise wait on them until it gave up."""
    tps = [TopicPartition(t.name, p) for t in topics for p in range(t.partitions)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                request_timeout_ms=int(timeout_s * 1000))
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.end_offsets(tps)
    finally:
        await consumer.stop()


async def describe_partitions(admin: AIOKafkaAdminClient, names: list[str],
                              settle_s: float = 10.0) -> dict[str, int]:
    """Each topic's partition count. A topic another process is creating at this moment
    is described with no partitions until the controller has made them (worker roles
    started at once share changelogs: one saw 0, asked for 1 and Kafka answered "already
    has 1 partition(s)", which stopped the worker); no topic really has 0, so those are
    asked again, for up to `settle_s`."""
    deadline = time.monotonic() + settle_s
    while True:
        described = {d["topic"]: len(d["partitions"])
                     for d in await admin.describe_topics(names)}
        counts = {name: described.get(name, 0) for name in names}
        if all(counts.values()) or time.monotonic() > deadline:
            return counts
        await asyncio.sleep(0.2)


async def _verify_partitions(admin: AIOKafkaAdminClient, topics: list[TopicSpec],
                             report: TopicsReport) -> None:
    described = await describe_partitions(admin, [t.name for t in topics])
    too_many = [(t, described[t.name]) for t in topics if described[t.name] > t.partitions]
    if too_many:
        details = "; ".join(f"{t.name} has {n} partitions, the catalogue {t.partitions}"
                            for t, n in too_many)
        raise TopicMismatch(
            f"{details}. Kafka cannot remove partitions, and keyed state needs the "
            "catalogue's count. Delete the topic (kafka-topics.sh --delete --topic NAME; "
            "its events are lost) and start the worker again, which creates it, or change "
            "the catalogue in topics/catalogue.py to match.")
    grow = {t.name: NewPartitions(total_count=t.partitions)
            for t in topics if described[t.name] < t.partitions}
    if grow:
        response = await admin.create_partitions(grow)
        failed = [(name, code, message) for name, code, message in response.topic_errors
                  if code]
        if failed:
            raise TopicMismatch(f"Kafka refused to add partitions: {failed}")
        report.partitions_added = {name: (described[name], p.total_count)
                                   for name, p in grow.items()}


async def _verify_configs(admin: AIOKafkaAdminClient, topics: list[TopicSpec],
                          report: TopicsReport) -> None:
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, t.name) for t in topics])
    current: dict[str, dict[str, tuple[str | None, int]]] = {}
    for response in responses:
        for resource in response.resources:
            _, _, _, name, entries = resource
            current[name] = {e[0]: (e[1], e[4]) for e in entries}
    to_alter = []
    for t in topics:
        have = current.get(t.name, {})
        wrong = {k: (have.get(k, (None, 0))[0], v) for k, v in t.config().items()
                 if have.get(k, (None, 0))[0] != v}
        if not wrong:
            continue
        # AlterConfigs replaces every dynamic config of the topic: keep the others.
        keep = {k: v for k, (v, source) in have.items()
                if source == DYNAMIC_TOPIC_CONFIG and v is not None}
        to_alter.append(ConfigResource(ConfigResourceType.TOPIC, t.name,
                                       configs={**keep, **t.config()}))
        report.configs_fixed[t.name] = wrong
    if to_alter:
        for response in await admin.alter_configs(to_alter):
            failed = [(name, code, message) for code, message, _, name in response.resources
                      if code]
            if failed:
                raise TopicMismatch(f"Kafka refused the catalogue's configs: {failed}")


async def end_offsets(bootstrap: str) -> dict[TopicPartition, int]:
    """Where every catalogued topic ends now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.end_offsets(
            [TopicPartition(t.name, p) for t in TOPICS for p in range(t.partitions)])
    finally:
        await consumer.stop()


async def commit_offsets(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    """Make a consumer group start at `offsets`, as if it had consumed up to there: a new
    group of role workers (or a test's) then skips what other groups left on the topics."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()
