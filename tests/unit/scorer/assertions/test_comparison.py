"""select-best and max-score against promptfoo's documented behaviour
(expected-outputs/model-graded/select-best, .../max-score)."""

from __future__ import annotations

import pytest

from agents.llm.client import LLMClient
from agents.scorer.assertions import GradingContext, Judges
from agents.scorer.assertions.comparison import max_score, select_best
from agents.scorer.assertions.judged import JudgeFailed
from agents.scorer.assertions.text import BadAssertion
from agents.trials.simulator import run_simulator
from promptopt.settings import Settings
from schemas.events import AssertionScore, CellAnswer
from schemas.experiment import Assertion, ModelSpec, TestCase


def answer(i: int, response: str = "", **scores: float) -> CellAnswer:
    return CellAnswer(trial_id=f"t{i}", position=i, response=response,
                      scores=tuple(AssertionScore(type=k.replace("_", "-"), score=v)
                                   for k, v in scores.items()))


def verdicts(checks) -> list[tuple[bool, float]]:
    return [(c.passed, c.score) for c in checks]


def test_max_score_selects_the_highest_average_and_fails_the_others():
    checks = max_score(Assertion(type="max-score"), [
        answer(0, contains=1.0, llm_rubric=0.5), answer(1, contains=1.0, llm_rubric=0.9),
        answer(2, contains=0.0, llm_rubric=1.0)])
    assert verdicts(checks) == [(False, 0.0), (True, 1.0), (False, 0.0)]
    assert "0.950" in checks[1].reason


def test_max_score_weights_per_assertion_type_as_the_docs_example():
    # The documented example: python=1.0 (x3), llm-rubric=0.5, contains=1.0 -> 4.5 / 5 = 0.9
    a = answer(0, python=1.0, llm_rubric=0.5, contains=1.0)
    b = answer(1, python=0.0, llm_rubric=1.0, contains=1.0)  # 2 / 5 = 0.4
    checks = max_score(Assertion(type="max-score", value={"weights": {"python": 3,
                                                                      "llm-rubric": 1}}),
                       [a, b])
    assert verdicts(checks) == [(True, 1.0), (False, 0.0)]
    assert "0.900" in checks[0].reason


def test_max_score_sum_method_adds_weighted_scores():
    many = answer(0, contains=1.0, icontains=1.0, regex=0.0)  # sum 2, average 0.67
    few = answer(1, contains=1.0)  # sum 1, average 1.0
    assert verdicts(max_score(Assertion(type="max-score", value={"method": "sum"}),
                              [many, few]))[0] == (True, 1.0)
    assert verdicts(max_score(Assertion(type="max-score"), [many, few]))[1] == (True, 1.0)


def test_max_score_ties_go_to_the_first_output():
    checks = max_score(Assertion(type="max-score"), [answer(0, contains=0.5),
                                                      answer(1, contains=0.5)])
    assert verdicts(checks) == [(True, 1.0), (False, 0.0)]


def test_max_score_below_its_threshold_selects_no_output():
    checks = max_score(Assertion(type="max-score", value={"threshold": 0.7}),
                       [answer(0, contains=0.6), answer(1, contains=0.2)])
    assert verdicts(checks) == [(False, 0.0), (False, 0.0)]
    assert "below the threshold 0.7" in checks[0].reason


def test_max_score_still_selects_the_least_bad_when_all_fail():
    checks = max_score(Assertion(type="max-score"), [answer(0, contains=0.0),
                                                      answer(1, contains=0.1)])
    assert verdicts(checks) == [(False, 0.0), (True, 1.0)]


def test_max_score_without_other_assertions_is_an_error():
    with pytest.raises(BadAssertion, match="at least one other assertion"):
        max_score(Assertion(type="max-score"), [answer(0), answer(1)])


@pytest.mark.parametrize("value", [{"method": "median"}, {"weights": {"contains": "x"}},
                                   {"threshold": "high"}, {"treshold": 0.5}, "average"])
def test_max_score_refuses_malformed_options(value):
    with pytest.raises(BadAssertion):
        max_score(Assertion(type="max-score", value=value), [answer(0, contains=1.0)])


@pytest.fixture
async def judges():
    async with run_simulator() as sim:
        client = LLMClient(Settings(sim_base_url=sim.base_url))
        try:
            yield Judges(client, grader=ModelSpec(id="sim/judge"))
        finally:
            await client.aclose()


CTX = GradingContext(test=TestCase(id="t"))


async def test_select_best_passes_the_judge_s_choice_and_fails_the_others(judges):
    answers = [answer(0, "Paris is a city."), answer(1, "Paris is the capital of France."),
               answer(2, "I do not know.")]
    checks, usage = await select_best(
        Assertion(type="select-best", value="choose the answer naming the capital of France"),
        answers, CTX, judges)
    assert verdicts(checks) == [(False, 0.0), (True, 1.0), (False, 0.0)]
    assert usage.calls == 1 and usage.cost_usd > 0  # one judge call for the whole cell


async def test_select_best_with_a_verdict_out_of_range_fails_every_output():
    class Says:
        def __init__(self, text):
            self.text, self.status, self.cost_usd = text, "completed", 0.0
            self.prompt_tokens = self.completion_tokens = 1
            self.reason = None

    class Judge:
        async def complete(self, model, messages):
            return Says("The best is candidate 7.")

    with pytest.raises(JudgeFailed, match="named no candidate 0-1"):
        await select_best(Assertion(type="select-best", value="the best"),
                          [answer(0, "a"), answer(1, "b")], CTX,
                          Judges(Judge(), grader=ModelSpec(id="any/judge")))


async def test_select_best_needs_its_criteria(judges):
    with pytest.raises(BadAssertion, match="selection criteria"):
        await select_best(Assertion(type="select-best"), [answer(0), answer(1)], CTX, judges)
