"""GET /api/v1/test/{id}/trials: results per test case — one row per trial, as stored in
MongoDB (test case id, vars, prompt, response, score, pass, each assertion's verdict, cost
with judges), paged, with totals over the whole experiment (trials that completed after an
early stop included). Scoped to the caller's team twice: the experiment must be the team's
(PostgreSQL, as every route), and the documents are read with the team in the query."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.auth import require_user
from api.envelope import COMMON_ERRORS, ApiError, Envelope, envelope, errors
from api.routes import API_PREFIX
from api.routes.ab_tests import EXPERIMENT_ID, unknown_experiment
from api.store import User
from api.trial_results import TrialQuery, TrialResultsUnavailable
from promptopt.results import document_row
from schemas.bounds import ID_PATTERN
from schemas.events import AssertionOutcome

router = APIRouter(prefix=f"{API_PREFIX}/test", tags=["tests"],
                   responses=COMMON_ERRORS | errors(404))

MAX_PAGE = 500


class TrialRow(BaseModel):
    """One trial: what was asked, what came back, how it was graded and what it cost."""

    trial_id: str
    round: int | None = None
    test_case_id: str | None = None
    description: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    variation_id: str | None = None
    arm: str | None = Field(default=None, description="the prompt's label (control, v1, ...)")
    is_control: bool = False
    model: str | None = None
    model_label: str | None = None
    repetition: int | None = None
    status: str | None = Field(default=None, description="completed | failed | skipped")
    reason: str | None = Field(default=None, description="why it failed or was skipped")
    prompt: str | None = Field(default=None, description="the rendered prompt sent")
    response: str | None = None
    score: float | None = Field(default=None, description="None until graded")
    passed: bool | None = None
    grading_reason: str | None = None
    assertions: list[AssertionOutcome] = Field(default_factory=list)
    named_scores: dict[str, float] = Field(default_factory=dict)
    latency_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float = 0.0
    judge_cost_usd: float = 0.0
    judge_calls: int = 0
    total_cost_usd: float = Field(default=0.0, description="the trial's call and its judges'")
    cached: bool = False
    attempts: int | None = None


class TrialTotals(BaseModel):
    """Over every trial the filters match, not only this page."""

    trials: int = 0
    completed: int = 0
    failed: int = 0
    skipped: int = 0
    graded: int = 0
    passed: int = 0
    cost_usd: float = 0.0
    judge_cost_usd: float = 0.0
    judge_calls: int = 0
    total_cost_usd: float = 0.0


class TrialsPage(BaseModel):
    experiment_id: str
    offset: int
    limit: int
    next_offset: int | None = Field(description="the next page's offset; None: the last page")
    totals: TrialTotals
    trials: list[TrialRow]


class TrialsEnvelope(Envelope):
    data: TrialsPage


@router.get("/{experiment_id}/trials", responses={200: {"model": TrialsEnvelope}})
async def test_trials(
    request: Request,
    experiment_id: str = EXPERIMENT_ID,
    round_: int | None = Query(None, alias="round", ge=1, le=1_000),
    test_case: str | None = Query(None, min_length=1, max_length=200, pattern=r"^[^\x00]*$",
                                  description="one test case's trials"),
    variation: str | None = Query(None, min_length=1, max_length=100, pattern=ID_PATTERN,
                                  description="one arm's trials"),
    status: Literal["completed", "failed", "skipped"] | None = Query(None),
    offset: int = Query(0, ge=0, le=10_000_000),
    limit: int = Query(100, ge=1, le=MAX_PAGE),
    user: User = Depends(require_user),
) -> JSONResponse:
    """The experiment's trials, one row each, ordered by round, test case, arm, model and
    repetition; `offset`/`limit` page through them, `totals` count and cost them all."""
    if await request.app.state.store.experiment(experiment_id, user.scope) is None:
        raise unknown_experiment(experiment_id)
    query = TrialQuery(experiment_id, user.scope, round=round_, test_case_id=test_case,
                       variation_id=variation, status=status, offset=offset, limit=limit)
    try:
        page = await request.app.state.trial_results.page(query)
    except TrialResultsUnavailable as err:
        raise ApiError(503, "MongoDB is unavailable; try again shortly",
                       details={"mongo": str(err)}, headers={"Retry-After": "5"}) from None
    totals = TrialTotals(**{k: v for k, v in page.totals.items() if k in
                            TrialTotals.model_fields and v is not None})
    totals.total_cost_usd = totals.cost_usd + totals.judge_cost_usd
    rows = [TrialRow(**document_row(doc)) for doc in page.documents]
    more = offset + len(rows) < totals.trials
    return envelope(TrialsPage(
        experiment_id=experiment_id, offset=offset, limit=limit,
        next_offset=offset + len(rows) if more and rows else None,
        totals=totals, trials=rows).model_dump(mode="json"))
