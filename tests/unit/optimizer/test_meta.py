"""The OPRO-style meta-optimizer: what it shows the LLM, what it keeps of the answer, and
that the optimizer degrades to pattern rewrites when the LLM gives nothing usable."""

from __future__ import annotations

import json

from agents.optimizer import AGENT
from agents.optimizer.analysis import analyze_prompt
from agents.optimizer.generation import Base
from agents.optimizer.meta import MetaOptimizer, Scored
from agents.optimizer.services import OptimizerServices, close_services
from agents.runtime.contract import StepContext
from agents.trials.simulator import run_simulator
from promptopt.settings import get_settings
from schemas.events import PromptSubmitted
from schemas.experiment import ExperimentSpec, ModelSpec

PROMPT = "Is this review positive or negative? {{review}}"
GOOD = "You are an expert analyst. Read the review in <input>{{review}}</input> and answer positive or negative."
HISTORY = [Scored(PROMPT, 0.41), Scored("Review: {{review}}. Positive or negative? Think step by step.", 0.66),
           Scored("Classify {{review}} as positive or negative.", 0.52)]


class FakeLLM:
    def __init__(self, answer: str | Exception) -> None:
        self.answer = answer
        self.calls: list[list[dict[str, str]]] = []

    async def __call__(self, model: ModelSpec, messages: list[dict[str, str]]) -> str:
        self.calls.append(messages)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def _answer(*prompts: str) -> str:
    return "Sure!\n" + json.dumps({"prompts": [{"prompt": p, "rationale": f"r{i}"}
                                               for i, p in enumerate(prompts)]})


async def test_meta_prompt_shows_analysis_and_scored_history_worst_first():
    llm = FakeLLM(_answer(GOOD))
    meta = MetaOptimizer(ModelSpec(id="openai/gpt-4o-mini"), llm)
    base = Base(PROMPT, None)
    out = await meta.propose(base, analyze_prompt(PROMPT, tokens=False), HISTORY,
                             ["accuracy"], 2)
    user = llm.calls[0][1]["content"]
    assert "unfenced-input" in user and "{{review}}" in user
    assert user.index('score="0.410"') < user.index('score="0.520"') < user.index('score="0.660"')
    assert [c.prompt for c in out] == [GOOD]
    c = out[0]
    assert c.source == "meta-llm" and c.rewrites == ("meta-llm: openai/gpt-4o-mini",)
    assert {"role", "delimiters"} <= set(c.patterns)
    assert "best measured so far 0.660" in c.rationale and c.rationale.endswith("r0")


async def test_proposals_that_lose_variables_repeat_history_or_are_empty_are_dropped():
    answer = _answer("Is this review positive or negative?",  # lost {{review}}
                     "Is this review positive or negative? {{review}}",  # the base again
                     "short",
                     GOOD, GOOD + " ")  # a good one, then its near-duplicate
    meta = MetaOptimizer(ModelSpec(id="m"), FakeLLM(answer))
    out = await meta.propose(Base(PROMPT, None), analyze_prompt(PROMPT, tokens=False),
                             HISTORY, ["accuracy"], 5)
    assert [c.prompt for c in out] == [GOOD]


async def test_tagged_answers_are_read_and_failures_give_nothing():
    meta = MetaOptimizer(ModelSpec(id="m"), FakeLLM(f"<prompt>{GOOD}</prompt>"))
    analysis = analyze_prompt(PROMPT, tokens=False)
    assert len(await meta.propose(Base(PROMPT, None), analysis, [], ["clarity"], 1)) == 1
    broken = MetaOptimizer(ModelSpec(id="m"), FakeLLM(RuntimeError("503")))
    assert await broken.propose(Base(PROMPT, None), analysis, [], ["clarity"], 1) == []


def _event(optimizer_model: str | None = None) -> PromptSubmitted:
    spec = ExperimentSpec(
        prompt=PROMPT, n_variations=3, models=[{"id": "sim/small"}],
        test_cases=[{"id": "t1", "vars": {"review": "great"}}],
        optimizer_model={"id": optimizer_model} if optimizer_model else None)
    return PromptSubmitted(experiment_id="exp-meta", spec=spec)


async def test_generate_puts_meta_candidates_first_in_the_round():
    services = OptimizerServices(complete=FakeLLM(_answer(GOOD)))
    ctx = StepContext(state={}, shared={}, services=services)
    out = (await AGENT.steps[0].handle(_event("openai/gpt-4o-mini"), ctx))[0].event
    assert out.variations[1].prompt == GOOD
    assert out.variations[1].rewrites == ("meta-llm: openai/gpt-4o-mini",)
    assert len(out.variations) == 4 and all(v.patterns for v in out.variations[2:])


async def test_against_the_llm_simulator_the_optimizer_degrades_to_pattern_rewrites():
    """The simulator answers a meta-prompt with prose, not prompts: nothing usable comes
    back, and the round is made of pattern rewrites as without a meta-optimizer."""
    async with run_simulator() as sim:
        settings = get_settings().model_copy(update={"sim_base_url": sim.base_url})
        services = OptimizerServices(settings=settings)  # the product's LLM client
        ctx = StepContext(state={}, shared={}, services=services)
        out = (await AGENT.steps[0].handle(_event("sim/large"), ctx))[0].event
        assert sim.simulator.requests == 1  # the meta-optimizer did ask the LLM
        assert services.llm is not None and services.llm.calls == 1
        await close_services(services)
    plain = (await AGENT.steps[0].handle(_event(), StepContext({}, {}, None)))[0].event
    assert [v.prompt for v in out.variations] == [v.prompt for v in plain.variations]
    assert not any("meta-llm" in r for v in out.variations for r in v.rewrites)
