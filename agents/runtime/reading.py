"""Which fetched record a Faust worker hands on: every offset of a partition, in order, from
where its reading was last set.

Faust (faust-streaming 0.15.3) keeps one read offset per partition and treats a record
above it by more than one as a gap it counts as done unseen (compaction removes records),
and a record below it as one already read. Both go wrong when the read offset and the fetch
position disagree, and Faust sets them apart itself: its seek back to the committed offsets
(after a rebalance, after its recovery) seeks aiokafka partition by partition with one
broker round trip each, while the fetcher keeps delivering, and writes the read offsets
only at the end. The full fault run of 16:49 lost 307 trials so: a restarted worker's seek
set trial-completed[1] back to 708, the fetcher had meanwhile read on, Faust then took
offset 1002 for a gap of 709-1001, and the commit of 1003 passed over 294 events no one had
graded.

The rule here needs no agreement between the two: a record that is not the next one
expected is never handed on as if the ones before it had been. Above the next expected
offset, the partition is sought back to it; only if a fetch after that seek still starts
above it does the log really have nothing there (compaction, retention), and the span is a
gap. Below it, the record was handed on already. A seek sets the next expected offset,
whichever way it moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Verdict(Enum):
    DELIVER = "deliver"   # the next record: hand it on
    DROP = "drop"         # already handed on, or a record fetched before a seek back
    SEEK_BACK = "seek"    # records before it were never handed on: read them first
    GAP = "gap"           # a fetch after the seek back confirms the log has none of them


@dataclass
class Reading:
    """One partition's reading: the next offset to hand on (None: wherever the fetch
    starts), and the batch in which it was sought back to that offset, if it was."""
    expected: int | None = None
    sought_in: int | None = None

    def judge(self, offset: int, batch: int) -> Verdict:
        """What to do with a record at `offset` fetched in batch number `batch`. A batch
        is one fetch of the consumer; a fetch after a seek reads from the new position
        (aiokafka discards records fetched for the old one), so a batch later than the
        seek's tells what the log has."""
        if self.expected is None or offset == self.expected:
            verdict = Verdict.DELIVER
        elif offset < self.expected:
            return Verdict.DROP
        elif self.sought_in is None:
            self.sought_in = batch
            return Verdict.SEEK_BACK
        elif batch > self.sought_in:
            verdict = Verdict.GAP
        else:
            return Verdict.DROP  # the rest of the batch fetched before the seek back
        # Moved on before the record is handed on: a seek while it is being handed on (a
        # rebalance) then sets where reading goes on, and is not overwritten afterwards.
        self.expected, self.sought_in = offset + 1, None
        return verdict

    def sought(self, offset: int | None) -> None:
        """The partition was sought to `offset` (None: to a position not known here)."""
        self.expected, self.sought_in = offset, None
