"""How to reach a model: which provider serves a ModelSpec, by which protocol, at which
address, with which key.

Providers that speak the OpenAI chat-completions protocol are called directly over one
pooled HTTP client (agents/llm/openai_http.py); every other provider goes through litellm.
litellm decides which provider a model id names ("gpt-4o-mini" is OpenAI's, "groq/..." is
Groq's), once per model. Models named "sim/NAME" are the LLM simulator at
settings.sim_base_url (or the spec's api_base), reached without importing litellm.

Credentials never travel on a topic: a ModelSpec names the environment variable of its key
(`api_key_env`), read here when the call is made; without it, the provider's usual
variable (OPENAI_API_KEY, GROQ_API_KEY, ...).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

from agents.llm.errors import ProviderError
from schemas.experiment import ModelSpec

SIM_PREFIX = "sim/"
SIM_KEY = "sim-key"
AZURE_DEFAULT_API_VERSION = "2024-10-21"


@dataclass(frozen=True)
class OpenAIProtocol:
    """A provider that serves /chat/completions and /embeddings as OpenAI does."""

    key_envs: tuple[str, ...]  # the provider's usual variables, first set wins
    base_envs: tuple[str, ...] = ()
    default_base: str | None = None  # None: the address must be given
    key_required: bool = True
    # Body fields the provider names differently (Mistral's seed is random_seed).
    renames: tuple[tuple[str, str], ...] = ()
    # OpenAI deprecated max_tokens for max_completion_tokens (its reasoning models refuse
    # the old name); other servers only know max_tokens.
    max_tokens_field: str = "max_tokens"


# litellm's provider name -> how to reach it over the OpenAI protocol.
OPENAI_PROTOCOL: dict[str, OpenAIProtocol] = {
    "openai": OpenAIProtocol(("OPENAI_API_KEY",), ("OPENAI_BASE_URL", "OPENAI_API_BASE"),
                             "https://api.openai.com/v1",
                             max_tokens_field="max_completion_tokens"),
    "azure": OpenAIProtocol(("AZURE_API_KEY", "AZURE_OPENAI_API_KEY"),
                            ("AZURE_API_BASE", "AZURE_OPENAI_ENDPOINT")),
    "hosted_vllm": OpenAIProtocol(("HOSTED_VLLM_API_KEY",), ("HOSTED_VLLM_API_BASE",),
                                  key_required=False),
    "ollama": OpenAIProtocol((), ("OLLAMA_API_BASE",), "http://localhost:11434/v1",
                             key_required=False),
    "ollama_chat": OpenAIProtocol((), ("OLLAMA_API_BASE",), "http://localhost:11434/v1",
                                  key_required=False),
    "openrouter": OpenAIProtocol(("OPENROUTER_API_KEY", "OR_API_KEY"),
                                 ("OPENROUTER_API_BASE",), "https://openrouter.ai/api/v1"),
    "together_ai": OpenAIProtocol(("TOGETHERAI_API_KEY", "TOGETHER_API_KEY",
                                   "TOGETHER_AI_API_KEY"), (), "https://api.together.xyz/v1"),
    "groq": OpenAIProtocol(("GROQ_API_KEY",), ("GROQ_API_BASE",),
                           "https://api.groq.com/openai/v1"),
    "deepseek": OpenAIProtocol(("DEEPSEEK_API_KEY",), ("DEEPSEEK_API_BASE",),
                               "https://api.deepseek.com/v1"),
    "mistral": OpenAIProtocol(("MISTRAL_API_KEY",), ("MISTRAL_API_BASE",),
                              "https://api.mistral.ai/v1", renames=(("seed", "random_seed"),)),
    "fireworks_ai": OpenAIProtocol(("FIREWORKS_API_KEY", "FIREWORKS_AI_API_KEY"), (),
                                   "https://api.fireworks.ai/inference/v1"),
    "xai": OpenAIProtocol(("XAI_API_KEY",), (), "https://api.x.ai/v1"),
    "deepinfra": OpenAIProtocol(("DEEPINFRA_API_KEY",), (),
                                "https://api.deepinfra.com/v1/openai"),
    "sim": OpenAIProtocol((), key_required=False),
}


@dataclass(frozen=True)
class Route:
    """Where calls for one ModelSpec go. protocol "openai": `model` is the name sent in the
    body and `chat_url`/`embeddings_url` the addresses; "litellm": `model` is the litellm
    model id and litellm finds the rest."""

    protocol: Literal["openai", "litellm"]
    provider: str
    model: str
    chat_url: str = ""
    embeddings_url: str = ""
    moderations_url: str = ""  # "" where the provider serves none (Azure deployments)
    api_base: str | None = None
    azure: bool = False
    spec: OpenAIProtocol | None = None

    def body_field(self, name: str) -> str:
        if self.spec is None:
            return name
        if name == "max_tokens":
            return self.spec.max_tokens_field
        return dict(self.spec.renames).get(name, name)


def is_sim(model: ModelSpec | str) -> bool:
    model_id = model if isinstance(model, str) else model.id
    return model_id.startswith(SIM_PREFIX)


def route(model: ModelSpec, settings: Any) -> Route:
    """The route of `model`; asks litellm which provider it is (imports litellm) unless it
    is a simulator model."""
    if is_sim(model):
        base = (model.api_base or settings.sim_base_url).rstrip("/")
        return _openai_route("sim", model.id.removeprefix(SIM_PREFIX), base)
    from agents.llm.litellm_config import load_litellm

    try:
        name, provider, _, litellm_base = load_litellm().get_llm_provider(
            model=model.id, api_base=model.api_base
        )
    except Exception:  # litellm does not know it either: let litellm's call report why
        return Route("litellm", "unknown", model.id, api_base=model.api_base)
    spec = OPENAI_PROTOCOL.get(provider)
    if spec is None:
        return Route("litellm", provider, model.id, api_base=model.api_base)
    base = model.api_base or _first_env(spec.base_envs) or spec.default_base or litellm_base
    if not base:
        return Route("litellm", provider, model.id, api_base=model.api_base)
    base = base.rstrip("/")
    if provider == "azure":
        version = os.environ.get("AZURE_API_VERSION", AZURE_DEFAULT_API_VERSION)
        deployment = f"{base}/openai/deployments/{name}"
        return Route("openai", provider, name,
                     chat_url=f"{deployment}/chat/completions?api-version={version}",
                     embeddings_url=f"{deployment}/embeddings?api-version={version}",
                     api_base=base, azure=True, spec=spec)
    if provider in ("ollama", "ollama_chat") and not base.endswith("/v1"):
        base += "/v1"  # Ollama's OpenAI-compatible endpoints live under /v1
    return _openai_route(provider, name, base)


def _openai_route(provider: str, name: str, base: str) -> Route:
    return Route("openai", provider, name, chat_url=f"{base}/chat/completions",
                 embeddings_url=f"{base}/embeddings", moderations_url=f"{base}/moderations",
                 api_base=base,
                 spec=OPENAI_PROTOCOL[provider])


def api_key(model: ModelSpec, route: Route) -> str | None:
    """The key for this call, read now: the spec's own (in-process only, never serialised),
    the variable it names, else the provider's usual ones. Raises ProviderError (not
    retryable) when the named variable is unset or a provider that needs a key has none."""
    if model.api_key:
        return model.api_key
    named = model.api_key_env
    if route.provider == "sim" and not named:
        return SIM_KEY
    if named:
        value = os.environ.get(named)
        if not value:
            raise ProviderError(None, "missing_credential",
                                f"environment variable {named} (api_key_env) is not set",
                                retryable=False)
        return value
    if route.spec is None:  # litellm reads the provider's variables itself
        return None
    value = _first_env(route.spec.key_envs)
    if value is None and route.spec.key_required:
        wanted = " or ".join(route.spec.key_envs) or "a key"
        raise ProviderError(None, "missing_credential",
                            f"no API key for {model.id}: set {wanted}, or name a variable "
                            "in the model's api_key_env", retryable=False)
    return value


def key_source(model: ModelSpec, route: Route) -> str | None:
    """Where this call's key comes from, said without the key (for a refused key's reason)."""
    if model.api_key:
        return "the model's own api_key"
    if model.api_key_env:
        return f"{model.api_key_env} (api_key_env)"
    if route.provider == "sim":
        return "the simulator's built-in key"
    if route.spec is None:
        return None
    return next((name for name in route.spec.key_envs if os.environ.get(name)), None)


def auth_headers(route: Route, key: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if key:
        if route.azure:
            headers["api-key"] = key
        else:
            headers["Authorization"] = f"Bearer {key}"
    return headers


def litellm_params(model: ModelSpec, settings: Any) -> dict[str, Any]:
    """What litellm.acompletion needs to reach `model` besides the messages and options;
    the client enforces limits and retries, so litellm's own are off."""
    params: dict[str, Any] = {"model": model.id, "timeout": settings.llm_timeout_s,
                              "max_retries": 0, "num_retries": 0}
    if model.api_base:
        params["api_base"] = model.api_base
    return params


def _first_env(names: tuple[str, ...]) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None
