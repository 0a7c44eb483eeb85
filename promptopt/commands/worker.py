"""`promptopt worker`: run the agents as Faust workers on Apache Kafka."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TYPE_CHECKING

import typer

from promptopt.settings import get_settings

if TYPE_CHECKING:
    from agents.sinks.contract import Sink

app = typer.Typer(add_completion=False)
log = logging.getLogger("promptopt.worker")

STARTUP_WAIT_S = 20.0  # how long a starting worker waits for its broker

ROLES = ("optimizer", "trials", "scorer", "patterns", "sinks")


@app.command()
def worker(
    web_port: int = typer.Option(0, help="Faust web port: /metrics and /health (default from "
                                 "settings); with --processes N, the first of N consecutive "
                                 "ports"),
    app_id: str = typer.Option("", help="consumer group / app id (default from settings)"),
    role: list[str] = typer.Option(
        [], "--role", help=f"run only these agents (repeatable or comma-separated: "
        f"{', '.join(ROLES)}); default: all of them"),
    processes: int = typer.Option(1, min=1, max=256,
                                  help="worker processes on this host, one core each"),
    sinks: bool = typer.Option(True, help="write to PostgreSQL and MongoDB"),
    setup: bool = typer.Option(True, hidden=True,
                               help="create topics and migrate first (off in pool children)"),
    loglevel: str = typer.Option("", help="log level (default PROMPTOPT_LOG_LEVEL)"),
) -> None:
    """Run the agents (and the sinks) as Faust workers; start more, or use --processes,
    to scale out. `--role trials --processes 4` runs four LLM-call workers.

    Before it joins its group the worker creates or verifies every catalogued topic and
    applies the PostgreSQL migrations; a topic Kafka cannot fix stops it with what to do.
    """
    roles = [r.strip() for value in role for r in value.split(",") if r.strip()]
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise typer.BadParameter(f"unknown role(s) {unknown}; known: {', '.join(ROLES)}",
                                 param_hint="--role")
    settings = get_settings()
    updates = {k: v for k, v in (("faust_web_port", web_port), ("faust_app_id", app_id),
                                 ("log_level", loglevel.upper())) if v}
    settings = settings.model_copy(update=updates)
    from promptopt.logging_config import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    with_sinks = sinks and (not roles or "sinks" in roles)

    if setup:
        _setup(settings)
    if processes > 1:
        from promptopt.worker_pool import run_pool

        args = [f"--role={r}" for r in roles] + ["--app-id", settings.faust_app_id,
                                                 "--loglevel", settings.log_level]
        if not sinks:
            args.append("--no-sinks")
        raise typer.Exit(run_pool(processes, args, settings.faust_web_port,
                                  settings.faust_data_dir))
    _run_one(settings, roles, with_sinks)


def _setup(settings) -> None:
    """Topics created or verified before the group is joined (retried for a while, so a
    worker may start just before its broker; one that never answers is one line on
    stderr). The PostgreSQL migrations run when the sink opens, retried while PostgreSQL
    is down, so a database outage delays the sinks, never the worker."""
    from dataclasses import replace

    from agents.runtime.faust_app import retry_policy
    from agents.runtime.failures import call_with_retries
    from topics.admin import TopicMismatch, ensure_topics

    policy = replace(retry_policy(settings), give_up_s=STARTUP_WAIT_S)
    try:
        asyncio.run(call_with_retries(lambda: ensure_topics(settings.kafka_bootstrap),
                                      policy, "verifying the topics"))
    except TopicMismatch as err:
        log.error("%s", err)
        sys.exit(1)


def _run_one(settings, roles: list[str], with_sinks: bool) -> None:
    from faust.worker import Worker

    from agents.runtime.assembly import all_agents
    from agents.runtime.faust_app import build_app, internal_topics
    from topics.admin import ensure_topics

    agents = [a for a in all_agents() if not roles or a.name in roles]
    sink_list: list[Sink] = []
    if with_sinks:
        from agents.sinks.mongo import MongoSink
        from agents.sinks.postgres import PostgresSink

        sink_list = [PostgresSink(settings.postgres_dsn),
                     MongoSink(settings.mongo_uri, settings.mongo_db)]
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    faust_app = build_app(agents, settings, sinks=sink_list)
    # Its changelogs too, before Faust would make them on first use (topics.admin: why).
    loop.run_until_complete(ensure_topics(settings.kafka_bootstrap, internal_topics(faust_app)))
    # Logging is ours (one configuration, text or JSON): mode must neither install its own
    # handlers nor turn stdout/stderr into loggers (logging_config.py says why).
    Worker(faust_app, loglevel=settings.log_level.lower(), quiet=True, override_logging=False,
           redirect_stdouts=False).execute_from_commandline()
