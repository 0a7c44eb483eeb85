"""Token log-probabilities of an answer, summarised where they arrive.

Both paths (the lean OpenAI-protocol client and litellm) get OpenAI's shape:
`choices[0].logprobs.content` = [{token, logprob, ...}, ...] (litellm's objects have the
same attributes). Only the sum and the count are kept: the perplexity assertions need no
more (promptfoo: exp of the mean negative log-probability), and two numbers keep a trial
event the same size whatever the answer's length.
"""

from __future__ import annotations

import math
from typing import Any

FLOOR = -9999.0


def summarise(logprobs: Any) -> tuple[float, int] | None:
    """(sum of the tokens' log-probabilities, tokens) of a choice's `logprobs`, or None when
    the provider sent none (or nothing readable)."""
    content = _get(logprobs, "content")
    if not isinstance(content, list) or not content:
        return None
    total, count = 0.0, 0
    for token in content:
        value = _get(token, "logprob")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        value = float(value)
        if math.isnan(value):
            continue
        # OpenAI floors a vanishing probability at -9999.0; -inf (some servers) likewise,
        # so the sum stays a number.
        total += min(0.0, max(FLOOR, value))
        count += 1
    return (total, count) if count else None


def _get(item: Any, name: str) -> Any:
    if item is None:
        return None
    if isinstance(item, dict):
        return item.get(name)
    return getattr(item, name, None)
