"""Provider errors as data: what went wrong, whether a retry can cure it, and how long the
provider asked us to wait. Both transports (the lean OpenAI-protocol client and litellm)
raise ProviderError; the client turns the last one into a failed result with its reason."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

# Statuses a retry can cure, as the OpenAI SDK retries them: request timeout, conflict
# (a lock held by a concurrent request), rate limit, and every server error. 400, 401,
# 403, 404 and 422 say the request itself is wrong: sending it again cannot help.
RETRYABLE_STATUSES = frozenset({408, 409, 429})
MESSAGE_CHARS = 300


class ProviderError(Exception):
    """A call that did not produce an answer.

    status: the HTTP status, None when no answer came back (connection refused, timeout).
    kind: a short name for the failure (rate_limit_error, timeout, connection, ...).
    retry_after_s: what the provider's Retry-After (or retry-after-ms) asked for, if any.
    """

    def __init__(
        self,
        status: int | None,
        kind: str,
        message: str,
        *,
        retry_after_s: float | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = _short(message)
        self.retry_after_s = retry_after_s
        self.retryable = is_retryable(status) if retryable is None else retryable

    @property
    def reason(self) -> str:
        where = f"HTTP {self.status}" if self.status is not None else "no response"
        return f"{self.kind} ({where}): {self.message}"

    def __repr__(self) -> str:
        return f"ProviderError({self.reason!r})"


# What a status no retry can cure says about the request, beside the provider's own words.
MEANINGS = {
    400: "the provider refused the request itself (a parameter or the input)",
    401: "the provider refused the credentials",
    403: "the credentials may not use this model or action",
    404: "the provider knows no such model or address",
    422: "the provider refused the request's content",
}


def failure_reason(err: ProviderError, key_source: str | None = None) -> str:
    """A failed call's reason: the provider's words, and for an error a retry cannot cure,
    what it means (whose key was refused) and that it was not retried."""
    meaning = MEANINGS.get(err.status or 0)
    if err.retryable or meaning is None:
        return err.reason
    if err.status in (401, 403) and key_source:
        meaning += f" (the key from {key_source})"
    return f"{err.reason} -- {meaning}; not retried: a retry cannot cure it"


def is_retryable(status: int | None) -> bool:
    """No answer at all (a dropped connection, a timeout) is worth another try too."""
    return status is None or status in RETRYABLE_STATUSES or status >= 500


def retry_after_s(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms` (OpenAI, Azure) or `Retry-After` (seconds or
    an HTTP date, RFC 9110); None when absent or unreadable."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS] + "..."
