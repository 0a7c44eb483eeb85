"""What a call costs: per-model price overrides, a default for simulator models, else
litellm's (local) cost map, looked up once per model (a lookup per call costs more than the
HTTP call it prices). Unknown models cost 0 rather than failing the trial.

Prices are per token, flat: tiered prices (above 128k/200k tokens of context) and cached-
input discounts are not applied.
"""

from __future__ import annotations

import logging

from agents.llm.providers import is_sim
from schemas.experiment import ModelSpec

log = logging.getLogger("promptopt.llm.pricing")

# Prices for simulator models without overrides: a cheap hosted model's, so budgets bite.
SIM_INPUT_COST_PER_TOKEN = 1e-6
SIM_OUTPUT_COST_PER_TOKEN = 2e-6

Prices = tuple[float, float]  # (input, output) USD per token


def model_prices(model: ModelSpec) -> Prices | None:
    """Overrides or the simulator default; None: ask litellm's cost map."""
    if model.input_cost_per_token is not None or model.output_cost_per_token is not None:
        return model.input_cost_per_token or 0.0, model.output_cost_per_token or 0.0
    if is_sim(model):
        return SIM_INPUT_COST_PER_TOKEN, SIM_OUTPUT_COST_PER_TOKEN
    return None


def prices_for(model: ModelSpec) -> Prices:
    """The model's prices from wherever they are known; (0, 0), with a warning, if nowhere."""
    prices = model_prices(model)
    if prices is not None:
        return prices
    from agents.llm.litellm_config import load_litellm

    try:
        info = load_litellm().get_model_info(model=model.id)
    except Exception:
        log.warning("no price known for %s: its calls are counted at 0 USD "
                    "(set input_cost_per_token / output_cost_per_token)", model.id)
        return 0.0, 0.0
    return float(info.get("input_cost_per_token") or 0.0), float(
        info.get("output_cost_per_token") or 0.0)


def cost_usd(model: ModelSpec, prompt_tokens: int, completion_tokens: int) -> float:
    """One-off pricing (the client keeps prices_for per model instead)."""
    prices = prices_for(model)
    return prompt_tokens * prices[0] + completion_tokens * prices[1]


def register_prices(model: ModelSpec, litellm_model: str) -> None:
    """Put the prices of a model litellm cannot price into its cost map, once, for calls on
    the litellm path: for an unpriced model litellm runs a zero-cost diagnostic over its
    whole map on every response (~4 ms of CPU here)."""
    prices = model_prices(model)
    if prices is None:
        return
    from agents.llm.litellm_config import load_litellm

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
