"""LLMClient on the in-process simulator: results, failures as data, Retry-After, timeouts,
errors a retry cannot cure, limits, tokens and cost, the cache."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter

import pytest

from agents.llm import LLMResult, ResponseCache
from agents.llm.pricing import SIM_INPUT_COST_PER_TOKEN, SIM_OUTPUT_COST_PER_TOKEN, cost_usd
from schemas.experiment import ModelSpec


def ask(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"What is {i} + 3? Answer with only the number."}]


async def test_a_call_returns_text_tokens_cost_and_one_attempt(make_sim, settings_for, client_for):
    async with make_sim(base_quality=1.0, model_quality={}) as sim:
        result = await client_for(settings_for(sim)).complete(ModelSpec(id="sim/any"), ask(4))
    assert result.status == "completed" and result.text == "7"
    assert result.prompt_tokens > 0 and result.completion_tokens > 0
    assert result.cost_usd == pytest.approx(
        result.prompt_tokens * SIM_INPUT_COST_PER_TOKEN
        + result.completion_tokens * SIM_OUTPUT_COST_PER_TOKEN)
    assert result.attempts == 1 and not result.cached
    assert sim.simulator.requests == 1


async def test_tokens_are_the_providers_usage(make_sim, settings_for, client_for):
    """The simulator's usage (1.3 tokens a word + 3 per message) is what the result says."""
    from agents.trials.simulator.content import count_tokens

    async with make_sim() as sim:
        result = await client_for(settings_for(sim)).complete(ModelSpec(id="sim/m"), ask(1))
    assert result.prompt_tokens == count_tokens(ask(1)[0]["content"]) + 3
    assert result.completion_tokens == count_tokens(result.text)


def test_price_overrides_beat_defaults():
    spec = ModelSpec(id="sim/x", input_cost_per_token=0.01, output_cost_per_token=0.1)
    assert cost_usd(spec, 10, 2) == 0.01 * 10 + 0.1 * 2
    assert cost_usd(ModelSpec(id="unknown-provider/unknown"), 10, 2) == 0.0
    assert cost_usd(ModelSpec(id="gpt-4o-mini"), 1000, 1000) > 0  # litellm's local cost map


async def test_with_20_percent_faults_every_call_ends_completed_or_failed_with_reason(
    make_sim, settings_for, client_for
):
    faults = {"rate_429": 0.08, "rate_500": 0.08, "rate_timeout": 0.04, "retry_after_s": 1}
    async with make_sim(seed=3, **faults) as sim:
        # A timeout well above any answer's time on a loaded machine: the simulator logs a
        # request when it answers it, so a normal request given up on early goes unlogged
        # (seen at 0.3 s under a load average of 8: 127 attempts, 74 logged).
        client = client_for(settings_for(sim, llm_timeout_s=2.0, llm_max_retries=2))
        results = await asyncio.gather(
            *(client.complete(ModelSpec(id="sim/large"), ask(i)) for i in range(60))
        )
    statuses = Counter(r.status for r in results)
    assert statuses["completed"] + statuses["failed"] == 60
    assert statuses["completed"] >= 50  # three tries each at 20 % failure
    for r in results:
        if r.status == "failed":
            assert r.reason and r.text is None
    # Every attempt reached the simulator, and the counts agree.
    assert sum(r.attempts for r in results) == sim.simulator.requests == client.calls
    assert sim.simulator.outcomes["429"] + sim.simulator.outcomes["500"] > 0
    assert any(r.attempts > 1 for r in results)


async def test_retries_wait_at_least_retry_after(make_sim, settings_for, client_for):
    async with make_sim(seed=5, rate_429=0.5, retry_after_s=1) as sim:
        client = client_for(settings_for(sim, llm_max_retries=1))
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


async def test_a_retry_after_beyond_the_cap_fails_the_call_at_once(
    make_sim, settings_for, client_for
):
    async with make_sim(rate_429=1.0, retry_after_s=30) as sim:
        client = client_for(settings_for(sim, llm_max_retry_after_s=5))
        started = time.monotonic()
        result = await client.complete(ModelSpec(id="sim/m"), ask(1))
    assert time.monotonic() - started < 5
    assert result.status == "failed" and result.attempts == 1
    assert result.reason.startswith("rate_limit_error (HTTP 429)")


async def test_a_hanging_provider_times_out_each_attempt(make_sim, settings_for, client_for):
    async with make_sim(rate_timeout=1.0, hang_s=30) as sim:
        client = client_for(settings_for(sim, llm_timeout_s=1.0, llm_max_retries=1))
        started = time.monotonic()
        result = await client.complete(ModelSpec(id="sim/m"), ask(1))
        elapsed = time.monotonic() - started
    assert result.status == "failed" and result.reason.startswith("timeout (no response)")
    assert result.attempts == 2 and sim.simulator.outcomes["timeout"] == 2
    assert 2.0 <= elapsed < 6  # two 1 s timeouts and one backoff (0.5-1 s)


