"""`promptopt db migrate`."""

from __future__ import annotations

import asyncio
import json

import typer

from promptopt.settings import get_settings

app = typer.Typer(add_completion=False, no_args_is_help=True)


@app.command()
def migrate(dsn: str = typer.Option("", help="PostgreSQL DSN (default from settings)")) -> None:
    """Apply pending SQL migrations from schemas/sql/."""
    from agents.sinks.migrate import migrate as run_migrations

    applied = asyncio.run(run_migrations(dsn or get_settings().postgres_dsn))
    print(json.dumps({"applied": applied}))


@app.callback()
def _group() -> None:
    """Database commands."""
