"""The optimizer.generate and optimizer.next_round steps, driven directly."""

from __future__ import annotations

import re
from collections import Counter

from agents.optimizer import AGENT
from agents.optimizer.novelty import drop_near_duplicates, is_near_duplicate
from agents.patterns.learning import stats_key
from agents.runtime.contract import StepContext
from schemas.events import AnalysisReady, PromptSubmitted, VariationGenerated, VariationResult
from schemas.experiment import ExperimentSpec
from topics.catalogue import VARIATION_GENERATED

STEPS = {s.name: s for s in AGENT.steps}
GENERATE = STEPS["optimizer.generate"]
NEXT_ROUND = STEPS["optimizer.next_round"]
PROMPT = "Tell me what you think of this {{product}} review: {{review}}"
# No issue for the analysis to fix, so pattern choice is Thompson sampling alone.
CLEAN_PROMPT = """Classify the sentiment of the {{product}} review in <review> tags as positive or negative.

Examples:
"Works perfectly" -> positive
"Broke in a day" -> negative

<review>{{review}}</review>

Respond with only the label, nothing else."""


def _spec(**overrides) -> ExperimentSpec:
    fields = dict(
        prompt=PROMPT, domain="classification", goals=("clarity", "accuracy"), n_variations=4,
        test_cases=[{"id": f"t{i}", "vars": {"product": "lamp", "review": "ok"},
                     "expected": "positive" if i % 2 else "negative"} for i in range(6)],
        models=[{"id": "sim/small"}],
    )
    fields.update(overrides)
    return ExperimentSpec(**fields)


def _ctx(shared=None) -> StepContext:
    return StepContext(state={}, shared={} if shared is None else shared, services=None,
                       window={})


async def _round1(experiment_id="exp-1", shared=None, **spec) -> VariationGenerated:
    emits = await GENERATE.handle(
        PromptSubmitted(experiment_id=experiment_id, spec=_spec(**spec)), _ctx(shared))
    assert len(emits) == 1 and emits[0].topic is VARIATION_GENERATED
    return emits[0].event


async def test_round_one_is_the_control_plus_n_variations_keeping_every_variable():
    out = await _round1()
    assert out.round == 1 and out.experiment_id == "exp-1"
    control, *variations = out.variations
    assert control.is_control and control.prompt == PROMPT and control.patterns == ()
    assert len(variations) == 4 and not any(v.is_control for v in variations)
    for v in variations:
        assert set(re.findall(r"\{\{(\w+)\}\}", v.prompt)) >= {"product", "review"}
        assert v.patterns and v.rewrites and v.rationale and v.prompt != PROMPT
        assert v.variation_id.startswith("exp-1-r1-")
    assert len({v.variation_id for v in out.variations}) == 5
    assert len({frozenset(v.patterns) for v in variations}) == 4


async def test_same_event_gives_same_ids_and_texts_other_experiment_differs():
    a, b = await _round1(), await _round1()
    assert [(v.variation_id, v.prompt, v.system) for v in a.variations] == \
        [(v.variation_id, v.prompt, v.system) for v in b.variations]
    other = await _round1("exp-2")
    assert [v.patterns for v in other.variations] != [v.patterns for v in a.variations]


async def test_redelivered_event_re_emits_the_first_round_even_if_stats_moved():
    ctx = _ctx()
    event = PromptSubmitted(experiment_id="exp-r", spec=_spec())
    first = (await GENERATE.handle(event, ctx))[0].event
    for key in list(ctx.shared):
        del ctx.shared[key]
    ctx.shared[stats_key("role", "classification", "sim/small")] = {"alpha": 99.0, "beta": 1.0}
    again = (await GENERATE.handle(event, ctx))[0].event
    assert again.variations == first.variations


