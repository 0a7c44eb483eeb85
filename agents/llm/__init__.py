"""The LLM client of the product: every LLM call (trials, judges, the meta-optimizer) goes
through `LLMClient`, so limits, retries, timeouts, the cache, tokens and cost apply to all.

    client = LLMClient(settings, cache=ResponseCache())
    result = await client.complete(model_spec, messages)   # LLMResult, never raises
    vectors = await client.embed(model_spec, texts)        # EmbedResult, never raises

Importing this package does not import litellm; `agents.llm.client` does (seconds).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agents.llm.cache import ResponseCache, cache_key, is_deterministic

if TYPE_CHECKING:
    from agents.llm.client import EmbedResult, LLMClient, LLMResult

__all__ = [
    "EmbedResult",
    "LLMClient",
    "LLMResult",
    "ResponseCache",
    "cache_key",
    "is_deterministic",
]


def __getattr__(name: str) -> Any:
    # The client imports litellm (seconds): only when asked for.
    if name in ("EmbedResult", "LLMClient", "LLMResult"):
        from agents.llm import client

        return getattr(client, name)
    raise AttributeError(name)
