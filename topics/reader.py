"""Read a whole topic from its beginning, without a consumer group.

The partitions are assigned explicitly: no group to join and no subscription to re-balance
when the cluster's metadata changes (as it does whenever a worker creates its changelog
topics), so nothing can hold the reader up. For compacted topics such as analysis-ready,
reading from the beginning gives the current state first, then every new event.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition

from topics.catalogue import topic as catalogue_topic


async def open_reader(bootstrap: str, topic: str, **options) -> AIOKafkaConsumer:
    """A started consumer positioned at the beginning of every partition of `topic`."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                group_id=None, **options)
    await consumer.start()
    try:
        # The catalogue's partition count is the one `promptopt topics create` made.
        assigned = [TopicPartition(topic, p) for p in range(catalogue_topic(topic).partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
    except BaseException:
        await consumer.stop()
        raise
    return consumer
