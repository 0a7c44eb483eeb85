"""Soak benchmark: many small experiments through one worker; does its state stay flat?

    python -m benchmarks.soak [--quick] [--experiments N]

A Kafka of its own (benchmarks/stack.py), the LLM simulator answering at once, one Faust
worker (no sinks: the worker's own state is the subject). Experiments of 4 trials each
(control + one variation x 2 test cases, fixed design) are submitted with at most
`in_flight` unfinished at a time. After 1,000 and after all N (10,000; --quick: 300 and
1,000) finished experiments it records:

- state entries the worker holds per table (its /state page), split into per-experiment
  state (must return to ~0 between experiments) and windowed markers (bounded by what
  ends within state_window_s; the run uses a short window so the bound shows within it);
- the changelog topics' records (end minus start offsets, after the broker's cleaner) and
  bytes on disk;
- the worker's resident memory (VmRSS).

Flat is the goal: the figures at N over the figures at 1,000 are the ratios printed last.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.stack import Stack

APP = "promptopt-soak"
WINDOW_S = 60  # markers of ended experiments last this long in this run (a day by default)
SEGMENT_MS = 20_000  # changelog segments roll this often, so the cleaner compacts in-run


def spec(i: int) -> dict[str, Any]:
    return {"name": f"soak {i}", "prompt": "Classify the sentiment of: {{text}}",
            "n_variations": 1, "domain": "soak",
            "test_cases": [{"id": "a", "vars": {"text": f"good {i}"}, "expected": "positive"},
                           {"id": "b", "vars": {"text": f"bad {i}"}, "expected": "negative"}],
            "models": [{"id": "sim/small"}], "analysis": {"design": "fixed"}}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def state_entries(port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/state", timeout=10) as r:
        return json.load(r)


WINDOWED = ("optimizer-ended", "scorer-rounds-over", "patterns-learned", "patterns-counted",
            "trials-control")


async def changelogs(stack: Stack) -> dict[str, int]:
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.endswith("-changelog")]
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    tps = [TopicPartition(d["topic"], p["partition"]) for d in described
           for p in d["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
    finally:
        await consumer.stop()
    data = stack.state / "kafka" / "data"
    # The segments' record data: Kafka preallocates each segment's two 10 MB index files
    # (sparse, rebuilt from the log), which would count ~20 MB a segment in st_size.
    size = sum(f.stat().st_size for f in data.glob(f"{APP}-*-changelog-*/*.log"))
    return {"changelog_records": sum(ends[tp] - starts[tp] for tp in tps),
            "changelog_bytes": size}


async def soak(stack: Stack, port: int, pid: int, marks: list[int], in_flight: int
               ) -> list[dict[str, Any]]:
    from schemas.events import PromptSubmitted
    from topics.catalogue import ANALYSIS_READY
    from topics.client import PromptOptClient
    from topics.codec import DecodeError, decode
    from topics.reader import open_reader

    total = marks[-1]
    finished: set[str] = set()
    samples: list[dict[str, Any]] = []
    started = time.monotonic()
    reader = await open_reader(stack.bootstrap, ANALYSIS_READY.name)
    async with PromptOptClient(stack.bootstrap) as client:
        submitted = 0
        while len(finished) < total:
            while submitted < total and submitted - len(finished) < in_flight:
                await client.submit(PromptSubmitted.model_validate(
                    {"experiment_id": f"soak-{submitted}", "spec": spec(submitted)}))
                submitted += 1
            for batch in (await reader.getmany(timeout_ms=200)).values():
                for record in batch:
                    try:
                        event = decode(ANALYSIS_READY, record.value)
                    except DecodeError:
                        continue
                    if event.final:
                        finished.add(event.experiment_id)
            if len(samples) < len(marks) and len(finished) >= marks[len(samples)]:
                await asyncio.sleep(2)  # let the last ends settle in the state
                entries = state_entries(port)
                sample = {
                    "experiments": len(finished), "seconds": round(time.monotonic() - started),
                    "state_entries": sum(v for k, v in entries.items() if k not in WINDOWED),
                    "window_entries": sum(v for k, v in entries.items() if k in WINDOWED),
                    "tables": entries, "rss_mb": rss_mb(pid), **await changelogs(stack)}
                print(json.dumps(sample), file=sys.stderr, flush=True)
                samples.append(sample)
    await reader.stop()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="300 and 1,000 experiments")
    parser.add_argument("--experiments", type=int, default=0)
    parser.add_argument("--in-flight", type=int, default=100)
    args = parser.parse_args()
    total = args.experiments or (1000 if args.quick else 10_000)
    marks = [min(300 if args.quick else 1000, total), total]
    with Stack.fresh("soak") as stack:
        stack.up(("kafka",))
        sim = stack.simulator()
        worker, port = stack.worker(
            "w1", app_id=APP, sim_url=sim, sinks=False,
            PROMPTOPT_STATE_WINDOW_S=str(WINDOW_S), PROMPTOPT_STATE_SEGMENT_MS=str(SEGMENT_MS),
            PROMPTOPT_STATE_TOMBSTONES_MS=str(SEGMENT_MS), PROMPTOPT_LOG_LEVEL="WARNING")
        samples = asyncio.run(soak(stack, port, worker.proc.pid, marks, args.in_flight))
    first, last = samples[0], samples[-1]
    ratio = {k: round(last[k] / first[k], 2) if first[k] else None
             for k in ("state_entries", "window_entries", "rss_mb", "changelog_records",
                       "changelog_bytes")}
    print(json.dumps({"benchmark": "soak", "experiments": total, "window_s": WINDOW_S,
                      "samples": samples, "ratio_last_to_first": ratio}))


if __name__ == "__main__":
    main()
