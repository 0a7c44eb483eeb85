"""LLMClient on the in-process simulator: results, failures as data, Retry-After, cache."""

from __future__ import annotations

import asyncio
from collections import Counter

from agents.llm import LLMClient, ResponseCache
from agents.llm.pricing import cost_usd
from schemas.experiment import ModelSpec


def ask(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"What is {i} + 3? Answer with only the number."}]


async def test_a_call_returns_text_tokens_cost_and_one_attempt(make_sim, settings_for):
    async with make_sim(base_quality=1.0, model_quality={}) as sim:
        client = LLMClient(settings_for(sim))
        result = await client.complete(ModelSpec(id="sim/any"), ask(4))
    assert result.status == "completed" and result.text == "7"
    assert result.prompt_tokens > 0 and result.completion_tokens > 0
    assert result.cost_usd > 0 and result.attempts == 1 and not result.cached
    assert sim.simulator.requests == 1


def test_price_overrides_beat_defaults():
    spec = ModelSpec(id="sim/x", input_cost_per_token=0.01, output_cost_per_token=0.1)
    assert cost_usd(spec, 10, 2) == 0.01 * 10 + 0.1 * 2
    assert cost_usd(ModelSpec(id="unknown-provider/unknown"), 10, 2) == 0.0
    assert cost_usd(ModelSpec(id="gpt-4o-mini"), 1000, 1000) > 0  # litellm's local cost map


async def test_with_20_percent_faults_every_call_ends_completed_or_failed_with_reason(
    make_sim, settings_for
):
    faults = {"rate_429": 0.08, "rate_500": 0.08, "rate_timeout": 0.04, "retry_after_s": 1}
    async with make_sim(seed=3, **faults) as sim:
        client = LLMClient(settings_for(sim, llm_timeout_s=0.3, llm_max_retries=2))
        results = await asyncio.gather(
            *(client.complete(ModelSpec(id="sim/large"), ask(i)) for i in range(60))
        )
    statuses = Counter(r.status for r in results)
    assert statuses["completed"] + statuses["failed"] == 60
    assert statuses["completed"] >= 50  # three tries each at 20 % failure
    for r in results:
        if r.status == "failed":
            assert r.reason and r.text is None
    # Every attempt litellm made reached the simulator, and the counts agree.
    assert sum(r.attempts for r in results) == sim.simulator.requests
    assert sim.simulator.outcomes["429"] + sim.simulator.outcomes["500"] > 0
    assert any(r.attempts > 1 for r in results)


async def test_retries_wait_at_least_retry_after(make_sim, settings_for):
    async with make_sim(seed=5, rate_429=0.5, retry_after_s=1) as sim:
        client = LLMClient(settings_for(sim, llm_max_retries=1))
        await asyncio.gather(*(client.complete(ModelSpec(id="sim/m"), ask(i)) for i in range(8)))
    calls = sim.simulator.calls
    gaps = []
    for call in calls:
        if call.outcome == "429":
            retry = next(
                (c for c in calls if c.key == call.key and c.attempt == call.attempt + 1), None
            )
            if retry is not None:  # None: the call's last try, it gave up
                gaps.append(retry.received_at - call.answered_at)
    assert gaps, "the seed should inject at least one 429"
    assert min(gaps) >= 1.0


async def test_unreachable_provider_is_a_failed_result_not_an_exception(settings_for, make_sim):
    async with make_sim() as sim:
        settings = settings_for(sim, llm_max_retries=0)
    client = LLMClient(settings)  # the simulator is gone: connection refused
    result = await client.complete(ModelSpec(id="sim/m"), ask(1))
    assert result.status == "failed" and "Connection" in result.reason


