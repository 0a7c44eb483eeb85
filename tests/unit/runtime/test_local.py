"""The local runtime: dispatch, state, dead-letter and idle detection, with toy agents."""

from __future__ import annotations

import pytest

from agents.runtime.contract import Agent, Emit, Step, StepContext
from agents.runtime.local import LocalRuntime
from schemas.events import DeadLetter, ExperimentControl
from topics.catalogue import DEAD_LETTER, EXPERIMENT_CONTROL, PROMPT_SUBMITTED


def _control(exp: str, reason: str = "") -> ExperimentControl:
    return ExperimentControl(experiment_id=exp, command="stop", reason=reason)


def _collector(into: list):
    def collect(topic, event):
        into.append(event)

    return collect


async def test_every_step_on_a_topic_sees_every_event_and_keeps_its_state():
    async def count(event: ExperimentControl, ctx: StepContext) -> list[Emit]:
        ctx.state[event.experiment_id] = ctx.state.get(event.experiment_id, 0) + 1
        return []

    agents = [Agent("a", (Step("a.count", EXPERIMENT_CONTROL, count, state_table="a"),)),
              Agent("b", (Step("b.count", EXPERIMENT_CONTROL, count, state_table="b"),))]
    async with LocalRuntime(agents) as rt:
        for exp in ("e1", "e1", "e2"):
            await rt.publish(EXPERIMENT_CONTROL, _control(exp))
        await rt.run_until_idle(timeout=5)
        states = [rt.table("a"), rt.table("b")]
    assert states == [{"e1": 2, "e2": 1}, {"e1": 2, "e2": 1}]


async def test_malformed_bytes_go_to_dead_letter_and_later_events_still_flow():
    seen: list[str] = []
    dead: list[DeadLetter] = []

    async def record(event: ExperimentControl, ctx: StepContext) -> list[Emit]:
        seen.append(event.experiment_id)
        return []

    agent = Agent("a", (Step("a.record", EXPERIMENT_CONTROL, record),))
    async with LocalRuntime([agent], observers=[(DEAD_LETTER, _collector(dead))]) as rt:
        await rt.publish_raw(EXPERIMENT_CONTROL, "k", b"{not json")
        await rt.publish_raw(EXPERIMENT_CONTROL, "k", b'{"experiment_id": "x"}')
        await rt.publish(EXPERIMENT_CONTROL, _control("good"))
        await rt.run_until_idle(timeout=5)
    assert seen == ["good"]
    assert [d.offset for d in dead] == [0, 1]
    assert all(d.source_topic == "experiment-control" and d.agent == "a.record" for d in dead)
    assert "Invalid JSON" in dead[0].reason and dead[0].raw_value == "{not json"
    assert "command: Field required" in dead[1].reason


async def test_a_handler_that_raises_is_dead_lettered_not_fatal():
    dead: list[DeadLetter] = []

    async def explode(event: ExperimentControl, ctx: StepContext) -> list[Emit]:
        if event.reason == "boom":
            raise RuntimeError("boom")
        return [Emit(EXPERIMENT_CONTROL, _control(event.experiment_id + "-next", "ok"))]

    agent = Agent("a", (Step("a.explode", EXPERIMENT_CONTROL, explode),))
    async with LocalRuntime([agent], observers=[(DEAD_LETTER, _collector(dead))]) as rt:
        await rt.publish(EXPERIMENT_CONTROL, _control("e", "boom"))
        await rt.run_until_idle(timeout=5)
    assert len(dead) == 1 and "a.explode failed: RuntimeError: boom" in dead[0].reason


async def test_emitted_events_are_processed_before_idle():
    hops: list[int] = []

    async def relay(event: ExperimentControl, ctx: StepContext) -> list[Emit]:
        hop = int(event.reason or 0)
        hops.append(hop)
        if hop >= 5:
            return []
        return [Emit(EXPERIMENT_CONTROL, _control("e", str(hop + 1)))]

    agent = Agent("a", (Step("a.relay", EXPERIMENT_CONTROL, relay, concurrency=3),))
    async with LocalRuntime([agent]) as rt:
        await rt.publish(EXPERIMENT_CONTROL, _control("e", "0"))
        await rt.run_until_idle(timeout=5)
    assert hops == [0, 1, 2, 3, 4, 5]


