"""Create every catalogued topic with its partitions and config; safe to run again."""

from __future__ import annotations

import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from topics.catalogue import TOPICS, Topic


async def create_topics(bootstrap: str, topics: tuple[Topic, ...] = TOPICS) -> list[str]:
    """Create the topics that do not exist yet; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t.name not in existing]
        if missing:
            # Another worker may create them between our list and create: that is fine.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([
                    NewTopic(t.name, num_partitions=t.partitions, replication_factor=1,
                             topic_configs=t.config())
                    for t in missing
                ])
        return [t.name for t in missing]
    finally:
        await admin.close()
