"""Fan-out benchmark: trials per second and CPU per trial of the LLM fan-out, against the
ceiling C / L and against a bare HTTP call.

    python -m benchmarks.fanout [--quick] [--profile] [--no-broker]

An OpenAI-compatible stub with a fixed latency L (benchmarks/stub_llm.py) runs in its own
process, so its CPU is not counted on the measured side (it is reported apart). With
C = 200 calls in flight:

- embedded: the trials and scorer agents on the local runtime (fan-out -> trial-requested
  -> run_trial through agents/llm -> trial-completed -> scoring and statistics, every event
  through the codec as on Kafka), at L = 100 ms and L = 1 s, >= 2,000 trials each.
- bare: the same number of bare aiohttp POSTs to the same stub, JSON parsed, at L = 100 ms
  and C = 200: the floor any client pays. cpu_ratio_to_bare_http = CPU per trial / CPU per
  bare call, both measured in this run.
- broker: two trials workers (`promptopt worker --role trials --processes 2`, C / 2 each)
  on the real Kafka broker at settings.kafka_bootstrap, same rounds; their CPU is read from
  /proc. The workers use a fresh consumer group that starts at the end of every topic.
- --profile: cProfile of one embedded run at L = 100 ms, CPU per trial by layer.

Ends with one line of JSON (keys in the issue: trials_per_s_100ms, trials_per_s_1s,
ratio_to_ceiling, cpu_ms_per_trial, cpu_ms_per_bare_http_call, cpu_ratio_to_bare_http, and
the same under "broker").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

SEED = 1234
CONCURRENCY = 200
MODEL = "sim/bench"  # the lean OpenAI-protocol path, pointed at the stub by api_base
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and its living children (a worker pool)."""
    total = process_cpu_s(pid)
    with contextlib.suppress(FileNotFoundError), open(f"/proc/{pid}/task/{pid}/children") as f:
        for child in f.read().split():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                total += tree_cpu_s(int(child))
    return total


def wait_http(url: str, proc: subprocess.Popen[bytes], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.1)


@dataclass
class Stub:
    base_url: str
    pid: int

    def cpu_s(self) -> float:
        return process_cpu_s(self.pid)


