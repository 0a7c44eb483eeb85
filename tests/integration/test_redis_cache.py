"""The shared cache on the real Redis from infra/redis.sh: a deterministic LLM call made by
one process is answered to another process from Redis; entries expire with their TTL."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid

import pytest

from promptopt.redis_cache import RedisCache
from tests.integration.conftest import ROOT

pytestmark = pytest.mark.integration

ONE_CALL = """
import asyncio, json, sys
from agents.llm.cache import open_cache
from agents.llm.client import LLMClient, LLMResult
from promptopt.settings import Settings
from schemas.experiment import ModelSpec

async def main():
    settings = Settings()
    cache = open_cache(settings, LLMResult)
    client = LLMClient(settings, cache=cache)
    result = await client.complete(ModelSpec(id="sim/small", temperature=0),
                                   [{"role": "user", "content": sys.argv[1]}])
    await client.aclose()
    await cache.aclose()
    print(json.dumps({"status": result.status, "cached": result.cached, "text": result.text,
                      "calls": client.calls}))

asyncio.run(main())
"""


def call_in_new_process(question: str, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-c", ONE_CALL, question], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_call_paid_by_one_process_is_free_in_another(settings, simulator):
    prefix = f"test-{uuid.uuid4().hex[:8]}"  # this run's keys only
    env = {**os.environ, "PROMPTOPT_LLM_CACHE": "redis", "PROMPTOPT_CACHE_PREFIX": prefix,
           "PROMPTOPT_SIM_BASE_URL": simulator}
    first = call_in_new_process("What is 2 + 2? Answer with only the number.", env)
    second = call_in_new_process("What is 2 + 2? Answer with only the number.", env)
    assert first["status"] == "completed" and not first["cached"] and first["calls"] == 1
    assert second["cached"] and second["calls"] == 0 and second["text"] == first["text"]


async def test_entries_expire_with_their_ttl(settings):
    cache = RedisCache(settings.redis_url, "ttl-test", ttl_s=0.3,
                       prefix=f"test-{uuid.uuid4().hex[:8]}")
    try:
        await cache.ping()
        await cache.set("k", {"v": [1, 2]})
        assert await cache.get("k") == {"v": [1, 2]}
        await cache.set("long", {"v": 1}, ttl_s=30)
        await asyncio.sleep(0.5)
        assert await cache.get("k") is None
        assert await cache.get("long") == {"v": 1}
    finally:
        await cache.close()
