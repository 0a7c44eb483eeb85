"""Comparisons per cell (agents/scorer/cells.py): gathered until every trial of the cell
is in, compared once, merged with promptfoo's rule, idempotent under redelivery."""

from __future__ import annotations

import pytest

from agents.runtime.contract import StepContext
from agents.scorer.cells import compare_cell, gather_cell
from agents.scorer.grade import GradeServices, grade_trial
from agents.scorer.handler import ScorerServices
from schemas.events import CellMessage, CellReady, TrialCompleted, TrialScored, TrialSpec
from schemas.experiment import Assertion, ModelSpec, TestCase, VariationRef
from topics.catalogue import CELL_COMPARE, CELL_READY, TRIAL_SCORED

ARMS = [VariationRef(variation_id="c", name="control", is_control=True),
        VariationRef(variation_id="v1", name="v1"), VariationRef(variation_id="v2", name="v2")]


def case_with(*comparisons: Assertion) -> TestCase:
    return TestCase(id="t1", assertions=(Assertion(type="icontains", value="positive"),
                                         Assertion(type="equals", value="positive"),
                                         *comparisons))


MAX_SCORE = case_with(Assertion(type="max-score"))


def completed(position: int, response: str | None, test: TestCase = MAX_SCORE,
              size: int = 3) -> TrialCompleted:
    spec = TrialSpec(trial_id=f"trial-{position}", experiment_id="exp", team_id="team-a",
                     variation=ARMS[position], test_case=test, model=ModelSpec(id="sim/small"),
                     expected_trials=size, cell_size=size, cell_position=position)
    if response is None:
        return TrialCompleted(trial=spec, status="failed", reason="HTTP 500")
    return TrialCompleted(trial=spec, response=response, cost_usd=0.001)


class Cell:
    """The two steps' state, as one worker keeps it."""

    def __init__(self, services: ScorerServices | None = None) -> None:
        self.state: dict = {}
        self.window: dict = {}
        self.services = services or ScorerServices(grade=GradeServices())

    def ctx(self, state: dict | None = None) -> StepContext:
        return StepContext(state=self.state if state is None else state, shared={},
                           services=self.services, window=self.window)

    async def graded(self, trial: TrialCompleted) -> CellMessage:
        [emit] = await grade_trial(trial, self.ctx({}))
        assert emit.topic is CELL_COMPARE  # not trial-scored: the cell is not complete
        return emit.event

    async def gather(self, message: CellMessage) -> list:
        return await gather_cell(message, self.ctx())

    async def compare(self, ready: CellReady) -> CellMessage:
        [emit] = await compare_cell(ready, StepContext(state={}, shared={},
                                                       services=self.services))
        assert emit.topic is CELL_COMPARE
        return emit.event


async def run_cell(cell: Cell, responses: list[str | None], test: TestCase = MAX_SCORE
                   ) -> list[TrialScored]:
    messages = [await cell.graded(completed(i, r, test, len(responses)))
                for i, r in enumerate(responses)]
    ready = []
    for m in messages:
        ready += await cell.gather(m)
    [emit] = ready
    assert emit.topic is CELL_READY
    final = await cell.gather(await cell.compare(emit.event))
    assert all(e.topic is TRIAL_SCORED for e in final)
    return [e.event for e in final]


async def test_the_cell_waits_for_every_trial_then_is_published_once():
    cell = Cell()
    messages = [await cell.graded(completed(i, "positive")) for i in range(3)]
    assert await cell.gather(messages[0]) == [] and await cell.gather(messages[1]) == []
    assert await cell.gather(messages[1]) == []  # a redelivered trial
    [ready] = await cell.gather(messages[2])
    assert [a.trial_id for a in ready.event.answers] == ["trial-0", "trial-1", "trial-2"]
    assert ready.event.team_id == "team-a"  # owner fields travel on
    assert await cell.gather(messages[2]) == []  # published once


async def test_max_score_winner_keeps_its_score_and_the_others_fail_with_zero():
    final = await run_cell(Cell(), ["The sentiment is positive.", "positive", "negative"])
    assert [(s.passed, s.score) for s in final] == [(False, 0.0), (True, 1.0), (False, 0.0)]
    assert [o.type for o in final[1].assertions] == ["icontains", "equals", "max-score"]
    assert final[0].reason.startswith("Not selected")


async def test_a_failed_trial_is_passed_on_and_the_others_still_compared():
    final = await run_cell(Cell(), ["negative", None, "positive"])
    assert [s.trial.trial.trial_id for s in final] == ["trial-0", "trial-1", "trial-2"]
    assert final[1].score is None and final[1].trial.status == "failed"
    assert [(s.passed, s.score) for s in (final[0], final[2])] == [(False, 0.0), (True, 1.0)]


async def test_the_only_answer_of_a_cell_is_selected():
    final = await run_cell(Cell(), [None, "positive", None])
    assert (final[1].passed, final[1].score) == (True, 1.0)
    assert "the only answer" in final[1].assertions[-1].reason


async def test_a_cell_of_one_prompt_fails_its_comparison_saying_why():
    [only] = await run_cell(Cell(), ["positive"])
    assert (only.passed, only.score) == (False, 0.0)
    assert "single prompt" in only.reason


async def test_redelivered_verdicts_and_trials_after_the_end_change_nothing():
    cell = Cell()
    messages = [await cell.graded(completed(i, "positive")) for i in range(3)]
    ready = [e for m in messages for e in await cell.gather(m)]
    verdict = await cell.compare(ready[0].event)
    assert len(await cell.gather(verdict)) == 3
    assert cell.state == {}  # nothing of the cell is kept once it is concluded
    assert await cell.gather(verdict) == []  # a second verdict (a redelivered cell-ready)
    assert await cell.gather(messages[0]) == []  # a trial redelivered after the end


class FixedJudge:
    """A judge that always names candidate 2 and costs $0.003 a call."""

    calls = 0

    async def complete(self, model, messages):
        FixedJudge.calls += 1
        return type("R", (), {"text": "2", "status": "completed", "cost_usd": 0.003,
                              "prompt_tokens": 10, "completion_tokens": 1, "reason": None})()


async def test_select_best_costs_one_judge_call_per_cell_shared_by_its_answers():
    services = GradeServices()
    services.client = FixedJudge()
    services.settings = type("S", (), {"grader_model": "any/judge",
                                       "embedding_model": None})()
    cell = Cell(ScorerServices(grade=services))
    FixedJudge.calls = 0
    test = case_with(Assertion(type="select-best", value="the most positive"))
    final = await run_cell(cell, ["positive", "positive", "positive"], test)
    assert FixedJudge.calls == 1
    assert [(s.passed, s.score) for s in final] == [(False, 0.0), (False, 0.0), (True, 1.0)]
    assert sum(s.judge_calls for s in final) == 1
    assert sum(s.judge_cost_usd for s in final) == pytest.approx(0.003)
    assert sum(s.judge_prompt_tokens for s in final) == 10
    assert all(s.judge_cost_usd > 0 for s in final)  # each arm bears its share


async def test_a_test_without_comparisons_goes_straight_to_trial_scored():
    plain = TestCase(id="t1", expected="positive")
    [emit] = await grade_trial(completed(0, "positive", plain), Cell().ctx({}))
    assert emit.topic is TRIAL_SCORED
