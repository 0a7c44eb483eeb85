"""promptfoo providers as litellm models: the id syntax (`openai:chat:gpt-4o-mini`,
`anthropic:messages:claude-3-5-haiku-latest`, `ollama:chat:llama3`, ...), `label`,
`config` (temperature, max_tokens, apiBaseUrl, apiKeyEnvar, ...) and per-provider
`prompts`; promptopt's own `models:` entries are ModelSpecs as they are.

Credentials never go into an experiment: a key in the file would travel on a topic with
every trial. `apiKeyEnvar` names the variable holding it, read where the call is made; a
provider's usual variable (OPENAI_API_KEY, ...) works without saying anything.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from promptopt.experiment_file.checks import ExperimentFileError, check_keys, expect_list

# promptfoo provider prefix -> litellm provider prefix. The middle part of a three-part
# id (openai:chat:X, anthropic:messages:X) names the API flavour litellm picks itself.
PROVIDERS: dict[str, str] = {
    "openai": "openai", "anthropic": "anthropic", "azure": "azure", "azureopenai": "azure",
    "ollama": "ollama_chat", "openrouter": "openrouter", "mistral": "mistral",
    "replicate": "replicate", "groq": "groq", "togetherai": "together_ai",
    "together": "together_ai", "deepseek": "deepseek", "perplexity": "perplexity",
    "cohere": "cohere", "gemini": "gemini", "google": "gemini", "vertex": "vertex_ai",
    "bedrock": "bedrock", "fireworks": "fireworks_ai", "xai": "xai", "cerebras": "cerebras",
    "huggingface": "huggingface", "voyage": "voyage", "sim": "sim",
}
FLAVOURS = {"chat", "completion", "messages", "embedding", "embeddings", "text-generation",
            "responses", "assistant"}
NOT_MODELS = {"exec": "exec: scripts", "python": "Python providers", "file": "file:// providers",
              "http": "HTTP providers", "https": "HTTP providers", "webhook": "webhook providers",
              "browser": "browser providers", "websocket": "websocket providers",
              "golang": "Go providers", "ruby": "Ruby providers"}

CONFIG_KEYS = {
    "temperature": "temperature", "max_tokens": "max_tokens",
    "max_completion_tokens": "max_tokens", "max_output_tokens": "max_tokens",
    "seed": "seed", "apiBaseUrl": "api_base", "apiHost": "api_base", "baseUrl": "api_base",
    "api_base": "api_base", "apiKeyEnvar": "api_key_env", "logprobs": "logprobs",
    # promptopt's own, for models litellm cannot price and per-model limits
    "input_cost_per_token": "input_cost_per_token",
    "output_cost_per_token": "output_cost_per_token", "rpm": "rpm",
    "max_concurrency": "max_concurrency",
}
SECRET_KEYS = {"apiKey", "api_key", "apikey", "token", "apiToken", "password", "secret"}
USUAL_KEY_VARIABLE = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY",
                      "azure": "AZURE_API_KEY", "mistral": "MISTRAL_API_KEY",
                      "openrouter": "OPENROUTER_API_KEY", "replicate": "REPLICATE_API_KEY",
                      "groq": "GROQ_API_KEY", "gemini": "GEMINI_API_KEY"}


@dataclass
class ProviderEntry:
    spec: dict[str, Any]  # ModelSpec fields
    prompts: list[str] | None = None  # labels of the prompts it runs (None: all)
    where: str = ""
    aliases: set[str] = field(default_factory=set)


def litellm_id(name: str, where: str) -> str:
    """`openai:chat:gpt-4o` -> `openai/gpt-4o`; a litellm id (with /) stays as it is."""
    name = name.strip()
    if name == "echo":
        return "sim/echo"
    head, sep, rest = name.partition(":")
    if not sep:
        if "/" in name:
            return name  # a litellm id already (openai/gpt-4o-mini, sim/small)
        raise ExperimentFileError(f"{where}: {name!r} is not a provider id (write "
                                  "`openai:gpt-4o-mini`, or a litellm id such as "
                                  "`openai/gpt-4o-mini`)")
    if head in NOT_MODELS or name.startswith(("http://", "https://")):
        what = NOT_MODELS.get(head, "HTTP providers")
        raise ExperimentFileError(f"{where}: not supported: {what}"
                                  f" ({name}); promptopt calls models through litellm")
    if head not in PROVIDERS:
        known = ", ".join(sorted(PROVIDERS))
        raise ExperimentFileError(f"{where}: unknown provider {head!r} in {name!r} (known: "
                                  f"{known}; or write a litellm id with a /)")
    flavour, sep2, model = rest.partition(":")
    if sep2 and flavour in FLAVOURS:
        rest = model
    if not rest:
        raise ExperimentFileError(f"{where}: {name!r} names no model")
    return f"{PROVIDERS[head]}/{rest}"


def read_providers(raw: Any) -> list[ProviderEntry]:
    entries: list[ProviderEntry] = []
    for i, item in enumerate(expect_list(raw, "providers")):
        where = f"providers.{i}"
        if isinstance(item, str):
            entries.append(finish(ProviderEntry({"id": litellm_id(item, where)}, where=where,
                                                aliases={item})))
            continue
        if not isinstance(item, dict):
            raise ExperimentFileError(f"{where}: expected a provider id or {{id, config}}")
        if "id" not in item and len(item) == 1:  # promptfoo's {"openai:gpt-4o": {config...}}
            [(name, body)] = item.items()
            item = {"id": name, **(body or {})}
        entries.append(finish(provider_entry(item, where)))
    return unique(entries)


def unique(entries: list[ProviderEntry]) -> list[ProviderEntry]:
    """The same model listed more than once (promptfoo compares a model's settings so):
    each copy gets a `variant` (its label, else a fingerprint of its options), so its
    trials stay apart; identical copies are an error."""
    ids = [e.spec["id"] for e in entries]
    for model_id in sorted(set(ids)):
        copies = [e for e in entries if e.spec["id"] == model_id]
        if len(copies) < 2:
            continue
        fingerprints = [fingerprint(e.spec) for e in copies]
        if len(set(fingerprints)) < len(copies):
            raise ExperimentFileError(
                f"providers: {model_id} is listed twice with the same options; give each "
                "copy different options (a temperature, a max_tokens, ...) or list it once")
        labels = [_slug(e.spec["label"]) if e.spec.get("label") else None for e in copies]
        for entry, label, digest in zip(copies, labels, fingerprints, strict=True):
            # its label when no other copy has the same, else its options' fingerprint
            entry.spec["variant"] = label if label and labels.count(label) == 1 else digest
    return entries


def spec_key(spec: dict[str, Any]) -> str:
    """ModelSpec.key of an entry not yet validated."""
    return f"{spec['id']}#{spec['variant']}" if spec.get("variant") else spec["id"]


def fingerprint(spec: dict[str, Any]) -> str:
    """The options of a model entry (its label apart), as a short stable digest."""
    options = {k: v for k, v in spec.items() if k not in ("id", "label", "variant")}
    return hashlib.sha256(json.dumps(options, sort_keys=True, default=str).encode()
                          ).hexdigest()[:8]


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9._:+-]+", "-", label).strip("-")[:100] or "variant"


def provider_entry(item: dict[str, Any], where: str) -> ProviderEntry:
    check_keys(item, where, supported={"id", "label", "config", "prompts"},
               ignored={"delay": "promptopt paces calls by rpm and concurrency"},
               refused={"transform": "provider output transforms (use the test's "
                                     "options.transform)",
                        "env": "per-provider env (set the variables in the environment)"})
    name = item.get("id")
    if not isinstance(name, str):
        raise ExperimentFileError(f"{where}.id: expected a provider id")
    spec: dict[str, Any] = {"id": litellm_id(name, where)}
    if item.get("label") is not None:
        spec["label"] = str(item["label"])
    spec.update(model_options(item.get("config") or {}, f"{where}.config", name))
    prompts = item.get("prompts")
    if prompts is not None:
        prompts = [str(p) for p in expect_list(prompts, f"{where}.prompts")]
    return ProviderEntry(spec, prompts, where, aliases={name, *([spec["label"]] if "label"
                                                               in spec else [])})


def model_options(config: dict[str, Any], where: str, provider: str) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise ExperimentFileError(f"{where}: expected a mapping of options")
    refuse_secrets(config, where, provider)
    options: dict[str, Any] = {}
    for key, value in config.items():
        if key == "cost":  # promptfoo: one price per token for input and output
            options["input_cost_per_token"] = options["output_cost_per_token"] = value
            continue
        if key not in CONFIG_KEYS:
            from promptopt.experiment_file.checks import suggestion

            raise ExperimentFileError(
                f"{where}.{key}: not supported{suggestion(key, CONFIG_KEYS)}; supported "
                f"options: {', '.join(sorted(CONFIG_KEYS))}, cost")
        options[CONFIG_KEYS[key]] = value
    return options


def refuse_secrets(options: dict[str, Any], where: str, provider: str) -> None:
    for key in options:
        if key in SECRET_KEYS or re.fullmatch(r"(?i)api[_-]?key", key):
            head = provider.split(":", 1)[0].split("/", 1)[0]
            usual = USUAL_KEY_VARIABLE.get(head, f"{head.upper()}_API_KEY")
            raise ExperimentFileError(
                f"{where}.{key}: a key in the experiment file would travel with every trial; "
                f"put it in an environment variable and name that variable instead "
                f"(`apiKeyEnvar: {usual}`), or just set {usual}, the provider's usual one")


def read_models(raw: Any) -> list[ProviderEntry]:
    """promptopt's `models:` — ModelSpec entries (or bare ids), promptfoo ids allowed."""
    entries = []
    for i, item in enumerate(expect_list(raw, "models")):
        where = f"models.{i}"
        if isinstance(item, str):
            entries.append(finish(ProviderEntry({"id": _model_id(item, where)}, where=where,
                                                aliases={item})))
            continue
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise ExperimentFileError(f"{where}: expected a model id or {{id, ...options}}")
        if "config" in item or "prompts" in item:
            entries.append(finish(provider_entry(item, where)))
            continue
        refuse_secrets(item, where, item["id"])
        spec = {**item, "id": _model_id(item["id"], where)}
        entries.append(finish(ProviderEntry(spec, where=where, aliases={item["id"]})))
    return unique(entries)


def _model_id(name: str, where: str) -> str:
    if name == "echo" or ("/" not in name.split(":", 1)[0] and ":" in name):
        return litellm_id(name, where)
    return name


def finish(entry: ProviderEntry) -> ProviderEntry:
    """promptfoo's echo provider answers with the prompt, at no cost."""
    if entry.spec["id"] == "sim/echo":
        entry.spec.setdefault("input_cost_per_token", 0.0)
        entry.spec.setdefault("output_cost_per_token", 0.0)
    return entry