async def test_services_are_opened_once_and_closed():
    calls: list[str] = []

    async def open_services(settings):
        calls.append("open")
        return {"n": 1}

    async def close_services(services):
        calls.append(f"close {services['n']}")

    async def use(event, ctx):
        calls.append(f"use {ctx.services['n']}")
        return []

    agent = Agent("a", (Step("a.use", PROMPT_SUBMITTED, use),), open_services, close_services)
    async with LocalRuntime([agent]):
        pass
    assert calls == ["open", "close 1"]


@pytest.mark.parametrize("raw", [b"", b"null", b"[]"])
async def test_empty_or_wrong_shaped_values_are_dead_lettered(raw):
    dead: list[DeadLetter] = []
    agent = Agent("a", (Step("a.noop", EXPERIMENT_CONTROL, lambda e, c: None),))
    async with LocalRuntime([agent], observers=[(DEAD_LETTER, _collector(dead))]) as rt:
        await rt.publish_raw(EXPERIMENT_CONTROL, "k", raw)
        await rt.run_until_idle(timeout=5)
    assert len(dead) == 1 and dead[0].raw_size == len(raw) and not dead[0].raw_truncated


async def test_every_consumer_and_observer_shares_one_decoded_event(monkeypatch):
    # The consumers of an in-process event get the event its producer built (decoded once
    # for bytes from outside), not one decode each: that was most of a trial's CPU.
    import agents.runtime.dispatch as dispatch_module
    import agents.runtime.local as local_module

    decodes: list[str] = []
    real = local_module.decode

    def counting(topic, raw):
        decodes.append(topic.name)
        return real(topic, raw)

    monkeypatch.setattr(local_module, "decode", counting)
    monkeypatch.setattr(dispatch_module, "decode", counting)
    seen: list[ExperimentControl] = []

    async def record(event: ExperimentControl, ctx: StepContext) -> list[Emit]:
        seen.append(event)
        return []

    agents = [Agent("a", (Step("a.record", EXPERIMENT_CONTROL, record),)),
              Agent("b", (Step("b.record", EXPERIMENT_CONTROL, record),))]
    observed: list[ExperimentControl] = []
    async with LocalRuntime(agents, observers=[(EXPERIMENT_CONTROL, _collector(observed))]
                            ) as rt:
        built = _control("built")
        await rt.publish(EXPERIMENT_CONTROL, built)
        await rt.publish_raw(EXPERIMENT_CONTROL, "k", _control("raw").model_dump_json().encode())
        await rt.run_until_idle(timeout=5)
    assert decodes == ["experiment-control"]  # the raw bytes, once
    assert sorted(e.experiment_id for e in seen) == ["built", "built", "raw", "raw"]
    assert [e for e in seen if e.experiment_id == "built"] == [built, built]
    assert all(e is built for e in seen if e.experiment_id == "built")
    assert all(e is observed[1] for e in seen if e.experiment_id == "raw")


async def test_an_emitted_event_the_codec_refuses_is_dead_lettered_by_each_consumer():
    # As on Kafka: a NUL in a plain str field passes the model but not the codec's decode.
    dead: list[DeadLetter] = []
    seen: list[str] = []

    async def relay(event: ExperimentControl, ctx: StepContext) -> list[Emit]:
        seen.append(event.reason)
        if event.reason == "start":
            return [Emit(EXPERIMENT_CONTROL, _control("e", "bad\u0000"))]
        return []

    agent = Agent("a", (Step("a.relay", EXPERIMENT_CONTROL, relay),))
    async with LocalRuntime([agent], observers=[(DEAD_LETTER, _collector(dead))]) as rt:
        await rt.publish(EXPERIMENT_CONTROL, _control("e", "start"))
        await rt.run_until_idle(timeout=5)
    assert seen == ["start"]
    assert len(dead) == 1 and "reason contains NUL" in dead[0].reason