async def test_deterministic_calls_are_cached_and_free(make_sim, settings_for):
    async with make_sim() as sim:
        client = LLMClient(settings_for(sim), cache=ResponseCache())
        spec = ModelSpec(id="sim/m", temperature=0)
        first = await client.complete(spec, ask(1))
        again = await asyncio.gather(*(client.complete(spec, ask(1)) for _ in range(3)))
        assert sim.simulator.requests == 1
        assert all(r.cached and r.cost_usd == 0 and r.text == first.text for r in again)
        assert not first.cached and first.cost_usd > 0

        sampling = ModelSpec(id="sim/m", temperature=0.7)
        results = [await client.complete(sampling, ask(1)) for _ in range(3)]
        assert sim.simulator.requests == 4
        assert not any(r.cached for r in results)

        seeded = ModelSpec(id="sim/m", temperature=0.7, seed=11)
        await client.complete(seeded, ask(1))
        assert (await client.complete(seeded, ask(1))).cached
        assert sim.simulator.requests == 5


async def test_concurrent_identical_calls_make_one_request(make_sim, settings_for):
    async with make_sim(latency={"mean_ms": 50}) as sim:
        client = LLMClient(settings_for(sim), cache=ResponseCache())
        results = await asyncio.gather(
            *(client.complete(ModelSpec(id="sim/m"), ask(2)) for _ in range(5))
        )
    assert sim.simulator.requests == 1
    assert sum(not r.cached for r in results) == 1


async def test_failed_calls_are_not_cached(make_sim, settings_for):
    async with make_sim(rate_500=1.0) as sim:
        client = LLMClient(settings_for(sim, llm_max_retries=0), cache=ResponseCache())
        spec = ModelSpec(id="sim/m")
        assert (await client.complete(spec, ask(1))).status == "failed"
        sim.config = sim.config.model_copy(update={"rate_500": 0.0})
        assert (await client.complete(spec, ask(1))).status == "completed"
    assert sim.simulator.requests == 2


async def test_per_model_concurrency_limit_holds(make_sim, settings_for):
    async with make_sim(latency={"mean_ms": 30}) as sim:
        client = LLMClient(settings_for(sim))
        spec = ModelSpec(id="sim/m", max_concurrency=2, temperature=1.0)
        await asyncio.gather(*(client.complete(spec, ask(i)) for i in range(6)))
    spans = [(c.received_at, c.answered_at) for c in sim.simulator.calls]
    most = max(sum(s <= t < e for s, e in spans) for t, _ in spans)
    assert most <= 2


async def test_a_persistent_cache_answers_a_rerun_in_a_new_client(make_sim, settings_for, tmp_path):
    from agents.llm import LLMResult

    path = tmp_path / "cache" / "llm.sqlite"
    spec = ModelSpec(id="sim/m", temperature=0)
    async with make_sim() as sim:
        first_cache = ResponseCache(path=path, value_type=LLMResult)
        first = await LLMClient(settings_for(sim), cache=first_cache).complete(spec, ask(3))
        first_cache.close()
        rerun_cache = ResponseCache(path=path, value_type=LLMResult)  # as a new process would
        again = await LLMClient(settings_for(sim), cache=rerun_cache).complete(spec, ask(3))
        rerun_cache.close()
    assert sim.simulator.requests == 1
    assert again.cached and again.text == first.text and again.cost_usd == 0
    assert again.prompt_tokens == first.prompt_tokens


async def test_embed_returns_one_vector_per_text_in_order_with_tokens_and_cost(
    make_sim, settings_for
):
    async with make_sim() as sim:
        client = LLMClient(settings_for(sim))
        texts = ["the parcel arrived late", "the parcel arrived late", "quantum chromodynamics"]
        result = await client.embed(ModelSpec(id="sim/embed"), texts)
        await client.aclose()
    assert result.status == "completed" and result.vectors is not None
    assert len(result.vectors) == 3 and result.prompt_tokens > 0 and result.cost_usd > 0

    def cosine(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True))

    same, other = cosine(*result.vectors[:2]), cosine(result.vectors[0], result.vectors[2])
    assert abs(same - 1.0) < 1e-9 and other < same
    assert sim.simulator.outcomes["ok"] == 1


async def test_embed_failure_is_a_result_not_an_exception(settings_for, make_sim):
    async with make_sim() as sim:
        settings = settings_for(sim, llm_max_retries=0)
    result = await LLMClient(settings).embed(ModelSpec(id="sim/embed"), ["x"])
    assert result.status == "failed" and result.vectors is None and result.reason
