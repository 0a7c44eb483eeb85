"""One dispatch path: decode -> handle -> emits | retry | dead-letter (both runtimes)."""

from __future__ import annotations

import asyncpg
import pytest

from agents.runtime.contract import SERVICES_NOT_OPEN, Emit, Step, StepContext
from agents.runtime.dispatch import Delivery, Dispatched, dispatch
from agents.runtime.failures import RetryLater, RetryPolicy
from schemas.events import DeadLetter, ExperimentControl
from topics.catalogue import DEAD_LETTER, EXPERIMENT_CONTROL, MAX_EVENT_BYTES
from topics.codec import decode, encode

FAST = RetryPolicy(initial_s=0.001, max_s=0.01)


def control(exp: str = "e", reason: str = "") -> bytes:
    return encode(ExperimentControl(experiment_id=exp, command="stop", reason=reason))


def delivery(value: bytes, offset: int = 7) -> Delivery:
    return Delivery(EXPERIMENT_CONTROL, value, b"e", 0, offset)


def ctx(services=None) -> StepContext:
    return StepContext(state={}, shared={}, services=services)


def dead(handled: Dispatched) -> DeadLetter:
    [item] = handled.out
    assert handled.writes is None  # a dead-letter applies nothing
    assert item.topic is DEAD_LETTER
    return decode(DEAD_LETTER, item.value)


async def test_a_failure_a_retry_cures_is_retried_not_dead_lettered():
    calls = []

    async def cured_on_third_try(event, ctx):
        calls.append(1)
        if len(calls) < 3:
            raise asyncpg.CannotConnectNowError("the database system is starting up")
        return [Emit(EXPERIMENT_CONTROL, event)]

    step = Step("s.starting_up", EXPERIMENT_CONTROL, cured_on_third_try)
    out = (await dispatch(step, delivery(control()), ctx(), FAST)).out
    assert len(calls) == 3 and [o.topic for o in out] == [EXPERIMENT_CONTROL]


async def test_regression_restarted_worker_dead_lettered_trials_with_no_services():
    """Start-up race: a step ran before its services were open ('NoneType' object has no
    attribute 'llm') and the event was dead-lettered. Not open is now a wait, not a fault."""
    context = ctx(SERVICES_NOT_OPEN)
    seen = []

    async def uses_services(event, ctx):
        seen.append(ctx.services.llm)
        return []

    class Services:
        llm = "client"

    async def open_later():
        context.services = Services()

    step = Step("trials.run_trial", EXPERIMENT_CONTROL, uses_services)
    import asyncio

    task = asyncio.create_task(dispatch(step, delivery(control()), context, FAST))
    await asyncio.sleep(0.05)
    assert not task.done() and seen == []
    await open_later()
    assert (await asyncio.wait_for(task, 2)).out == [] and seen == ["client"]


async def test_an_error_in_the_event_is_dead_lettered_with_the_reason_and_offset():
    async def picky(event, ctx):
        raise ValueError(f"cannot handle {event.reason!r}")

    record = dead(await dispatch(Step("s.picky", EXPERIMENT_CONTROL, picky),
                                 delivery(control(reason="x"), offset=42), ctx(), FAST))
    assert record.offset == 42 and record.agent == "s.picky"
    assert "ValueError: cannot handle 'x'" in record.reason


async def test_retries_that_run_out_dead_letter_when_a_deadline_is_set():
    async def never(event, ctx):
        raise RetryLater("still down")

    policy = RetryPolicy(initial_s=0.001, max_s=0.01, give_up_s=0.05)
    record = dead(await dispatch(Step("s.never", EXPERIMENT_CONTROL, never),
                                 delivery(control()), ctx(), policy))
    assert "RetryLater: still down" in record.reason


async def test_an_emit_too_large_to_produce_dead_letters_its_input_instead_of_crashing():
    async def bloat(event, ctx):
        return [Emit(EXPERIMENT_CONTROL, ExperimentControl(
            experiment_id="e", command="stop", reason="x" * (MAX_EVENT_BYTES + 1)))]

    record = dead(await dispatch(Step("s.bloat", EXPERIMENT_CONTROL, bloat),
                                 delivery(control()), ctx(), FAST))
    assert "EventTooLarge" in record.reason and "limit" in record.reason


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\x00\xff" * 10])
async def test_undecodable_values_are_dead_lettered_without_calling_the_handler(raw):
    async def unreachable(event, ctx):
        raise AssertionError("handler called")

    record = dead(await dispatch(Step("s.x", EXPERIMENT_CONTROL, unreachable), delivery(raw),
                                 ctx(), FAST))
    assert record.raw_size == len(raw) and "invalid ExperimentControl" in record.reason


async def test_state_writes_are_held_until_the_runtime_applies_them():
    """Outputs before state: the kafka runtime publishes the emits, then applies the writes
    (a kill in between replays the event instead of leaving a marker for an output that was
    never sent: a round stuck at 20 of 30 trials in the faults benchmark)."""
    async def count(event, ctx):
        ctx.state["n"] = ctx.state.get("n", 0) + 1
        ctx.state.pop("old", None)
        assert ctx.state["n"] == 1 and "old" not in ctx.state  # the handler reads its writes
        return [Emit(EXPERIMENT_CONTROL, event)]

    context = StepContext(state={"old": True}, shared={})
    handled = await dispatch(Step("s.count", EXPERIMENT_CONTROL, count), delivery(control()),
                             context, FAST)
    assert [o.topic for o in handled.out] == [EXPERIMENT_CONTROL]
    assert context.state == {"old": True}
    handled.apply()
    assert context.state == {"n": 1}


async def test_a_failed_attempt_leaves_no_state_behind():
    attempts = []

    async def half_done_then_fails(event, ctx):
        attempts.append(1)
        ctx.state[f"attempt-{len(attempts)}"] = True
        if len(attempts) == 1:
            raise RetryLater("dependency down")
        return []

    context = ctx()
    handled = await dispatch(Step("s.half", EXPERIMENT_CONTROL, half_done_then_fails),
                             delivery(control()), context, FAST)
    handled.apply()
    assert context.state == {"attempt-2": True}
