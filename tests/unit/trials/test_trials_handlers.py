"""The trials steps driven directly (no runtime, no Kafka) against the in-process simulator."""

from __future__ import annotations

import asyncio
from collections import Counter

from agents.runtime.contract import StepContext
from agents.trials import AGENT, control, fan_out, run_trial
from agents.trials.plan import BUDGET_TRIALS_REASON
from schemas.events import ExperimentControl, TrialCompleted, TrialRequested, VariationGenerated
from schemas.experiment import Budget, ExperimentSpec, ModelSpec, TestCase, Variation
from topics.catalogue import TRIAL_COMPLETED, TRIAL_REQUESTED

REVIEWS = ["I loved it", "awful and broken", "it came on Monday", "great value", "worst ever"]


def round_event(
    *,
    n_cases=3,
    models=("sim/small",),
    reps=1,
    budget=Budget(),
    round_=1,
    prompt="Classify the sentiment: {{text}}",
    temperature=0.0,
    experiment_id="exp-1",
) -> VariationGenerated:
    spec = ExperimentSpec(
        prompt=prompt,
        test_cases=tuple(
            TestCase(id=f"tc{i}", vars={"text": REVIEWS[i % len(REVIEWS)]}) for i in range(n_cases)
        ),
        models=tuple(ModelSpec(id=m, temperature=temperature) for m in models),
        budget=budget,
        analysis={"repetitions": reps},
    )
    variations = (
        Variation(variation_id="v0", name="control", prompt=prompt, is_control=True),
        Variation(
            variation_id="v1",
            name="one-word",
            patterns=("output-format",),
            prompt="You are an expert. " + prompt + " Answer with one word.",
        ),
    )
    return VariationGenerated(
        experiment_id=experiment_id, round=round_, variations=variations, spec=spec
    )


async def run_all(requests: list[TrialRequested], ctx: StepContext) -> list[TrialCompleted]:
    outs = await asyncio.gather(*(run_trial(r, ctx) for r in requests))
    return [emit.event for out in outs for emit in out]


async def test_fan_out_plans_every_combination_with_stable_unique_ids():
    event = round_event(n_cases=3, models=("sim/small", "sim/large"), reps=2)
    ctx = StepContext(state={}, shared={})
    emits = await fan_out(event, ctx)
    assert len(emits) == 2 * 3 * 2 * 2
    assert {e.topic for e in emits} == {TRIAL_REQUESTED}
    ids = [e.event.trial.trial_id for e in emits]
    assert len(set(ids)) == len(ids)
    assert {e.event.trial.expected_trials for e in emits} == {24}
    again = await fan_out(event, StepContext(state={}, shared={}))
    assert [e.event.trial.trial_id for e in again] == ids
    assert all(e.key == e.event.trial.trial_id for e in emits)


async def test_max_trials_cap_reports_the_rest_as_skipped():
    event = round_event(n_cases=5, budget=Budget(max_trials=6))
    ctx = StepContext(state={}, shared={})
    emits = await fan_out(event, ctx)
    by_topic = Counter(e.topic.name for e in emits)
    assert by_topic == {TRIAL_REQUESTED.name: 6, TRIAL_COMPLETED.name: 4}
    skipped = [e.event for e in emits if e.topic == TRIAL_COMPLETED]
    assert all(s.status == "skipped" and s.reason == BUDGET_TRIALS_REASON for s in skipped)
    assert all(s.trial.expected_trials == 10 for s in skipped)
    # The cut keeps pairs: both variations got the same test cases.
    asked = Counter(e.event.trial.test_case.id for e in emits if e.topic == TRIAL_REQUESTED)
    assert set(asked.values()) == {2}

    # A redelivered round asks for the same trials; a second round only gets what is left
    # of the budget after what its experiment's earlier rounds used (the round says it).
    assert len([e for e in await fan_out(event, ctx) if e.topic == TRIAL_REQUESTED]) == 6
    later = round_event(n_cases=2, budget=Budget(max_trials=6), round_=2)
    second = await fan_out(later.model_copy(update={"trials_used": 6}), ctx)
    assert all(e.topic == TRIAL_COMPLETED for e in second) and len(second) == 4
    third = await fan_out(later.model_copy(update={"trials_used": 4}), ctx)
    assert Counter(e.topic.name for e in third)[TRIAL_REQUESTED.name] == 2
    assert ctx.state == {}  # stateless: nothing per experiment is kept


