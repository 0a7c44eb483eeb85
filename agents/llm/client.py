"""The LLM client of the whole product (trials, judges, the meta-optimizer).

Per call: the deterministic-call cache, then per-model limits (concurrency, rpm), retries
with backoff that honour Retry-After (tenacity, only for errors a retry can cure), a
timeout per attempt, tokens and cost. Providers that speak the OpenAI protocol (OpenAI,
Azure, vLLM, Ollama, OpenRouter, Together, Groq, DeepSeek, Mistral, ..., the simulator) are
called over one pooled aiohttp session (openai_http.py); every other provider through
litellm (litellm_path.py). litellm also supplies prices and token counts, once per model.

`complete`, `embed` and `moderate` never raise for a provider error: a failed call is a result with
status "failed" and the reason, so a trial is never silently lost.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Any, Literal

from agents.llm import allowed_hosts, litellm_path
from agents.llm.cache import ResponseCache, cache_key, is_deterministic
from agents.llm.errors import ProviderError, failure_reason
from agents.llm.limits import ModelLimits
from agents.llm.litellm_config import load_litellm_off_loop
from agents.llm.openai_http import ChatReply, EmbeddingReply, ModerationReply, OpenAIHTTP
from agents.llm.pricing import Prices, prices_for, register_prices
from agents.llm.providers import (
    Route,
    api_key,
    auth_headers,
    key_source,
    litellm_params,
    route,
)
from agents.llm.retry import retrying
from promptopt.retries import first_then_retrying
from schemas.experiment import ModelSpec

log = logging.getLogger("promptopt.llm")


@dataclass(frozen=True)
class LLMResult:
    text: str | None
    status: Literal["completed", "failed"]
    reason: str | None = None
    latency_ms: float = 0.0  # the answering attempt's round trip (failed: the whole call)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float = 0.0
    attempts: int = 1  # requests sent (0: none, e.g. a missing key or a cache hit)
    cached: bool = False
    # The answer's token log-probabilities, summarised (agents/llm/logprobs.py): their sum
    # and count, when the model was asked for them (ModelSpec.logprobs) and sent them.
    logprob_total: float | None = None
    logprob_tokens: int = 0


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


@dataclass(frozen=True)
class ModerationResult:
    """The categories a moderation model flagged in a text, with their scores."""

    flags: dict[str, float] | None
    status: Literal["completed", "failed"]
    reason: str | None = None
    latency_ms: float = 0.0
    attempts: int = 1
    cost_usd: float = 0.0  # OpenAI's moderation endpoint is free; litellm may price others


class _Model:
    """What the client keeps per ModelSpec, worked out on its first call."""

    def __init__(self, model: ModelSpec, settings: Any, limits: ModelLimits) -> None:
        self.route: Route = route(model, settings)
        self.limits = limits
        self.prices: Prices = prices_for(model)
        self.options: dict[str, Any] = {}
        for name in ("temperature", "max_tokens", "seed"):
            value = getattr(model, name)
            if value is not None:
                self.options[self.route.body_field(name)] = value
        if model.logprobs:
            self.options["logprobs"] = True
        self.params: dict[str, Any] = {}
        if self.route.protocol == "litellm":
            register_prices(model, model.id)
            self.params = {**litellm_params(model, settings), **self._litellm_options(model)}
            if model.logprobs and litellm_path.supports_logprobs(model.id, self.route.provider):
                self.params["logprobs"] = True
        self._key: str | None = None
        self._headers = auth_headers(self.route, None)
        # The SSRF guard (allowed_hosts): where the spec sends calls, and whether the
        # worker's keys may go along. The address check resolves names: on the first call.
        self._settings = settings
        self._address_checked = False
        self._refusal: str | None = None
        self._withheld = allowed_hosts.credential_refusal(model, self.route, settings)

    async def check_address(self, model: ModelSpec) -> None:
        """ProviderError (nothing sent, not retried) unless the settings allow the address."""
        if not self._address_checked:
            self._refusal = await allowed_hosts.call_refusal(model, self.route, self._settings)
            self._address_checked = True
        if self._refusal is not None:
            raise ProviderError(None, "host_not_allowed", self._refusal, retryable=False)

    def headers(self, model: ModelSpec) -> dict[str, str]:
        """Auth headers with the key read now (a rotated key is picked up on the next call).
        A host not allowed the provider's credentials is called without them."""
        key = None if self._withheld else api_key(model, self.route)
        if key != self._key:
            self._key, self._headers = key, auth_headers(self.route, key)
        return self._headers

    def litellm_params(self, model: ModelSpec) -> dict[str, Any]:
        """litellm's parameters with the key read now (None: litellm reads the provider's
        usual variables itself, which is why a host not allowed them is not called through
        litellm at all: some providers sign with credentials no api_key replaces)."""
        if self._withheld:
            raise ProviderError(None, "credentials_withheld", self._withheld, retryable=False)
        key = api_key(model, self.route)
        return self.params if key is None else {**self.params, "api_key": key}

    def reason(self, model: ModelSpec, err: ProviderError) -> str:
        return failure_reason(err, key_source(model, self.route))

    @staticmethod
    def _litellm_options(model: ModelSpec) -> dict[str, Any]:
        return {n: getattr(model, n) for n in ("temperature", "max_tokens", "seed")
                if getattr(model, n) is not None}


