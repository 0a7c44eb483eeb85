"""Token counts per target model, through agents.llm (litellm's token counter).

litellm takes seconds to import, so it is imported on the first count, not with the
optimizer; `promptopt analyze --no-tokens` and the API can skip it entirely.
"""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_MODELS = ("gpt-4o-mini",)


def count_tokens(text: str, models: Sequence[str] = DEFAULT_MODELS) -> dict[str, int]:
    from agents.llm.tokens import count_tokens as count

    return {model: count(model, text) for model in dict.fromkeys(models or DEFAULT_MODELS)}
