"""`promptopt schemas export`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True)


@app.command()
def export(out: Path = typer.Option(Path("schemas/json"), help="folder to write into")) -> None:
    """Write one JSON Schema file per event type."""
    from schemas.export import export_json_schemas

    print(json.dumps({"written": [str(p) for p in export_json_schemas(out)]}))


@app.callback()
def _group() -> None:
    """Event schemas."""
