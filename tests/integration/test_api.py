"""The REST API on real Kafka, PostgreSQL and MongoDB, with a real worker: submit over
HTTP, follow the SSE stream to the final analysis, read the stored results, stop a run."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
REVIEWS = [("I love it, works great", "positive"), ("Awful, broke on day one", "negative"),
           ("Excellent quality and fast delivery", "positive"),
           ("Terrible smell and cheap plastic", "negative")]


def _free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A `promptopt ...` child process on a port, logging to a file; stopped at teardown."""

    def __init__(self, args: list[str], port: int, log: Path, env: dict[str, str]) -> None:
        self.port = port
        self.log = log
        self._file = log.open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "promptopt.cli", *args], env=env,
                                     cwd=ROOT, stdout=self._file, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{args[0]} exited early:\n{self.tail()}")
            with closing(socket.socket()) as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"{args[0]} not listening on {port}:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._file.close()


@pytest.fixture
def api_url(migrated, topics_ready, tmp_path) -> Iterator[str]:
    port = _free_port()
    server = Server(["api", "--port", str(port)], port, tmp_path / "api.log", dict(os.environ))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def user(migrated) -> dict:
    """A fresh user and key from `promptopt api create-key`."""
    out = subprocess.run(
        [sys.executable, "-m", "promptopt.cli", "api", "create-key",
         "--email", f"api-{uuid.uuid4().hex[:8]}@example.com", "--team", "api-tests",
         "--rate-limit", "600"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    created = json.loads(out.stdout)
    assert created["key"].startswith("po_") and created["rate_limit_per_minute"] == 600
    return created


@pytest.fixture
def slow_simulator(tmp_path) -> Iterator[str]:
    """An LLM simulator answering in 500 ms, so a run lasts long enough to be stopped."""
    port = _free_port()
    server = Server(["sim-llm", "--port", str(port), "--latency-ms", "500"], port,
                    tmp_path / "slow-sim.log", dict(os.environ))
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.stop()


def spec(n_tests: int, **model) -> dict:
    return {
        "name": "API sentiment",
        "prompt": "Classify the sentiment of this review: {{review}}",
        "domain": "classification",
        "test_cases": [{"id": f"t{i}", "vars": {"review": f"{REVIEWS[i % 4][0]} (#{i})"},
                        "expected": REVIEWS[i % 4][1]} for i in range(n_tests)],
        "models": [{"id": "sim/small", "temperature": 0, **model}],
        "goals": ["clarity"],
        "n_variations": 1,
        "analysis": {"design": "fixed"},
    }


async def follow(http: httpx.AsyncClient, url: str, on_analysis=None,
                 timeout: float = 150) -> tuple[dict, list[dict]]:
    """Read the SSE stream until a final analysis; returns it and every analysis seen."""
    seen: list[dict] = []
    async with asyncio.timeout(timeout), http.stream("GET", url) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        event, data = None, []
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line.partition(":")[2].strip()
            elif line.startswith("data:"):
                data.append(line.partition(":")[2].strip())
            elif line == "" and event == "ready":
                # The stream's marker that the current state is sent (api/routes/stream.py).
                assert "backlog" in json.loads("\n".join(data))
                event, data = None, []
            elif line == "" and event is not None:
                assert event == "analysis"
                analysis = json.loads("\n".join(data))
                seen.append(analysis)
                if on_analysis is not None:
                    await on_analysis(analysis)
                if analysis["final"]:
                    return analysis, seen
                event, data = None, []
    raise AssertionError("stream ended before the final analysis")


async def stored_results(http: httpx.AsyncClient, experiment_id: str,
                         timeout: float = 30) -> dict:
    """GET results until the sinks have written the completed test."""
    deadline = time.monotonic() + timeout
    while True:
        response = await http.get(f"/api/v1/test/{experiment_id}/results")
        body = response.json()
        done = response.status_code == 200 and (body["data"]["test"] or {}).get(
            "status") == "completed"
        if done or time.monotonic() > deadline:
            assert done, body
            return body["data"]
        await asyncio.sleep(0.5)


async def test_optimize_over_http_streams_to_the_final_analysis_and_results_agree(
        start_worker, api_url, user):
    start_worker()
    headers = {"Authorization": f"Bearer {user['key']}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers,
                                 timeout=httpx.Timeout(30, read=None)) as http:
        async with httpx.AsyncClient(base_url=api_url) as anonymous:
            assert (await anonymous.post("/api/v1/optimize", json=spec(5))).status_code == 401
        ready = await http.get("/ready")
        assert ready.status_code == 200, ready.text

        accepted = await http.post("/api/v1/optimize", json=spec(5))
        assert accepted.status_code == 202, accepted.text
        experiment_id = accepted.json()["data"]["experiment_id"]

        final, seen = await follow(http, f"/api/v1/stream/{experiment_id}")
        assert {a["experiment_id"] for a in seen} == {experiment_id}
        assert final["trials_expected"] == 10 and final["trials_done"] == 10
        assert sorted(v["n"] + v["n_failed"] for v in final["variations"]) == [5, 5]
        assert final["decision"] in ("winner", "control-best", "futile", "inconclusive")

        results = await stored_results(http, experiment_id)
        assert results["experiment"]["submitted_by"] == user["user_id"]
        assert results["test"]["trials_done"] == 10 and results["test"]["seq"] == final["seq"]
        assert results["test"]["decision"] == final["decision"]
        assert len(results["variations"]) == 2
        assert [v["is_control"] for v in results["variations"]] == [True, False]
        by_id = {v["variation_id"]: v for v in final["variations"]}
        for row in results["variations"]:
            assert row["n"] == by_id[row["variation_id"]]["n"]
            assert row["mean"] == pytest.approx(by_id[row["variation_id"]]["mean"])
        assert results["analysis"]["final"] is True

        metrics = (await http.get("/metrics")).text
        assert 'api_requests_total{method="POST",route="/api/v1/optimize",status="202"} 1.0' \
            in metrics


async def test_stop_over_http_ends_a_running_test_with_the_rest_skipped(
        start_worker, api_url, user, slow_simulator, monkeypatch):
    # Two calls at a time against a 500 ms simulator: 32 trials take ~8 s, plenty to stop.
    monkeypatch.setenv("PROMPTOPT_LLM_CONCURRENCY", "2")
    start_worker()
    headers = {"Authorization": f"Bearer {user['key']}"}
    body = {**spec(16, api_base=slow_simulator), "variations": [
        {"name": "plain", "prompt": "Classify the sentiment of this review: {{review}}"},
        {"name": "one-word", "prompt": "Is this review positive or negative? Answer with "
                                       "one word only.\n\n{{review}}"},
    ]}
    async with httpx.AsyncClient(base_url=api_url, headers=headers,
                                 timeout=httpx.Timeout(30, read=None)) as http:
        created = await http.post("/api/v1/test/create", json=body)
        assert created.status_code == 201, created.text
        experiment_id = created.json()["data"]["experiment_id"]
        stops: list[int] = []

        async def stop_once_running(analysis: dict) -> None:
            if stops or analysis["final"]:
                return
            for _ in range(20):  # the sinks record the test a moment after it starts
                response = await http.post(f"/api/v1/test/{experiment_id}/stop",
                                           json={"reason": "seen enough"})
                if response.status_code != 404:
                    break
                await asyncio.sleep(0.25)
            stops.append(response.status_code)

        final, seen = await follow(http, f"/api/v1/stream/{experiment_id}",
                                   on_analysis=stop_once_running)
        assert stops == [202] and not seen[0]["final"]
        assert final["trials_expected"] == 32
        # Every planned trial is accounted for, but only those made before the stop were
        # scored: the rest came back skipped (counted with the failed ones).
        scored = sum(v["n"] for v in final["variations"])
        assert final["trials_done"] == 32
        assert 0 < scored < 32, final
        assert final["trials_failed"] == 32 - scored

        results = await stored_results(http, experiment_id)
        assert [v["variation_id"] for v in results["variations"]] == [
            f"{experiment_id}-v0", f"{experiment_id}-v1"]
        assert [v["name"] for v in results["variations"]] == ["plain", "one-word"]
        assert results["test"]["trials_failed"] == final["trials_failed"] > 0
