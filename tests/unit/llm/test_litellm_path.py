"""The litellm path (providers without the OpenAI protocol) keeps the client's behaviour:
its errors carry status and Retry-After, a 4xx is not retried, tokens and cost come back.
Exercised on the simulator by routing an OpenAI-protocol model through litellm."""

from __future__ import annotations

from collections import Counter

import pytest

from agents.llm import litellm_path, providers
from agents.llm.errors import ProviderError
from schemas.experiment import ModelSpec


@pytest.fixture
def via_litellm(monkeypatch):
    monkeypatch.delitem(providers.OPENAI_PROTOCOL, "openai")


def ask(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"What is {i} + 3? Answer with only the number."}]


async def test_a_litellm_call_through_the_client(
    make_sim, settings_for, client_for, via_litellm
):
    async with make_sim(base_quality=1.0, model_quality={}) as sim:
        spec = ModelSpec(id="openai/any", api_base=sim.base_url, api_key="k",
                         input_cost_per_token=1e-6, output_cost_per_token=1e-6)
        client = client_for(settings_for(sim))
        result = await client.complete(spec, ask(4))
        assert client._models[spec].route.protocol == "litellm"
    assert result.status == "completed" and result.text == "7", result.reason
    assert result.prompt_tokens > 0 and result.cost_usd > 0 and result.attempts == 1


async def test_litellm_errors_carry_status_and_retry_after(make_sim, settings_for):
    async with make_sim(rate_429=1.0, retry_after_s=2) as sim:
        params = {"model": "openai/any", "api_base": sim.base_url, "api_key": "k",
                  "max_retries": 0, "num_retries": 0, "timeout": 5}
        with pytest.raises(ProviderError) as raised:
            await litellm_path.chat(params, ask(1))
    assert raised.value.status == 429 and raised.value.retryable
    assert raised.value.retry_after_s == 2.0


async def test_a_401_through_litellm_is_not_retried(
    make_sim, settings_for, client_for, via_litellm
):
    async with make_sim(api_key="right") as sim:
        spec = ModelSpec(id="openai/any", api_base=sim.base_url, api_key="wrong")
        result = await client_for(settings_for(sim, llm_max_retries=3)).complete(spec, ask(1))
    assert result.status == "failed" and result.attempts == 1 and "401" in result.reason
    assert sim.simulator.outcomes == Counter({"401": 1})