async def test_thompson_sampling_prefers_patterns_with_strong_posteriors():
    strong = {stats_key(p, "classification", "sim/small"): {"alpha": 60.0, "beta": 2.0}
              for p in ("role", "self-check")}
    weak = {stats_key(p, "classification", "sim/small"): {"alpha": 1.0, "beta": 30.0}
            for p in ("chain-of-thought", "constraints", "context-first", "audience")}
    used, used_flat = Counter(), Counter()
    for i in range(10):
        out = await _round1(f"exp-{i}", shared={**strong, **weak}, n_variations=2,
                            prompt=CLEAN_PROMPT)
        for v in out.variations[1:]:
            used.update(v.patterns)
        flat = await _round1(f"exp-{i}", n_variations=2, prompt=CLEAN_PROMPT)
        for v in flat.variations[1:]:
            used_flat.update(v.patterns)
    # 20 single-pattern variations: the two strong patterns should take most of them (an
    # unmeasured one is still tried now and then, a known-bad one almost never)
    assert used["role"] + used["self-check"] >= 14 and min(used["role"], used["self-check"]) >= 5
    assert sum(used[p] for p in ("chain-of-thought", "constraints", "context-first")) <= 2
    assert used_flat["role"] < used["role"]


async def test_detected_issues_steer_the_patterns_towards_their_fixes():
    fixes_used = Counter()
    for i in range(6):
        out = await _round1(f"exp-{i}", n_variations=3)
        for v in out.variations[1:]:
            fixes_used.update(set(v.patterns) & {"delimiters", "output-format"})
            if "delimiters" in v.patterns:
                assert "fixes 'unfenced-input'" in v.rationale
    # 18 single-pattern variations among ~20 candidates: without the bonus each pattern
    # would get about one
    assert fixes_used["delimiters"] >= 4 and fixes_used["output-format"] >= 4


async def test_equality_checked_answers_never_get_json_or_list_formats():
    for i in range(8):
        out = await _round1(f"exp-{i}", goals=("efficiency", "clarity", "accuracy"))
        for v in out.variations:
            assert not {"json-output", "bullet-list", "final-answer-line"} & set(v.patterns)


async def test_n_variations_zero_gives_only_the_control():
    out = await _round1(n_variations=0)
    assert len(out.variations) == 1 and out.variations[0].is_control


def test_near_duplicates_are_dropped_but_real_additions_kept():
    long = " ".join(f"word{i}" for i in range(400))
    assert is_near_duplicate("Summarize the text.", "summarize  the TEXT!")
    assert is_near_duplicate(long, long.replace("word200", "term200"))
    assert not is_near_duplicate(long, long + " Think through the problem step by step first.")
    texts = ["Rate {{x}}.", "rate {{x}}", "Rate {{x}}. Respond with only a number.", "Rate {{x}}!"]
    assert drop_near_duplicates(texts) == [0, 2]


def _final(round1: VariationGenerated, means: list[float], **overrides) -> AnalysisReady:
    results = tuple(
        VariationResult(variation_id=v.variation_id, name=v.name, is_control=v.is_control,
                        patterns=v.patterns, n=12, mean=m)
        for v, m in zip(round1.variations, means, strict=True))
    fields = dict(experiment_id=round1.experiment_id, round=round1.round, final=True,
                  decision="inconclusive", variations=results, domain="classification",
                  models=("sim/small",), trials_done=12 * len(results))
    fields.update(overrides)
    return AnalysisReady(**fields)


async def test_next_round_starts_from_the_measured_best_once():
    ctx = _ctx()
    spec = _spec(max_rounds=3, n_variations=2, target_score=0.95)
    r1 = (await GENERATE.handle(PromptSubmitted(experiment_id="exp-n", spec=spec), ctx))[0].event
    best = r1.variations[2]
    final = _final(r1, [0.4, 0.5, 0.7])
    assert await NEXT_ROUND.handle(final.model_copy(update={"final": False}), ctx) == []
    emits = await NEXT_ROUND.handle(final, ctx)
    assert len(emits) == 1
    r2 = emits[0].event
    assert r2.round == 2 and r2.variations[0].is_control
    assert (r2.variations[0].prompt, r2.variations[0].patterns) == (best.prompt, best.patterns)
    assert all(v.variation_id.startswith("exp-n-r2-") for v in r2.variations)
    for v in r2.variations[1:]:
        assert set(best.patterns) < set(v.patterns) and "best of round 1" in v.rationale
    again = await NEXT_ROUND.handle(final, ctx)  # redelivered final: same round 2, not a third
    assert [e.event.variations for e in again] == [r2.variations]