async def test_run_trial_renders_calls_and_reports(make_sim, settings_for, trials_ctx):
    async with make_sim(base_quality=1.0, model_quality={}) as sim:
        ctx = await trials_ctx(settings_for(sim))
        requests = [e.event for e in await fan_out(round_event(), StepContext({}, {}))]
        done = await run_all(requests, ctx)
    assert len(done) == len(requests) == 6
    assert {d.trial.trial_id for d in done} == {r.trial.trial_id for r in requests}
    for d in done:
        assert d.status == "completed" and d.cost_usd > 0 and d.prompt_tokens and d.attempts == 1
        assert d.trial.expected_trials == 6 and d.trial.model.id == "sim/small"
    one_word = {
        d.trial.test_case.vars["text"]: d.response
        for d in done if d.trial.variation.variation_id == "v1"
    }
    assert one_word == {
        "I loved it": "positive",
        "awful and broken": "negative",
        "it came on Monday": "neutral",
    }
    wrapped = [d.response for d in done if d.trial.variation.variation_id == "v0"]
    assert all(r.startswith("The sentiment of this review is") for r in wrapped)


async def test_better_prompt_scores_higher_on_the_simulator(make_sim, settings_for, trials_ctx):
    async with make_sim(seed=2) as sim:
        ctx = await trials_ctx(settings_for(sim))
        event = round_event(n_cases=40, models=("sim/medium",))
        done = await run_all([e.event for e in await fan_out(event, StepContext({}, {}))], ctx)
    from agents.trials.simulator.content import true_sentiment

    right = Counter(
        d.trial.variation.variation_id
        for d in done
        if true_sentiment(d.trial.test_case.vars["text"]) in (d.response or "")
    )
    assert right["v1"] > right["v0"]


async def test_missing_variable_is_a_failed_trial_with_reason(make_sim, settings_for, trials_ctx):
    async with make_sim() as sim:
        ctx = await trials_ctx(settings_for(sim))
        event = round_event(n_cases=1, prompt="Classify {{text}} for {{audience}}")
        done = await run_all([e.event for e in await fan_out(event, StepContext({}, {}))], ctx)
        assert sim.simulator.requests == 0
    assert all(d.status == "failed" and "audience" in d.reason for d in done)


async def test_stop_command_skips_later_trials_without_calling(make_sim, settings_for, trials_ctx):
    async with make_sim() as sim:
        shared: dict = {}
        ctx = await trials_ctx(settings_for(sim), shared=shared)
        requests = [e.event for e in await fan_out(round_event(), StepContext({}, {}))]
        await control(ExperimentControl(experiment_id="exp-1", command="stop", reason="user"), ctx)
        await control(ExperimentControl(experiment_id="other", command="budget-exhausted"), ctx)
        done = await run_all(requests, ctx)
        assert sim.simulator.requests == 0
    assert shared == {"stopped:exp-1": "stopped: user", "stopped:other": "budget: max_cost_usd"}
    assert all(d.status == "skipped" and d.reason == "stopped: user" for d in done)


async def test_cost_budget_stops_a_worker_within_its_in_flight_calls(
    make_sim, settings_for, trials_ctx
):
    async with make_sim() as sim:
        ctx = await trials_ctx(settings_for(sim))
        event = round_event(n_cases=5, budget=Budget(max_cost_usd=1e-4))
        requests = [e.event for e in await fan_out(event, StepContext({}, {}))]
        done = [d for r in requests for d in await run_all([r], ctx)]  # one at a time
    paid = [d for d in done if d.status == "completed"]
    price = max(d.cost_usd for d in paid)
    assert 0 < len(paid) < len(done)
    assert sum(d.cost_usd for d in paid) < 1e-4 + price  # at most one call (in flight) over
    assert all(d.reason == "budget: max_cost_usd" for d in done if d.status == "skipped")


