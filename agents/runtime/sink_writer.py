"""Writing a batch to a sink so that no single event can stop it (both runtimes use this).

Failure story, per batch:
- a failure a retry can cure (server down, timeout; see failures.py) is retried with
  backoff, and the batch is not acknowledged until it lands: nothing is lost, and the
  writes are idempotent, so the retry is harmless;
- any other failure is in the data (an encoding the database refuses, such as NUL in a
  PostgreSQL text; a constraint; a document too large): the batch is split in halves until
  the failing events are alone, each of those is dead-lettered with the reason, and the
  rest of the batch is written. The stream goes on.
Cancellation (SIGTERM) ends a backoff at once; the unacknowledged batch is read again by
whoever owns the partition next.
"""

from __future__ import annotations

from collections.abc import Sequence

from agents.runtime import metrics
from agents.runtime.dispatch import Delivery, Outgoing, dead_lettered
from agents.runtime.failures import RetryPolicy, call_with_retries, describe, is_retriable
from agents.sinks.contract import Sink
from schemas.events import Event
from topics.catalogue import Topic
from topics.codec import DecodeError, decode


async def write_batch(sink: Sink, topic: Topic, batch: Sequence[Delivery],
                      policy: RetryPolicy = RetryPolicy()) -> list[Outgoing]:
    """Write every event of the batch that can be written; returns the dead-letter records
    of the ones whose data no write can take."""
    pairs: list[tuple[Delivery, Event]] = []
    for delivery in batch:
        if delivery.event is not None:  # decoded already (see Delivery.event)
            pairs.append((delivery, delivery.event))
            continue
        try:
            pairs.append((delivery, decode(topic, delivery.value)))
        except DecodeError:
            continue  # the step consuming the topic dead-letters it, with the same reason
    return await _write(sink, topic, pairs, policy)


async def _write(sink: Sink, topic: Topic, pairs: list[tuple[Delivery, Event]],
                 policy: RetryPolicy) -> list[Outgoing]:
    if not pairs:
        return []
    events = [event for _, event in pairs]
    try:
        await call_with_retries(lambda: sink.write(topic, events), policy,
                                f"{sink.name} writing {len(events)} {topic.name}")
    except Exception as err:
        if len(pairs) == 1 or is_retriable(err):  # alone, or retries ran out (give_up_s)
            metrics.child(metrics.SINK_WRITES, sink.name, "dead-letter").inc(len(pairs))
            reason = f"{sink.name} could not write it: {describe(err)}"
            return [dead_lettered(sink.name, delivery, reason) for delivery, _ in pairs]
        metrics.child(metrics.SINK_WRITES, sink.name, "split").inc()
        half = len(pairs) // 2
        return (await _write(sink, topic, pairs[:half], policy)
                + await _write(sink, topic, pairs[half:], policy))
    metrics.child(metrics.SINK_WRITES, sink.name, "ok").inc()
    return []
