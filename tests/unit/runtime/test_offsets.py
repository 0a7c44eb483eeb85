"""Commits never pass an event still in flight (agents/runtime/offsets.py)."""

from __future__ import annotations

import faust
from faust.types import TP
from faust.types.tuples import Message

from agents.runtime.offsets import InFlightSafeConsumer, committable, use_in_flight_safe_consumer

TOPIC = TP("trial-requested", 0)


def test_committable_stops_at_the_lowest_offset_in_flight() -> None:
    assert committable([13, 14], lowest_in_flight=12) == (None, 0)
    assert committable([12, 13, 14], lowest_in_flight=None) == (15, 3)
    assert committable([12, 13, 15], lowest_in_flight=None) == (14, 2)
    assert committable([12, 13, 14], lowest_in_flight=14) == (14, 2)
    assert committable([], lowest_in_flight=3) == (None, 0)


def message(offset: int, generation: int = 0) -> Message:
    return Message(TOPIC.topic, TOPIC.partition, offset, 0.0, 0, None, b"k", b"v", None,
                   generation_id=generation)


def ack(consumer: InFlightSafeConsumer, msg: Message) -> None:
    # What Consumer.ack records for a topic with acks enabled.
    msg.acked = True
    consumer._unacked_messages.discard(msg)
    consumer._acked_index[TOPIC].add(msg.offset)
    consumer._acked[TOPIC].append(msg.offset)


def consumer_at(committed: int | None) -> InFlightSafeConsumer:
    app = faust.App("offsets-test", broker="kafka://127.0.0.1:9")
    use_in_flight_safe_consumer(app)
    consumer = app.consumer
    assert isinstance(consumer, InFlightSafeConsumer)
    if committed is not None:
        consumer._committed_offset[TOPIC] = committed
    return consumer


def test_regression_commit_skipped_a_slow_trial_after_a_restart() -> None:
    """The faults benchmark lost a trial per worker restart: committed 12, trial 12's LLM
    call still running, 13 and 14 done, and Faust committed 15 (faust-streaming #606)."""
    consumer = consumer_at(committed=12)
    slow, fast = message(12), [message(13), message(14)]
    for msg in (slow, *fast):
        consumer.track_message(msg)
    for msg in fast:
        ack(consumer, msg)
    assert consumer._filter_committable_offsets([TOPIC]) == {}
    ack(consumer, slow)
    assert consumer._filter_committable_offsets([TOPIC]) == {TOPIC: 15}


def test_nothing_committed_yet_and_the_first_event_is_slow() -> None:
    consumer = consumer_at(committed=None)
    first, second = message(0), message(1)
    consumer.track_message(first)
    consumer.track_message(second)
    ack(consumer, second)
    assert consumer._new_offset(TOPIC) is None
    ack(consumer, first)
    assert consumer._new_offset(TOPIC) == 2


def test_acked_offsets_above_an_in_flight_one_are_kept_for_later() -> None:
    consumer = consumer_at(committed=10)
    msgs = [message(o) for o in range(10, 14)]
    for msg in msgs:
        consumer.track_message(msg)
    for msg in (msgs[0], msgs[2], msgs[3]):
        ack(consumer, msg)
    assert consumer._filter_committable_offsets([TOPIC]) == {TOPIC: 11}
    consumer._committed_offset[TOPIC] = 11
    assert consumer._filter_committable_offsets([TOPIC]) == {}
    ack(consumer, msgs[1])
    assert consumer._filter_committable_offsets([TOPIC]) == {TOPIC: 14}


def test_regression_a_late_ack_of_a_revoked_partition_is_not_recorded() -> None:
    """A sink's batch written across a rebalance acked its events after their partition had
    gone: Faust put the stale offsets back in the acked list it had cleared, so when the
    partition came back the committable run started at them (committing backwards, then
    never again: the gap after them is never delivered)."""
    consumer = consumer_at(committed=None)
    consumer.app.topics.acks_enabled_for = lambda topic: True  # type: ignore[method-assign]
    late = message(28)
    consumer.track_message(late)
    consumer._owned = frozenset()
    assert consumer.ack(late) is False
    assert late.acked and not consumer._acked[TOPIC] and late not in consumer._unacked_messages
    owned = message(29)
    consumer._owned = frozenset({TOPIC})
    assert consumer.ack(owned) is True and consumer._acked[TOPIC] == [29]


async def test_seek_to_committed_sends_partitions_with_nothing_committed_to_their_start() -> None:
    """Faust's seek back to the committed offsets (after it drops a batch fetched across a
    rebalance) goes through here; aiokafka's leaves alone what has nothing committed."""
    consumer = consumer_at(committed=None)
    changelog = TP("offsets-test-state-changelog", 0)
    consumer.app.tables._changelogs[changelog.topic] = object()  # type: ignore[assignment]
    fresh, zero, at_five = TP("a", 0), TP("a", 1), TP("a", 2)
    calls: list[tuple[str, tuple[TP, ...]]] = []

    class Aiokafka:
        async def seek_to_committed(self) -> dict[TP, int | None]:
            return {fresh: None, zero: 0, at_five: 5, changelog: None}

        async def seek_to_beginning(self, *tps: TP) -> None:
            calls.append(("beginning", tps))

    class Thread:
        async def seek_to_committed(self) -> dict[TP, int | None]:
            return await Aiokafka().seek_to_committed()

        def _ensure_consumer(self) -> Aiokafka:
            return Aiokafka()

        async def call_thread(self, fun, *args):  # type: ignore[no-untyped-def]
            return await fun(*args)

    consumer._thread = Thread()  # type: ignore[assignment]
    assert await consumer.seek_to_committed() == {fresh: None, zero: 0, at_five: 5,
                                                  changelog: None}
    assert calls == [("beginning", (fresh, zero))]