async def test_with_20_percent_faults_every_trial_is_accounted_for(
    make_sim, settings_for, trials_ctx
):
    faults = {"rate_429": 0.08, "rate_500": 0.08, "rate_timeout": 0.04}
    async with make_sim(seed=9, **faults) as sim:
        ctx = await trials_ctx(settings_for(sim, llm_timeout_s=2.0, llm_max_retries=1))
        event = round_event(n_cases=20, budget=Budget(max_trials=36))
        emits = await fan_out(event, StepContext({}, {}))
        skipped = [e.event for e in emits if e.topic == TRIAL_COMPLETED]
        done = await run_all([e.event for e in emits if e.topic == TRIAL_REQUESTED], ctx)
    outcomes = Counter(d.status for d in done + skipped)
    assert sum(outcomes.values()) == 40 == done[0].trial.expected_trials
    assert outcomes["skipped"] == 4 and outcomes["completed"] > 0
    assert all(d.reason for d in done if d.status == "failed")
    assert sum(d.attempts for d in done) == sim.simulator.requests


async def test_rerun_at_temperature_zero_makes_no_new_calls(make_sim, settings_for, trials_ctx):
    async with make_sim() as sim:
        ctx = await trials_ctx(settings_for(sim))
        event = round_event(n_cases=4, reps=2)
        requests = [e.event for e in await fan_out(event, StepContext({}, {}))]
        first = await run_all(requests, ctx)
        calls = sim.simulator.requests
        assert calls == 8  # repetitions at temperature 0 are one call each
        rerun = await run_all(
            [
                e.event
                for e in await fan_out(
                    round_event(n_cases=4, reps=2, experiment_id="exp-2"), StepContext({}, {})
                )
            ],
            ctx,
        )
        assert sim.simulator.requests == calls
    assert all(d.cached and d.cost_usd == 0 for d in rerun)
    assert sorted(d.response for d in rerun) == sorted(d.response for d in first)


def test_agent_wiring():
    steps = {s.name: s for s in AGENT.steps}
    assert set(steps) == {"trials.fan_out", "trials.run_trial", "trials.control"}
    assert steps["trials.run_trial"].shared_table == steps["trials.control"].shared_table
    assert steps["trials.run_trial"].concurrency > 1


async def test_budget_and_domain_travel_with_every_trial(make_sim, settings_for, trials_ctx):
    """The scorer enforces the money budget and labels analyses by domain from these."""
    budget = Budget(max_trials=4, max_cost_usd=1.0)
    event = round_event(n_cases=3, budget=budget)
    event = event.model_copy(update={"spec": event.spec.model_copy(update={"domain": "reviews"})})
    emits = await fan_out(event, StepContext({}, {}))
    skipped = [e.event for e in emits if e.topic == TRIAL_COMPLETED]
    requests = [e.event for e in emits if e.topic == TRIAL_REQUESTED]
    async with make_sim() as sim:
        done = await run_all(requests, await trials_ctx(settings_for(sim)))
    for event in [*requests, *skipped, *done]:
        assert event.trial.budget == budget and event.trial.domain == "reviews"


async def test_a_round_decided_early_does_not_stop_the_next_round(
        make_sim, settings_for, trials_ctx):
    async with make_sim() as sim:
        shared: dict = {}
        ctx = await trials_ctx(settings_for(sim), shared=shared)
        await control(ExperimentControl(experiment_id="exp-1", command="stop", round=1,
                                        reason="winner found"), ctx)
        round_1 = [e.event for e in await fan_out(round_event(round_=1), StepContext({}, {}))]
        round_2 = [e.event for e in await fan_out(round_event(round_=2), StepContext({}, {}))]
        first, second = await run_all(round_1, ctx), await run_all(round_2, ctx)
    assert all(d.status == "skipped" and d.reason == "stopped: winner found" for d in first)
    assert all(d.status == "completed" for d in second)


