"""POST /analyze and /predict: the optimizer room's prompt analysis and performance
predictor."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require_user
from api.envelope import COMMON_ERRORS, ApiError, envelope, errors
from api.routes import API_PREFIX
from schemas.bounds import LongText, ModelId, Name, Prompt, ShortText

router = APIRouter(prefix=API_PREFIX, tags=["analysis"], dependencies=[Depends(require_user)],
                   responses=COMMON_ERRORS | errors(413))

class AnalyzeRequest(BaseModel):
    """The same prompt limits as an experiment's (schemas.bounds)."""

    model_config = ConfigDict(extra="forbid")

    prompt: Prompt
    system: LongText | None = None
    models: list[ModelId] = Field(default_factory=list, max_length=10,
                                  description="litellm model ids to count tokens for")
    tokens: bool = True


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: Prompt
    system: LongText | None = None
    models: list[ModelId] = Field(min_length=1, max_length=10, description="litellm model ids")
    domain: ShortText = "general"
    patterns: list[Name] = Field(default_factory=list, max_length=50,
                                 description="library patterns the prompt was built with")


@router.post("/analyze")
async def analyze(body: AnalyzeRequest) -> JSONResponse:
    """Components, clarity and specificity (with their features), issues with fixes,
    patterns already used, token counts."""
    from agents.optimizer.analysis import analyze_prompt

    # Regular expressions and, for tokens, litellm's tokenizers: CPU work, off the loop.
    result = await run_in_threadpool(analyze_prompt, body.prompt, body.system,
                                     models=body.models, tokens=body.tokens)
    return envelope(result.to_json())


class PredictorFile:
    """The trained predictor, loaded on first use and again whenever its file changes (a
    retrained model is picked up without restarting the API)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._loaded: tuple[float, Any] | None = None

    def get(self) -> Any:
        from agents.optimizer.predictor import DEFAULT_PATH
        from agents.optimizer.services import load_predictor

        path = Path(self._path) if self._path else DEFAULT_PATH
        with self._lock:
            try:
                mtime = os.stat(path).st_mtime
            except OSError:
                return None
            if self._loaded is None or self._loaded[0] != mtime:
                self._loaded = (mtime, load_predictor(path))
            return self._loaded[1]


def predict_scores(predictor: Any, body: PredictRequest) -> dict[str, Any]:
    from agents.optimizer.predictor import features

    rows = [features(body.prompt, body.system, body.patterns, m, body.domain)
            for m in body.models]
    predictions = predictor.predict_many(rows)
    per_model = [{"model": m, "score": round(p.score, 4), "confidence": p.confidence,
                  "spread": round(p.spread, 4)}
                 for m, p in zip(body.models, predictions, strict=True)]
    return {
        "score": round(sum(p.score for p in predictions) / len(predictions), 4),
        "confidence": round(sum(p.confidence for p in predictions) / len(predictions), 3),
        "models": per_model,
        "predictor": {k: predictor.meta.get(k) for k in ("rows", "models", "domains")},
    }


@router.post("/predict")
async def predict(request: Request, body: PredictRequest) -> JSONResponse:
    """The expected mean score of a prompt on each model, from the predictor trained on
    measured trials, with a confidence (1: its trees agree; 0: they spread over the scale)."""
    predictor = await run_in_threadpool(request.app.state.predictor.get)
    if predictor is None:
        raise ApiError(503, "no trained predictor yet: train one from measured results with "
                            "`promptopt optimize --train RESULTS.json` (or --train-simulated N)",
                       code="not-trained")
    return envelope(await run_in_threadpool(predict_scores, predictor, body))