async def test_a_wrong_key_is_reported_as_401_and_not_retried(
    make_sim, settings_for, client_for, monkeypatch
):
    monkeypatch.setenv("PROMPTOPT_TEST_SIM_KEY", "wrong")
    async with make_sim(api_key="right") as sim:
        client = client_for(settings_for(sim, llm_max_retries=3))
        spec = ModelSpec(id="sim/m", api_key="wrong")
        result = await client.complete(spec, ask(1))
    assert result.status == "failed" and result.attempts == 1
    assert result.reason.startswith("invalid_api_key (HTTP 401)")
    assert sim.simulator.outcomes == Counter({"401": 1})


async def test_the_key_comes_from_the_variable_the_spec_names(
    make_sim, settings_for, client_for, monkeypatch
):
    """A ModelSpec names its key's variable; the key itself never is on the spec."""
    async with make_sim(api_key="s3cret") as sim:
        # The key goes only to a host allowed the provider's credentials (allowed_hosts).
        host = sim.base_url.split("//")[1].split("/")[0]
        client = client_for(settings_for(sim, llm_credential_hosts={"openai": [host]}))
        spec = ModelSpec(id="openai/medium", api_base=sim.base_url, temperature=0.5,
                         api_key_env="PROMPTOPT_TEST_KEY")
        missing = await client.complete(spec, ask(1))
        monkeypatch.setenv("PROMPTOPT_TEST_KEY", "s3cret")
        found = await client.complete(spec, ask(1))
    assert missing.status == "failed" and missing.attempts == 0
    assert "PROMPTOPT_TEST_KEY" in missing.reason and "s3cret" not in missing.reason
    assert found.status == "completed", found.reason
    assert sim.simulator.outcomes == Counter({"ok": 1})


async def test_unreachable_provider_is_a_failed_result_not_an_exception(
    settings_for, make_sim, client_for
):
    async with make_sim() as sim:
        settings = settings_for(sim, llm_max_retries=0)
    result = await client_for(settings).complete(ModelSpec(id="sim/m"), ask(1))  # refused
    assert result.status == "failed" and result.reason.startswith("connection (no response)")


async def test_deterministic_calls_are_cached_and_free(make_sim, settings_for, client_for):
    async with make_sim() as sim:
        client = client_for(settings_for(sim), cache=ResponseCache())
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


async def test_concurrent_identical_calls_make_one_request(make_sim, settings_for, client_for):
    async with make_sim(latency={"mean_ms": 50}) as sim:
        client = client_for(settings_for(sim), cache=ResponseCache())
        results = await asyncio.gather(
            *(client.complete(ModelSpec(id="sim/m"), ask(2)) for _ in range(5))
        )
    assert sim.simulator.requests == 1
    assert sum(not r.cached for r in results) == 1


async def test_failed_calls_are_not_cached(make_sim, settings_for, client_for):
    async with make_sim(rate_500=1.0) as sim:
        client = client_for(settings_for(sim, llm_max_retries=0), cache=ResponseCache())
        spec = ModelSpec(id="sim/m")
        assert (await client.complete(spec, ask(1))).status == "failed"
        sim.config = sim.config.model_copy(update={"rate_500": 0.0})
        assert (await client.complete(spec, ask(1))).status == "completed"
    assert sim.simulator.requests == 2


async def test_per_model_concurrency_limit_holds(make_sim, settings_for, client_for):
    async with make_sim(latency={"mean_ms": 30}) as sim:
        client = client_for(settings_for(sim))
        spec = ModelSpec(id="sim/m", max_concurrency=2, temperature=1.0)
        await asyncio.gather(*(client.complete(spec, ask(i)) for i in range(6)))
    spans = [(c.received_at, c.answered_at) for c in sim.simulator.calls]
    most = max(sum(s <= t < e for s, e in spans) for t, _ in spans)
    assert most == 2


async def test_rpm_spaces_call_starts(make_sim, settings_for, client_for):
    """rpm 120 is one start per 0.5 s (a burst of one second's worth: 2)."""
    async with make_sim() as sim:
        client = client_for(settings_for(sim))
        spec = ModelSpec(id="sim/m", rpm=120, temperature=1.0)
        await asyncio.gather(*(client.complete(spec, ask(i)) for i in range(6)))
    starts = sorted(c.received_at for c in sim.simulator.calls)
    assert len(starts) == 6
    # 2 at once, then one every 0.5 s: the 6th no sooner than 2 s after the first.
    assert starts[-1] - starts[0] >= 1.9
    assert all(sum(t <= u < t + 0.9 for u in starts) <= 3 for t in starts)


