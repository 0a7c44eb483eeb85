"""The scorer.grade step: grade each completed trial against its test case and publish
TrialScored on trial-scored, which scorer.fold_trial folds into the statistics.

Grading is apart from folding because judges make LLM calls: this step runs many trials at
once (it keeps no state), while fold_trial stays a quick, ordered fold per experiment.
A failed or skipped trial is passed on ungraded. A grading failure of one assertion fails
that assertion with its reason (see agents.scorer.assertions.grading), never the trial.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agents.runtime.contract import Emit, StepContext
from agents.scorer.assertions import AssertionResult, Graded, GradingContext, Judges, grade
from agents.scorer.assertions import code as code_assertions
from schemas.events import AssertionOutcome, CellMessage, TrialCompleted, TrialScored
from schemas.experiment import MODEL_GRADED_TYPES, ModelSpec
from topics.catalogue import CELL_COMPARE, TRIAL_SCORED

REASON_MAX = 2_000


@dataclass
class GradeServices:
    """The LLM client of the judges, opened on first need (a run without model-graded
    assertions never imports litellm here), and the default grader / embedder."""

    settings: Any = None
    client: Any = None
    opened: list[Any] = field(default_factory=list)

    def judges(self) -> Judges | None:
        if self.client is None:
            if self.settings is None:
                return None
            from agents.llm.cache import open_cache
            from agents.llm.client import LLMClient, LLMResult

            self.client = LLMClient(self.settings, cache=open_cache(self.settings, LLMResult))
            self.opened.append(self.client)
        return Judges(self.client, grader=_model(getattr(self.settings, "grader_model", None)),
                      embedder=_model(getattr(self.settings, "embedding_model", None)),
                      moderator=_model(getattr(self.settings, "moderation_model", None)))

    async def aclose(self) -> None:
        for client in self.opened:
            await client.aclose()
            if client.cache is not None:
                await client.cache.aclose()
        self.opened.clear()


def _model(model_id: str | None) -> ModelSpec | None:
    return ModelSpec(id=model_id, temperature=0.0, max_tokens=512) if model_id else None


async def grade_trial(event: TrialCompleted, ctx: StepContext) -> list[Emit]:
    if event.status != "completed" or event.response is None:
        return [route(TrialScored(trial=event, reason=event.reason or event.status))]
    services = grade_services(ctx)
    test = event.trial.test_case
    needs_judge = any(a.base in MODEL_GRADED_TYPES for a in test.every_assertion())
    judges = services.judges() if needs_judge and services else None
    context = GradingContext(test=test, prompt=event.prompt, latency_ms=event.latency_ms,
                             cost_usd=event.cost_usd, cached=event.cached,
                             logprobs=event.logprobs,
                             provider=event.trial.model.id,
                             script_timeout_s=float(getattr(
                                 services.settings if services else None, "assertion_timeout_s",
                                 None) or code_assertions.TIMEOUT_S))
    graded = await grade(test, event.response, context, judges)
    return [route(scored(event, graded))]


def route(trial: TrialScored) -> Emit:
    """A graded trial goes to the statistics (trial-scored), or, when its test has
    comparisons (select-best, max-score), to its cell first (agents/scorer/cells.py)."""
    spec = trial.trial.trial
    if spec.test_case.comparisons():
        return Emit(CELL_COMPARE, CellMessage(experiment_id=spec.experiment_id, answer=trial,
                                              **spec.owner()))
    return Emit(TRIAL_SCORED, trial)


def scored(event: TrialCompleted, graded: Graded) -> TrialScored:
    return TrialScored(
        trial=event,
        score=min(1.0, max(0.0, graded.score)),
        passed=graded.passed,
        reason=graded.reason[:REASON_MAX],
        assertions=outcomes(graded.results),
        named_scores=graded.named_scores,
        judge_calls=graded.judge.calls,
        judge_cost_usd=graded.judge.cost_usd,
        judge_prompt_tokens=graded.judge.prompt_tokens,
        judge_completion_tokens=graded.judge.completion_tokens,
    )


def outcomes(results: tuple[AssertionResult, ...]) -> tuple[AssertionOutcome, ...]:
    """Each assertion's verdict, an assert-set's members right after it (`in_set`: the
    set's position in this list), so reports show what made up the set's score."""
    out: list[AssertionOutcome] = []
    for r in results:
        out.append(_outcome(r))
        at = len(out) - 1
        out.extend(_outcome(m, in_set=at) for m in r.members)
    return tuple(out)


def _outcome(r: AssertionResult, in_set: int | None = None) -> AssertionOutcome:
    return AssertionOutcome(type=r.type, passed=r.passed, score=r.score,
                            reason=r.reason[:REASON_MAX], weight=r.weight, metric=r.metric,
                            metric_only=r.metric_only, in_set=in_set)


def grade_services(ctx: StepContext) -> GradeServices | None:
    services = ctx.services
    if isinstance(services, GradeServices):
        return services
    return getattr(services, "grade", None)
