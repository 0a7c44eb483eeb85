"""`promptopt topics create|list|asyncapi`."""

from __future__ import annotations

import asyncio
import json
import sys

import typer

from promptopt.settings import get_settings
from topics.catalogue import TOPICS

app = typer.Typer(add_completion=False, no_args_is_help=True)


@app.command()
def create() -> None:
    """Create every catalogued topic that does not exist yet, and fix the existing ones
    that differ from the catalogue where Kafka allows (exit 1 with what to do otherwise)."""
    from topics.admin import TopicMismatch, ensure_topics

    try:
        report = asyncio.run(ensure_topics(get_settings().kafka_bootstrap))
    except TopicMismatch as err:
        print(f"error: {err}", file=sys.stderr)
        raise typer.Exit(1) from None
    print(json.dumps(report.as_dict()))


@app.command("list")
def list_topics() -> None:
    """The topic catalogue."""
    print(json.dumps([
        {"name": t.name, "event": t.event.__name__, "key": t.key, "partitions": t.partitions,
         "compacted": t.compacted, "retention_ms": None if t.compacted else t.retention_ms,
         "public": t.public, "description": t.description}
        for t in TOPICS
    ], indent=2))


@app.command()
def asyncapi() -> None:
    """The AsyncAPI document of every topic, generated from the catalogue and schemas."""
    from topics.asyncapi import asyncapi_document

    print(json.dumps(asyncapi_document(), indent=2))
