"""Fan-out benchmark of the trials agent on the LLM simulator (local runtime).

Figure 1 (throughput): simulator latency L = 1 s, concurrency C = 200. Trials per second
through the whole trials pipeline (fan-out -> trial-requested -> run_trial -> trial-completed,
events encoded and decoded as on Kafka) against the ceiling C / L.

Figure 2 (overhead): L = 100 ms. CPU time this process spends per trial through the pipeline
against the CPU time of a bare `litellm.acompletion` call to the same simulator, both measured
in this run at the same concurrency. The simulator runs in its own process, so its CPU is not
counted on either side.

    python -m benchmarks.fanout [--quick]

Ends with one line of JSON: trials_per_s, ceiling_per_s, ratio_to_ceiling,
cpu_ratio_to_bare_litellm, and the figures behind them.

    python -m benchmarks.fanout --broker [--quick]

Figure 1 again, through two trials workers (Faust, only the trials agent, C / 2 concurrency
each) on the real Kafka broker at settings.kafka_bootstrap: the benchmark publishes a round
on variation-generated and times the trial-completed events coming back. The workers use a
fresh consumer group whose offsets are first set to the end of every topic, so earlier
history on the broker is not replayed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

SEED = 1234


@contextmanager
def simulator_process(latency_ms: float):
    """The simulator in a child process on a free loopback port; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as cfg:
        json.dump({"seed": SEED, "latency": {"distribution": "fixed", "mean_ms": latency_ms}}, cfg)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "promptopt.cli",
            "sim-llm",
            "--port",
            str(port),
            "--config",
            cfg.name,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the simulator did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        Path(cfg.name).unlink(missing_ok=True)


def round_event(experiment_id: str, n_trials: int):
    """A round of 2 variations x n_trials/2 distinct test cases x 1 simulator model."""
    from schemas.events import VariationGenerated
    from schemas.experiment import ExperimentSpec, ModelSpec, TestCase, Variation

    prompt = "Classify the sentiment of this review, answer with one word: {{text}}"
    spec = ExperimentSpec(
        prompt=prompt,
        test_cases=tuple(
            TestCase(id=f"tc{i}", vars={"text": f"review {i}: great value, slow delivery"})
            for i in range(n_trials // 2)
        ),
        models=(ModelSpec(id="sim/medium", temperature=0),),
    )
    variations = (
        Variation(variation_id="v0", name="control", prompt=prompt, is_control=True),
        Variation(variation_id="v1", name="role", prompt="You are an expert. " + prompt),
    )
    return VariationGenerated(experiment_id=experiment_id, variations=variations, spec=spec)


async def run_pipeline(base_url: str, concurrency: int, n_trials: int, tag: str) -> dict:
    """n_trials through the trials agent on the local runtime; wall and CPU seconds."""
    from agents.runtime.local import LocalRuntime
    from agents.trials import AGENT
    from promptopt.settings import Settings
    from topics.catalogue import TRIAL_COMPLETED, VARIATION_GENERATED

    settings = Settings(sim_base_url=base_url, llm_concurrency=concurrency, llm_timeout_s=60)
    steps = tuple(
        replace(s, concurrency=concurrency) if s.name == "trials.run_trial" else s
        for s in AGENT.steps
    )
    agent = replace(AGENT, steps=steps)
    outcomes: Counter[str] = Counter()

    def count(_topic, event) -> None:
        outcomes[event.status] += 1

    async with LocalRuntime([agent], settings, observers=[(TRIAL_COMPLETED, count)]) as rt:
        event = round_event(f"bench-{tag}", n_trials)
        wall, cpu = time.perf_counter(), time.process_time()
        await rt.publish(VARIATION_GENERATED, event)
        await rt.run_until_idle(timeout=600)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"wall_s": wall, "cpu_s": cpu, "outcomes": dict(outcomes)}