async def test_rpm_paces_retries_too(make_sim, settings_for, client_for):
    """Every attempt is a request the provider counts, so retries wait for a start too."""
    async with make_sim(rate_500=1.0) as sim:
        client = client_for(settings_for(sim, llm_max_retries=3))
        result = await client.complete(ModelSpec(id="sim/m", rpm=60), ask(1))
    starts = sorted(c.received_at for c in sim.simulator.calls)
    assert result.attempts == 4 and len(starts) == 4
    assert all(b - a >= 0.95 for a, b in itertools.pairwise(starts))


async def test_a_persistent_cache_answers_a_rerun_in_a_new_client(
    make_sim, settings_for, client_for, tmp_path
):
    path = tmp_path / "cache" / "llm.sqlite"
    spec = ModelSpec(id="sim/m", temperature=0)
    async with make_sim() as sim:
        first_cache = ResponseCache(path=path, value_type=LLMResult)
        first = await client_for(settings_for(sim), cache=first_cache).complete(spec, ask(3))
        first_cache.close()
        rerun_cache = ResponseCache(path=path, value_type=LLMResult)  # as a new process would
        again = await client_for(settings_for(sim), cache=rerun_cache).complete(spec, ask(3))
        rerun_cache.close()
    assert sim.simulator.requests == 1
    assert again.cached and again.text == first.text and again.cost_usd == 0
    assert again.prompt_tokens == first.prompt_tokens


async def test_embed_returns_one_vector_per_text_in_order_with_tokens_and_cost(
    make_sim, settings_for, client_for
):
    async with make_sim() as sim:
        texts = ["the parcel arrived late", "the parcel arrived late", "quantum chromodynamics"]
        result = await client_for(settings_for(sim)).embed(ModelSpec(id="sim/embed"), texts)
    assert result.status == "completed" and result.vectors is not None
    assert len(result.vectors) == 3 and result.prompt_tokens > 0
    assert result.cost_usd == pytest.approx(result.prompt_tokens * SIM_INPUT_COST_PER_TOKEN)

    def cosine(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True))

    same, other = cosine(*result.vectors[:2]), cosine(result.vectors[0], result.vectors[2])
    assert abs(same - 1.0) < 1e-9 and other < same
    assert sim.simulator.outcomes["ok"] == 1


async def test_embed_failure_is_a_result_not_an_exception(settings_for, make_sim, client_for):
    async with make_sim() as sim:
        settings = settings_for(sim, llm_max_retries=0)
    result = await client_for(settings).embed(ModelSpec(id="sim/embed"), ["x"])
    assert result.status == "failed" and result.vectors is None and result.reason


@pytest.mark.parametrize("status,kind", [(400, "invalid_request_error"),
                                         (403, "permission_denied"), (404, "model_not_found"),
                                         (422, "unprocessable_entity")])
async def test_errors_a_retry_cannot_cure_fail_at_once_saying_what_they_are(
        make_sim, settings_for, client_for, status, kind):
    async with make_sim(reject_status=status) as sim:
        client = client_for(settings_for(sim, llm_max_retries=3))
        result = await client.complete(ModelSpec(id="sim/m"), ask(1))
        embedded = await client.embed(ModelSpec(id="sim/e"), ["x"])
    for failed in (result, embedded):
        assert failed.status == "failed" and failed.attempts == 1
        assert failed.reason.startswith(f"{kind} (HTTP {status}): simulated")
        assert failed.reason.endswith("not retried: a retry cannot cure it")
    assert sim.simulator.outcomes == Counter({str(status): 2})


async def test_a_refused_key_says_whose_key_it_was(make_sim, settings_for, client_for,
                                                   monkeypatch):
    monkeypatch.setenv("PROMPTOPT_TEST_SIM_KEY", "stale")
    async with make_sim(api_key="fresh") as sim:
        client = client_for(settings_for(sim, llm_max_retries=3))
        named = await client.complete(ModelSpec(id="sim/m", api_key_env="PROMPTOPT_TEST_SIM_KEY"),
                                      ask(1))
        builtin = await client.complete(ModelSpec(id="sim/m"), ask(2))
    assert named.attempts == builtin.attempts == 1
    assert "refused the credentials (the key from PROMPTOPT_TEST_SIM_KEY (api_key_env))" \
        in named.reason and "stale" not in named.reason
    assert "the simulator's built-in key" in builtin.reason
    assert sim.simulator.outcomes == Counter({"401": 2})
