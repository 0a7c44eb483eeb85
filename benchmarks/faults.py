"""Fault benchmark of the Kafka runtime: does anything get lost, counted twice or wrongly
dead-lettered when parts of the stack fail mid-run?

    python -m benchmarks.faults [--quick]

It starts a stack of its own (Kafka, PostgreSQL, the MongoDB-wire server on free ports, a
state folder under .infra/stacks/faults), an LLM simulator that fails 20 % of first
attempts (429 / 500 / timeout) throughout, and two Faust workers in one group. Then, one
phase per fault, it submits experiments and injects the fault while their trials run:

- kill-9-scorer-owner   kill -9 of the worker that owns the experiment's trial-scored
                        partition (its scorer state), then a replacement
- kill-9-other-worker   kill -9 of the other worker, then a replacement
- broker-stopped        Kafka stopped (SIGTERM) for the outage, then started
- broker-killed         Kafka killed (SIGKILL) for the outage, then started
- postgres-down         PostgreSQL stopped for the outage; meanwhile one worker gets SIGTERM
                        (its exit time is `sigterm_exit_s`: a sink waiting for a database
                        must not hold a shutdown) and is replaced
- mongo-down            the MongoDB-wire server stopped for the outage
- malformed-events      malformed and oversized events on every consumed topic
- restart-with-backlog  both workers stopped, experiments submitted, workers started: the
                        backlog waits at the gate until services and sinks are open
- llm-faults            nothing else (the simulator's 20 % faults are on in every phase)
- kill-9-each-role      the last phase: once the earlier experiments are final and stored,
                        the two workers give way to one worker per role (`promptopt worker
                        --role R`, each its own consumer group starting at the topics' end,
                        as infra/k8s deploys them); per role, an experiment is submitted and
                        that role's worker is killed mid-run (the optimizer's right after
                        the submit, the others' once 30 % of the trials are stored), then
                        replaced. Its experiments' texts are their own (no LLM-cache hits,
                        so the run lasts until the kill). One row per role: kill-9-<role>-role.

`--quick` runs small experiments, short outages and every fault but the broker's, one
fault after the other without waiting for the last one's experiments to end (so they may
meet the next fault too), and measures everything at the end. `--only a,b` runs the named
phases.

Per phase: planned trials, the final analysis's count, MongoDB documents, PostgreSQL rows,
duplicates, lost trials, wrongly dead-lettered events (a dead-letter record whose raw value
is a valid event) and whether analysis and documents agree on cost. The last line is one
JSON object: {"faults": [...], "lost": n, "duplicated": n, "wrongly_dead_lettered": n}.
Exit status 1 when any total is not 0, costs disagree, or a malformed event was not
dead-lettered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from benchmarks.stack import Process, Stack

GROUP = "promptopt-faults"
# The simulator's 'timeout' fault hangs until the client gives up: with the default 30 s a
# worker of few LLM slots (the trials role's) sat 30-60 s on two such trials, which /health
# then reported as a stalled partition. 5 s is still 25-50x a call's latency here.
LLM_TIMEOUT_S = "5"


@dataclass(frozen=True)
class Plan:
    cases: int  # test cases per experiment (x 2 variations = trials)
    experiments: int  # per phase
    outage_s: float
    malformed: int
    oversized: int
    latency_ms: float
    concurrency: int  # LLM calls in flight per worker
    role_concurrency: int  # ... in the trials role's worker (low: its kill lands mid-run)
    timeout_s: float
    overlap: bool  # the next fault starts without waiting for the last one's experiments


QUICK = Plan(cases=15, experiments=1, outage_s=5, malformed=200, oversized=4,
             latency_ms=100, concurrency=6, role_concurrency=2, timeout_s=150, overlap=True)
FULL = Plan(cases=150, experiments=2, outage_s=20, malformed=1000, oversized=20,
            latency_ms=200, concurrency=16, role_concurrency=8, timeout_s=600,
            overlap=False)
DB_OUTAGE_FACTOR = 1.5  # the databases stay down longer than the broker (20 s vs 30 s)


def spec(name: str, cases: int, fresh: bool = False) -> dict[str, Any]:
    """`fresh`: texts of this experiment's own, so no trial is an LLM-cache hit of an
    earlier experiment's (a cached trial takes milliseconds: the run would end before a
    fault could land in it)."""
    salt = f" ({name})" if fresh else ""
    return {
        "name": name, "prompt": "Classify the sentiment of: {{text}}", "n_variations": 1,
        "test_cases": [{"id": f"t{i}",
                        "vars": {"text": f"{'good' if i % 2 else 'bad'} {i}{salt}"},
                        "expected": "positive" if i % 2 else "negative"} for i in range(cases)],
        "models": [{"id": "sim/small"}],
        "analysis": {"design": "fixed"},  # every planned trial runs: no early stop
    }


PHASES = ("kill-9-scorer-owner", "kill-9-other-worker", "broker-stopped", "broker-killed",
          "postgres-down", "mongo-down", "malformed-events", "restart-with-backlog",
          "llm-faults", "kill-9-each-role")
ROLE_DEPLOYMENT = f"{GROUP}-roles"  # role workers: app ids f"{ROLE_DEPLOYMENT}-{role}"


# The quick form (in `make test`, a few minutes on a loaded 2-core box) leaves out the
# broker outages: a Kafka restart alone takes 20-60 s there. The full form has them.
QUICK_PHASES = tuple(p for p in PHASES if not p.startswith("broker"))


class Bench:
    def __init__(self, stack: Stack, plan: Plan, phases: tuple[str, ...] = PHASES) -> None:
        self.stack = stack
        self.plan = plan
        self.phases = phases
        self.sim_url = ""
        self.workers: dict[str, tuple[Process, int]] = {}
        self.n = 0
        self.dead_lettered = 0
        self.stalled_at_end: dict[str, list[Any]] = {}

    # -- processes ---------------------------------------------------------------------

    def start_worker(self, name: str) -> None:
        """w1, w2: all agents in one group; a role's name (ROLES): that role's worker."""
        from promptopt.commands.worker import ROLES

        role = name if name in ROLES else None
        concurrency = self.plan.role_concurrency if role == "trials" else self.plan.concurrency
        self.workers[name] = self.stack.worker(
            name, sim_url=self.sim_url,
            PROMPTOPT_LLM_CONCURRENCY=str(concurrency),
            PROMPTOPT_HEALTH_STALL_S="60", PROMPTOPT_SINK_WITHIN_S="0.2",
            PROMPTOPT_RETRY_MAX_S="2", PROMPTOPT_LLM_TIMEOUT_S=LLM_TIMEOUT_S,
            **({"app_id": f"{ROLE_DEPLOYMENT}-{role}", "args": ("--role", role),
                "PROMPTOPT_FAUST_SHARED_ID": ROLE_DEPLOYMENT} if role else
               {"app_id": GROUP}))

    def health(self, name: str) -> dict[str, Any]:
        port = self.workers[name][1]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                return json.load(r)
        except urllib.error.HTTPError as err:  # 503: unhealthy, body still says why
            return json.load(err)

    def owner_of(self, experiment_id: str) -> str | None:
        """The worker whose scorer holds the experiment's statistics: its trial-scored
        partition (the one scorer.fold_trial folds, keyed by experiment). It looked for
        trial-completed, which that step does not consume, so it never found an owner and
        every run killed w1 first."""
        from aiokafka.partitioner import DefaultPartitioner

        from topics.catalogue import TRIAL_SCORED

        partition = DefaultPartitioner()(experiment_id.encode(),
                                         list(range(TRIAL_SCORED.partitions)),
                                         list(range(TRIAL_SCORED.partitions)))
        for name in self.workers:
            for p in self.health(name).get("partitions", []):
                if (p["consumer"], p["topic"], p["partition"]) == \
                        ("scorer.fold_trial", TRIAL_SCORED.name, partition):
                    return name
        return None

    # -- events ------------------------------------------------------------------------

    async def submit(self, tag: str, fresh: bool = False) -> list[str]:
        from schemas.events import PromptSubmitted
        from topics.client import PromptOptClient

        ids = []
        async with PromptOptClient(self.stack.bootstrap) as client:
            for _ in range(self.plan.experiments):
                self.n += 1
                experiment_id = f"{tag}-{self.n}"
                await client.submit(PromptSubmitted.model_validate(
                    {"experiment_id": experiment_id,
                     "spec": spec(experiment_id if fresh else tag, self.plan.cases, fresh)}))
                ids.append(experiment_id)
        return ids

    async def trials_stored(self, ids: list[str]) -> int:
        from pymongo import AsyncMongoClient

        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            self.stack.settings().mongo_uri,
            serverSelectionTimeoutMS=3000)
        try:
            return await client.promptopt.trial_results.count_documents(
                {"experiment_id": {"$in": ids}})
        except Exception:
            return -1  # the server is the fault of this phase
        finally:
            await client.close()

    async def wait_trials(self, ids: list[str], share: float) -> None:
        """Until `share` of the phase's trials are stored (the fault then hits mid-run)."""
        want = share * len(ids) * self.planned_per_experiment
        deadline = time.monotonic() + self.plan.timeout_s
        while time.monotonic() < deadline:
            if await self.trials_stored(ids) >= want:
                return
            await asyncio.sleep(0.3)

    @property
    def planned_per_experiment(self) -> int:
        return 2 * self.plan.cases  # control + one variation

    async def finals(self, ids: list[str]) -> dict[str, Any]:
        """The final analysis of round 1 of each experiment (waits up to the timeout)."""
        from topics.catalogue import ANALYSIS_READY
        from topics.codec import DecodeError, decode
        from topics.reader import open_reader

        finals: dict[str, Any] = {}
        deadline = time.monotonic() + self.plan.timeout_s
        while time.monotonic() < deadline and len(finals) < len(ids):
            try:
                consumer = await open_reader(self.stack.bootstrap, ANALYSIS_READY.name)
            except Exception:
                await asyncio.sleep(1)
                continue
            try:
                while time.monotonic() < deadline and len(finals) < len(ids):
                    batch = await consumer.getmany(timeout_ms=1000)
                    for records in batch.values():
                        for record in records:
                            try:
                                event = decode(ANALYSIS_READY, record.value)
                            except DecodeError:
                                continue
                            if event.experiment_id in ids and event.final:
                                finals[event.experiment_id] = event
            except Exception:
                await asyncio.sleep(1)
            finally:
                await consumer.stop()
        return finals

    async def malformed(self) -> int:
        """Malformed and oversized events on every topic a step consumes; returns how many."""
        from aiokafka import AIOKafkaProducer

        from topics.catalogue import (
            ANALYSIS_READY,
            EXPERIMENT_CONTROL,
            PROMPT_SUBMITTED,
            TRIAL_COMPLETED,
            TRIAL_REQUESTED,
            VARIATION_GENERATED,
        )

        topics = [PROMPT_SUBMITTED, VARIATION_GENERATED, TRIAL_REQUESTED, TRIAL_COMPLETED,
                  ANALYSIS_READY, EXPERIMENT_CONTROL]
        rng = random.Random(7)
        shapes = [
            lambda i: b"{not json " + str(i).encode(),
            lambda i: json.dumps({"experiment_id": f"bad-{i}"}).encode(),  # fields missing
            lambda i: bytes(rng.randrange(256) for _ in range(64)),
            lambda i: json.dumps({"experiment_id": f"bad-{i}", "spec": {"prompt": "\x00"}}
                                 ).encode(),
            lambda i: b"",
        ]
        producer = AIOKafkaProducer(bootstrap_servers=self.stack.bootstrap, acks="all")
        await producer.start()
        try:
            for i in range(self.plan.malformed):
                topic = topics[i % len(topics)]
                await producer.send(topic.name, key=f"bad-{i}".encode(),
                                    value=shapes[i % len(shapes)](i))
            big = json.dumps({"experiment_id": "too-big", "spec": {
                "prompt": "p" * 900_000, "test_cases": [{"id": "t"}],
                "models": [{"id": "sim/small"}]}}).encode()
            for i in range(self.plan.oversized):
                await producer.send(topics[i % len(topics)].name, key=b"too-big", value=big)
            await producer.flush()
        finally:
            await producer.stop()
        return self.plan.malformed + self.plan.oversized

    async def dead_letters(self) -> list[Any]:
        from topics.catalogue import DEAD_LETTER
        from topics.codec import decode
        from topics.reader import open_reader

        consumer = await open_reader(self.stack.bootstrap, DEAD_LETTER.name)
        records: list[Any] = []
        try:
            ends = await consumer.end_offsets(list(consumer.assignment()))
            # Positions, not record counts: a partition's offsets need not start at 0 or be
            # dense. The deadline keeps a broker that stops answering from hanging the run.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and \
                    [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
                for batch in (await consumer.getmany(timeout_ms=1000)).values():
                    records += [decode(DEAD_LETTER, r.value) for r in batch]
        finally:
            await consumer.stop()
        return records

    # -- figures -----------------------------------------------------------------------

    async def measure(self, phases: list[tuple[str, list[str], dict[str, Any]]]
                      ) -> list[dict[str, Any]]:
        """Figures per phase, once every phase's experiments are final (or timed out)."""
        import asyncpg
        from pymongo import AsyncMongoClient

        all_ids = [i for _, ids, _ in phases for i in ids]
        finals = await self.finals(all_ids)
        settings = self.stack.settings()
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            settings.mongo_uri, serverSelectionTimeoutMS=10_000)
        conn = await asyncpg.connect(settings.postgres_dsn)
        per = self.planned_per_experiment
        results = []
        try:
            await self.stored(all_ids, conn)
            wrong = await self.wrongly_dead_lettered()
            for name, ids, extra in phases:
                figures: dict[str, Any] = {
                    "fault": name, "planned_trials": per * len(ids), "final_trials": 0,
                    "mongo_documents": 0, "postgres_rows": 0, "duplicates": 0, "lost": 0,
                    "wrongly_dead_lettered": sum(wrong.get(i, 0) for i in ids),
                    "cost_agrees": True, "analysis_cost_usd": 0.0, "documents_cost_usd": 0.0}
                for experiment_id in ids:
                    final = finals.get(experiment_id)
                    done = final.trials_done if final else 0
                    docs = await mongo.promptopt.trial_results.find(
                        {"experiment_id": experiment_id}, {"cost_usd": 1}).to_list(None)
                    row = await conn.fetchrow(
                        "SELECT trials_done, status FROM ab_tests WHERE id = $1",
                        f"{experiment_id}#r1")
                    rows = row["trials_done"] if row and row["status"] == "completed" else 0
                    figures["final_trials"] += done
                    figures["mongo_documents"] += len(docs)
                    figures["postgres_rows"] += rows
                    figures["lost"] += max(0, per - done) + max(0, per - len(docs))
                    figures["duplicates"] += max(0, done - per) + max(0, len(docs) - per)
                    cost = sum(d.get("cost_usd") or 0.0 for d in docs)
                    figures["documents_cost_usd"] += cost
                    figures["analysis_cost_usd"] += final.cost_usd if final else 0.0
                    if final is None or abs(final.cost_usd - cost) > 1e-9:
                        figures["cost_agrees"] = False
                for k in ("analysis_cost_usd", "documents_cost_usd"):
                    figures[k] = round(figures[k], 9)
                figures.update(extra)
                print(json.dumps(figures), file=sys.stderr, flush=True)
                results.append(figures)
        finally:
            await conn.close()
            await mongo.close()
        return results

    async def stored(self, ids: list[str], conn: Any) -> None:
        """Until the experiments' documents and rows are in (or 30 s): they land a moment
        after the final analysis (the sinks batch)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (
                await self.trials_stored(ids) < self.planned_per_experiment * len(ids)
                or await conn.fetchval(
                    "SELECT count(*) FROM ab_tests WHERE id = ANY($1::text[]) "
                    "AND status = 'completed'", [f"{i}#r1" for i in ids])
                < len(ids)):
            await asyncio.sleep(0.5)

    async def wrongly_dead_lettered(self) -> dict[str, int]:
        """Dead-letter records whose raw value is a valid event, per experiment: the
        malformed events injected never parse, so any valid one went there wrongly."""
        from topics.catalogue import BY_NAME
        from topics.codec import DecodeError, decode

        wrong: dict[str, int] = {}
        self.dead_lettered = 0
        for record in await self.dead_letters():
            self.dead_lettered += 1
            try:
                event = decode(BY_NAME[record.source_topic], record.raw_value)
            except (DecodeError, KeyError):
                continue
            key = str(getattr(event, "experiment_id", None)
                      or getattr(getattr(event, "trial", None), "experiment_id", "?"))
            wrong[key] = wrong.get(key, 0) + 1
        return wrong

    async def stalled(self) -> dict[str, list[Any]]:
        """Each live worker's stalled partitions (its /health), for a run that lost trials."""
        out = {}
        for name in self.workers:
            try:
                out[name] = (await asyncio.to_thread(self.health, name)).get("stalled", [])
            except Exception as err:
                out[name] = [f"no /health: {err}"]
        return out

    # -- phases ------------------------------------------------------------------------

    async def run(self) -> list[dict[str, Any]]:
        """One phase per fault. Full form: each phase's experiments end before the next
        fault. Quick form: the faults follow each other as soon as the previous one is
        over (its experiments may still be running, so they can meet later faults too);
        everything is measured at the end."""
        phases: list[tuple[str, list[str], dict[str, Any]]] = []
        plan = self.plan
        for name in self.phases:
            extra: dict[str, Any] = {}
            started = time.monotonic()
            if name == "kill-9-each-role":
                phases += await self.kill_each_role([i for _, ids, _ in phases for i in ids])
                continue
            if name == "restart-with-backlog":
                for worker in list(self.workers):
                    self.workers.pop(worker)[0].stop()
                ids = await self.submit(name)
                await asyncio.sleep(2)
                await self.start_workers("w1", "w2")
            else:
                ids = await self.submit(name)
                await self.wait_trials(ids, 0.3)
            if name.startswith("kill-9"):
                found = await asyncio.to_thread(self.owner_of, ids[0])
                owner = found or "w1"
                extra["scorer_owner"] = found  # None: no worker reported the partition
                victim = owner if name == "kill-9-scorer-owner" else \
                    next(w for w in self.workers if w != owner)
                self.workers.pop(victim)[0].kill()
                extra["killed"] = victim
                await asyncio.sleep(1)
                await self.start_workers(victim)
            elif name.startswith("broker"):
                if name == "broker-killed":
                    self.stack.kill_server("kafka")
                else:
                    await asyncio.to_thread(self.stack.server, "kafka", "stop")
                await asyncio.sleep(plan.outage_s)
                await asyncio.to_thread(self.stack.server, "kafka", "start")
            elif name in ("postgres-down", "mongo-down"):
                server = name.split("-")[0]
                await asyncio.to_thread(self.stack.server, server, "stop")
                down_at = time.monotonic()
                if server == "postgres":
                    await asyncio.sleep(2)  # the sinks are retrying by now
                    extra["sigterm_exit_s"] = round(
                        await asyncio.to_thread(self.workers.pop("w2")[0].stop), 1)
                    await self.start_workers("w2")
                await asyncio.sleep(max(0.0, plan.outage_s * DB_OUTAGE_FACTOR
                                        - (time.monotonic() - down_at)))
                await asyncio.to_thread(self.stack.server, server, "start")
            elif name == "malformed-events":
                extra["injected"] = await self.malformed()
            if not plan.overlap:
                await self.finals(ids)
            extra["seconds"] = round(time.monotonic() - started, 1)
            print(f"{name}: {extra}", file=sys.stderr, flush=True)
            phases.append((name, ids, extra))
        results = await self.measure(phases)
        if any(f["lost"] for f in results):
            self.stalled_at_end = await self.stalled()
        return results

    async def kill_each_role(self, earlier: list[str]
                             ) -> list[tuple[str, list[str], dict[str, Any]]]:
        """One worker per role; each role's worker killed (kill -9) mid-run in turn, then
        replaced. The role workers are other consumer groups that start at the topics'
        end, so the two all-agent workers stop only once the earlier experiments are final
        and stored and they have handled everything on their partitions (the malformed
        events too: the first full run switched while ~60 of them still waited, and the
        role groups skipped them, so they never reached dead-letter)."""
        import asyncpg

        from promptopt.commands.worker import ROLES
        from topics.admin import commit_offsets, end_offsets

        switch_started = time.monotonic()
        await self.finals(earlier)
        conn = await asyncpg.connect(self.stack.settings().postgres_dsn)
        try:
            await self.stored(earlier, conn)
        finally:
            await conn.close()
        await self.drained()
        await asyncio.gather(*(asyncio.to_thread(self.workers.pop(w)[0].stop)
                               for w in list(self.workers)))
        ends = await end_offsets(self.stack.bootstrap)
        for role in ROLES:
            await commit_offsets(self.stack.bootstrap, f"{ROLE_DEPLOYMENT}-{role}", ends)
        await self.start_workers(*ROLES)
        print(f"role workers up: {round(time.monotonic() - switch_started, 1)} s",
              file=sys.stderr, flush=True)
        phases = []
        for role in ROLES:
            started = time.monotonic()
            ids = await self.submit(f"kill-9-{role}-role", fresh=True)
            if role == "optimizer":  # its work is the fan-out, right after the submit
                await asyncio.sleep(0.3)
            else:
                await self.wait_trials(ids, 0.3)
            stored_at_kill = await self.trials_stored(ids)
            self.workers.pop(role)[0].kill()
            await asyncio.sleep(1)
            await self.start_workers(role)
            if not self.plan.overlap:
                await self.finals(ids)
            extra = {"killed": role, "stored_at_kill": stored_at_kill,
                     "seconds": round(time.monotonic() - started, 1)}
            print(f"kill-9-{role}-role: {extra}", file=sys.stderr, flush=True)
            phases.append((f"kill-9-{role}-role", ids, extra))
        return phases

    async def drained(self) -> None:
        """Until every live worker's /health shows lag 0 on each of its partitions (twice
        in a row: the report is cached a moment), or the timeout."""
        deadline = time.monotonic() + self.plan.timeout_s
        clean = 0
        while time.monotonic() < deadline and clean < 2:
            try:
                reports = [await asyncio.to_thread(self.health, w) for w in self.workers]
                lag = sum(p["lag"] for r in reports for p in r.get("partitions", []))
            except Exception:
                lag = -1  # a worker between two answers: ask again
            clean = clean + 1 if lag == 0 else 0
            await asyncio.sleep(1)

    async def start_workers(self, *names: str) -> None:
        """Start workers side by side (each waits for its web port)."""
        await asyncio.gather(*(asyncio.to_thread(self.start_worker, n) for n in names))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short outages, small runs")
    parser.add_argument("--only", default="", help=f"comma-separated phases ({', '.join(PHASES)})")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    phases = tuple(p for p in args.only.split(",") if p) or \
        (QUICK_PHASES if args.quick else PHASES)
    if set(phases) - set(PHASES):
        parser.error(f"unknown phases {sorted(set(phases) - set(PHASES))}")
    started = time.monotonic()
    with Stack.fresh("faults") as stack:
        stack.up()
        bench = Bench(stack, plan, phases)
        bench.sim_url = stack.simulator("--error-rate", "0.2",
                                        "--latency-ms", str(plan.latency_ms))
        faults = asyncio.run(_run(bench))
    injected = sum(f.get("injected", 0) for f in faults)
    summary = {"benchmark": "faults", "quick": args.quick, "faults": faults,
               "lost": sum(f["lost"] for f in faults),
               "duplicated": sum(f["duplicates"] for f in faults),
               "wrongly_dead_lettered": sum(f["wrongly_dead_lettered"] for f in faults),
               "cost_agrees": all(f["cost_agrees"] for f in faults),
               # every malformed event reaches dead-letter (once per step consuming it)
               "dead_lettered": bench.dead_lettered, "malformed_injected": injected,
               "stalled_at_end": bench.stalled_at_end,
               "seconds": round(time.monotonic() - started, 1)}
    print(json.dumps(summary))
    if summary["lost"] or summary["duplicated"] or summary["wrongly_dead_lettered"] \
            or not summary["cost_agrees"] or bench.dead_lettered < injected:
        sys.exit(1)


async def _run(bench: Bench) -> list[dict[str, Any]]:
    await bench.start_workers("w1", "w2")
    return await bench.run()

if __name__ == "__main__":
    main()