async def run_bare(base_url: str, concurrency: int, n_trials: int, tag: str) -> dict:
    """The same calls as bare litellm.acompletion, the floor any pipeline pays."""
    from agents.llm.litellm_config import load_litellm

    litellm = load_litellm()
    gate = asyncio.Semaphore(concurrency)
    prompt = "Classify the sentiment of this review, answer with one word: "

    async def one(i: int) -> str:
        async with gate:
            response = await litellm.acompletion(
                model="openai/medium",
                api_base=base_url,
                api_key="sim-key",
                messages=[{"role": "user", "content": f"{prompt}{tag} review {i}: great value"}],
                temperature=0,
                max_tokens=256,
                timeout=60,
            )
            return response.choices[0].message.content

    wall, cpu = time.perf_counter(), time.process_time()
    answers = await asyncio.gather(*(one(i) for i in range(n_trials)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"wall_s": wall, "cpu_s": cpu, "outcomes": {"completed": len(answers)}}


async def throughput(quick: bool) -> dict:
    latency_s, concurrency = 1.0, 200
    n = 1000 if quick else 3000
    with simulator_process(latency_s * 1000) as base_url:
        await run_pipeline(base_url, concurrency, 2 * concurrency, "warm")  # imports, clients
        run = await run_pipeline(base_url, concurrency, n, "throughput")
    ceiling = concurrency / latency_s
    rate = n / run["wall_s"]
    return {
        "trials": n,
        "latency_ms": latency_s * 1000,
        "concurrency": concurrency,
        "trials_per_s": round(rate, 1),
        "ceiling_per_s": ceiling,
        "ratio_to_ceiling": round(rate / ceiling, 3),
        # Why a run falls short: one process can do at most 1 / (CPU per trial) trials a
        # second, and this machine's cores are shared.
        "cpu_ms_per_trial": round(run["cpu_s"] / n * 1000, 3),
        "cpu_bound_ceiling_per_s": round(n / run["cpu_s"], 1),
        "cpu_share_of_wall": round(run["cpu_s"] / run["wall_s"], 3),
        "outcomes": run["outcomes"],
    }


async def overhead(quick: bool) -> dict:
    latency_ms, concurrency = 100.0, 50
    n = 600 if quick else 2000
    rounds = 2 if quick else 3
    pipeline_cpu = bare_cpu = 0.0
    with simulator_process(latency_ms) as base_url:
        # The pipeline first: it registers the simulator's prices in litellm's cost map, which
        # the bare calls then also profit from (same model name), so both sides price alike.
        await run_pipeline(base_url, concurrency, concurrency, "warm")
        await run_bare(base_url, concurrency, concurrency, "warm")
        for r in range(rounds):  # alternate, so drift on a shared machine hits both sides
            bare = await run_bare(base_url, concurrency, n, f"r{r}")
            pipe = await run_pipeline(base_url, concurrency, n, f"r{r}")
            bare_cpu += bare["cpu_s"]
            pipeline_cpu += pipe["cpu_s"]
    per_pipeline = pipeline_cpu / (n * rounds) * 1000
    per_bare = bare_cpu / (n * rounds) * 1000
    return {
        "trials": n * rounds,
        "latency_ms": latency_ms,
        "concurrency": concurrency,
        "cpu_ms_per_trial": round(per_pipeline, 3),
        "cpu_ms_per_bare_litellm_call": round(per_bare, 3),
        "cpu_ratio_to_bare_litellm": round(per_pipeline / per_bare, 3),
    }


def trials_worker() -> None:
    """A Faust worker running only the trials agent (configured by PROMPTOPT_* variables)."""
    from faust.worker import Worker

    from agents.runtime.faust_app import build_app
    from agents.trials import AGENT
    from promptopt.settings import get_settings

    asyncio.set_event_loop(asyncio.new_event_loop())
    app = build_app([AGENT], get_settings())
    Worker(app, loglevel="warning", quiet=True).execute_from_commandline()


async def start_group_at_end(bootstrap: str, group: str) -> None:
    """Commit `group`'s offsets at the end of every topic, so its workers skip history."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    from topics.catalogue import TOPICS

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:  # a producer fetches a topic's partitions on request; a consumer only when assigned
        parts = [
            TopicPartition(t.name, p) for t in TOPICS for p in await producer.partitions_for(t.name)
        ]
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(parts)
        await consumer.seek_to_end(*parts)
        await consumer.commit({tp: await consumer.position(tp) for tp in parts})
    finally:
        await consumer.stop()


async def broker_throughput(quick: bool) -> dict:
    import uuid

    from aiokafka import AIOKafkaConsumer

    from promptopt.settings import get_settings
    from topics.admin import create_topics
    from topics.catalogue import TRIAL_COMPLETED, VARIATION_GENERATED
    from topics.client import PromptOptClient
    from topics.codec import decode

    latency_s, concurrency, workers = 1.0, 200, 2
    n = 600 if quick else 2000
    bootstrap = get_settings().kafka_bootstrap
    await create_topics(bootstrap)
    group = f"promptopt-bench-{uuid.uuid4().hex[:8]}"
    await start_group_at_end(bootstrap, group)
    with simulator_process(latency_s * 1000) as base_url, tempfile.TemporaryDirectory() as tmp:
        procs, web_ports = [], []
        for i in range(workers):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                web_port = probe.getsockname()[1]
            env = {
                **os.environ,
                "PROMPTOPT_FAUST_APP_ID": group,
                "PROMPTOPT_FAUST_WEB_PORT": str(web_port),
                "PROMPTOPT_FAUST_DATA_DIR": f"{tmp}/w{i}",
                "PROMPTOPT_SIM_BASE_URL": base_url,
                "PROMPTOPT_LLM_CONCURRENCY": str(concurrency // workers),
                "PROMPTOPT_LLM_TIMEOUT_S": "60",
            }
            web_ports.append(web_port)
            log = open(f"{tmp}/w{i}.log", "wb")  # noqa: SIM115 - closed with the folder
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "benchmarks.fanout", "--trials-worker"],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        # experiment -> trial id -> when its first trial-completed arrived; redeliveries
        # (a rebalance replays uncommitted trial-requested) are counted apart.
        done: dict[str, dict[str, float]] = {}
        duplicates = Counter()
        consumer = AIOKafkaConsumer(TRIAL_COMPLETED.name, bootstrap_servers=bootstrap)
        await consumer.start()
        try:
            await consumer.seek_to_end()

            async def run_round(tag: str, trials: int, timeout: float) -> tuple[float, float]:
                event = round_event(f"{group}-{tag}", trials)
                times = done.setdefault(event.experiment_id, {})
                async with PromptOptClient(bootstrap) as client:
                    started = time.perf_counter()
                    await client.publish(VARIATION_GENERATED, event)
                deadline = started + timeout
                while len(times) < trials and time.perf_counter() < deadline:
                    batch = await consumer.getmany(timeout_ms=500)
                    for records in batch.values():
                        for record in records:
                            completed = decode(TRIAL_COMPLETED, record.value)
                            trial = completed.trial
                            seen = done.setdefault(trial.experiment_id, {})
                            if trial.trial_id in seen:
                                duplicates[trial.experiment_id] += 1
                            else:
                                seen[trial.trial_id] = time.perf_counter()
                if len(times) < trials:
                    raise RuntimeError(f"{tag}: {len(times)} of {trials} trials after {timeout}s")
                return started, max(times.values())

            # Warm-up: the workers join the group, open services, warm litellm.
            await run_round("warm", 2 * concurrency, timeout=180)
            started, last = await run_round("measured", n, timeout=600)
            await run_round("drain", 2, timeout=60)  # late redeliveries of the measured round
            per_worker = [trials_handled(port) for port in web_ports]
        finally:
            await consumer.stop()
            for proc in procs:
                os.killpg(proc.pid, signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:  # Faust can hang at "Fetcher: Stopping..."
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(10)
    ceiling = concurrency / latency_s
    rate = n / (last - started)
    return {
        "trials": n,
        "workers": workers,
        "latency_ms": latency_s * 1000,
        "concurrency": concurrency,
        "trials_per_s": round(rate, 1),
        "ceiling_per_s": ceiling,
        "ratio_to_ceiling": round(rate / ceiling, 3),
        "trials_per_worker": per_worker,  # both rounds; shows the calls spread over workers
        "duplicate_completions": sum(duplicates.values()),
    }


def trials_handled(web_port: int) -> int:
    """trial-requested events a worker handled, from its /metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{web_port}/metrics", timeout=5).read()
    total = 0.0
    for line in text.decode().splitlines():
        if line.startswith("step_events_total{") and 'step="trials.run_trial"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--broker", action="store_true", help="two trials workers on Kafka")
    parser.add_argument("--trials-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.trials_worker:
        trials_worker()
        return
    logging.disable(logging.WARNING)
    os.environ.setdefault("PROMPTOPT_LLM_MAX_RETRIES", "3")
    if args.broker:
        figures = asyncio.run(broker_throughput(args.quick))
        print(f"broker: {figures}", file=sys.stderr)
        print(
            json.dumps(
                {
                    "benchmark": "fanout",
                    "mode": "broker",
                    "quick": args.quick,
                    "seed": SEED,
                    **{k: v for k, v in figures.items()},
                }
            )
        )
        return

    first = asyncio.run(throughput(args.quick))
    print(f"throughput: {first}", file=sys.stderr)
    second = asyncio.run(overhead(args.quick))
    print(f"overhead:   {second}", file=sys.stderr)
    print(
        json.dumps(
            {
                "benchmark": "fanout",
                "quick": args.quick,
                "seed": SEED,
                "trials_per_s": first["trials_per_s"],
                "ceiling_per_s": first["ceiling_per_s"],
                "ratio_to_ceiling": first["ratio_to_ceiling"],
                "cpu_ratio_to_bare_litellm": second["cpu_ratio_to_bare_litellm"],
                "throughput": first,
                "overhead": second,
            }
        )
    )


if __name__ == "__main__":
    main()
