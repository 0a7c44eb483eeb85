"""Real servers for integration tests: Kafka, PostgreSQL and a MongoDB-wire server on
loopback, started by infra/up.sh (the README's test command runs it first).

A server that cannot be reached fails the run under CI=true; elsewhere the tests skip
with the command that starts the servers.
"""

from __future__ import annotations

import asyncio
import itertools
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

import pytest

from promptopt.settings import Settings
from topics.admin import commit_offsets, end_offsets

ROOT = Path(__file__).parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _reachable(hostport: str) -> bool:
    host, _, port = hostport.rpartition(":")
    try:
        with closing(socket.create_connection((host, int(port)), timeout=2)):
            return True
    except OSError:
        return False


def free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def settings() -> Settings:
    # The tests' LLM simulators listen on loopback at ports of their own (a slow one, a
    # faulty one): the API and workers this session starts may call them there, as a
    # deployment lists the LLM servers it runs (agents/llm/allowed_hosts.py).
    os.environ.setdefault("PROMPTOPT_LLM_ALLOWED_HOSTS", "127.0.0.1")
    # A worker that stops making progress says where it waits after 30 s (not the deployed
    # 120 s), inside the timeouts of the tests, whose failure output then shows it.
    os.environ.setdefault("PROMPTOPT_HEALTH_STALL_S", "30")
    s = Settings()
    endpoints = {
        "Kafka": s.kafka_bootstrap,
        "PostgreSQL": s.postgres_dsn.rsplit("@", 1)[1].split("/")[0],
        "MongoDB": s.mongo_uri.removeprefix("mongodb://").strip("/"),
        "Redis": s.redis_url.removeprefix("redis://").split("/")[0].rpartition("@")[2],
    }
    down = [f"{name} at {addr}" for name, addr in endpoints.items() if not _reachable(addr)]
    if down:
        message = f"not running: {', '.join(down)} (start them with `make up`)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return s


@pytest.fixture(scope="session")
def migrated(settings: Settings) -> Settings:
    from agents.sinks.migrate import migrate

    asyncio.run(migrate(settings.postgres_dsn))
    return settings


@pytest.fixture(scope="session")
def topics_ready(settings: Settings) -> Settings:
    """Every catalogued topic, created or verified, and served: ensure_topics returns once
    every partition answers ListOffsets (topics.admin says why that matters on a broker
    that just created them; the harness used to seed each empty partition instead)."""
    from topics.admin import ensure_topics

    asyncio.run(ensure_topics(settings.kafka_bootstrap))
    return settings


class Process:
    """A child process whose output goes to a log file, stopped with SIGTERM then SIGKILL."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._file = log.open("wb")
        self.proc = subprocess.Popen(args, env=env, stdout=self._file, stderr=subprocess.STDOUT,
                                     cwd=ROOT, start_new_session=True)

    def signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 10) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                # Faust was seen to hang at "Fetcher: Stopping..." for minutes.
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._file.close()

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def wait_for_port(port: int, proc: Process, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            raise RuntimeError(f"process exited early:\n{proc.tail()}")
        if _reachable(f"127.0.0.1:{port}"):
            return
        time.sleep(0.2)
    raise TimeoutError(f"port {port} not open after {timeout}s:\n{proc.tail()}")


def start_simulator(log_dir: Path, *args: str) -> tuple[Process, str]:
    """The LLM simulator as its own process (extra CLI args: --latency-ms, --config...)."""
    port = free_port()
    proc = Process([sys.executable, "-m", "promptopt.cli", "sim-llm", "--port", str(port), *args],
                   dict(os.environ), log_dir / f"sim-{port}.log")
    wait_for_port(port, proc)
    return proc, f"http://127.0.0.1:{port}/v1"


@pytest.fixture(scope="session")
def simulator(tmp_path_factory) -> Iterator[str]:
    """A fast simulator shared by the session; yields its base URL."""
    proc, url = start_simulator(tmp_path_factory.mktemp("sim"))
    try:
        yield url
    finally:
        proc.stop()


SESSION_APP_ID = f"promptopt-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def session_group(topics_ready: Settings) -> str:
    """The session's worker group starts at the topics' current end: events left by earlier
    runs or benchmarks on a long-lived broker are not this session's business."""
    bootstrap = topics_ready.kafka_bootstrap
    asyncio.run(commit_offsets(bootstrap, SESSION_APP_ID, asyncio.run(end_offsets(bootstrap))))
    return SESSION_APP_ID


@pytest.fixture
def start_worker(migrated, session_group, simulator, tmp_path):
    """Start `promptopt worker` processes; every one is stopped at teardown.

    By default workers join one consumer group for the whole session, so a test's worker
    resumes where the previous test's stopped instead of replaying every topic; pass a new
    app_id for a worker that must read everything from the start.
    """
    started: list[Process] = []
    numbers = itertools.count()  # next() is atomic: workers may be started from threads

    def start(app_id: str | None = None, *, sim_url: str | None = None,
              env_extra: dict[str, str] | None = None,
              args: tuple[str, ...] = ()) -> tuple[Process, int]:
        """`args`: extra `promptopt worker` options (`--role trials`)."""
        app_id = app_id or SESSION_APP_ID
        n = next(numbers)
        port = free_port()
        env = {
            **os.environ,
            "PROMPTOPT_SIM_BASE_URL": sim_url or simulator,
            "PROMPTOPT_FAUST_APP_ID": app_id,
            "PROMPTOPT_FAUST_WEB_PORT": str(port),
            "PROMPTOPT_FAUST_DATA_DIR": str(tmp_path / f"faust-{app_id}-{n}"),
            "PROMPTOPT_SNAPSHOT_EVERY": "10",
            **(env_extra or {}),
        }
        proc = Process([sys.executable, "-m", "promptopt.cli", "worker", *args], env,
                       tmp_path / f"worker-{n}.log")
        started.append(proc)
        wait_for_port(port, proc, timeout=60)
        return proc, port

    yield start
    for proc in started:  # all at once: each Faust worker takes seconds to stop
        proc.signal(signal.SIGTERM)
    for proc in started:
        proc.stop()
    for proc in started:
        # Shown by pytest only when the test failed: a worker's warnings and errors (a
        # stall's description included) are what a CI log needs to diagnose it.
        text = proc.log.read_text(errors="replace")
        notable = [line for line in text.splitlines()
                   if " WARNING " in line or " ERROR " in line or line.startswith("  ")]
        if notable:
            print(f"--- {proc.log.name}: warnings and errors ---", *notable[-400:],
                  sep="\n", file=sys.stderr)
