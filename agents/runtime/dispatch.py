"""The one dispatch path: what every runtime does with each message a step consumes.

    decode -> handle -> encoded emits        (the event was handled)
                     -> retry with backoff    (a failure a retry can cure: see failures.py)
                     -> one dead-letter       (the event does not parse, the handler cannot
                                               handle it, or what it emits cannot be sent)

The local runtime and the Faust runtime both call `dispatch`, publish what it returns and
only then apply the state writes it staged (agents/runtime/staged.py: outputs before the
state that says they were produced), so they agree on every outcome, and the step metrics
are counted here and nowhere else.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from agents.runtime import metrics
from agents.runtime.contract import SERVICES_NOT_OPEN, Emit, Step, StepContext
from agents.runtime.staged import StagedContext
from agents.runtime.failures import (
    RetryPolicy,
    ServiceNotReady,
    call_with_retries,
    describe,
)
from schemas.events import Event
from topics.catalogue import DEAD_LETTER, PROMPT_SUBMITTED, Topic
from topics.codec import DecodeError, dead_letter, decode, encode

log = logging.getLogger("promptopt.dispatch")

# Published from outside the fleet (the API, the typed client): no step emits it, so its
# product metrics are counted when a step takes it in. Only optimizer.generate consumes it.
ENTRY_TOPICS = frozenset({PROMPT_SUBMITTED.name})


@dataclass(frozen=True)
class Delivery:
    """One message as a runtime received it: the raw value and where it came from."""

    topic: Topic
    value: bytes | None
    key: bytes | str | None = None
    partition: int = 0
    offset: int | None = None
    # The event already decoded, or built and validated by a step of this process (the
    # embedded runtime hands it on instead of decoding its own encoding again); None: the
    # raw value is decoded here, as every Kafka message is.
    event: Event | None = None


@dataclass(frozen=True)
class Outgoing:
    """An event ready to produce: encoded and size-checked, with its key."""

    topic: Topic
    key: bytes
    value: bytes
    event: Event


@dataclass
class Dispatched:
    """What handling one message produced: the events to publish, then the state writes to
    apply once they are published (None: nothing to apply, e.g. a dead-letter)."""

    out: list[Outgoing]
    writes: StagedContext | None = None

    def apply(self) -> None:
        if self.writes is not None:
            self.writes.apply()


def outgoing(topic: Topic, event: Event) -> Outgoing:
    """Encode an event for `topic`; raises EventTooLarge when it would not fit."""
    return Outgoing(topic, topic.key_of(event).encode(), encode(event), event)


async def dispatch(step: Step, delivery: Delivery, ctx: StepContext,
                   policy: RetryPolicy = RetryPolicy()) -> Dispatched:
    """Handle one message; returns what to publish (a dead-letter record instead, when the
    event is bad) and the state writes to apply after it. Returns only when the event is
    handled or dead-lettered: a retriable failure is retried here, so the runtime never
    moves past an event it did not finish. Each attempt stages its writes afresh: a failed
    attempt leaves nothing behind."""
    event = delivery.event
    if event is None:
        try:
            event = decode(delivery.topic, delivery.value)
        except DecodeError as err:
            return Dispatched([dead_lettered(step.name, delivery, str(err))])
    if delivery.topic.name in ENTRY_TOPICS:
        metrics.observe(delivery.topic, event)
    started = time.perf_counter()
    attempt: list[StagedContext] = []
    try:
        emits = await call_with_retries(lambda: _handle(step, event, ctx, attempt), policy,
                                        step.name)
        out = [outgoing(e.topic, e.event) for e in emits]
    except Exception as err:  # a bad event, or a failure retrying did not cure
        log.warning("%s gave up on %s[%s]@%s: %s", step.name, delivery.topic.name,
                    delivery.partition, delivery.offset, describe(err),
                    exc_info=not isinstance(err, ValueError))
        return Dispatched([dead_lettered(step.name, delivery,
                                         f"{step.name} failed: {describe(err)}")])
    metrics.step_ok(step.name, time.perf_counter() - started)
    for item in out:
        metrics.observe(item.topic, item.event)
    return Dispatched(out, attempt[-1])


async def _handle(step: Step, event: Event, ctx: StepContext, attempt: list[StagedContext]
                  ) -> list[Emit]:
    if ctx.services is SERVICES_NOT_OPEN:
        raise ServiceNotReady(f"{step.name}: services not open yet")
    staged = StagedContext(ctx)
    attempt.append(staged)  # the last attempt's writes are the ones applied
    return list(await step.handle(event, staged.ctx) or ())


def dead_lettered(agent: str, delivery: Delivery, reason: str) -> Outgoing:
    """The dead-letter record for a delivery, counted once, here."""
    metrics.child(metrics.STEP_EVENTS, agent, "dead-letter").inc()
    record = dead_letter(delivery.topic, delivery.value, reason, partition=delivery.partition,
                         offset=delivery.offset, key=delivery.key, agent=agent)
    metrics.observe(DEAD_LETTER, record)
    return outgoing(DEAD_LETTER, record)
