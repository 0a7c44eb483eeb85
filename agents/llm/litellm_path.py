"""The path for providers that do not speak the OpenAI protocol (Anthropic, Gemini,
Bedrock, Vertex, Cohere, ...): litellm's acompletion / aembedding, with litellm's own
retries off (the client retries, so attempts are counted in one place) and its errors
turned into ProviderError with the status and Retry-After they carry."""

from __future__ import annotations

from typing import Any

from agents.llm.errors import ProviderError, retry_after_s
from agents.llm.litellm_config import load_litellm
from agents.llm.logprobs import summarise
from agents.llm.openai_http import ChatReply, EmbeddingReply, ModerationReply, moderation_reply


async def chat(params: dict[str, Any], messages: list[dict[str, Any]]) -> ChatReply:
    litellm = load_litellm()
    try:
        response = await litellm.acompletion(messages=messages, **params)
    except Exception as err:
        raise _provider_error(err) from None
    usage = getattr(response, "usage", None)
    choice = response.choices[0]
    return ChatReply(
        choice.message.content or "",
        getattr(usage, "prompt_tokens", None),
        getattr(usage, "completion_tokens", None),
        summarise(getattr(choice, "logprobs", None)),
    )


async def embeddings(params: dict[str, Any], texts: list[str]) -> EmbeddingReply:
    litellm = load_litellm()
    params = {k: v for k, v in params.items()
              if k not in ("max_tokens", "seed", "temperature", "logprobs")}
    try:
        response = await litellm.aembedding(input=texts, **params)
    except Exception as err:
        raise _provider_error(err) from None
    rows = sorted(response.data, key=lambda row: _field(row, "index"))
    usage = getattr(response, "usage", None)
    return EmbeddingReply([list(_field(r, "embedding")) for r in rows],
                          getattr(usage, "prompt_tokens", None))


async def moderation(params: dict[str, Any], text: str) -> ModerationReply:
    litellm = load_litellm()
    params = {k: v for k, v in params.items() if k in ("model", "api_key", "api_base")}
    try:
        response = await litellm.amoderation(input=text, **params)
    except Exception as err:
        raise _provider_error(err) from None
    data = response.model_dump() if hasattr(response, "model_dump") else response
    return moderation_reply(data)


def supports_logprobs(model: str, provider: str) -> bool:
    """Whether litellm can ask this provider for token log-probabilities. A provider that
    cannot is called without them (the trial still gets its answer; a perplexity assertion
    then fails saying the provider sent none) rather than refused by litellm."""
    try:
        supported = load_litellm().get_supported_openai_params(
            model=model, custom_llm_provider=provider) or []
    except Exception:
        return False
    return "logprobs" in supported


def _provider_error(err: Exception) -> ProviderError:
    status = getattr(err, "status_code", None)
    headers = getattr(err, "litellm_response_headers", None)
    if headers is None:
        headers = getattr(getattr(err, "response", None), "headers", None)
    message = str(getattr(err, "message", None) or err)
    if type(err).__name__ in ("Timeout", "APITimeoutError"):
        return ProviderError(None, "timeout", message)
    if not isinstance(status, int):  # not a provider's answer: a bug or bad parameters
        return ProviderError(None, type(err).__name__, message, retryable=False)
    return ProviderError(status, type(err).__name__, message,
                         retry_after_s=retry_after_s(headers) if headers is not None else None)


def _field(item: Any, name: str) -> Any:
    return item[name] if isinstance(item, dict) else getattr(item, name)
