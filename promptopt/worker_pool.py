"""Several Faust workers of one consumer group on one host: `promptopt worker --processes N`.

One Python process runs one event loop on one core; an LLM fan-out on a many-core host
needs several. Each child is a whole `promptopt worker` with its own Faust web port
(base + i) and data directory, in the same consumer group, so Kafka spreads the
partitions (and with trial-requested keyed by trial id, the LLM calls) over them.

Failure story: a child that dies is started again after a pause (doubling to 30 s while it
keeps dying within a minute); SIGTERM or SIGINT to the supervisor stops every child
(SIGTERM, then SIGKILL after 15 s) and exits.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

log = logging.getLogger("promptopt.worker_pool")

STOP_GRACE_S = 15.0
MAX_RESTART_DELAY_S = 30.0


@dataclass
class Child:
    index: int
    argv: list[str]
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restart_delay_s: float = 1.0
    restart_at: float | None = None
    restarts: int = field(default=0)

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, env=self.env)
        self.started_at = time.monotonic()
        self.restart_at = None


def child_argv(args: Sequence[str], web_port: int) -> list[str]:
    return [sys.executable, "-m", "promptopt.cli", "worker", *args,
            "--processes", "1", "--no-setup", "--web-port", str(web_port)]


def run_pool(processes: int, args: Sequence[str], base_web_port: int, data_dir: str) -> int:
    """Run `processes` workers until a signal; returns the exit code."""
    children = [
        Child(i, child_argv(args, base_web_port + i),
              {**os.environ, "PROMPTOPT_FAUST_DATA_DIR": os.path.join(data_dir, f"w{i}")})
        for i in range(processes)
    ]
    for child in children:  # Faust makes its data dir but not the parents
        os.makedirs(child.env["PROMPTOPT_FAUST_DATA_DIR"], exist_ok=True)
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        child.start()
        log.info("worker %d: pid %d, web port %d", child.index,
                 child.proc.pid if child.proc else None, base_web_port + child.index)
    while not stopping:
        time.sleep(0.2)
        now = time.monotonic()
        for child in children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.restarts += 1
                    child.start()
                continue
            code = child.proc.poll() if child.proc else None
            if code is None:
                continue
            # Dying soon after a start again and again: back off, as a crash loop would.
            lived = now - child.started_at
            child.restart_delay_s = (1.0 if lived > 60 else
                                     min(MAX_RESTART_DELAY_S, child.restart_delay_s * 2))
            child.restart_at = now + child.restart_delay_s
            log.warning("worker %d exited with %s; starting it again in %.0f s",
                        child.index, code, child.restart_delay_s)
    return _stop_all(children)


def _stop_all(children: list[Child]) -> int:
    running = [c.proc for c in children if c.proc is not None and c.proc.poll() is None]
    for proc in running:
        proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for proc in running:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:  # Faust can hang at "Fetcher: Stopping..."
            proc.kill()
            proc.wait(10)
    return 0