async def test_a_gap_faust_counts_as_done_is_said_in_the_log(caplog) -> None:  # type: ignore[no-untyped-def]
    consumer = consumer_at(committed=708)
    with caplog.at_level("WARNING", logger="promptopt.offsets"):
        await consumer._add_gap(TOPIC, 709, 1002)
    assert "gap on trial-requested[0]: offsets 709-1002 counted as done unseen (committed 708)" \
        in caplog.text
    assert consumer._gap[TOPIC].overlaps(709, 1003)  # Faust's bookkeeping still done


async def test_regression_a_record_past_the_seek_back_is_read_again_not_counted_done() -> None:
    """The full fault run of 16:49 lost 307 trials: the seek back set trial-completed[1]'s
    reading to 708 while the fetch stood at 1002; Faust counted 709-1002 as a gap and
    committed 1003. The consumer seeks back instead, and the gap stays empty."""
    consumer = consumer_at(committed=708)
    sought: list[tuple[TP, int]] = []

    async def seek(tp: TP, offset: int) -> None:
        sought.append((tp, offset))

    consumer._seek = seek  # type: ignore[method-assign]
    consumer._readings[TOPIC].sought(708)
    assert await consumer._admit(TOPIC, 1002, batch=7, acked=True) is False
    assert await consumer._admit(TOPIC, 1003, batch=7, acked=True) is False
    assert sought == [(TOPIC, 708)]
    assert await consumer._admit(TOPIC, 708, batch=8, acked=True) is True
    assert not consumer._gap[TOPIC]
    # A gap the log really has (compaction): confirmed by the fetch after the seek back.
    assert await consumer._admit(TOPIC, 720, batch=9, acked=True) is False
    assert await consumer._admit(TOPIC, 720, batch=10, acked=True) is True
    assert consumer._gap[TOPIC].overlaps(709, 720) and not consumer._gap[TOPIC].overlaps(720)


async def test_topics_without_acks_keep_fausts_rule() -> None:
    consumer = consumer_at(committed=None)
    changelog = TP("offsets-test-state-changelog", 0)
    consumer._read_offset[changelog] = 50
    assert await consumer._admit(changelog, 49, batch=1, acked=False) is False
    assert await consumer._admit(changelog, 70, batch=1, acked=False) is True
    assert not consumer._gap[changelog]


def test_an_event_of_an_older_generation_is_not_recorded_as_acked() -> None:
    """Faust's streams acknowledge without handling an event delivered before the last
    rebalance; the seek back after the rebalance delivers it again."""
    consumer = consumer_at(committed=None)
    consumer.app.topics.acks_enabled_for = lambda topic: True  # type: ignore[method-assign]
    consumer._owned = frozenset({TOPIC})
    consumer.app.consumer_generation_id = 9
    stale, current = message(30, generation=8), message(31, generation=9)
    assert consumer.ack(stale) is False and not consumer._acked[TOPIC]
    assert consumer.ack(current) is True and consumer._acked[TOPIC] == [31]


async def test_seek_to_committed_sets_where_each_partition_reads_on() -> None:
    consumer = consumer_at(committed=None)

    class Thread:
        async def seek_to_committed(self) -> dict[TP, int | None]:
            return {TP("a", 0): None, TP("a", 1): 0, TP("a", 2): 5}

        def _ensure_consumer(self) -> object:
            return self

        async def seek_to_beginning(self, *tps: TP) -> None:
            pass

        async def call_thread(self, fun, *args):  # type: ignore[no-untyped-def]
            return await fun(*args)

    consumer._thread = Thread()  # type: ignore[assignment]
    await consumer.seek_to_committed()
    assert {tp.partition: r.expected for tp, r in consumer._readings.items()} == \
        {0: 0, 1: 0, 2: 5}


async def test_a_seek_back_on_a_partition_unassigned_mid_batch_is_tried_again() -> None:
    from aiokafka.errors import IllegalStateError

    consumer = consumer_at(committed=708)
    calls: list[int] = []

    async def seek(tp: TP, offset: int) -> None:
        calls.append(offset)
        if len(calls) == 1:
            raise IllegalStateError("No current assignment for partition")

    consumer._seek = seek  # type: ignore[method-assign]
    consumer._readings[TOPIC].sought(708)
    assert await consumer._admit(TOPIC, 1002, batch=1, acked=True) is False
    # not taken for a confirmed gap in the next batch: the seek did not happen
    assert await consumer._admit(TOPIC, 1003, batch=2, acked=True) is False
    assert calls == [708, 708] and not consumer._gap[TOPIC]
