"""Token counts per model, through litellm's token counter (which picks each provider's
tokenizer and falls back to tiktoken's cl100k for unknown models)."""

from __future__ import annotations

from agents.llm.litellm_config import load_litellm
from agents.llm.providers import is_sim

# "sim/<name>" models are the simulator; they count as an OpenAI model would.
SIM_TOKENIZER_MODEL = "gpt-4o-mini"


def count_tokens(model: str, text: str) -> int:
    name = SIM_TOKENIZER_MODEL if is_sim(model) else model
    return int(load_litellm().token_counter(model=name, text=text))
