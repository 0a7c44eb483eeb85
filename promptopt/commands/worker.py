"""`promptopt worker`: run the agents as Faust workers on Apache Kafka."""

from __future__ import annotations

import asyncio
import logging

import typer

from promptopt.settings import get_settings

app = typer.Typer(add_completion=False)


@app.command()
def worker(
    web_port: int = typer.Option(0, help="Faust web + /metrics port (default from settings)"),
    app_id: str = typer.Option("", help="consumer group / app id (default from settings)"),
    sinks: bool = typer.Option(True, help="write to PostgreSQL and MongoDB"),
    loglevel: str = typer.Option("info"),
) -> None:
    """Run every agent (and the sinks) as one Faust worker; start more to scale out."""
    from faust.worker import Worker

    from agents.runtime.assembly import all_agents
    from agents.runtime.faust_app import build_app
    from agents.sinks.migrate import migrate
    from agents.sinks.mongo import MongoSink
    from agents.sinks.postgres import PostgresSink
    from topics.admin import create_topics

    settings = get_settings()
    updates = {k: v for k, v in (("faust_web_port", web_port), ("faust_app_id", app_id)) if v}
    settings = settings.model_copy(update=updates)
    logging.basicConfig(level=loglevel.upper())

    asyncio.run(create_topics(settings.kafka_bootstrap))
    sink_list = []
    if sinks:
        asyncio.run(migrate(settings.postgres_dsn))
        sink_list = [PostgresSink(settings.postgres_dsn),
                     MongoSink(settings.mongo_uri, settings.mongo_db)]
    asyncio.set_event_loop(asyncio.new_event_loop())
    faust_app = build_app(all_agents(), settings, sinks=sink_list)
    Worker(faust_app, loglevel=loglevel, quiet=True).execute_from_commandline()
