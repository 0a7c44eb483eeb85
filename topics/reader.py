"""Read a whole topic from its beginning, without a consumer group.

The partitions are assigned explicitly: no group to join and no subscription to re-balance
when the cluster's metadata changes (as it does whenever a worker creates its changelog
topics), so nothing can hold the reader up. For compacted topics such as analysis-ready,
reading from the beginning gives the current state first, then every new event.

The partitions are the ones the broker says the topic has, never assumed from the
catalogue: a reader must not wait on a partition that does not exist (a topic made with the
broker's defaults before `promptopt topics create` fixed it).
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition


class TopicMissing(LookupError):
    """The topic does not exist on the broker."""


async def topic_partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    # A fresh metadata request: the consumer's cached cluster view (what
    # partitions_for_topic reads) only knows topics it subscribed to.
    cluster = await consumer._client.fetch_all_metadata()
    partitions = cluster.partitions_for_topic(topic)
    if not partitions:
        raise TopicMissing(f"topic {topic!r} does not exist (`promptopt topics create`)")
    return [TopicPartition(topic, p) for p in sorted(partitions)]


async def open_reader(bootstrap: str, topic: str, **options) -> AIOKafkaConsumer:
    """A started consumer positioned at the beginning of every partition of `topic`."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                group_id=None, **options)
    await consumer.start()
    try:
        assigned = await topic_partitions(consumer, topic)
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
    except BaseException:
        await consumer.stop()
        raise
    return consumer
