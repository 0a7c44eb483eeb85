"""When to try a call again and how long to wait (tenacity).

Only errors a retry can cure are retried (ProviderError.retryable: no answer, 408, 409,
429, 5xx). The wait honours the provider's Retry-After when it sent one (capped at
`max_retry_after_s`, past which the call fails rather than hold a trial for minutes), else
exponential backoff with jitter, as the OpenAI SDK does (0.5 s doubling to 8 s).
"""

from __future__ import annotations

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from agents.llm.errors import ProviderError

_BACKOFF = wait_exponential_jitter(multiplier=0.5, max=8.0, jitter=0.5)


def retrying(max_retries: int, max_retry_after_s: float = 60.0) -> AsyncRetrying:
    """A fresh retry loop for one call (tenacity keeps per-call state on the object)."""

    def wait(state: RetryCallState) -> float:
        err = state.outcome.exception() if state.outcome is not None else None
        if isinstance(err, ProviderError) and err.retry_after_s is not None:
            return err.retry_after_s
        return _BACKOFF(state)

    def worth_retrying(err: BaseException) -> bool:
        if not isinstance(err, ProviderError) or not err.retryable:
            return False
        return err.retry_after_s is None or err.retry_after_s <= max_retry_after_s

    return AsyncRetrying(
        stop=stop_after_attempt(max_retries + 1),
        wait=wait,
        retry=retry_if_exception(worth_retrying),
        reraise=True,
    )
