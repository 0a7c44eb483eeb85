"""POST /analyze and /predict: the optimizer room's prompt analysis and predictor."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require_user
from api.envelope import ApiError, envelope
from api.spec_body import invalid
from api.routes import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["analysis"],
                   dependencies=[Depends(require_user)])


class AnalyzeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(max_length=10_000)
    system: str | None = Field(default=None, max_length=10_000)
    models: list[str] = Field(default_factory=list, max_length=10,
                              description="litellm model ids to count tokens for")
    tokens: bool = True


@router.post("/analyze")
async def analyze(body: AnalyzeRequest) -> JSONResponse:
    """Components, clarity and specificity (with their features), issues with fixes,
    patterns already used, token counts."""
    from agents.optimizer.analysis import InvalidPrompt, analyze_prompt, check_prompt

    try:
        check_prompt(body.prompt)
    except InvalidPrompt as err:
        raise invalid("prompt", str(err)) from None
    # Regular expressions and, for tokens, litellm's tokenizers: CPU work, off the loop.
    result = await run_in_threadpool(analyze_prompt, body.prompt, body.system,
                                     models=body.models, tokens=body.tokens)
    return envelope(result.to_json())


@router.post("/predict")
async def predict() -> JSONResponse:
    raise ApiError(501, "the performance predictor is not built yet: the optimizer room has "
                        "no trained model to serve (agents/optimizer has no predictor module)")
