"""How to reach a model: which provider serves a ModelSpec, at which address, with which key.

Models named "sim/NAME" are served by the LLM simulator: litellm sees "openai/NAME" at
settings.sim_base_url (or the ModelSpec's api_base) with a dummy key.
"""

from __future__ import annotations

from typing import Any

from schemas.experiment import ModelSpec

SIM_PREFIX = "sim/"
SIM_KEY = "sim-key"


def is_sim(model: ModelSpec | str) -> bool:
    model_id = model if isinstance(model, str) else model.id
    return model_id.startswith(SIM_PREFIX)


def litellm_params(model: ModelSpec, settings: Any) -> dict[str, Any]:
    """What litellm needs to reach `model` (no limits here: the client enforces those)."""
    params: dict[str, Any] = {"timeout": settings.llm_timeout_s}
    if is_sim(model):
        params["model"] = "openai/" + model.id.removeprefix(SIM_PREFIX)
        params["api_base"] = model.api_base or settings.sim_base_url
        params["api_key"] = model.api_key or SIM_KEY
    else:
        params["model"] = model.id
        if model.api_base:
            params["api_base"] = model.api_base
        if model.api_key:
            params["api_key"] = model.api_key
    # The openai SDK would retry on its own too, hiding attempts from the Router's count.
    params["max_retries"] = 0
    return params
