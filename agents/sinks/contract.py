"""The sink contract: write a batch of events of one topic, idempotently.

A runtime may hand a sink the same event twice (at-least-once delivery, replays); the
sink's writes make the second time a no-op. Batches come in topic order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from schemas.events import Event
from topics.catalogue import Topic


class Sink(Protocol):
    # Read-only, so a sink may declare the precise topics it reads (Topic[TrialCompleted]).
    @property
    def name(self) -> str: ...

    @property
    def topics(self) -> tuple[Topic, ...]: ...

    async def open(self) -> None: ...

    async def write(self, topic: Topic, events: Sequence[Event]) -> None: ...

    async def close(self) -> None: ...
