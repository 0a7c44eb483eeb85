"""Token counts per target model, through litellm's token counter (which picks each
provider's tokenizer and falls back to tiktoken's cl100k for unknown models).

litellm takes seconds to import, so it is imported on the first count, not with the
optimizer; `promptopt analyze --no-tokens` and the API can skip it entirely.
"""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_MODELS = ("gpt-4o-mini",)


def count_tokens(text: str, models: Sequence[str] = DEFAULT_MODELS) -> dict[str, int]:
    import promptopt.settings  # noqa: F401  (local cost map before litellm is imported)

    import litellm

    counts: dict[str, int] = {}
    for model in dict.fromkeys(models or DEFAULT_MODELS):
        # "sim/<name>" models are the simulator; count them as an OpenAI model would.
        name = "gpt-4o-mini" if model.startswith("sim/") else model
        counts[model] = int(litellm.token_counter(model=name, text=text))
    return counts
