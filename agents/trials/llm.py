"""LLM calls for trials, through litellm's Router: retries with backoff that honour
Retry-After, timeouts, per-model limits, token and cost capture.

`LLMClient.complete` never raises for an LLM error: a failed call is an LLMResult with
status "failed" and the reason, so a trial is never silently lost.

Models named "sim/NAME" are served by the LLM simulator: litellm sees "openai/NAME" at
settings.sim_base_url (or the ModelSpec's api_base) with a dummy key.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass, replace
from typing import Any, Literal

import promptopt.settings  # noqa: F401  (local cost map before litellm is imported)

import litellm
from litellm import Router

from agents.trials.cache import ResponseCache, cache_key, is_deterministic
from schemas.experiment import ModelSpec

log = logging.getLogger("promptopt.trials.llm")
litellm.suppress_debug_info = True

SIM_PREFIX = "sim/"
# Prices for simulator models without overrides: a cheap hosted model's, so budgets bite.
SIM_INPUT_COST_PER_TOKEN = 1e-6
SIM_OUTPUT_COST_PER_TOKEN = 2e-6


@dataclass(frozen=True)
class LLMResult:
    text: str | None
    status: Literal["completed", "failed"]
    reason: str | None = None
    latency_ms: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float = 0.0
    attempts: int = 1
    cached: bool = False


class LLMClient:
    """One per process. `complete` may be called concurrently from many tasks."""

    def __init__(self, settings: Any, *, cache: ResponseCache | None = None) -> None:
        self._settings = settings
        self.cache = cache
        self._router = Router(
            model_list=[],
            num_retries=settings.llm_max_retries,
            timeout=settings.llm_timeout_s,
            retry_after=0,  # backoff floor; a Retry-After header raises it
            # One deployment per model group: cooling it down would fail every trial of the
            # model for a while after a few injected 429s, instead of retrying each call.
            disable_cooldowns=True,
        )
        self._groups: dict[str, str] = {}
        # litellm's max_parallel_requests rejects a call over the limit with a 429 instead of
        # queueing it; a trial should wait for a slot, so per-model concurrency is a semaphore.
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._pacers: dict[str, _Pacer] = {}
        self.calls = 0  # calls sent to a provider (cache hits excluded)

    async def complete(self, model: ModelSpec, messages: list[dict[str, Any]]) -> LLMResult:
        if self.cache is not None and is_deterministic(model):
            result, hit = await self.cache.get_or_call(
                cache_key(model, messages),
                lambda: self._call(model, messages),
                keep=lambda r: r.status == "completed",
            )
            if hit:
                return replace(result, cached=True, cost_usd=0.0, attempts=0, latency_ms=0.0)
            return result
        return await self._call(model, messages)

    async def aclose(self) -> None:
        # Unhooks the Router from litellm's global callback lists (else they grow per client).
        self._router.discard()

    async def _call(self, model: ModelSpec, messages: list[dict[str, Any]]) -> LLMResult:
        group = self._group(model)
        params: dict[str, Any] = {}
        if model.temperature is not None:
            params["temperature"] = model.temperature
        if model.max_tokens is not None:
            params["max_tokens"] = model.max_tokens
        if model.seed is not None:
            params["seed"] = model.seed
        async with self._slots[group]:
            await self._pacers[group].wait()
            self.calls += 1
            started = time.perf_counter()
            try:
                response = await self._router.acompletion(model=group, messages=messages, **params)
            except Exception as err:  # every provider error becomes a failed trial
                return LLMResult(
                    text=None,
                    status="failed",
                    reason=_reason(err),
                    latency_ms=(time.perf_counter() - started) * 1000,
                    attempts=1 + int(getattr(err, "num_retries", 0) or 0),
                )
        latency_ms = (time.perf_counter() - started) * 1000
        usage = getattr(response, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        headers = (getattr(response, "_hidden_params", None) or {}).get("additional_headers", {})
        retries = int(headers.get("x-litellm-attempted-retries") or 0)
        return LLMResult(
            text=response.choices[0].message.content or "",
            status="completed",
            latency_ms=latency_ms,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=cost_usd(model, prompt_tokens, completion_tokens),
            attempts=1 + retries,
        )

    def _group(self, model: ModelSpec) -> str:
        """The Router model group for this spec, added on first use (experiments bring their
        own models, so the model list cannot be known at start)."""
        params = litellm_params(model, self._settings)
        fingerprint = hashlib.sha1(repr(sorted(params.items())).encode()).hexdigest()[:12]
        group = self._groups.get(fingerprint)
        if group is None:
            group = f"{model.id}#{fingerprint}"
            register_prices(model, params["model"])
            self._router.add_deployment(
                litellm.types.router.Deployment(model_name=group, litellm_params=params)
            )
            self._groups[fingerprint] = group
            limit = model.max_concurrency or self._settings.llm_concurrency
            self._slots[group] = asyncio.Semaphore(limit)
            self._pacers[group] = _Pacer(model.rpm)
        return group


def litellm_params(model: ModelSpec, settings: Any) -> dict[str, Any]:
    """What litellm needs to reach `model` (no limits here: the client enforces those)."""
    params: dict[str, Any] = {"timeout": settings.llm_timeout_s}
    if model.id.startswith(SIM_PREFIX):
        params["model"] = "openai/" + model.id.removeprefix(SIM_PREFIX)
        params["api_base"] = model.api_base or settings.sim_base_url
        params["api_key"] = model.api_key or "sim-key"
    else:
        params["model"] = model.id
        if model.api_base:
            params["api_base"] = model.api_base
        if model.api_key:
            params["api_key"] = model.api_key
    # The openai SDK would retry on its own too, hiding attempts from the Router's count.
    params["max_retries"] = 0
    return params


def register_prices(model: ModelSpec, litellm_model: str) -> None:
    """Put the prices of a model litellm cannot price into its cost map, once. Without it,
    litellm runs a zero-cost diagnostic over the whole map on every call (~4 ms of CPU here);
    prices passed per call instead make it rebuild a map index on every call."""
    prices = model_prices(model)
    if prices is None:
        return
    entry = {
        "input_cost_per_token": prices[0],
        "output_cost_per_token": prices[1],
        "litellm_provider": litellm_model.split("/", 1)[0],
        "mode": "chat",
        # Stated, or litellm warns at registration that it defaults them to 0.
        "cache_creation_input_token_cost": 0.0,
        "cache_read_input_token_cost": 0.0,
    }
    if litellm.model_cost.get(litellm_model) != entry:
        litellm.register_model({litellm_model: entry})


def model_prices(model: ModelSpec) -> tuple[float, float] | None:
    """(input, output) USD per token from overrides or the simulator default; None: ask
    litellm's cost map."""
    if model.input_cost_per_token is not None or model.output_cost_per_token is not None:
        return model.input_cost_per_token or 0.0, model.output_cost_per_token or 0.0
    if model.id.startswith(SIM_PREFIX):
        return SIM_INPUT_COST_PER_TOKEN, SIM_OUTPUT_COST_PER_TOKEN
    return None


def cost_usd(model: ModelSpec, prompt_tokens: int, completion_tokens: int) -> float:
    """Price overrides first, then litellm's (local) cost map; simulator models have a
    small default price; unknown models cost 0 rather than failing the trial."""
    prices = model_prices(model)
    if prices is not None:
        return prompt_tokens * prices[0] + completion_tokens * prices[1]
    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model.id, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:
        return 0.0
    return float(prompt_cost + completion_cost)


def _reason(err: Exception) -> str:
    status = getattr(err, "status_code", None)
    text = str(err).replace("\n", " ")
    if len(text) > 300:
        text = text[:300] + "..."
    kind = type(err).__name__
    return f"{kind} ({status}): {text}" if status else f"{kind}: {text}"


class _Pacer:
    """Spaces call starts at least 60/rpm seconds apart (no-op without an rpm limit)."""

    def __init__(self, rpm: int | None) -> None:
        self._interval = 60.0 / rpm if rpm else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self._interval:
            return
        async with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self._interval
        if delay > 0:
            await asyncio.sleep(delay)
