"""Offsets a Faust worker may commit: never past an event still being handled.

Faust (faust-streaming 0.15.3) commits, per partition, the end of the first run of
consecutive acknowledged offsets. With a step of concurrency > 1 (trials.run_trial runs
many LLM calls at once) a slow event can be overtaken: committed 12, event 12 still in
flight, 13 and 14 acknowledged. Faust's guard against a gap at the head only withholds a
gap of more than one offset (`min(acked) - committed > 1`), and none at all while nothing
was committed yet, so it commits 15; a kill -9 or a shutdown before event 12 finishes then
loses it (faust-streaming issue #606: the faults benchmark lost one or two trials per
worker restart so). The consumer below caps every commit at the lowest offset it has
delivered and not yet seen acknowledged.

Hand-written because the fix is not released (faust-streaming PR #707 is open); it
replaces the commit's two offset methods of Faust's consumer and keeps the rest of Faust's
bookkeeping.

The same consumer also seeks every partition with nothing committed to where the group's
reset policy starts it. Faust drops a batch that arrives while its flow is stopped (a
rebalance began during the fetch) and "seeks back to committed offsets", but aiokafka's
seek_to_committed seeks only partitions with a committed offset above 0: a partition whose
first events were in that batch stayed past them. The quick faults run lost a trial so: the
first event of trial-completed[3] was fetched during a rebalance and dropped, the
partition's reading began at offset 1, and the commit of 1-6 passed over it.

And it decides which fetched record its fetch loop hands on by the rule of reading.py
(every offset in order from the last seek; a gap only where the log has none), in place
of Faust's read-offset test, which its own seek back defeats.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka.errors import IllegalStateError
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.types import TP
from faust.types.tuples import ack_lock

from agents.runtime.reading import Reading, Verdict

log = logging.getLogger("promptopt.offsets")


def committable(acked: list[int], lowest_in_flight: int | None) -> tuple[int | None, int]:
    """The offset to commit for a partition and how many acknowledged offsets it covers.

    `acked` is sorted; the commit covers the first run of consecutive offsets, but never
    reaches an offset still in flight (the commit is the next offset to read, so it may
    equal the lowest one in flight, not pass it)."""
    if not acked:
        return None, 0
    run = 1
    while run < len(acked) and acked[run] == acked[run - 1] + 1:
        run += 1
    end = acked[run - 1] + 1
    if lowest_in_flight is not None and lowest_in_flight < end:
        end = lowest_in_flight
        run = sum(1 for offset in acked[:run] if offset < end)
    return (end, run) if run else (None, 0)


def reading_start(committed: int | None, reset: str) -> int | None:
    """Where reading a partition goes on after the seek back: its committed offset, or for
    a partition with nothing committed where the reset policy starts it (None: the end,
    an offset not known without asking the broker)."""
    if committed:
        return committed
    return None if reset == "latest" else 0


async def seek_uncommitted(consumer: Any, committed: Mapping[Any, int | None],
                           reset: str, changelogs: Iterable[str] = ()) -> list[Any]:
    """After aiokafka's seek_to_committed: the partitions it left alone (nothing committed,
    or 0) go where the reset policy starts a partition. Returns them. Table changelogs are
    left out: the group never commits them, Faust's recovery positions them itself."""
    skip = set(changelogs)
    unset = [tp for tp, offset in committed.items() if not offset and tp.topic not in skip]
    if unset:
        if reset == "latest":
            await consumer.seek_to_end(*unset)
        else:
            await consumer.seek_to_beginning(*unset)
    return unset


def lowest_in_flight(messages: Iterable[Any]) -> dict[TP, int]:
    lowest: dict[TP, int] = {}
    for message in messages:
        if not message.acked and (message.tp not in lowest or message.offset < lowest[message.tp]):
            lowest[message.tp] = message.offset
    return lowest


