"""Comparison assertions (select-best, max-score) need every answer of a cell — the round's
trials of one test case x model x repetition, one per prompt — so they are graded when the
cell is complete, in three moves:

1. scorer.grade grades each answer on its own (every other assertion) and, because its test
   has a comparison, sends it to cell-compare instead of trial-scored;
2. scorer.gather_cell (ordered per experiment, stateful) keeps the cell's trials; when all
   `cell_size` have arrived (failed and budget-skipped ones too: every planned trial is
   reported) it publishes the cell on cell-ready;
3. scorer.compare_cell (concurrent, stateless: select-best waits on an LLM judge, which
   must not hold up the ordered step) compares and sends the verdicts back to cell-compare,
   where gather_cell merges them into each trial and publishes the final TrialScored on
   trial-scored. fold_trial, the sinks and the reports only ever see final trials.

Idempotent under redelivery: a trial already kept is ignored; a cell is published once; the
first verdict on a cell concludes it and a window marker (ctx.window) makes any later copy
of its trials or verdicts a no-op. A redelivered cell-ready is judged again, but only the
first verdict counts, so a cell never has two winners.

How it enters the statistics (promptfoo's merge): the selected answer keeps its own score
and pass; the others fail with score 0 (a comparison's failure overrides the score and the
reason). With metric `pass` an arm's mean is its share of wins among the cells where it
needed to win; the analysis pairs arms by cell, so each pair compares wins on the same
inputs. A cell's single answer (the others failed) is selected by default; a cell of one
prompt cannot compare and fails its comparison, saying so.

The cell is per model, where promptfoo picks one winner among every prompt x provider
output of a test: promptopt's arms are the prompts, and a model is a block of the paired
analysis, so each model's answers are compared among themselves.
"""

from __future__ import annotations

import logging
from typing import Any

from agents.runtime.contract import Emit, StepContext
from agents.scorer.assertions.comparison import max_score, select_best
from agents.scorer.assertions.judged import JudgeFailed, Judges
from agents.scorer.assertions.result import Check, GradingContext, JudgeUsage
from agents.scorer.assertions.text import BadAssertion
from agents.scorer.grade import REASON_MAX, grade_services
from schemas.events import (
    CELL_ANSWER_MAX_CHARS,
    AssertionOutcome,
    AssertionScore,
    CellAnswer,
    CellMessage,
    CellReady,
    CellVerdict,
    TrialScored,
    TrialSpec,
    TrialVerdict,
)
from schemas.experiment import Assertion
from topics.catalogue import CELL_COMPARE, CELL_READY, TRIAL_SCORED

log = logging.getLogger("promptopt.scorer")


def cell_key(trial: TrialSpec) -> str:
    return (f"{trial.experiment_id}#r{trial.round}|cell|{trial.test_case.id}|"
            f"{trial.model.key}|{trial.repetition}")


def _kept_key(cell: str, trial_id: str) -> str:
    return f"{cell}|trial|{trial_id}"


async def gather_cell(event: CellMessage, ctx: StepContext) -> list[Emit]:
    if event.answer is not None:
        return _keep(event.answer, ctx)
    assert event.verdict is not None  # CellMessage holds one of the two
    return _conclude(event.verdict, ctx)


def _keep(scored: TrialScored, ctx: StepContext) -> list[Emit]:
    trial = scored.trial.trial
    cell = cell_key(trial)
    if cell in ctx.window:
        return []  # the cell is concluded: a redelivered trial
    record = ctx.state.get(cell) or {"trials": [], "ready": False}
    if trial.trial_id in record["trials"]:
        return []
    ctx.state[_kept_key(cell, trial.trial_id)] = scored.model_dump(mode="json")
    record = {**record, "trials": [*record["trials"], trial.trial_id]}
    emits: list[Emit] = []
    if len(record["trials"]) >= trial.cell_size and not record["ready"]:
        record["ready"] = True
        kept = [_kept(ctx, cell, t) for t in record["trials"]]
        emits.append(Emit(CELL_READY, cell_ready(cell, trial, kept)))
    ctx.state[cell] = record
    return emits


def _kept(ctx: StepContext, cell: str, trial_id: str) -> TrialScored:
    return TrialScored.model_validate(ctx.state[_kept_key(cell, trial_id)])


def cell_ready(cell: str, trial: TrialSpec, kept: list[TrialScored]) -> CellReady:
    answers = [CellAnswer(
        trial_id=s.trial.trial.trial_id,
        position=s.trial.trial.cell_position,
        response=(s.trial.response or "")[:CELL_ANSWER_MAX_CHARS],
        scores=tuple(AssertionScore(type=o.type, score=o.score) for o in s.assertions
                     if o.in_set is None and not o.metric_only),
    ) for s in kept if s.score is not None]
    return CellReady(experiment_id=trial.experiment_id, cell=cell, size=trial.cell_size,
                     test_case=trial.test_case, answers=tuple(sorted(
                         answers, key=lambda a: a.position)), **trial.owner())


