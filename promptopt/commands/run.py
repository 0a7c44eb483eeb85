"""`promptopt run FILE`: optimize an experiment file on the embedded runtime."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from promptopt.embedded import plan_check, run_experiment
from promptopt.experiment_file import ExperimentFileError, experiment_id_for, load_experiment
from promptopt.report import make_console, render
from promptopt.settings import get_settings
from schemas.events import Event, TrialCompleted, VariationGenerated
from topics.catalogue import Topic

app = typer.Typer(add_completion=False)


@app.command()
def run(
    file: Path = typer.Argument(..., help="experiment file (YAML; promptfoo configs work)"),
    out: Path = typer.Option(Path("results"), help="folder for the JSON result"),
    experiment_id: str = typer.Option("", help="default: derived from the file's content"),
    sim_config: Path | None = typer.Option(None, help="LLM simulator config (YAML/JSON)"),
    no_learning: bool = typer.Option(
        False, "--no-learning", help="neither read nor update the learned pattern statistics"),
) -> None:
    """Optimize the prompt in FILE locally and print the A/B report."""
    err = Console(stderr=True)
    try:
        spec = load_experiment(file)
    except ExperimentFileError as e:
        err.print(f"[red]error:[/] {e}")
        raise typer.Exit(2) from None
    exp_id = experiment_id or experiment_id_for(spec)
    plan = plan_check(spec)
    if plan.warning:
        err.print(f"[yellow]warning:[/] {plan.warning}")
    sim = None
    if sim_config is not None:
        from agents.trials.simulator import SimConfig

        sim = SimConfig.load(sim_config)

    console = make_console()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=True) as progress:
        bar = progress.add_task("generating variations", total=None)

        def on_event(topic: Topic, event: Event) -> None:
            if isinstance(event, VariationGenerated):
                planned = (len(event.variations) * len(spec.test_cases) * len(spec.models)
                           * spec.analysis.repetitions)
                total = (progress.tasks[0].total or 0) + planned
                progress.update(bar, description=f"round {event.round} trials", total=total)
            elif isinstance(event, TrialCompleted):
                progress.advance(bar)

        result = asyncio.run(run_experiment(
            spec, exp_id, sim_config=sim, on_event=on_event,
            pattern_stats=None if no_learning else Path(get_settings().pattern_stats_path)))

    render(console, result.rounds, result.finals())
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{exp_id}.json"
    path.write_text(json.dumps(result.to_json(), indent=2))
    console.print(f"full result: {path}")
    if result.dead_letters:
        err.print(f"[yellow]{len(result.dead_letters)} event(s) went to dead-letter[/]")
    if not result.finals():
        err.print("[red]error:[/] no final analysis was produced")
        sys.exit(1)
