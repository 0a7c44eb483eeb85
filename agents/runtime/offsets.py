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
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.types import TP
from faust.types.tuples import ack_lock

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

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        self._owned = self._owned.difference(revoked)
        await super().on_partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        self._owned = frozenset(assigned)  # the whole assignment (eager rebalancing)
        await super().on_partitions_assigned(assigned, generation_id)

    def ack(self, message: Any) -> bool:
        """An event of a partition revoked meanwhile (a sink's batch written across a
        rebalance) is not recorded: Faust clears a revoked partition's acked offsets, and a
        late ack would put a stale one back; once the partition returns, the committable run
        would start at it — committing the partition's offset backwards, then never again
        (the gap after it is never delivered)."""
        if message.tp not in self._owned:
            with ack_lock:
                message.acked = True
                self._unacked_messages.discard(message)
            return False
        return bool(super().ack(message))

    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed: Mapping[Any, int | None] = await super().seek_to_committed()
        # In the consumer's thread, as every call on the aiokafka consumer is.
        await self._thread.call_thread(
            seek_uncommitted, self._thread._ensure_consumer(), committed,
            self.app.conf.consumer_auto_offset_reset, self.app.tables.changelog_topics)
        return committed  # type: ignore[return-value]

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """Faust counts offsets it did not see arrive as done (gaps: compaction removes
        records). On a topic that is not compacted a gap means events were skipped, so
        every gap is said in the log (the full fault run of 16:49 lost the events of one
        partition that existed when a restarted worker took it, and committed past them:
        a gap is one way Faust does that)."""
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
