"""The trials agent as the local runtime runs it: events through the codec, steps wired by
AGENT, state and shared tables as the runtime keeps them."""

from __future__ import annotations

import json
from collections import Counter

from agents.runtime.local import LocalRuntime
from agents.trials import AGENT
from schemas.events import ExperimentControl, VariationGenerated
from schemas.experiment import Budget, ExperimentSpec, ModelSpec, TestCase, Variation
from topics.catalogue import EXPERIMENT_CONTROL, TRIAL_COMPLETED, VARIATION_GENERATED


def experiment(
    n_cases: int, *, budget: Budget = Budget(), exp: str = "exp-rt"
) -> VariationGenerated:
    prompt = "What is {{a}} + {{b}}?"
    spec = ExperimentSpec(
        prompt=prompt,
        test_cases=tuple(
            TestCase(id=f"t{i}", vars={"a": i, "b": 7}, expected=str(i + 7)) for i in range(n_cases)
        ),
        models=(ModelSpec(id="sim/small"), ModelSpec(id="sim/large")),
        budget=budget,
    )
    variations = (
        Variation(variation_id="c", name="control", prompt=prompt, is_control=True),
        Variation(variation_id="v", name="only-number", prompt=prompt + " Answer only the number."),
    )
    return VariationGenerated(experiment_id=exp, variations=variations, spec=spec)


async def test_faulty_simulator_every_trial_reported_once(make_sim, settings_for):
    faults = {"rate_429": 0.1, "rate_500": 0.05, "rate_timeout": 0.05}
    done = []
    async with make_sim(seed=11, **faults) as sim:
        settings = settings_for(sim, llm_timeout_s=2.0, llm_max_retries=1)
        observers = [(TRIAL_COMPLETED, lambda _t, e: done.append(e))]
        async with LocalRuntime([AGENT], settings, observers=observers) as rt:
            await rt.publish(VARIATION_GENERATED, experiment(10, budget=Budget(max_trials=36)))
            await rt.run_until_idle(timeout=60)
    assert len(done) == 40 == done[0].trial.expected_trials
    assert len({d.trial.trial_id for d in done}) == 40
    statuses = Counter(d.status for d in done)
    assert statuses["skipped"] == 4 and statuses["completed"] > 20
    assert all(d.reason for d in done if d.status != "completed")
    assert sum(d.attempts for d in done) == sim.simulator.requests


async def test_stop_command_reaches_run_trial_through_the_shared_table(make_sim, settings_for):
    done = []
    async with make_sim() as sim:
        observers = [(TRIAL_COMPLETED, lambda _t, e: done.append(e))]
        async with LocalRuntime([AGENT], settings_for(sim), observers=observers) as rt:
            await rt.publish(
                EXPERIMENT_CONTROL,
                ExperimentControl(experiment_id="exp-rt", command="stop", reason="enough"),
            )
            await rt.run_until_idle(timeout=10)
            await rt.publish(VARIATION_GENERATED, experiment(3))
            await rt.run_until_idle(timeout=30)
            json.dumps(rt.table("trials-control"))  # shared state must be JSON
        assert sim.simulator.requests == 0
    assert len(done) == 12 and {d.reason for d in done} == {"stopped: enough"}
