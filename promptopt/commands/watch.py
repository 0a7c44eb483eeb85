"""`promptopt watch EXPERIMENT_ID`: a live table of an experiment's analysis."""

from __future__ import annotations

import asyncio
import contextlib

import typer
from rich.live import Live

from promptopt.report import analysis_table, make_console
from promptopt.settings import get_settings

app = typer.Typer(add_completion=False)


@app.command()
def watch(
    experiment_id: str,
    until_final: bool = typer.Option(True, help="stop after the final analysis"),
) -> None:
    """Follow analysis-ready for EXPERIMENT_ID, redrawing as snapshots arrive."""
    from topics.client import PromptOptClient

    async def follow() -> None:
        async with PromptOptClient(get_settings().kafka_bootstrap) as client:
            with Live(console=make_console(), auto_refresh=False) as live:
                async for analysis in client.analyses(experiment_id):
                    live.update(analysis_table(analysis), refresh=True)
                    if until_final and analysis.final:
                        return

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(follow())
