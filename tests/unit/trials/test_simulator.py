"""The LLM simulator: content model, reproducibility, fault injection, HTTP surface."""

from __future__ import annotations

import aiohttp
import pytest

from agents.trials.simulator import Latency, QualityRule, SimConfig, run_simulator
from agents.trials.simulator.content import answer, quality, task_input, true_sentiment
from agents.trials.simulator.server import _latency_s


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


async def post(session: aiohttp.ClientSession, base: str, **body):
    async with session.post(f"{base}/chat/completions", json=body) as resp:
        return resp.status, dict(resp.headers), await resp.json()


def test_lexicon_labels_reviews():
    assert true_sentiment("I loved it, a wonderful film") == "positive"
    assert true_sentiment("Terrible service and a broken product") == "negative"
    assert true_sentiment("It arrived on Tuesday") == "neutral"


def test_quality_rises_with_each_good_prompt_trait():
    cfg = SimConfig(base_quality=0.3, model_quality={})
    plain = "Classify this review: {text}"
    better = "You are an expert. Think step by step. Answer with one word.\nExamples: ...\n" + plain
    assert quality(cfg, "x", plain) == pytest.approx(0.3)
    assert quality(cfg, "x", better) == pytest.approx(0.3 + 0.1 + 0.1 + 0.1 + 0.15)


def test_quality_is_clamped_and_rules_are_configurable():
    cfg = SimConfig(
        base_quality=0.9, quality_rules=(QualityRule(name="p", pattern="please", boost=0.5),)
    )
    assert quality(cfg, "x", "please do it") == 1.0
    cfg = SimConfig(
        base_quality=0.1, quality_rules=(QualityRule(name="r", pattern="rude", boost=-0.5),)
    )
    assert quality(cfg, "x", "rude prompt") == 0.0


def test_bare_label_only_when_the_prompt_asks_for_it():
    cfg = SimConfig(base_quality=1.0, model_quality={})
    bare = answer(cfg, "m", user("Sentiment? Answer with one word: I love it"), 0.5)
    wrapped = answer(cfg, "m", user("What is the sentiment of: I love it"), 0.5)
    assert bare.text == "positive"
    assert wrapped.text == "The sentiment of this review is positive."


def test_wrong_answers_are_another_label_or_a_nearby_number():
    cfg = SimConfig(base_quality=0.0, model_quality={}, quality_rules=())
    for u in (0.1, 0.5, 0.9):
        label = answer(cfg, "m", user("Sentiment, one word only the label: I love it"), u)
        assert not label.correct and label.text in ("negative", "neutral")
        number = answer(cfg, "m", user("What is 17 + 25? Answer with only the number."), u)
        assert number.text != "42" and 32 <= int(number.text) <= 52


def test_arithmetic_is_solved_from_the_last_expression():
    cfg = SimConfig(base_quality=1.0, model_quality={})
    msgs = [
        {"role": "system", "content": "Example: What is 1 + 1? 2"},
        {"role": "user", "content": "What is 6 * 7?"},
    ]
    reply = answer(cfg, "m", msgs, 0.0)
    assert (reply.family, reply.text) == ("arithmetic", "The answer is 42.")


def test_delimited_input_is_what_gets_classified():
    text = 'Example: "great" -> positive\nClassify:\n"""awful, broken, a waste"""'
    assert task_input(user(text)) == "awful, broken, a waste"


def test_generic_prompts_get_a_sentence_from_their_words():
    reply = answer(SimConfig(), "m", user("Describe the lighthouse keeper"), 0.3)
    assert reply.family == "generic" and any(w in reply.text for w in ("lighthouse", "keeper"))


@pytest.mark.parametrize("distribution", ["normal", "lognormal"])
def test_latency_distributions_have_the_configured_mean(distribution):
    latency = Latency(distribution=distribution, mean_ms=100, std_ms=30)
    samples = [_latency_s(latency, 1, f"k{i}", 0) * 1000 for i in range(4000)]
    mean = sum(samples) / len(samples)
    assert 95 < mean < 105
    assert min(samples) >= 0
    assert len(set(samples)) > 3000  # really drawn, not fixed


async def test_same_seed_same_answers_and_large_beats_small():
    prompts = [
        f"Sentiment of this review, one word: review {i} was {w}"
        for i, w in enumerate(["great", "awful", "fine", "loved", "bad"] * 12)
    ]
    runs = []
    for _ in range(2):
        async with run_simulator(SimConfig(seed=7)) as sim, aiohttp.ClientSession() as s:
            run = {}
            for model in ("small", "large"):
                for p in prompts:
                    _, _, body = await post(
                        s, sim.base_url, model=model, messages=user(p), temperature=0
                    )
                    run[(model, p)] = body["choices"][0]["message"]["content"]
            runs.append(run)
    assert runs[0] == runs[1]
    truth = {p: true_sentiment(p.split(":", 1)[1]) for p in prompts}
    right = {m: sum(runs[0][(m, p)] == truth[p] for p in prompts) for m in ("small", "large")}
    assert right["large"] > right["small"]