@contextlib.contextmanager
def stub_process(latency_ms: float) -> Iterator[Stub]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.stub_llm", "--port", str(port),
         "--latency-ms", str(latency_ms)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc, "the stub")
        yield Stub(f"http://127.0.0.1:{port}/v1", proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


def round_event(experiment_id: str, n_trials: int, base_url: str) -> Any:
    """2 variations x n_trials/2 test cases x 1 model; fixed design, so every trial runs.
    Texts carry the experiment id: no round is answered from another's cache."""
    from schemas.events import VariationGenerated
    from schemas.experiment import ExperimentSpec, ModelSpec, TestCase, Variation

    prompt = "Classify the sentiment of this review, answer with one word: {{text}}"
    spec = ExperimentSpec(
        prompt=prompt,
        test_cases=tuple(
            TestCase(id=f"tc{i}", vars={"text": f"{experiment_id} review {i}: great value"},
                     expected="positive")
            for i in range(n_trials // 2)
        ),
        models=(ModelSpec(id=MODEL, api_base=base_url, temperature=0),),
        analysis={"design": "fixed"},
    )
    variations = (
        Variation(variation_id="v0", name="control", prompt=prompt, is_control=True),
        Variation(variation_id="v1", name="role", prompt="You are an expert. " + prompt),
    )
    return VariationGenerated(experiment_id=experiment_id, variations=variations, spec=spec)


# --- embedded -----------------------------------------------------------------------------

async def run_embedded(stub: Stub, n: int, tag: str, profiler: Any = None, *,
                       scorer: bool = True) -> dict[str, Any]:
    """n trials through the trials and (unless scorer=False) scorer agents on the local
    runtime."""
    from agents.runtime.local import LocalRuntime, Observer
    from agents.scorer import AGENT as SCORER
    from agents.trials import AGENT as TRIALS
    from promptopt.settings import Settings
    from topics.catalogue import ANALYSIS_READY, TRIAL_COMPLETED, VARIATION_GENERATED, Topic

    settings = Settings(llm_concurrency=CONCURRENCY, llm_timeout_s=60,
                        llm_allowed_hosts=["127.0.0.1"])  # the stub (the SSRF guard)
    trials = replace(TRIALS, steps=tuple(
        replace(s, concurrency=CONCURRENCY) if s.name == "trials.run_trial" else s
        for s in TRIALS.steps))
    outcomes: Counter[str] = Counter()
    finals: list[Any] = []

    def count(topic: Any, event: Any) -> None:
        if topic is TRIAL_COMPLETED:
            outcomes[event.status] += 1
        elif event.final:
            finals.append(event)

    observers: list[tuple[Topic, Observer]] = [(TRIAL_COMPLETED, count), (ANALYSIS_READY, count)]
    agents = [trials, SCORER] if scorer else [trials]
    async with LocalRuntime(agents, settings, observers=observers) as rt:
        event = round_event(f"bench-{tag}-{uuid.uuid4().hex[:6]}", n, stub.base_url)
        stub_cpu = stub.cpu_s()
        if profiler is not None:
            profiler.enable()
        wall, cpu = time.perf_counter(), time.process_time()
        await rt.publish(VARIATION_GENERATED, event)
        await rt.run_until_idle(timeout=900)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if profiler is not None:
            profiler.disable()
        stub_cpu = stub.cpu_s() - stub_cpu
    if outcomes["completed"] != n or len(finals) != int(scorer):
        raise RuntimeError(f"{tag}: outcomes {dict(outcomes)}, {len(finals)} final analyses")
    return {"trials": n, "wall_s": wall, "cpu_s": cpu, "stub_cpu_s": stub_cpu,
            "outcomes": dict(outcomes)}


async def run_bare(stub: Stub, n: int) -> dict[str, Any]:
    """n bare aiohttp POSTs, C in flight, JSON parsed: the floor any client pays."""
    import aiohttp

    gate = asyncio.Semaphore(CONCURRENCY)
    url = stub.base_url + "/chat/completions"
    headers = {"Authorization": "Bearer sim-key"}
    prompt = "Classify the sentiment of this review, answer with one word: "

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one(i: int) -> str:
            body = {"model": "bench", "temperature": 0, "max_tokens": 256,
                    "messages": [{"role": "user", "content": f"{prompt}review {i}"}]}
            async with gate, session.post(url, json=body, headers=headers) as response:
                data = await response.json()
                return data["choices"][0]["message"]["content"]

        await asyncio.gather(*(one(i) for i in range(CONCURRENCY)))  # open the connections
        wall, cpu = time.perf_counter(), time.process_time()
        answers = await asyncio.gather(*(one(i) for i in range(n)))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert len(answers) == n
    return {"calls": n, "wall_s": wall, "cpu_s": cpu}


async def embedded(stub_100: Stub, stub_1s: Stub, n: int, rounds: int) -> dict[str, Any]:
    await run_embedded(stub_100, 2 * CONCURRENCY, "warm")  # imports, connections
    fast: list[dict[str, Any]] = []
    bare: list[dict[str, Any]] = []
    for r in range(rounds):  # alternate, so drift on a shared machine hits both sides
        bare.append(await run_bare(stub_100, n))
        fast.append(await run_embedded(stub_100, n, f"100ms-r{r}"))
    slow = await run_embedded(stub_1s, n, "1s")
    trials_only = await run_embedded(stub_100, n, "trials-only", scorer=False)
    return {"fast": fast, "bare": bare, "slow": slow, "trials_only": trials_only}


# --- layers (cProfile) --------------------------------------------------------------------

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # (layer, substrings of a profiled function's file or name), first match wins
    ("llm client: limits, retries, cache", ("agents/llm/client", "agents/llm/limits",
                                            "agents/llm/cache", "agents/llm/retry",
                                            "tenacity", "aiolimiter", "hashlib", "sha256")),
    ("llm client: pricing, routes, keys", ("agents/llm/pricing", "agents/llm/providers")),
    ("JSON (request and answer)", ("orjson", "agents/llm/openai_http", "json/decoder",
                                   "json/encoder", "json/__init__")),
    ("HTTP (aiohttp)", ("aiohttp", "multidict", "yarl", "propcache")),
    ("event loop and sockets", ("asyncio", "selectors", "socket", "_overlapped", "epoll",
                                "select")),
    ("runtime dispatch and codec", ("agents/runtime", "topics/", "pydantic", "validate_json",
                                    "to_json", "validate_python", "model_dump", "zlib",
                                    "prometheus_client", "dataclasses", "copy.py")),
    ("trials handler", ("agents/trials",)),
    ("scoring and statistics", ("agents/scorer", "numpy", "scipy", "statsmodels", "math")),
)


def layer_of(func: tuple[str, int, str]) -> str:
    where = f"{func[0]}:{func[2]}"
    for name, needles in LAYERS:
        if any(needle in where for needle in needles):
            return name
    return "other"


def layers(stats: Any, cpu_ms_per_trial: float) -> dict[str, float]:
    """Each layer's share of the profiled own time, scaled to the unprofiled CPU per trial
    (cProfile slows Python code more than C code: shares, not absolute times)."""
    own: Counter[str] = Counter()
    for func, (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        own[layer_of(func)] += tottime
    total = sum(own.values()) or 1.0
    return {k: round(v / total * cpu_ms_per_trial, 3) for k, v in own.most_common()}


async def profile_layers(stub: Stub, n: int, cpu_ms_per_trial: float) -> dict[str, float]:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    await run_embedded(stub, n, "profile", profiler)
    return layers(pstats.Stats(profiler), cpu_ms_per_trial)


# --- broker -------------------------------------------------------------------------------

async def start_group_at_end(bootstrap: str, group: str) -> None:
    """Commit `group`'s offsets at the end of every topic, so its workers skip history."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    from topics.catalogue import TOPICS

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:  # a producer fetches a topic's partitions on request; a consumer only when assigned
        parts = [TopicPartition(t.name, p)
                 for t in TOPICS for p in await producer.partitions_for(t.name)]
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(parts)
        await consumer.seek_to_end(*parts)
        await consumer.commit({tp: await consumer.position(tp) for tp in parts})
    finally:
        await consumer.stop()


def trials_handled(web_port: int) -> int:
    """trial-requested events a worker handled, from its /metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{web_port}/metrics", timeout=5).read()
    total = 0.0
    for line in text.decode().splitlines():
        if line.startswith("step_events_total{") and 'step="trials.run_trial"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


async def broker(stub_100: Stub, stub_1s: Stub, n: int, workers: int = 2) -> dict[str, Any]:
    from aiokafka import AIOKafkaConsumer

    from promptopt.settings import get_settings
    from topics.admin import ensure_topics
    from topics.catalogue import TRIAL_COMPLETED, VARIATION_GENERATED
    from topics.client import PromptOptClient
    from topics.codec import decode

    bootstrap = get_settings().kafka_bootstrap
    await ensure_topics(bootstrap)
    group = f"promptopt-bench-{uuid.uuid4().hex[:8]}"
    await start_group_at_end(bootstrap, group)
    base_port = free_port()
    while any(_port_taken(base_port + i) for i in range(workers)):
        base_port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PROMPTOPT_FAUST_DATA_DIR": tmp,
               "PROMPTOPT_LLM_CONCURRENCY": str(CONCURRENCY // workers),
               "PROMPTOPT_LLM_TIMEOUT_S": "60", "PROMPTOPT_LLM_ALLOWED_HOSTS": "127.0.0.1"}
        log = open(f"{tmp}/workers.log", "wb")  # noqa: SIM115 - closed with the folder
        pool = subprocess.Popen(
            [sys.executable, "-m", "promptopt.cli", "worker", "--role", "trials",
             "--processes", str(workers), "--no-sinks", "--app-id", group,
             "--web-port", str(base_port), "--loglevel", "warning"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        done: dict[str, dict[str, float]] = {}  # experiment -> trial id -> first arrival
        duplicates: Counter[str] = Counter()
        consumer = AIOKafkaConsumer(TRIAL_COMPLETED.name, bootstrap_servers=bootstrap)
        await consumer.start()
        try:
            await consumer.seek_to_end()

            async def run_round(stub: Stub, tag: str, trials: int,
                                timeout: float) -> dict[str, Any]:
                event = round_event(f"{group}-{tag}", trials, stub.base_url)
                times = done.setdefault(event.experiment_id, {})
                cpu0, stub0 = tree_cpu_s(pool.pid), stub.cpu_s()
                async with PromptOptClient(bootstrap) as client:
                    started = time.perf_counter()
                    await client.publish(VARIATION_GENERATED, event)
                deadline = started + timeout
                while len(times) < trials and time.perf_counter() < deadline:
                    if pool.poll() is not None:
                        raise RuntimeError(f"the worker pool exited: see {tmp}/workers.log")
                    batch = await consumer.getmany(timeout_ms=200)
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
                    raise RuntimeError(f"{tag}: {len(times)} of {trials} trials in {timeout} s")
                wall = max(times.values()) - started
                return {"trials": trials, "wall_s": wall,
                        "cpu_s": tree_cpu_s(pool.pid) - cpu0,
                        "stub_cpu_s": stub.cpu_s() - stub0}

            # Warm-up: the workers join the group, open their clients and connections.
            await run_round(stub_100, "warm", 2 * CONCURRENCY, timeout=240)
            fast = await run_round(stub_100, "100ms", n, timeout=600)
            slow = await run_round(stub_1s, "1s", n, timeout=600)
            await run_round(stub_100, "drain", 2, timeout=60)  # late redeliveries
            per_worker = [trials_handled(base_port + i) for i in range(workers)]
        finally:
            await consumer.stop()
            os.killpg(pool.pid, signal.SIGTERM)
            try:
                pool.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(pool.pid, signal.SIGKILL)
                pool.wait(10)
    return {"fast": fast, "slow": slow, "workers": workers, "trials_per_worker": per_worker,
            "duplicate_completions": sum(duplicates.values())}


def _port_taken(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


# --- figures ------------------------------------------------------------------------------

def figures(fast: list[dict[str, Any]], slow: dict[str, Any], bare_ms: float) -> dict[str, Any]:
    fast_trials = sum(r["trials"] for r in fast)
    cpu_ms = sum(r["cpu_s"] for r in fast) / fast_trials * 1000
    rate_fast = fast_trials / sum(r["wall_s"] for r in fast)
    rate_slow = slow["trials"] / slow["wall_s"]
    ceiling_1s = CONCURRENCY / 1.0
    return {
        "trials_per_s_100ms": round(rate_fast, 1),
        "trials_per_s_1s": round(rate_slow, 1),
        "ceiling_per_s_100ms": CONCURRENCY / 0.1,
        "ceiling_per_s_1s": ceiling_1s,
        "ratio_to_ceiling": round(rate_slow / ceiling_1s, 3),
        "cpu_ms_per_trial": round(cpu_ms, 3),
        "cpu_ms_per_trial_1s": round(slow["cpu_s"] / slow["trials"] * 1000, 3),
        "cpu_ms_per_bare_http_call": round(bare_ms, 3),
        "cpu_ratio_to_bare_http": round(cpu_ms / bare_ms, 3),
        # Why a run at 100 ms falls short of C / L: the CPU a trial needs (this side and
        # the stub's) against the cores of the machine.
        "stub_cpu_ms_per_call": round(sum(r["stub_cpu_s"] for r in fast) / fast_trials * 1000,
                                      3),
        "trials": fast_trials + slow["trials"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round of 2,000 trials each")
    parser.add_argument("--profile", action="store_true", help="CPU per trial by layer")
    parser.add_argument("--no-broker", action="store_true", help="skip the Kafka runs")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    n, rounds = (2000, 1) if args.quick else (3000, 2)
    started = time.perf_counter()
    out: dict[str, Any] = {"benchmark": "fanout", "quick": args.quick, "seed": SEED,
                           "concurrency": CONCURRENCY}
    with stub_process(100) as stub_100, stub_process(1000) as stub_1s:
        runs = asyncio.run(embedded(stub_100, stub_1s, n, rounds))
        bare_ms = (sum(r["cpu_s"] for r in runs["bare"])
                   / sum(r["calls"] for r in runs["bare"]) * 1000)
        out.update(figures(runs["fast"], runs["slow"], bare_ms))
        # The fan-out alone (no scorer): what the trials agent costs per trial.
        alone = runs["trials_only"]["cpu_s"] / runs["trials_only"]["trials"] * 1000
        out["cpu_ms_per_trial_without_scorer"] = round(alone, 3)
        out["cpu_ratio_to_bare_http_without_scorer"] = round(alone / bare_ms, 3)
        out["bare_http_calls_per_s"] = round(
            sum(r["calls"] for r in runs["bare"]) / sum(r["wall_s"] for r in runs["bare"]), 1)
        print(f"embedded: {json.dumps(out)}", file=sys.stderr)
        if args.profile:
            out["layers_ms_per_trial"] = asyncio.run(
                profile_layers(stub_100, n, out["cpu_ms_per_trial"]))
            print(f"layers: {out['layers_ms_per_trial']}", file=sys.stderr)
        if not args.no_broker:
            b = asyncio.run(broker(stub_100, stub_1s, n))
            out["broker"] = {**figures([b["fast"]], b["slow"], bare_ms),
                             "workers": b["workers"], "trials_per_worker": b["trials_per_worker"],
                             "duplicate_completions": b["duplicate_completions"]}
            print(f"broker: {json.dumps(out['broker'])}", file=sys.stderr)
    out["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
