"""A/B tests: create one from user-given prompts (no optimizer), read results, stop."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from api.auth import require_user
from api.envelope import COMMON_ERRORS, ApiError, envelope, errors, from_validation_error
from api.experiment_policy import within_limits
from api.routes import API_PREFIX
from api.routes.optimize import experiment_links, submit
from api.spec_body import invalid, new_experiment_id, prompt_text, spec_from_body
from api.store import User
from schemas.bounds import ID_PATTERN, Name, Prompt, VariationText
from schemas.events import ExperimentControl, PromptSubmitted, VariationGenerated
from schemas.experiment import Variation
from topics.catalogue import EXPERIMENT_CONTROL, VARIATION_GENERATED

router = APIRouter(prefix=f"{API_PREFIX}/test", tags=["tests"],
                   responses=COMMON_ERRORS | errors(404, 413))

MAX_VARIATIONS = 21  # the control and up to 20 others, as for optimized experiments
EXPERIMENT_ID = Path(..., min_length=1, max_length=100, pattern=ID_PATTERN)


class VariationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    prompt: Prompt
    system: VariationText | None = None


class StopRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500, pattern=r"^[^\x00]*$")


def variation_id(experiment_id: str, index: int) -> str:
    """Deterministic: the same test gets the same ids however often it is published."""
    return f"{experiment_id}-v{index}"


def variations_from_body(body: dict[str, Any]) -> list[VariationIn]:
    raw = body.pop("variations", None)
    config = body.get("config")
    if raw is None and isinstance(config, dict) and len(config.get("prompts") or []) > 1:
        # A promptfoo config comparing several prompts: those prompts are the variations.
        raw = [{"name": p.get("label") if isinstance(p, dict) else None,
                "prompt": prompt_text(p)} for p in config["prompts"]]
    if raw is None:
        raise invalid("variations", "Field required (a list of prompts, the control first)")
    if isinstance(raw, list):
        # The seeds' body: variations as plain prompt strings.
        raw = [{"prompt": v} if isinstance(v, str) else v for v in raw]
    try:
        variations = TypeAdapter(list[VariationIn]).validate_python(raw)
    except ValidationError as err:
        raise from_validation_error(err, prefix="variations") from None
    if not 2 <= len(variations) <= MAX_VARIATIONS:
        raise invalid("variations", f"give between 2 and {MAX_VARIATIONS} variations "
                                    f"(got {len(variations)}); the first is the control")
    return variations


# Seconds a trial takes end to end, for estimated_duration: an LLM call of about a second,
# `llm_concurrency` of them at a time per worker. A rough figure, and labelled as one.
SECONDS_PER_TRIAL_CALL = 1.0


def planned_sample(spec: Any, n_variations: int) -> dict[str, int]:
    """Trials per variation and in all (the cells it runs: test case x model x repetition)."""
    per_variation = spec.cells(spec.control_models)
    return {"per_variation": per_variation, "variations": n_variations,
            "total": per_variation * n_variations}


def estimated_duration_s(total_trials: int, concurrency: int) -> int:
    return max(1, round(total_trials / max(1, concurrency) * SECONDS_PER_TRIAL_CALL))


@router.post("/create", status_code=201)
async def create_test(
    request: Request,
    body: dict[str, Any] = Body(..., description="an ExperimentSpec (prompt optional) or "
                                "{\"config\": {...}}, plus `variations`: [{name, prompt, "
                                "system}], the first being the control"),
    user: User = Depends(require_user),
) -> JSONResponse:
    """An A/B test of the given prompts, without the optimizer (variation-generated).
    `variations` may be objects or, as in the seeds, plain prompt strings. Answers 201 with
    the seeds' test_id, sample_size and estimated_duration (seconds) beside our fields."""
    return await create_from_body(request, body, user)


async def create_from_body(request: Request, body: dict[str, Any], user: User) -> JSONResponse:
    body = dict(body)
    variations = variations_from_body(body)
    if "config" not in body:
        body.setdefault("prompt", variations[0].prompt)
    spec = spec_from_body(body)
    control = variations[0]
    spec = within_limits(spec.model_copy(update={
        "prompt": control.prompt, "system": control.system,
        "n_variations": len(variations) - 1, "max_rounds": 1}), request.app.state.core)
    experiment_id = new_experiment_id(spec)
    owner = {"team_id": user.team_id, "user_id": user.id}
    event = VariationGenerated(
        experiment_id=experiment_id, round=1, spec=spec, **owner,
        variations=tuple(
            Variation(variation_id=variation_id(experiment_id, i),
                      name=v.name or ("control" if i == 0 else f"variation-{i}"),
                      prompt=v.prompt, system=v.system, is_control=i == 0,
                      rationale="given by the user")
            for i, v in enumerate(variations)),
    )
    await submit(request, VARIATION_GENERATED, event,
                 PromptSubmitted(experiment_id=experiment_id, spec=spec, **owner))
    sample = planned_sample(spec, len(event.variations))
    return envelope({
        "experiment_id": experiment_id, "test_id": experiment_id, "status": "submitted",
        "variations": [{"variation_id": v.variation_id, "name": v.name,
                        "is_control": v.is_control} for v in event.variations],
        "sample_size": sample,
        "estimated_duration": estimated_duration_s(sample["total"],
                                                   request.app.state.core.llm_concurrency),
        "links": experiment_links(experiment_id),
    }, status=201, message="A/B test created")


@router.get("/{experiment_id}/results")
async def test_results(
    request: Request,
    experiment_id: str = EXPERIMENT_ID,
    round_: int | None = Query(None, alias="round", ge=1, description="default: the latest"),
    user: User = Depends(require_user),
) -> JSONResponse:
    """The experiment's A/B test as stored: status, decision, one row per variation and the
    latest analysis (its final one once decided)."""
    results = await request.app.state.store.test_results(experiment_id, user.scope, round_)
    if results is None:
        raise unknown_experiment(experiment_id)
    if round_ is not None and results["test"] is None:
        raise ApiError(404, f"experiment {experiment_id!r} has no round {round_}")
    return envelope(results)


@router.post("/{experiment_id}/stop", status_code=202)
async def stop_test(
    request: Request,
    experiment_id: str = EXPERIMENT_ID,
    body: StopRequest | None = Body(None),
    user: User = Depends(require_user),
) -> JSONResponse:
    """Stop a running test: trials not yet made are skipped, and the final analysis comes
    from what was measured."""
    experiment = await request.app.state.store.experiment(experiment_id, user.scope)
    if experiment is None:
        raise unknown_experiment(experiment_id)
    reason = (body.reason if body else "") or f"stopped by {user.email}"
    # The experiment's owner, not the caller's: an admin's stop is still the team's event.
    await request.app.state.bus.publish(EXPERIMENT_CONTROL, ExperimentControl(
        experiment_id=experiment_id, command="stop", reason=reason,
        team_id=experiment.team_id, user_id=experiment.user_id))
    return envelope({"experiment_id": experiment_id, "command": "stop", "reason": reason,
                     "status_before": experiment.status,
                     "links": experiment_links(experiment_id)}, status=202)


def unknown_experiment(experiment_id: str) -> ApiError:
    # The same answer for another team's experiment as for none at all: ids do not leak.
    return ApiError(404, f"unknown experiment {experiment_id!r}")

