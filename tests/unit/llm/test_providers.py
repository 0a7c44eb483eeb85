"""Which path and address each provider gets, and where its key comes from."""

from __future__ import annotations

import pytest

from agents.llm.errors import ProviderError, is_retryable, retry_after_s
from agents.llm.providers import api_key, auth_headers, route
from promptopt.settings import Settings
from schemas.experiment import ModelSpec

SETTINGS = Settings(sim_base_url="http://127.0.0.1:9/v1")


@pytest.fixture(autouse=True)
def no_provider_env(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE", "GROQ_API_KEY",
                 "AZURE_API_KEY", "AZURE_API_BASE", "AZURE_API_VERSION", "MISTRAL_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(("model_id", "provider", "url"), [
    ("gpt-4o-mini", "openai", "https://api.openai.com/v1/chat/completions"),
    ("openai/gpt-4o-mini", "openai", "https://api.openai.com/v1/chat/completions"),
    ("groq/llama3-8b-8192", "groq", "https://api.groq.com/openai/v1/chat/completions"),
    ("deepseek/deepseek-chat", "deepseek", "https://api.deepseek.com/v1/chat/completions"),
    ("mistral/mistral-small", "mistral", "https://api.mistral.ai/v1/chat/completions"),
    ("openrouter/openai/gpt-4o", "openrouter", "https://openrouter.ai/api/v1/chat/completions"),
    ("together_ai/meta-llama/Llama-3-8b-chat-hf", "together_ai",
     "https://api.together.xyz/v1/chat/completions"),
    ("ollama/llama3", "ollama", "http://localhost:11434/v1/chat/completions"),
    ("sim/small", "sim", "http://127.0.0.1:9/v1/chat/completions"),
])
def test_openai_protocol_providers_take_the_lean_path(model_id, provider, url):
    r = route(ModelSpec(id=model_id), SETTINGS)
    assert (r.protocol, r.provider, r.chat_url) == ("openai", provider, url)


def test_the_model_name_sent_is_the_providers_own():
    assert route(ModelSpec(id="openrouter/openai/gpt-4o"), SETTINGS).model == "openai/gpt-4o"
    assert route(ModelSpec(id="sim/small"), SETTINGS).model == "small"


def test_vllm_at_its_own_address():
    r = route(ModelSpec(id="hosted_vllm/llama", api_base="http://gpu-box:8000/v1/"), SETTINGS)
    assert r.chat_url == "http://gpu-box:8000/v1/chat/completions" and r.model == "llama"
    assert api_key(ModelSpec(id="hosted_vllm/llama"), r) is None  # a key is optional


def test_azure_addresses_a_deployment_with_an_api_version_and_an_api_key_header(monkeypatch):
    monkeypatch.setenv("AZURE_API_BASE", "https://acme.openai.azure.com/")
    monkeypatch.setenv("AZURE_API_KEY", "az-key")
    spec = ModelSpec(id="azure/my-gpt4o")
    r = route(spec, SETTINGS)
    assert r.chat_url == ("https://acme.openai.azure.com/openai/deployments/my-gpt4o/"
                          "chat/completions?api-version=2024-10-21")
    assert auth_headers(r, api_key(spec, r))["api-key"] == "az-key"


def test_provider_body_quirks():
    assert route(ModelSpec(id="gpt-4o"), SETTINGS).body_field("max_tokens") == (
        "max_completion_tokens")
    assert route(ModelSpec(id="mistral/mistral-small"), SETTINGS).body_field("seed") == (
        "random_seed")
    assert route(ModelSpec(id="groq/llama3-8b-8192"), SETTINGS).body_field("max_tokens") == (
        "max_tokens")


def test_other_providers_go_through_litellm():
    for model_id in ("anthropic/claude-3-5-sonnet-20240620", "gemini/gemini-1.5-flash",
                     "bedrock/anthropic.claude-3-haiku-20240307-v1:0"):
        assert route(ModelSpec(id=model_id), SETTINGS).protocol == "litellm", model_id


def test_keys_come_from_the_named_variable_then_the_providers_usual_one(monkeypatch):
    spec = ModelSpec(id="gpt-4o-mini")
    r = route(spec, SETTINGS)
    with pytest.raises(ProviderError) as missing:
        api_key(spec, r)
    assert missing.value.kind == "missing_credential" and not missing.value.retryable
    assert "OPENAI_API_KEY" in missing.value.reason
    monkeypatch.setenv("OPENAI_API_KEY", "usual")
    assert api_key(spec, r) == "usual"
    named = ModelSpec(id="gpt-4o-mini", api_key_env="TEAM_A_OPENAI_KEY")
    with pytest.raises(ProviderError, match="TEAM_A_OPENAI_KEY"):
        api_key(named, r)  # named but unset: never falls back to another team's key
    monkeypatch.setenv("TEAM_A_OPENAI_KEY", "team-a")
    assert api_key(named, r) == "team-a"
    assert auth_headers(r, "team-a")["Authorization"] == "Bearer team-a"


def test_only_errors_a_retry_can_cure_are_retryable():
    assert [s for s in (400, 401, 403, 404, 422) if is_retryable(s)] == []
    assert all(is_retryable(s) for s in (None, 408, 409, 429, 500, 502, 503, 504))


def test_retry_after_in_seconds_milliseconds_or_an_http_date():
    assert retry_after_s({"retry-after": "3"}) == 3.0
    assert retry_after_s({"retry-after-ms": "250", "retry-after": "3"}) == 0.25
    assert retry_after_s({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"},
                         now=1445412480.0) == pytest.approx(10.0)
    assert retry_after_s({"retry-after": "soon"}) is None
    assert retry_after_s({}) is None
