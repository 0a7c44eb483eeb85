"""What an agent is to a runtime: named steps, each a plain async handler over one topic.

A step never sees Kafka, Faust or queues. It gets a typed event and a context, and returns
the events it wants published. Runtimes (local, faust) decode, dead-letter, dispatch, keep
state and publish.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from schemas.events import Event
from topics.catalogue import Topic

# What StepContext.services holds until the agent's services are open. A handler never sees
# it: dispatch treats it as "not ready yet", a failure a retry cures.
SERVICES_NOT_OPEN: Any = type("ServicesNotOpen", (), {"__repr__": lambda self: "<not open>"})()

# The state of a step that declares no table: reading finds nothing, writing is an error
# (state that no runtime persists or partitions would differ between the runtimes).
NO_STATE: Any = MappingProxyType({})


@dataclass(frozen=True)
class Emit:
    """An event a handler wants published on a topic (keyed by the topic's key field)."""

    topic: Topic
    event: Event

    @property
    def key(self) -> str:
        return self.topic.key_of(self.event)


@dataclass
class StepContext:
    """What a handler may use besides its event.

    state: this step's key-value state, partitioned like the consumed topic (a Faust table
        in the kafka runtime), so only use keys derived from the event's own key.
    shared: state every worker sees in full (a Faust global table), for small lookups such
        as stopped experiments or pattern statistics; windowed when the step says
        shared_expires.
    services: long-lived dependencies built once per process (LLM client, pattern store).
    window: this step's windowed state, partitioned like `state`: an entry expires
        settings.state_window_s after it was written (agents/runtime/window.py). For the
        markers that must outlive the state they guard ("this round is final"), so a
        redelivery after the end is recognised without keeping history forever.
    Values stored in state/shared/window must be JSON-serialisable. Per-experiment keys in
    `state` are deleted when their experiment (or round) ends.
    """

    state: MutableMapping[str, Any]
    shared: MutableMapping[str, Any]
    services: Any = None
    window: MutableMapping[str, Any] = field(default_factory=lambda: NO_STATE)


Handler = Callable[[Any, StepContext], Awaitable[Sequence[Emit]]]


@dataclass(frozen=True)
class Step:
    """One named step of an agent: consumes one topic, calls `handle` for each event."""

    name: str  # e.g. "trials.run_trial"; shows up in logs, metrics and dead-letter records
    consumes: Topic
    handle: Handler
    concurrency: int = 1  # events handled at once; >1 only for steps without ordered state
    state_table: str | None = None  # name of this step's partitioned state, if any
    shared_table: str | None = None  # name of the global state it reads/writes, if any
    window_table: str | None = None  # name of its windowed state (markers), if any
    # The shared table's entries expire like a window's (for global markers such as stop
    # flags, which must last as long as an experiment's backlog, not forever).
    shared_expires: bool = False
    # CPU work nothing waits on at once (grading, folding): the runtimes let the
    # event loop run between two of its events, so a backlog of it never holds up the
    # answers of the LLM calls in flight (whose handling issues the next calls).
    background: bool = False
    tags: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Agent:
    """A room: its steps, and the long-lived services they share (ctx.services).

    open_services(settings) is awaited once per process before any event; close_services
    once at shutdown.
    """

    name: str
    steps: tuple[Step, ...]
    open_services: Callable[[Any], Awaitable[Any]] | None = None
    close_services: Callable[[Any], Awaitable[None]] | None = None