def _conclude(verdict: CellVerdict, ctx: StepContext) -> list[Emit]:
    cell = verdict.cell
    if cell in ctx.window:
        return []  # concluded already: a second verdict (a redelivered cell-ready)
    record = ctx.state.get(cell)
    if not record or not record["ready"]:
        log.warning("a verdict on cell %s, which is not gathered here; ignored", cell)
        return []
    by_trial = {v.trial_id: v for v in verdict.verdicts}
    final = []
    for trial_id in record["trials"]:
        scored = _kept(ctx, cell, trial_id)
        del ctx.state[_kept_key(cell, trial_id)]
        found = by_trial.get(trial_id)
        final.append(merged(scored, found) if found else scored)
    del ctx.state[cell]
    ctx.window[cell] = True
    final.sort(key=lambda s: s.trial.trial.cell_position)
    return [Emit(TRIAL_SCORED, s) for s in final]


def merged(scored: TrialScored, verdict: TrialVerdict) -> TrialScored:
    """promptfoo's merge of a comparison into a result: pass only if both pass; a failed
    comparison overrides the score and the reason; its outcome joins the assertions."""
    if scored.score is None:
        return scored  # no answer to compare (a failed or skipped trial)
    passed, score, reason = bool(scored.passed), scored.score, scored.reason
    for outcome in verdict.outcomes:
        passed = passed and outcome.passed
        if not outcome.passed:
            score, reason = min(1.0, max(0.0, outcome.score)), outcome.reason
    return scored.model_copy(update={
        "passed": passed, "score": score, "reason": reason[:REASON_MAX],
        "assertions": (*scored.assertions, *verdict.outcomes),
        "judge_calls": scored.judge_calls + verdict.judge_calls,
        "judge_cost_usd": scored.judge_cost_usd + verdict.judge_cost_usd,
        "judge_prompt_tokens": scored.judge_prompt_tokens + verdict.judge_prompt_tokens,
        "judge_completion_tokens": (scored.judge_completion_tokens
                                    + verdict.judge_completion_tokens),
    })


async def compare_cell(event: CellReady, ctx: StepContext) -> list[Emit]:
    services = grade_services(ctx)
    answers = list(event.answers)
    test = event.test_case
    needs_judge = any(a.type == "select-best" for a in test.comparisons())
    judges = services.judges() if needs_judge and services else None
    grading = GradingContext(test=test)
    outcomes: list[list[AssertionOutcome]] = [[] for _ in answers]
    usage = JudgeUsage()
    for assertion in test.comparisons():
        checks, used = await _compare(assertion, event, answers, grading, judges)
        usage += used
        for i, check in enumerate(checks):
            outcomes[i].append(AssertionOutcome(
                type=assertion.type, passed=check.passed, score=check.score,
                reason=check.reason[:REASON_MAX], weight=assertion.weight,
                metric=assertion.metric))
    shares = _shares(usage, len(answers))
    verdicts = tuple(TrialVerdict(trial_id=a.trial_id, outcomes=tuple(o), **share)
                     for a, o, share in zip(answers, outcomes, shares, strict=True))
    return [Emit(CELL_COMPARE, CellMessage(
        experiment_id=event.experiment_id, verdict=CellVerdict(cell=event.cell,
                                                               verdicts=verdicts),
        **event.owner()))]


async def _compare(assertion: Assertion, event: CellReady, answers: list[CellAnswer],
                   grading: GradingContext, judges: Judges | None
                   ) -> tuple[list[Check], JudgeUsage]:
    kind = assertion.type
    if event.size < 2:
        return [Check(False, 0.0, f"{kind} compares the answers of several prompts to one "
                                  "test case; this one has a single prompt")] * len(answers), \
            JudgeUsage()
    if len(answers) < 2:  # the cell's other trials failed: nothing to compare with
        return [Check(True, 1.0, f"{kind}: the only answer of its {event.size} trials")] \
            * len(answers), JudgeUsage()
    try:
        if kind == "select-best":
            return await select_best(assertion, answers, grading, judges)
        return max_score(assertion, answers), JudgeUsage()
    except JudgeFailed as err:
        return [Check(False, 0.0, str(err))] * len(answers), err.usage
    except BadAssertion as err:
        return [Check(False, 0.0, f"{kind}: {err}")] * len(answers), JudgeUsage()


def _shares(usage: JudgeUsage, n: int) -> list[dict[str, Any]]:
    """The cell's judge usage spread over its answers, so the arms share what the one
    comparison cost; the first takes the call and the remainders, so the totals add up."""
    if n == 0:
        return []
    cost = usage.cost_usd / n
    shares = [{"judge_calls": 0, "judge_cost_usd": cost,
               "judge_prompt_tokens": usage.prompt_tokens // n,
               "judge_completion_tokens": usage.completion_tokens // n} for _ in range(n)]
    shares[0]["judge_calls"] = usage.calls
    shares[0]["judge_cost_usd"] = max(0.0, usage.cost_usd - cost * (n - 1))
    shares[0]["judge_prompt_tokens"] += usage.prompt_tokens % n
    shares[0]["judge_completion_tokens"] += usage.completion_tokens % n
    return shares
