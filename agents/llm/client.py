"""The LLM client of the whole product (trials, judges, the meta-optimizer): calls through
litellm's Router with retries and backoff that honour Retry-After, timeouts, per-model
concurrency and rpm limits, token and cost capture, and the deterministic-call cache.

`complete` and `embed` never raise for a provider error: a failed call is a result with
status "failed" and the reason, so a trial is never silently lost.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass, replace
from typing import Any, Literal

from agents.llm.cache import ResponseCache, cache_key, is_deterministic
from agents.llm.litellm_config import load_litellm
from agents.llm.pricing import cost_usd, register_prices
from agents.llm.providers import litellm_params
from schemas.experiment import ModelSpec

log = logging.getLogger("promptopt.llm")
litellm = load_litellm()


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


@dataclass(frozen=True)
class EmbedResult:
    """One vector per input text, in order (None when the call failed)."""

    vectors: list[list[float]] | None
    status: Literal["completed", "failed"]
    reason: str | None = None
    latency_ms: float = 0.0
    prompt_tokens: int | None = None
    cost_usd: float = 0.0
    attempts: int = 1


class LLMClient:
    """One per process. `complete` may be called concurrently from many tasks."""

    def __init__(self, settings: Any, *, cache: ResponseCache | None = None) -> None:
        self._settings = settings
        self.cache = cache
        self._router = litellm.Router(
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

    async def embed(self, model: ModelSpec, texts: list[str]) -> EmbedResult:
        """Embeddings of `texts` by `model` (an embedding model), under the same limits,
        retries and timeouts as completions."""
        group = self._group(model)
        async with self._slots[group]:
            await self._pacers[group].wait()
            self.calls += 1
            started = time.perf_counter()
            try:
                response = await self._router.aembedding(model=group, input=list(texts))
            except Exception as err:
                return EmbedResult(
                    vectors=None,
                    status="failed",
                    reason=_reason(err),
                    latency_ms=(time.perf_counter() - started) * 1000,
                    attempts=1 + int(getattr(err, "num_retries", 0) or 0),
                )
        latency_ms = (time.perf_counter() - started) * 1000
        rows = sorted(response.data, key=lambda d: _field(d, "index"))
        usage = getattr(response, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        return EmbedResult(
            vectors=[list(_field(d, "embedding")) for d in rows],
            status="completed",
            latency_ms=latency_ms,
            prompt_tokens=prompt_tokens,
            cost_usd=cost_usd(model, prompt_tokens, 0),
        )

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


def _reason(err: Exception) -> str:
    status = getattr(err, "status_code", None)
    text = str(err).replace("\n", " ")
    if len(text) > 300:
        text = text[:300] + "..."
    kind = type(err).__name__
    return f"{kind} ({status}): {text}" if status else f"{kind}: {text}"


def _field(item: Any, name: str) -> Any:
    return item[name] if isinstance(item, dict) else getattr(item, name)


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
