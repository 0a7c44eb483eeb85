"""`promptopt submit FILE`: publish an experiment to prompt-submitted on Kafka."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer

from promptopt.experiment_file import ExperimentFileError, experiment_id_for, load_experiment
from promptopt.settings import get_settings
from schemas.events import PromptSubmitted

app = typer.Typer(add_completion=False)


@app.command()
def submit(
    file: Path,
    experiment_id: str = typer.Option("", help="default: derived from the file's content"),
    submitted_by: str = typer.Option("", "--submitted-by", "--user-id",
                                     help="user id recorded with the optimization"),
    team_id: str = typer.Option("", help="the team whose work it is (without one, only an "
                                "admin sees it through the API)"),
) -> None:
    """Publish FILE's prompt for optimization; prints the experiment id."""
    from topics.client import PromptOptClient

    try:
        spec = load_experiment(file)
    except ExperimentFileError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    event = PromptSubmitted(experiment_id=experiment_id or experiment_id_for(spec), spec=spec,
                            user_id=submitted_by or None, team_id=team_id or None)

    async def publish() -> None:
        async with PromptOptClient(get_settings().kafka_bootstrap) as client:
            await client.submit(event)

    asyncio.run(publish())
    print(json.dumps({"experiment_id": event.experiment_id}))
