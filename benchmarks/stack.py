"""A whole promptopt stack of its own for a benchmark: Kafka, PostgreSQL and the
MongoDB-wire server on their own ports with their own state (the infra/ scripts, pointed
at another folder by PROMPTOPT_INFRA_STATE), the LLM simulator and Faust workers as child
processes. Nothing is shared with the developer's servers or another benchmark's.

    with Stack.fresh("faults") as stack:
        stack.up()
        worker = stack.worker("w1")
        ...
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, suppress
from dataclasses import dataclass, field
from pathlib import Path

from promptopt.settings import Settings

ROOT = Path(__file__).parents[1]
SERVERS = ("postgres", "kafka", "mongo")


def free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with closing(socket.create_connection(("127.0.0.1", port), timeout=1)):
            return True
    except OSError:
        return False


class Process:
    """A child process whose output goes to a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args = args
        self.log = log
        self._file = log.open("ab")
        self.proc = subprocess.Popen(args, env=env, stdout=self._file, stderr=subprocess.STDOUT,
                                     cwd=ROOT, start_new_session=True)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """kill -9: no shutdown, no commit."""
        if self.alive:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self._file.close()

    def stop(self, timeout: float = 15) -> float:
        """SIGTERM and wait; returns the seconds it took to exit."""
        started = time.monotonic()
        if self.alive:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._file.close()
        return time.monotonic() - started

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def wait_for_port(port: int, proc: Process | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive:
            raise RuntimeError(f"process exited early:\n{proc.tail()}")
        if port_open(port):
            return
        time.sleep(0.2)
    raise TimeoutError(f"port {port} not open after {timeout}s")


@dataclass
class Stack:
    state: Path
    kafka_port: int = field(default_factory=free_port)
    controller_port: int = field(default_factory=free_port)
    pg_port: int = field(default_factory=free_port)
    mongo_port: int = field(default_factory=free_port)
    processes: list[Process] = field(default_factory=list)

    @classmethod
    def fresh(cls, name: str) -> Stack:
        state = ROOT / ".infra" / "stacks" / name
        shutil.rmtree(state, ignore_errors=True)
        state.mkdir(parents=True)
        (state / "logs").mkdir()
        return cls(state)

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PROMPTOPT_INFRA_STATE": str(self.state),
            "PROMPTOPT_KAFKA_PORT": str(self.kafka_port),
            "PROMPTOPT_KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "PROMPTOPT_PG_PORT": str(self.pg_port),
            "PROMPTOPT_MONGO_PORT": str(self.mongo_port),
            "PROMPTOPT_KAFKA_BOOTSTRAP": self.bootstrap,
            "PROMPTOPT_POSTGRES_DSN": f"postgresql://promptopt@127.0.0.1:{self.pg_port}/promptopt",
            "PROMPTOPT_MONGO_URI": f"mongodb://127.0.0.1:{self.mongo_port}/",
            **extra,
        }

    def settings(self, **updates: object) -> Settings:
        env = self.env()
        return Settings(
            kafka_bootstrap=env["PROMPTOPT_KAFKA_BOOTSTRAP"],
            postgres_dsn=env["PROMPTOPT_POSTGRES_DSN"],
            mongo_uri=env["PROMPTOPT_MONGO_URI"],
        ).model_copy(update=updates)

    def server(self, name: str, action: str) -> None:
        """infra/<name>.sh start|stop|... for this stack."""
        result = subprocess.run(["bash", str(ROOT / "infra" / f"{name}.sh"), action],
                                env=self.env(), cwd=ROOT, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{name} {action} failed:\n{result.stderr[-3000:]}")

    def server_pid(self, name: str) -> int | None:
        folder = {"postgres": "postgres", "kafka": "kafka", "mongo": "mongo"}[name]
        for pidfile in (self.state / folder).glob("*.pid"):
            text = pidfile.read_text().strip()
            if text.isdigit():
                return int(text)
        postmaster = self.state / "postgres" / "data" / "postmaster.pid"
        if name == "postgres" and postmaster.exists():
            return int(postmaster.read_text().split()[0])
        return None

    def kill_server(self, name: str) -> None:
        """kill -9 of a server (a crash, not a shutdown)."""
        pid = self.server_pid(name)
        if pid is not None:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)

    def up(self, servers: tuple[str, ...] = SERVERS) -> None:
        """Start the servers side by side (each script waits for its own health), after
        installing them one by one, as infra/up.sh does (installs share state)."""
        for name in servers:
            self.server(name, "install")
        with ThreadPoolExecutor(len(servers)) as pool:
            for future in [pool.submit(self.server, name, "start") for name in servers]:
                future.result()

    def down(self) -> None:
        for proc in reversed(self.processes):
            proc.stop(timeout=10)
        self.processes.clear()
        for name in reversed(SERVERS):
            try:
                self.server(name, "stop")
            except RuntimeError:
                self.kill_server(name)

    def spawn(self, args: list[str], log_name: str, **env: str) -> Process:
        proc = Process(args, self.env(**env), self.state / "logs" / f"{log_name}.log")
        self.processes.append(proc)
        return proc

    def simulator(self, *args: str) -> str:
        port = free_port()
        proc = self.spawn([sys.executable, "-m", "promptopt.cli", "sim-llm", "--port", str(port),
                           *args], f"sim-{port}")
        wait_for_port(port, proc)
        return f"http://127.0.0.1:{port}/v1"

    def worker(self, name: str, *, app_id: str = "promptopt-bench", sim_url: str = "",
               web_port: int | None = None, sinks: bool = True,
               args: tuple[str, ...] = (), **env: str) -> tuple[Process, int]:
        """`args`: more `promptopt worker` options (`--role trials`)."""
        port = web_port or free_port()
        proc = self.spawn(
            [sys.executable, "-m", "promptopt.cli", "worker",
             *(() if sinks else ("--no-sinks",)), *args], f"worker-{name}",
            PROMPTOPT_FAUST_APP_ID=app_id, PROMPTOPT_FAUST_WEB_PORT=str(port),
            PROMPTOPT_FAUST_DATA_DIR=str(self.state / f"faust-{name}"),
            **({"PROMPTOPT_SIM_BASE_URL": sim_url} if sim_url else {}), **env)
        wait_for_port(port, proc, timeout=90)
        return proc, port