async def test_fan_out_fixes_the_planned_pairs_the_group_sequential_looks_are_fractions_of():
    event = round_event(n_cases=3, models=("sim/small", "sim/large"), reps=2)
    emits = await fan_out(event, StepContext(state={}, shared={}))
    # Each variation shares 3 test cases x 2 models x 2 repetitions with the control.
    assert {e.event.trial.analysis.planned_pairs for e in emits} == {12}
    assert {e.event.trial.analysis.family_size for e in emits} == {1}


async def test_fan_out_works_out_the_round_analysis_once_not_once_per_trial(monkeypatch):
    # Regression: every trial recomputed the planned pairs by walking every cell of the
    # round, so fanning out 2,000 trials took seconds (quadratic in the round's size).
    import agents.trials.plan as plan

    walks: list[int] = []
    real = plan.planned_pairs
    monkeypatch.setattr(plan, "planned_pairs", lambda event: walks.append(1) or real(event))
    event = round_event(n_cases=5, models=("sim/small", "sim/large"), budget=Budget(max_trials=12))
    emits = await fan_out(event, StepContext(state={}, shared={}))
    assert len(emits) == 20 and len(walks) == 1
    assert {e.event.trial.analysis.planned_pairs for e in emits} == {10}


async def test_a_trial_whose_test_has_a_perplexity_assertion_asks_for_logprobs(
        make_sim, settings_for, trials_ctx):
    from schemas.experiment import Assertion

    event = round_event(n_cases=2)
    perplexity = Assertion(type="perplexity-score", threshold=0.3)
    cases = (event.spec.test_cases[0].model_copy(update={"assertions": (perplexity,)}),
             event.spec.test_cases[1])
    event = event.model_copy(update={"spec": event.spec.model_copy(
        update={"test_cases": cases})})
    requests = [e.event for e in await fan_out(event, StepContext(state={}, shared={}))]
    asked = {r.trial.test_case.id: r.trial.model.logprobs for r in requests}
    assert asked == {"tc0": True, "tc1": False}
    async with make_sim() as sim:
        done = await run_all(requests, await trials_ctx(settings_for(sim)))
    by_case = {t.trial.test_case.id: t for t in done}
    lp = by_case["tc0"].logprobs
    assert lp is not None and lp.tokens == len(by_case["tc0"].response.split())
    assert lp.total < 0 and by_case["tc1"].logprobs is None


async def test_the_plan_size_the_optimizer_budgets_with_is_the_plan_fan_out_makes():
    """The optimizer counts trials_used with VariationGenerated.planned_trials(); fan-out
    plans with plan_round. They must agree, per-provider prompts included."""
    from agents.trials.plan import plan_round

    event = round_event(n_cases=3)
    spec = event.spec.model_copy(update={"models": (*event.spec.models, ModelSpec(id="sim/large"))})
    narrow = event.variations[1].model_copy(update={"models": ("sim/large",)})
    event = event.model_copy(update={"spec": spec,
                                     "variations": (event.variations[0], narrow)})
    assert event.planned_trials() == len(plan_round(event)) == 3 * 2 + 3


async def test_a_test_case_on_some_models_runs_there_only_and_the_count_stays_exact():
    event = round_event(n_cases=3, models=("sim/small", "sim/large"))
    cases = (event.spec.test_cases[0].model_copy(update={"models": ("sim/small",)}),
             *event.spec.test_cases[1:])
    event = event.model_copy(update={"spec": event.spec.model_copy(
        update={"test_cases": cases})})
    emits = await fan_out(event, StepContext(state={}, shared={}))
    ran = Counter((e.event.trial.test_case.id, e.event.trial.model.id) for e in emits)
    assert ran == {("tc0", "sim/small"): 2, ("tc1", "sim/small"): 2, ("tc1", "sim/large"): 2,
                   ("tc2", "sim/small"): 2, ("tc2", "sim/large"): 2}
    # the round ends when this many have reported; the looks are fractions of these pairs
    assert {e.event.trial.expected_trials for e in emits} == {10}
    assert {e.event.trial.analysis.planned_pairs for e in emits} == {5}
    assert event.spec.cells() == 5 and event.planned_trials() == 10
