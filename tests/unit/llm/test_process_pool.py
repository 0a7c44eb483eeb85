"""LLMProcessPool: the LLM calls of the embedded runtime in child processes, answered as
LLMClient answers them."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from agents.llm import ResponseCache
from agents.llm.process_pool import LLMProcessPool
from agents.trials.simulator import Latency
from schemas.experiment import ModelSpec


def ask(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"What is {i} + 3? Answer with only the number."}]


@pytest.fixture
async def pool_for():
    made: list[LLMProcessPool] = []

    def build(settings, processes=2, **kwargs) -> LLMProcessPool:
        pool = LLMProcessPool(settings, processes, **kwargs)
        made.append(pool)
        return pool

    yield build
    for pool in made:
        await pool.aclose()


async def test_calls_spread_over_the_children_and_come_back_whole(
        make_sim, settings_for, pool_for):
    async with make_sim(base_quality=1.0, model_quality={}, latency={"mean_ms": 20}) as sim:
        pool = pool_for(settings_for(sim, llm_timeout_s=10))
        spec = ModelSpec(id="sim/any", temperature=1.0)
        results = await asyncio.gather(*(pool.complete(spec, ask(i)) for i in range(40)))
    assert [r.text for r in results] == [str(i + 3) for i in range(40)]
    assert all(r.status == "completed" and r.prompt_tokens and r.cost_usd > 0 for r in results)
    assert sorted(pool.answered)[0] > 0 and sum(pool.answered) == 40  # both children worked
    assert sim.simulator.requests == 40 == pool.calls
    assert len(set(pool.pids)) == 2 and os.getpid() not in pool.pids


async def test_the_cache_is_the_parents_so_identical_calls_are_made_once(
        make_sim, settings_for, pool_for):
    async with make_sim(latency={"mean_ms": 30}) as sim:
        pool = pool_for(settings_for(sim, llm_timeout_s=10), cache=ResponseCache())
        spec = ModelSpec(id="sim/m", temperature=0)
        results = await asyncio.gather(*(pool.complete(spec, ask(1)) for _ in range(6)))
    assert sim.simulator.requests == 1
    assert sum(r.cached for r in results) == 5


async def test_the_children_share_a_models_concurrency_limit(make_sim, settings_for, pool_for):
    async with make_sim(latency={"mean_ms": 40}) as sim:
        pool = pool_for(settings_for(sim, llm_timeout_s=10))
        spec = ModelSpec(id="sim/m", temperature=1.0, max_concurrency=2)
        await asyncio.gather(*(pool.complete(spec, ask(i)) for i in range(12)))
    spans = [(c.received_at, c.answered_at) for c in sim.simulator.calls]
    assert max(sum(s <= t < e for s, e in spans) for t, _ in spans) <= 2


async def test_an_in_process_key_reaches_the_child(make_sim, settings_for, pool_for):
    async with make_sim(api_key="right") as sim:
        pool = pool_for(settings_for(sim, llm_timeout_s=10))
        result = await pool.complete(ModelSpec(id="sim/m", api_key="right"), ask(2))
    assert result.status == "completed", result.reason


async def test_a_dead_child_fails_its_calls_with_a_reason_and_is_replaced(
        make_sim, settings_for, pool_for):
    async with make_sim(latency={"mean_ms": 2000}) as sim:
        pool = pool_for(settings_for(sim, llm_timeout_s=10), processes=1)
        spec = ModelSpec(id="sim/m", temperature=1.0)
        pending = asyncio.gather(*(pool.complete(spec, ask(i)) for i in range(3)))
        await asyncio.sleep(1.0)  # the child started and the calls wait on the simulator
        [dead] = pool.pids
        os.kill(dead, signal.SIGKILL)
        failed = await pending
        assert all(r.status == "failed" and "exited" in r.reason for r in failed)
        sim.config = sim.config.model_copy(update={"latency": Latency(mean_ms=0)})
        again = await pool.complete(spec, ask(9))
    assert again.status == "completed" and pool.pids != [dead]


async def test_embed_through_the_pool(make_sim, settings_for, pool_for):
    async with make_sim() as sim:
        pool = pool_for(settings_for(sim, llm_timeout_s=10))
        result = await pool.embed(ModelSpec(id="sim/embed"), ["a b", "c d"])
    assert result.status == "completed" and len(result.vectors) == 2
