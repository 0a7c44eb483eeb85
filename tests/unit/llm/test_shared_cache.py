"""The LLM cache's shared level (a store every process reads, Redis in production): a fresh
cache, as in another process, is answered from it; failures are never shared; an outage of
the store costs nothing but the cache."""

from __future__ import annotations

import logging
import socket
import time
from contextlib import closing
from typing import Any

from agents.llm import LLMClient, ResponseCache
from agents.llm.cache import open_cache
from promptopt.redis_cache import RedisCache
from promptopt.settings import Settings
from schemas.experiment import ModelSpec


class DictStore:
    """The SharedStore contract over a dict, as Redis would keep it (JSON values)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.closed = False

    async def get(self, key: str) -> Any | None:
        return self.values.get(key)

    async def set(self, key: str, value: Any) -> None:
        self.values[key] = value

    async def close(self) -> None:
        self.closed = True


def ask(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"What is {i} + 3? Answer with only the number."}]


async def test_a_second_process_is_answered_from_the_shared_store(make_sim, settings_for):
    from agents.llm import LLMResult

    store = DictStore()
    spec = ModelSpec(id="sim/m", temperature=0)
    async with make_sim() as sim:
        first = await LLMClient(settings_for(sim), cache=ResponseCache(
            value_type=LLMResult, shared=store)).complete(spec, ask(3))
        # A new ResponseCache: nothing in its own memory, as in another worker.
        other = ResponseCache(value_type=LLMResult, shared=store)
        again = await LLMClient(settings_for(sim), cache=other).complete(spec, ask(3))
        await other.aclose()
    assert sim.simulator.requests == 1
    assert again.cached and again.text == first.text and again.cost_usd == 0
    assert store.closed and len(store.values) == 1


async def test_failed_calls_are_not_shared(make_sim, settings_for):
    from agents.llm import LLMResult

    store = DictStore()
    async with make_sim(rate_500=1.0) as sim:
        client = LLMClient(settings_for(sim, llm_max_retries=0),
                           cache=ResponseCache(value_type=LLMResult, shared=store))
        assert (await client.complete(ModelSpec(id="sim/m", temperature=0), ask(1))
                ).status == "failed"
    assert store.values == {}


async def test_an_entry_of_another_shape_is_a_miss_not_a_crash(make_sim, settings_for):
    from agents.llm import LLMResult
    from agents.llm.cache import cache_key

    spec = ModelSpec(id="sim/m", temperature=0)
    store = DictStore()
    store.values[cache_key(spec, ask(2))] = {"text": "5", "an_old_field": 1}
    async with make_sim() as sim:
        result = await LLMClient(settings_for(sim), cache=ResponseCache(
            value_type=LLMResult, shared=store)).complete(spec, ask(2))
    assert result.status == "completed" and not result.cached
    assert sim.simulator.requests == 1


def closed_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once closed


async def test_redis_down_means_no_cache_one_warning_and_no_wait_per_call(caplog):
    cache = RedisCache(f"redis://127.0.0.1:{closed_port()}/0", "llm", ttl_s=60,
                       retry_after_s=30)
    with caplog.at_level(logging.WARNING, logger="promptopt.cache"):
        started = time.perf_counter()
        for i in range(50):
            assert await cache.get(f"k{i}") is None
            await cache.set(f"k{i}", {"v": i})
        elapsed = time.perf_counter() - started
    await cache.close()
    assert len([r for r in caplog.records if "unavailable" in r.message]) == 1
    assert elapsed < 2.0  # one refused connection, then nothing is tried for 30 s


async def test_calls_still_work_while_the_shared_cache_is_down(make_sim, settings_for):
    url = f"redis://127.0.0.1:{closed_port()}/0"
    async with make_sim() as sim:
        settings = settings_for(sim, llm_cache="redis", redis_url=url)
        from agents.llm import LLMResult

        cache = open_cache(settings, LLMResult)
        client = LLMClient(settings, cache=cache)
        spec = ModelSpec(id="sim/m", temperature=0)
        results = [await client.complete(spec, ask(4)) for _ in range(2)]
        await cache.aclose()
    assert [r.status for r in results] == ["completed", "completed"]
    assert [r.cached for r in results] == [False, True]  # the process's own level still works
    assert sim.simulator.requests == 1


def test_settings_choose_the_cache_level():
    assert Settings(llm_cache_path="/tmp/x.sqlite").llm_cache == "file"
    assert Settings(redis_port=1234).redis_url == "redis://127.0.0.1:1234/0"
    assert Settings(redis_url="redis://cache:6379/2").redis_url == "redis://cache:6379/2"