async def test_regression_round_memory_lived_in_the_patterns_global_table():
    """The optimizer's memory (spec, history) was in pattern-stats, a global table that
    every worker replicates through one changelog partition. It is the optimizer's own
    partitioned state now, and it goes when the experiment ends."""
    ctx = _ctx()
    spec = _spec(max_rounds=2, n_variations=2)
    r1 = (await GENERATE.handle(PromptSubmitted(experiment_id="exp-m", spec=spec), ctx))[0].event
    assert set(ctx.state) == {"round:exp-m", "generated:exp-m"} and ctx.shared == {}
    [r2] = [e.event for e in await NEXT_ROUND.handle(_final(r1, [0.4, 0.5, 0.6]), ctx)]
    assert ctx.state["generated:exp-m"]["round"] == 2
    assert await NEXT_ROUND.handle(_final(r2, [0.6, 0.5, 0.55]), ctx) == []
    assert ctx.state == {} and ctx.shared == {} and "exp-m" in ctx.window


async def test_no_next_round_when_target_met_or_rounds_used_up():
    for spec, means in ((_spec(max_rounds=3, target_score=0.6, n_variations=1), [0.4, 0.65]),
                        (_spec(max_rounds=1, n_variations=1), [0.4, 0.5])):
        ctx = _ctx()
        r1 = (await GENERATE.handle(PromptSubmitted(experiment_id="exp-t", spec=spec), ctx))[0].event
        assert await NEXT_ROUND.handle(_final(r1, means), ctx) == []
        assert ctx.state == {} and "exp-t" in ctx.window  # the experiment is over
        assert await GENERATE.handle(PromptSubmitted(experiment_id="exp-t", spec=spec),
                                     ctx) == []  # a redelivery after the end: nothing


async def test_no_next_round_when_the_trial_budget_is_spent():
    ctx = _ctx()
    spec = _spec(max_rounds=3, n_variations=2, budget={"max_trials": 40})
    r1 = (await GENERATE.handle(PromptSubmitted(experiment_id="exp-b", spec=spec), ctx))[0].event
    # 3 variations x 6 cases = 18 trials used; 22 left pay for a control + 2 variations (18)
    emits = await NEXT_ROUND.handle(_final(r1, [0.4, 0.5, 0.6], trials_done=18), ctx)
    assert len(emits) == 1 and len(emits[0].event.variations) == 3
    r2 = emits[0].event
    assert r2.trials_used == 18  # what round 1 requested: the fan-out needs no state
    # 36 used; 4 left do not pay for one control + one variation (12)
    assert await NEXT_ROUND.handle(_final(r2, [0.6, 0.5, 0.55], trials_done=18), ctx) == []


def test_regression_a_first_round_of_one_variation_always_has_one() -> None:
    """With twice n pattern picks only, 53 of 2,000 first rounds of n_variations 1 on the
    integration tests' prompt had no variation (both picks' rewrites did not apply or came
    out near-duplicates): the experiment ran its control alone and ended with a final
    analysis of one arm. Picks are drawn again, more of them, until the round is full."""
    from agents.optimizer.generation import generate_round

    spec = ExperimentSpec.model_validate({
        "prompt": "Classify the sentiment of this review: {{review}}",
        "domain": "classification", "goals": ["clarity"], "n_variations": 1,
        "test_cases": [{"id": "t0", "vars": {"review": "great"}, "expected": "positive"}],
        "models": [{"id": "sim/small", "temperature": 0}]})
    sizes = Counter(len(generate_round(spec, f"ssrf-{i:08x}", {})) for i in range(400))
    assert sizes == {2: 400}
