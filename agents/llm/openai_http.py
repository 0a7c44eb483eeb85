"""The lean path: one pooled aiohttp session POSTing OpenAI-protocol JSON.

Why not litellm or the openai SDK here: measured on this project's 2-core box against a
fixed-latency stub at 200 calls in flight, a bare aiohttp POST with JSON parsing costs
~0.35 ms of CPU a call; litellm.acompletion ~9 ms, the openai SDK ~10 ms and httpx ~7.6 ms
(its pool degrades with hundreds of connections). The request and the answer are small,
stable JSON, so this module is a POST and a parse; retries, limits, credentials and prices
live in the client around it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from agents.llm.errors import ProviderError, retry_after_s
from agents.llm.logprobs import summarise


@dataclass(frozen=True)
class ChatReply:
    text: str
    prompt_tokens: int | None  # None: the server sent no usage
    completion_tokens: int | None
    logprobs: tuple[float, int] | None = None  # (sum, tokens), when asked for and sent


@dataclass(frozen=True)
class EmbeddingReply:
    vectors: list[list[float]]
    prompt_tokens: int | None


@dataclass(frozen=True)
class ModerationReply:
    """The categories the moderation model flagged, with its score for each."""

    flags: dict[str, float]


class OpenAIHTTP:
    """One per LLMClient; the session (and its connection pool) opens on the first call,
    in the running event loop."""

    def __init__(self, timeout_s: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def chat(self, url: str, headers: dict[str, str], body: dict[str, Any]) -> ChatReply:
        data = await self._post(url, headers, body)
        try:
            choice = data["choices"][0]
            text = (choice.get("message") or {}).get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            raise ProviderError(200, "invalid_response", f"no choices in {str(data)[:200]}",
                                retryable=False) from None
        usage = data.get("usage") or {}
        return ChatReply(text, usage.get("prompt_tokens"), usage.get("completion_tokens"),
                         summarise(choice.get("logprobs")))

    async def embeddings(
        self, url: str, headers: dict[str, str], body: dict[str, Any]
    ) -> EmbeddingReply:
        data = await self._post(url, headers, body)
        try:
            rows = sorted(data["data"], key=lambda row: row["index"])
            vectors = [list(row["embedding"]) for row in rows]
        except (KeyError, TypeError):
            raise ProviderError(200, "invalid_response", f"no embeddings in {str(data)[:200]}",
                                retryable=False) from None
        return EmbeddingReply(vectors, (data.get("usage") or {}).get("prompt_tokens"))

    async def moderations(
        self, url: str, headers: dict[str, str], body: dict[str, Any]
    ) -> ModerationReply:
        return moderation_reply(await self._post(url, headers, body))

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _post(self, url: str, headers: dict[str, str], body: dict[str, Any]) -> Any:
        session = self._session
        if session is None or session.closed:
            session = self._session = aiohttp.ClientSession(
                # No pool limit: the client's per-model semaphores bound what is in flight.
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
                timeout=self._timeout,
            )
        try:
            async with session.post(url, data=orjson.dumps(body), headers=headers) as response:
                raw = await response.read()
                status = response.status
                if status >= 400:
                    raise _http_error(status, raw, response.headers)
        except TimeoutError:
            raise ProviderError(None, "timeout",
                                f"no answer within {self._timeout.total} s") from None
        except aiohttp.ClientError as err:
            raise ProviderError(None, "connection", f"{type(err).__name__}: {err}") from None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ProviderError(status, "invalid_response", f"not JSON: {raw[:200]!r}",
                                retryable=False) from None


def moderation_reply(data: Any) -> ModerationReply:
    """OpenAI's moderation answer: results[0].categories (true = flagged) and their
    category_scores."""
    try:
        result = data["results"][0]
        categories = result["categories"]
        scores = result.get("category_scores") or {}
        flags = {str(c): float(scores.get(c) or 0.0) for c, hit in categories.items() if hit}
    except (KeyError, IndexError, TypeError, AttributeError, ValueError):
        raise ProviderError(200, "invalid_response", f"no moderation result in "
                            f"{str(data)[:200]}", retryable=False) from None
    return ModerationReply(flags)


def _http_error(status: int, raw: bytes, headers: Any) -> ProviderError:
    """The provider's own words when it sent an OpenAI error object, else the body."""
    kind, message = f"http_{status}", raw.decode(errors="replace")
    try:
        error = orjson.loads(raw).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        error = None
    if isinstance(error, dict):
        kind = str(error.get("type") or error.get("code") or kind)
        message = str(error.get("message") or message)
    elif isinstance(error, str):
        message = error
    return ProviderError(status, kind, message, retry_after_s=retry_after_s(headers))
