"""Every command that needs a server says so in one line when it is down (no traceback), and
the CLI's small contracts: --version, YAML errors that name the file, `patterns apply`
errors whole, `stats <cmd> --help` that lists the command's options."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]


def closed_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def promptopt(*args: str, env: dict[str, str] | None = None,
              timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "promptopt.cli", *args], cwd=ROOT,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def servers_down() -> dict[str, str]:
    port = closed_port()  # nothing listens there: every server is "down"
    return {
        "PROMPTOPT_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}",
        "PROMPTOPT_POSTGRES_DSN": f"postgresql://promptopt@127.0.0.1:{port}/promptopt",
        "PROMPTOPT_MONGO_URI": f"mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=500",
        "PROMPTOPT_REDIS_URL": f"redis://127.0.0.1:{port}/0",
    }


def run_main(monkeypatch, capsys, env: dict[str, str], *args: str) -> tuple[int, str]:
    """`promptopt ARGS` in this process (imports are paid once for every command)."""
    from promptopt import cli
    from promptopt.settings import get_settings

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    monkeypatch.setattr(sys, "argv", ["promptopt", *args])
    kafka_log = logging.getLogger("aiokafka")
    monkeypatch.setattr(kafka_log, "level", kafka_log.level)  # main() quiets it
    try:
        with pytest.raises(SystemExit) as exit_:
            cli.main()
    finally:
        get_settings.cache_clear()
    return exit_.value.code, capsys.readouterr().err


@pytest.mark.parametrize(("command", "server"), [
    (("submit", "examples/sentiment.yaml"), "Kafka"),
    (("watch", "some-experiment"), "Kafka"),
    (("topics", "create"), "Kafka"),
    (("db", "migrate"), "PostgreSQL"),
    (("api", "create-key", "--email", "a@example.com", "--team", "t"), "PostgreSQL"),
    (("api", "teams"), "PostgreSQL"),
    (("api", "users"), "PostgreSQL"),
    (("api", "move-user", "--email", "a@example.com", "--team", "t"), "PostgreSQL"),
    (("api", "revoke-key", "--key-id", "key_x"), "PostgreSQL"),
    (("api", "revoke-tokens", "--email", "a@example.com"), "PostgreSQL"),
])
def test_a_command_whose_server_is_down_prints_one_line_and_exits_1(
        command, server, servers_down, monkeypatch, capsys):
    code, err = run_main(monkeypatch, capsys, servers_down, *command)
    lines = err.strip().splitlines()
    assert code == 1, err
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot reach {server}"), err[-2000:]


def test_the_worker_names_the_broker_it_cannot_reach_without_a_traceback(servers_down):
    out = promptopt("worker", env=servers_down)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("error: cannot reach Kafka")


def test_version():
    out = promptopt("--version")
    assert out.returncode == 0 and out.stdout.startswith("promptopt ")


def test_a_yaml_error_names_the_file_not_a_unicode_string(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text('prompts: [\n  "a"\nmodels: x: y\n')
    out = promptopt("run", str(bad))
    assert out.returncode == 2, out.stderr
    err = "".join(out.stderr.split())  # rich wraps long lines, even inside a long path
    assert "<unicodestring>" not in err
    assert f'in"{bad}",line3' in err


def test_patterns_apply_keeps_the_closing_quote_of_its_error():
    out = promptopt("patterns", "apply", "no-such-pattern", "Classify this review, please.")
    assert out.returncode == 2
    assert out.stderr.strip() == "error: unknown pattern 'no-such-pattern'"


def test_every_stats_command_help_lists_its_options():
    import typer

    from promptopt.commands.stats import app

    group = typer.main.get_command(app)
    for name in group.list_commands(None):  # type: ignore[arg-type]
        out = promptopt("stats", name, "--help")
        assert out.returncode == 0, name
        options = {w.strip("[]()|,") for w in out.stdout.split() if w.startswith(("--", "[--"))}
        assert options - {"--help"}, f"stats {name} --help lists no option:\n{out.stdout}"
