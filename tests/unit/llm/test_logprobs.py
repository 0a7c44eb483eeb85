"""Token log-probabilities: asked for when a ModelSpec says so, on both paths (the lean
OpenAI-protocol client and litellm), summarised to their sum and count, and kept apart in
the cache from answers that lack them. On the simulator, which sends them when asked."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from agents.llm import ResponseCache, providers
from agents.llm.logprobs import FLOOR, summarise
from schemas.experiment import ModelSpec


def ask(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"What is {i} + 3? Explain your answer briefly."}]


def test_summarise_reads_openai_dicts_and_litellm_objects_alike():
    openai = {"content": [{"token": "The", "logprob": -0.5}, {"token": " answer", "logprob": -1.0},
                          {"token": " 7", "logprob": -1.5}]}
    litellm = SimpleNamespace(content=[SimpleNamespace(token=t["token"], logprob=t["logprob"])
                                       for t in openai["content"]])
    assert summarise(openai) == (-3.0, 3) == summarise(litellm)


def test_summarise_without_logprobs_is_none_and_minus_infinity_is_floored():
    assert summarise(None) is None and summarise({"content": None}) is None
    assert summarise({"content": []}) is None
    total, tokens = summarise({"content": [{"logprob": -math.inf}, {"logprob": -1.0},
                                           {"logprob": "x"}, {"logprob": math.nan}]})
    assert (total, tokens) == (FLOOR - 1.0, 2)


async def test_a_model_asking_for_logprobs_gets_their_sum_and_count(
        make_sim, settings_for, client_for):
    async with make_sim(base_quality=1.0, model_quality={}) as sim:
        client = client_for(settings_for(sim))
        plain = await client.complete(ModelSpec(id="sim/m"), ask(4))
        asked = await client.complete(ModelSpec(id="sim/m", logprobs=True), ask(4))
    assert plain.logprob_total is None and plain.logprob_tokens == 0
    assert asked.status == "completed" and asked.text == plain.text
    words = len(asked.text.split())
    assert asked.logprob_tokens == words  # the simulator: one token a word
    # a right answer's tokens have p in [0.6, 1): log p in [log 0.6, 0)
    assert words * math.log(0.6) <= asked.logprob_total < 0


async def test_through_litellm_logprobs_are_passed_on_and_read_back(
        make_sim, settings_for, client_for, monkeypatch):
    monkeypatch.delitem(providers.OPENAI_PROTOCOL, "openai")
    async with make_sim(base_quality=1.0, model_quality={}) as sim:
        spec = ModelSpec(id="openai/any", api_base=sim.base_url, api_key="k", logprobs=True,
                         input_cost_per_token=1e-6, output_cost_per_token=1e-6)
        client = client_for(settings_for(sim))
        result = await client.complete(spec, ask(2))
        assert client._models[spec].route.protocol == "litellm"
        assert client._models[spec].params["logprobs"] is True
    assert result.status == "completed", result.reason
    assert result.logprob_tokens == len(result.text.split()) and result.logprob_total < 0


async def test_a_cached_answer_without_logprobs_does_not_answer_a_call_asking_for_them(
        make_sim, settings_for, client_for):
    async with make_sim() as sim:
        client = client_for(settings_for(sim), cache=ResponseCache())
        await client.complete(ModelSpec(id="sim/m"), ask(1))
        asked = await client.complete(ModelSpec(id="sim/m", logprobs=True), ask(1))
        again = await client.complete(ModelSpec(id="sim/m", logprobs=True), ask(1))
    assert not asked.cached and asked.logprob_tokens > 0
    assert again.cached and again.logprob_total == asked.logprob_total
    assert sim.simulator.requests == 2


async def test_asking_for_logprobs_shares_the_model_s_limits(make_sim, settings_for, client_for):
    async with make_sim() as sim:
        client = client_for(settings_for(sim))
        plain, asked = ModelSpec(id="sim/m", rpm=60), ModelSpec(id="sim/m", rpm=60, logprobs=True)
        await client.complete(plain, ask(1))
        await client.complete(asked, ask(2))
    assert client._models[plain].limits is client._models[asked].limits


@pytest.mark.parametrize("provider,model,supported", [
    ("anthropic", "claude-3-5-haiku-latest", False), ("openai", "gpt-4o-mini", True)])
def test_litellm_is_asked_for_logprobs_only_where_the_provider_has_them(
        provider, model, supported):
    from agents.llm.litellm_path import supports_logprobs

    assert supports_logprobs(model, provider) is supported
