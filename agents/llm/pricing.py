"""What a call costs: per-model price overrides, a default for simulator models, else
litellm's (local) cost map. Unknown models cost 0 rather than failing the trial."""

from __future__ import annotations

from agents.llm.litellm_config import load_litellm
from agents.llm.providers import is_sim
from schemas.experiment import ModelSpec

# Prices for simulator models without overrides: a cheap hosted model's, so budgets bite.
SIM_INPUT_COST_PER_TOKEN = 1e-6
SIM_OUTPUT_COST_PER_TOKEN = 2e-6


def model_prices(model: ModelSpec) -> tuple[float, float] | None:
    """(input, output) USD per token from overrides or the simulator default; None: ask
    litellm's cost map."""
    if model.input_cost_per_token is not None or model.output_cost_per_token is not None:
        return model.input_cost_per_token or 0.0, model.output_cost_per_token or 0.0
    if is_sim(model):
        return SIM_INPUT_COST_PER_TOKEN, SIM_OUTPUT_COST_PER_TOKEN
    return None


def register_prices(model: ModelSpec, litellm_model: str) -> None:
    """Put the prices of a model litellm cannot price into its cost map, once. Without it,
    litellm runs a zero-cost diagnostic over the whole map on every call (~4 ms of CPU here);
    prices passed per call instead make it rebuild a map index on every call."""
    prices = model_prices(model)
    if prices is None:
        return
    litellm = load_litellm()
    entry = {
        "input_cost_per_token": prices[0],
        "output_cost_per_token": prices[1],
        "litellm_provider": litellm_model.split("/", 1)[0],
        "mode": "chat",
        # Stated, or litellm warns at registration that it defaults them to 0.
        "cache_creation_input_token_cost": 0.0,
        "cache_read_input_token_cost": 0.0,
    }
    if litellm.model_cost.get(litellm_model) != entry:
        litellm.register_model({litellm_model: entry})


def cost_usd(model: ModelSpec, prompt_tokens: int, completion_tokens: int) -> float:
    prices = model_prices(model)
    if prices is not None:
        return prompt_tokens * prices[0] + completion_tokens * prices[1]
    try:
        prompt_cost, completion_cost = load_litellm().cost_per_token(
            model=model.id, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:
        return 0.0
    return float(prompt_cost + completion_cost)
