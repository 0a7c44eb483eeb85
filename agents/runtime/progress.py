"""Consumer progress, for a worker's liveness (/health).

Every step and sink of a worker records the offset it finished on each partition. A
partition is *stalled* for a consumer when it has lag (events on the partition that the
consumer has not finished) and the consumer finished nothing there for `stall_s`: a stuck
consumer, a handler that waits forever, a fetcher that stopped fetching. A worker with a
stalled partition is unhealthy, so an orchestrator restarts it and the group re-balances.
Lag is measured against end offsets asked from the broker, not the consumer's own fetch
state (which is what stops moving when a fetcher stalls).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field


@dataclass
class _Position:
    next_offset: int | None  # the next offset to finish; None: nothing known yet
    since: float  # when it last moved or was last caught up


@dataclass(frozen=True)
class PartitionHealth:
    consumer: str
    topic: str
    partition: int
    lag: int
    idle_s: float
    stalled: bool


@dataclass
class Progress:
    stall_s: float = 120.0
    clock: Callable[[], float] = time.monotonic
    _positions: dict[tuple[str, str, int], _Position] = field(default_factory=dict)

    def done(self, consumer: str, topic: str, partition: int, offset: int | None) -> None:
        """`consumer` finished the event at `offset` (handled, written or dead-lettered)."""
        if offset is None:
            return
        key = (consumer, topic, partition)
        pos = self._positions.get(key)
        if pos is None or pos.next_offset is None or offset + 1 > pos.next_offset:
            self._positions[key] = _Position(offset + 1, self.clock())

    def forget(self, topic: str, partition: int) -> None:
        """The partition was taken away (re-balance): its clock starts again when back."""
        for key in [k for k in self._positions if k[1:] == (topic, partition)]:
            del self._positions[key]

    def report(self, consumers: Mapping[str, Iterable[str]],
               assigned: Iterable[tuple[str, int]],
               end_offsets: Mapping[tuple[str, int], int],
               committed: Mapping[tuple[str, int], int | None]) -> list[PartitionHealth]:
        """Health of every assigned partition for every consumer of its topic.

        consumers: topic -> names of this worker's consumers of it; committed: the group's
        committed offset per partition, where a consumer that finished nothing yet stands.
        """
        now = self.clock()
        out = []
        for topic, partition in sorted(assigned):
            end = end_offsets.get((topic, partition))
            for consumer in consumers.get(topic, ()):
                key = (consumer, topic, partition)
                pos = self._positions.get(key)
                if pos is None:
                    pos = self._positions[key] = _Position(None, now)
                at = pos.next_offset
                if at is None:
                    at = committed.get((topic, partition)) or 0
                lag = max(0, end - at) if end is not None else 0
                if lag == 0:
                    pos.since = now  # caught up: an idle partition is not a stalled one
                idle = now - pos.since
                out.append(PartitionHealth(consumer, topic, partition, lag, round(idle, 1),
                                           lag > 0 and idle > self.stall_s))
        return out


def starved(partitions: Iterable[PartitionHealth], busy: set[tuple[str, int]],
            after_s: float) -> list[tuple[str, int]]:
    """Partitions the fetcher has stopped delivering: lag for every consumer of the
    partition, none of which finished anything for `after_s`, while nothing of it is being
    handled or waits in a queue (`busy`). A slow handler holds an event (busy), a full
    queue holds events (busy); with neither, events that exist are not being fetched."""
    by_tp: dict[tuple[str, int], list[PartitionHealth]] = {}
    for p in partitions:
        by_tp.setdefault((p.topic, p.partition), []).append(p)
    return sorted(tp for tp, ps in by_tp.items() if tp not in busy and all(
        p.lag > 0 and p.idle_s >= after_s for p in ps))