async def test_sampling_varies_between_repetitions_but_a_request_seed_fixes_it():
    msgs = user("Describe the sea in a few words, with waves, salt, gulls and wind")
    async with run_simulator(SimConfig(seed=1)) as sim, aiohttp.ClientSession() as s:
        sampled = {
            (await post(s, sim.base_url, model="m", messages=msgs, temperature=1.0))[2]["choices"][
                0
            ]["message"]["content"]
            for _ in range(6)
        }
        seeded = {
            (await post(s, sim.base_url, model="m", messages=msgs, temperature=1.0, seed=3))[2][
                "choices"
            ][0]["message"]["content"]
            for _ in range(4)
        }
    assert len(sampled) > 1
    assert len(seeded) == 1


async def test_injected_429_carries_retry_after_and_500s_happen():
    cfg = SimConfig(rate_429=0.5, rate_500=0.5, retry_after_s=3)
    async with run_simulator(cfg) as sim, aiohttp.ClientSession() as s:
        results = [
            await post(s, sim.base_url, model="m", messages=user(f"q{i}")) for i in range(20)
        ]
    statuses = {status for status, _, _ in results}
    assert statuses == {429, 500}
    for status, headers, body in results:
        assert body["error"]["message"]
        if status == 429:
            assert headers["Retry-After"] == "3"
    assert sim.simulator.outcomes["429"] + sim.simulator.outcomes["500"] == 20


async def test_timeouts_hang_past_the_client_timeout():
    cfg = SimConfig(rate_timeout=1.0, hang_s=30)
    async with run_simulator(cfg) as sim, aiohttp.ClientSession() as s:
        with pytest.raises(TimeoutError):
            async with s.post(
                f"{sim.base_url}/chat/completions",
                json={"model": "m", "messages": user("x")},
                timeout=aiohttp.ClientTimeout(total=0.2),
            ):
                pass
    assert sim.simulator.outcomes["timeout"] == 1


async def test_http_surface_usage_models_health_and_bad_requests():
    async with run_simulator(SimConfig()) as sim, aiohttp.ClientSession() as s:
        status, _, body = await post(
            s, sim.base_url, model="small", messages=user("What is 2 + 2?")
        )
        assert status == 200 and body["object"] == "chat.completion"
        usage = body["usage"]
        assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        async with s.get(f"{sim.base_url}/models") as resp:
            assert "small" in {m["id"] for m in (await resp.json())["data"]}
        status, _, body = await post(s, sim.base_url, model="m", messages="not a list")
        assert status == 400 and "messages" in body["error"]["message"]
        async with s.get(sim.base_url.removesuffix("/v1") + "/health") as resp:
            health = await resp.json()
        assert health["status"] == "ok" and health["ok"] == 1


def test_config_loads_from_yaml(tmp_path):
    path = tmp_path / "sim.yaml"
    path.write_text(
        "seed: 4\nrate_429: 0.1\nlatency: {distribution: lognormal, mean_ms: 50, std_ms: 20}\n"
        "model_quality: {tiny: 0.2}\n"
    )
    cfg = SimConfig.load(path)
    assert (
        cfg.seed == 4
        and cfg.latency.distribution == "lognormal"
        and cfg.base_for("sim/tiny") == 0.2
    )


def test_with_few_shot_examples_the_last_input_is_the_one_solved():
    from agents.trials.simulator.content import task_input

    prompt = ("Classify the sentiment.\nInput: I hate it, awful\nOutput: negative\n"
              "Input: lovely\nOutput: positive\n\nInput: great value, love it\nOutput:")
    assert task_input([{"role": "user", "content": prompt}]) == "great value, love it"


async def test_logprobs_when_asked_one_per_word_replayable_and_lower_when_wrong():
    async with run_simulator(SimConfig(model_quality={"right": 1.0, "wrong": 0.0})) as sim, \
            aiohttp.ClientSession() as s:
        _, _, plain = await post(s, sim.base_url, model="right", messages=user("Say hi there"))
        assert plain["choices"][0]["logprobs"] is None
        bodies = [(await post(s, sim.base_url, model=m, logprobs=True,
                              messages=user("What is 12 + 30? Explain."))
                   )[2] for m in ("right", "right", "wrong")]
    right, again, wrong = (b["choices"][0] for b in bodies)
    assert right["logprobs"] == again["logprobs"]  # a pure function of the request
    tokens = right["logprobs"]["content"]
    assert "".join(t["token"] for t in tokens) == right["message"]["content"]
    assert all(0.6 <= 2.718281828 ** t["logprob"] < 1.0 for t in tokens)
    assert all(0.2 <= 2.718281828 ** t["logprob"] < 0.8 for t in wrong["logprobs"]["content"])
