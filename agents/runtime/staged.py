"""A step's state writes, held back until what the step emitted is published.

A handler both changes its state (the round's counts, the trial's marker, "this round is
final") and emits events (the analysis). In the Kafka runtime the two go out on different
topics — the state through its table's changelog — and nothing orders them. A worker killed
after its changelog writes reached the broker but before its emits did leaves state that
says "handled" for an event whose output never appeared; the event's offset is not
committed, so its next owner gets it again, reads the marker, skips it as a redelivery, and
the output is lost for good (benchmarks/faults, kill -9 of a worker: a round stuck at 20 of
30 trials, its final analysis never sent). With the writes staged, the order is: emits
published and acknowledged, then the state written, then the offset committed; a crash at
any point replays the event, and a replay only duplicates emits, which every consumer
tolerates (at-least-once).

Staging per handling attempt also keeps a failed attempt's partial writes out of the state
that the retry (or the dead-letter) starts from.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from dataclasses import replace
from typing import Any

from agents.runtime.contract import NO_STATE, StepContext

_DELETED = object()


class StagedMapping(MutableMapping[str, Any]):
    """Reads see the staged writes over the underlying mapping; apply() writes them through,
    in the order they were made."""

    def __init__(self, base: MutableMapping[str, Any]) -> None:
        self.base = base
        self.writes: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key not in self.writes:
            return self.base[key]
        value = self.writes[key]
        if value is _DELETED:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes.pop(key, None)  # re-inserted last: the write order is the apply order
        self.writes[key] = value

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self.writes.pop(key, None)
        self.writes[key] = _DELETED

    def __contains__(self, key: object) -> bool:
        if key in self.writes:
            return self.writes[key] is not _DELETED  # type: ignore[index]
        return key in self.base

    def __iter__(self) -> Iterator[str]:
        for key in self.base:
            if key not in self.writes:
                yield key
        for key, value in self.writes.items():
            if value is not _DELETED:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def apply(self) -> None:
        for key, value in self.writes.items():
            if value is _DELETED:
                self.base.pop(key, None)
            else:
                self.base[key] = value
        self.writes.clear()


class StagedContext:
    """A StepContext whose state, window and shared tables are staged."""

    def __init__(self, ctx: StepContext) -> None:
        self._staged = [StagedMapping(m) if m is not NO_STATE else None
                        for m in (ctx.state, ctx.window, ctx.shared)]
        state, window, shared = (s if s is not None else NO_STATE for s in self._staged)
        self.ctx = replace(ctx, state=state, window=window, shared=shared)

    @property
    def dirty(self) -> bool:
        return any(s is not None and s.writes for s in self._staged)

    def apply(self) -> None:
        for staged in self._staged:
            if staged is not None:
                staged.apply()

    def discard(self) -> None:
        for staged in self._staged:
            if staged is not None:
                staged.writes.clear()