class InFlightSafeConsumer(AIOKafkaConsumer):
    """Faust's aiokafka consumer, committing nothing past an unacknowledged event."""

    # The partitions assigned now, kept from the rebalance callbacks: every ack and every
    # event of a stateful step asks, and Faust's assignment() builds a new set of TPs from
    # aiokafka's each time (~60 partitions per worker).
    _owned: frozenset[TP] = frozenset()

    def owns(self, tp: TP) -> bool:
        return tp in self._owned

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._readings: defaultdict[TP, Reading] = defaultdict(Reading)

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        self._owned = self._owned.difference(revoked)
        for tp in revoked:
            self._readings.pop(tp, None)
        await super().on_partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        self._owned = frozenset(assigned)  # the whole assignment (eager rebalancing)
        await super().on_partitions_assigned(assigned, generation_id)

    def ack(self, message: Any) -> bool:
        """An event of a partition revoked meanwhile (a sink's batch written across a
        rebalance) is not recorded: Faust clears a revoked partition's acked offsets, and a
        late ack would put a stale one back; once the partition returns, the committable run
        would start at it — committing the partition's offset backwards, then never again
        (the gap after it is never delivered). The same for an event delivered before the
        last rebalance: Faust's streams acknowledge such events without handling them
        (streams.py skips an event of an older generation), and the seek back after the
        rebalance delivers it again."""
        if (message.tp not in self._owned
                or message.generation_id != self.app.consumer_generation_id):
            with ack_lock:
                message.acked = True
                self._unacked_messages.discard(message)
            return False
        return bool(super().ack(message))

    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed: Mapping[Any, int | None] = await super().seek_to_committed()
        reset = self.app.conf.consumer_auto_offset_reset
        changelogs = self.app.tables.changelog_topics
        # In the consumer's thread, as every call on the aiokafka consumer is.
        await self._thread.call_thread(
            seek_uncommitted, self._thread._ensure_consumer(), committed, reset, changelogs)
        for tp, offset in committed.items():
            if tp.topic not in changelogs:
                self._readings[TP(tp.topic, tp.partition)].sought(reading_start(offset, reset))
        return committed  # type: ignore[return-value]

    async def seek(self, partition: TP, offset: int) -> None:
        await super().seek(partition, offset)
        self._readings[TP(partition.topic, partition.partition)].sought(offset)

    async def _seek(self, partition: TP, offset: int) -> None:
        """In the consumer's thread. Faust calls aiokafka's seek from the app's thread, where
        it drops the fetcher's buffered records of the partition and completes futures of
        the other thread's loop while that loop's fetcher works on them."""
        consumer = self._thread._ensure_consumer()
        await self._thread.call_thread(consumer.seek, partition, offset)

    async def _admit(self, tp: TP, offset: int, batch: int, acked: bool) -> bool:
        """Whether the drain loop hands this record on (agents/runtime/reading.py). Topics
        without acknowledgements (table changelogs, read by Faust's recovery, which sets
        their read offsets itself) keep Faust's rule."""
        if not acked:
            read = self._read_offset[tp]
            return read is None or offset >= read
        reading = self._readings[tp]
        start = reading.expected
        verdict = reading.judge(offset, batch)
        if verdict is Verdict.SEEK_BACK:
            log.info("%s[%d]: offset %d fetched where %s is next; reading it again from %s",
                     tp.topic, tp.partition, offset, start, start)
            try:
                await self._seek(tp, start)  # type: ignore[arg-type]
            except IllegalStateError:
                # Unassigned mid-batch (a rebalance began): its next owner reads it from
                # the committed offset; here the next record of it tries the seek again.
                reading.sought(start)
        elif verdict is Verdict.GAP and start is not None:
            await self._add_gap(tp, start, offset - 1)
        return verdict in (Verdict.DELIVER, Verdict.GAP)

    async def _drain_messages(self, fetcher: Any) -> None:
        """Faust's fetch loop (faust/transport/consumer.py, Consumer._drain_messages), with
        the record rule of `_admit` in place of Faust's read-offset test. Written out
        because the rule is inside Faust's loop; the rest is Faust's: its flags, its
        commit every n acks, its yield to the event loop, its stop conditions."""
        callback = self.callback
        acks_enabled_for = self.app.topics.acks_enabled_for
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        batch = since_yield = 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                self.diag.set_flag(CONSUMER_FETCHING)
                batch += 1
                records = self.getmany(timeout=1.0)
                await self.sleep(0)  # getmany may return at once, again and again
                if not self.should_stop:
                    async for tp, message in records:
                        since_yield += 1
                        if since_yield > 100:
                            await asyncio.sleep(0)
                            since_yield = 0
                        if not await self._admit(tp, message.offset, batch,
                                                 acks_enabled_for(message.topic)):
                            continue
                        n_acked: int = self._n_acked  # type: ignore[has-type]  # Faust's, unannotated
                        if self._commit_every is not None and n_acked >= self._commit_every:
                            self._n_acked = 0
                            await self.commit()
                        await self.wait_first(callback(message), self.suspend_flow.wait())
                        self._read_offset[tp] = message.offset
                    self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """Offsets counted as done unseen: only those a fetch after a seek back confirmed
        the log does not have (compaction, retention). Said in the log, since on a topic
        that is not compacted a gap means events were removed before anyone read them."""
        log.warning("gap on %s[%d]: offsets %d-%d counted as done unseen (committed %s)",
                    tp.topic, tp.partition, offset_from, offset_to,
                    self._committed_offset.get(tp))
        await super()._add_gap(tp, offset_from, offset_to)

    def _filter_committable_offsets(self, tps: Iterable[TP]) -> dict[TP, int]:
        with ack_lock:  # acks may come from other threads; the set must hold still
            lowest = lowest_in_flight(list(self._unacked_messages))
        offsets = {}
        for tp in tps:
            offset = self._capped_new_offset(tp, lowest.get(tp))
            if offset is not None and self._should_commit(tp, offset):
                offsets[tp] = offset
        return offsets

    def _new_offset(self, tp: TP) -> int | None:
        with ack_lock:
            lowest = lowest_in_flight([m for m in list(self._unacked_messages) if m.tp == tp])
        return self._capped_new_offset(tp, lowest.get(tp))

    def _capped_new_offset(self, tp: TP, lowest: int | None) -> int | None:
        acked = self._acked[tp]
        if not acked:
            return None
        gaps = self._gap[tp]  # offsets Kafka will never deliver (compaction): count as acked
        if gaps:
            top = max(acked)
            spans = sorted(gaps.overlap(0, top), key=lambda span: span.begin)
            if spans:
                filled = [o for span in spans for o in range(span.begin, span.end)]
                acked.extend(filled)
                gaps.chop(0, max(filled[-1], top + 1))
        acked.sort()
        committed = self._committed_offset[tp]
        if committed and acked[0] - committed > 1:
            return None  # Faust's own guard: the head of the partition is not acked yet
        offset, covered = committable(acked, lowest)
        if offset is None:
            return None
        done = acked[:covered]
        del acked[:covered]
        self._acked_index[tp].difference_update(done)
        return offset


def use_in_flight_safe_consumer(app: Any) -> None:
    """Make `app`'s transport build InFlightSafeConsumer (before the app starts)."""
    app.transport.Consumer = InFlightSafeConsumer