class LLMClient:
    """One per process (or per runtime). `complete` and `embed` may be called concurrently
    from many tasks of one event loop."""

    def __init__(self, settings: Any, *, cache: ResponseCache | None = None) -> None:
        self._settings = settings
        self.cache = cache
        self._http = OpenAIHTTP(settings.llm_timeout_s)
        self._models: dict[ModelSpec, _Model] = {}
        # One model's limits however its calls differ in options (a trial asking for
        # logprobs, a judge at temperature 0): keyed by where the calls go.
        self._limits: dict[tuple[Any, ...], ModelLimits] = {}
        self._max_retries = int(settings.llm_max_retries)
        self._max_retry_after_s = float(getattr(settings, "llm_max_retry_after_s", 60.0))
        self.calls = 0  # requests sent to a provider (cache hits excluded, retries included)

    async def complete(self, model: ModelSpec, messages: list[dict[str, Any]]) -> LLMResult:
        if model not in self._models:  # its prices come from litellm (litellm_config: why)
            await load_litellm_off_loop()
        if self.cache is not None and is_deterministic(model):
            result, hit = await self.cache.get_or_call(
                cache_key(model, messages),
                lambda: self._complete(model, messages),
                keep=lambda r: r.status == "completed",
            )
            if hit:
                return replace(result, cached=True, cost_usd=0.0, attempts=0, latency_ms=0.0)
            return result
        return await self._complete(model, messages)

    async def embed(self, model: ModelSpec, texts: list[str]) -> EmbedResult:
        """Embeddings of `texts` by `model` (an embedding model), under the same limits,
        retries and timeouts as completions."""
        if model not in self._models:
            await load_litellm_off_loop()
        m = self._model(model)
        texts = list(texts)
        started = time.perf_counter()
        try:
            reply, attempts, latency_ms = await self._request(
                m, model,
                lambda headers: self._http.embeddings(
                    m.route.embeddings_url, headers, {"model": m.route.model, "input": texts}),
                lambda params: litellm_path.embeddings(params, texts))
        except _Failed as failed:
            return EmbedResult(None, "failed", m.reason(model, failed.error), _ms(started),
                               attempts=failed.attempts)
        except ProviderError as err:  # nothing sent (no key, a host not allowed)
            return EmbedResult(None, "failed", err.reason, attempts=0)
        assert isinstance(reply, EmbeddingReply)
        tokens = reply.prompt_tokens
        if tokens is None:
            tokens = sum(_count(model, t) for t in texts)
        return EmbedResult(reply.vectors, "completed", latency_ms=latency_ms,
                           prompt_tokens=tokens, cost_usd=tokens * m.prices[0],
                           attempts=attempts)

    async def moderate(self, model: ModelSpec, text: str) -> ModerationResult:
        """What a moderation model (OpenAI's /moderations protocol) flags in `text`, under
        the same limits, retries and timeouts as completions."""
        m = self._model(model)
        started = time.perf_counter()
        if m.route.protocol == "openai" and not m.route.moderations_url:
            return ModerationResult(None, "failed", f"{model.id}: {m.route.provider} serves no "
                                    "moderation endpoint", attempts=0)
        try:
            reply, attempts, latency_ms = await self._request(
                m, model,
                lambda headers: self._http.moderations(
                    m.route.moderations_url, headers, {"model": m.route.model, "input": text}),
                lambda params: litellm_path.moderation(params, text))
        except _Failed as failed:
            return ModerationResult(None, "failed", m.reason(model, failed.error),
                                    _ms(started), attempts=failed.attempts)
        except ProviderError as err:  # nothing sent (no key, a host not allowed)
            return ModerationResult(None, "failed", err.reason, attempts=0)
        assert isinstance(reply, ModerationReply)
        return ModerationResult(reply.flags, "completed", latency_ms=latency_ms,
                                attempts=attempts)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _complete(self, model: ModelSpec, messages: list[dict[str, Any]]) -> LLMResult:
        m = self._model(model)
        started = time.perf_counter()
        try:
            reply, attempts, latency_ms = await self._request(
                m, model,
                lambda headers: self._http.chat(
                    m.route.chat_url, headers,
                    {"model": m.route.model, "messages": messages, **m.options}),
                lambda params: litellm_path.chat(params, messages))
        except _Failed as failed:
            return LLMResult(None, "failed", m.reason(model, failed.error), _ms(started),
                             attempts=failed.attempts)
        except ProviderError as err:  # nothing sent (no key, a host not allowed)
            return LLMResult(None, "failed", err.reason, attempts=0)
        assert isinstance(reply, ChatReply)
        prompt_tokens, completion_tokens = reply.prompt_tokens, reply.completion_tokens
        if prompt_tokens is None or completion_tokens is None:  # a server without usage
            prompt_tokens = sum(_count(model, str(m_.get("content") or "")) for m_ in messages)
            completion_tokens = _count(model, reply.text)
        total, tokens = reply.logprobs if reply.logprobs is not None else (None, 0)
        return LLMResult(
            text=reply.text,
            status="completed",
            latency_ms=latency_ms,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=prompt_tokens * m.prices[0] + completion_tokens * m.prices[1],
            attempts=attempts,
            logprob_total=total,
            logprob_tokens=tokens,
        )

    async def _request(self, m: _Model, model: ModelSpec, lean: Any,
                       via_litellm: Any) -> tuple[Any, int, float]:
        """Check the address, then send over the model's path: lean(headers) for the OpenAI
        protocol, via_litellm(params) for the rest. Raises ProviderError when nothing could
        be sent (a host not allowed, no key), _Failed when every attempt failed."""
        await m.check_address(model)
        if m.route.protocol == "openai":
            headers = m.headers(model)
            return await self._send(m, lambda: lean(headers))
        params = m.litellm_params(model)
        return await self._send(m, lambda: via_litellm(params))

    async def _send(self, m: _Model, attempt: Any) -> tuple[Any, int, float]:
        """(reply, requests sent, the answering request's milliseconds); raises _Failed."""
        sent = 0

        async def send() -> tuple[Any, int, float]:
            nonlocal sent
            async with m.limits:
                sent += 1
                self.calls += 1
                started = time.perf_counter()
                reply = await attempt()
                return reply, sent, _ms(started)

        try:
            return await first_then_retrying(
                send, lambda: retrying(self._max_retries, self._max_retry_after_s))
        except ProviderError as err:
            raise _Failed(err, sent) from None

    def _model(self, model: ModelSpec) -> _Model:
        m = self._models.get(model)
        if m is None:
            key = (model.id, model.api_base, model.max_concurrency, model.rpm)
            limits = self._limits.get(key)
            if limits is None:
                limits = self._limits[key] = ModelLimits(
                    model.max_concurrency or self._settings.llm_concurrency, model.rpm)
            m = self._models[model] = _Model(model, self._settings, limits)
        return m


class _Failed(Exception):
    def __init__(self, error: ProviderError, attempts: int) -> None:
        self.error, self.attempts = error, attempts


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _count(model: ModelSpec, text: str) -> int:
    from agents.llm.tokens import count_tokens

    return count_tokens(model.id, text)
