"""`promptopt run FILE`: optimize an experiment file on the embedded runtime.

`promptopt eval` (commands/eval.py) is the same job as promptfoo users type it. Exit codes:
0 the run compared its arms; 1 no comparison could be made (one arm measured, or every
trial failed, or no final analysis); 2 the experiment file is invalid (nothing was spent).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agents.trials.plan import plan_round
from promptopt.embedded import RunResult, plan_check, run_experiment
from promptopt.experiment_file import ExperimentFileError, experiment_id_for, read_experiment
from promptopt.outputs import OutputError, check_paths, write_outputs
from promptopt.report import make_console, render, render_summary
from promptopt.results import run_summary
from promptopt.settings import Settings, get_settings
from schemas.events import Event, TrialCompleted, VariationGenerated
from schemas.experiment import MODEL_GRADED_TYPES, ExperimentSpec
from topics.catalogue import Topic

app = typer.Typer(add_completion=False)

EXIT_NO_COMPARISON = 1
EXIT_BAD_FILE = 2


@app.command()
def run(
    file: Path = typer.Argument(..., help="experiment file (YAML; promptfoo configs work)"),
    out: Path = typer.Option(Path("results"), help="folder for the JSON result"),
    output: list[Path] = typer.Option([], "--output", "-o",
                                      help="also write .json, .csv or .html (repeatable)"),
    experiment_id: str = typer.Option("", help="default: derived from the file's content"),
    sim_config: Path | None = typer.Option(None, help="LLM simulator config (YAML/JSON)"),
    no_learning: bool = typer.Option(
        False, "--no-learning", help="neither read nor update the learned pattern statistics"),
) -> None:
    """Optimize the prompt in FILE locally and print the A/B report."""
    execute(file, out=out, outputs=output, experiment_id=experiment_id, sim_config=sim_config,
            no_learning=no_learning)


def execute(file: Path | None, *, out: Path | None, outputs: list[Path], experiment_id: str = "",
            sim_config: Path | None = None, no_learning: bool = False) -> None:
    err = Console(stderr=True)
    settings = get_settings()
    try:
        check_paths(outputs)
        loaded = read_experiment(file if file is not None else Path("."))
        check_graders(loaded.spec, settings)
    except (ExperimentFileError, OutputError) as e:
        err.print(f"[red]error:[/] {_escape(str(e))}")
        raise typer.Exit(EXIT_BAD_FILE) from None
    spec = loaded.spec
    for warning in loaded.warnings:
        err.print(f"[yellow]warning:[/] {_escape(warning)}")
    if not outputs and loaded.output_path:
        outputs = [Path(loaded.output_path)]
    exp_id = experiment_id or experiment_id_for(spec)
    plan = plan_check(spec)
    if plan.warning:
        err.print(f"[yellow]warning:[/] {plan.warning}")
    sim = None
    if sim_config is not None:
        from agents.trials.simulator import SimConfig

        sim = SimConfig.load(sim_config)

    result = _run_with_progress(spec, exp_id, err, sim, settings, no_learning)
    console = make_console()
    render(console, result.rounds, result.finals())
    summary = run_summary(result)
    render_summary(console, summary)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{exp_id}.json"
        path.write_text(json.dumps(result.to_json(), indent=2))
        console.print(f"full result: {path}")
    for path in write_outputs(result, outputs):
        console.print(f"wrote {path}")
    if result.dead_letters:
        err.print(f"[yellow]{len(result.dead_letters)} event(s) went to dead-letter[/]")
    if not summary.comparable:
        err.print(f"[red]error:[/] no comparison could be made: {_escape(summary.problem)}")
        raise typer.Exit(EXIT_NO_COMPARISON)


def check_graders(spec: ExperimentSpec, settings: Settings) -> None:
    """Model-graded assertions need a grader (and similar / answer-relevance an embedding
    model): from the file, or from the settings. Said before anything is spent."""
    for test in spec.test_cases:
        for assertion in test.every_assertion():
            if assertion.base not in MODEL_GRADED_TYPES:
                continue
            # moderation's model defaults to OpenAI's (settings.moderation_model)
            needs_text = assertion.base not in ("similar", "moderation")
            needs_embedding = assertion.base in ("similar", "answer-relevance")
            if needs_text and assertion.provider is None and not settings.grader_model:
                raise ExperimentFileError(
                    f"test {test.id!r}: {assertion.type} needs a grader model: set "
                    "defaultTest.options.provider (or the assertion's provider), or "
                    "PROMPTOPT_GRADER_MODEL")
            if needs_embedding and assertion.embedder is None and not (
                    assertion.base == "similar" and assertion.provider) and not \
                    settings.embedding_model:
                raise ExperimentFileError(
                    f"test {test.id!r}: {assertion.type} needs an embedding model: set "
                    "defaultTest.options.provider (an embedding model, or {text:, embedding:}),"
                    " or PROMPTOPT_EMBEDDING_MODEL")


def _run_with_progress(spec: ExperimentSpec, exp_id: str, err: Console, sim: object,
                       settings: Settings, no_learning: bool) -> RunResult:
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=True) as progress:
        bar = progress.add_task("generating variations", total=None)

        def on_event(topic: Topic, event: Event) -> None:
            if isinstance(event, VariationGenerated):
                planned = len(plan_round(event))
                total = (progress.tasks[0].total or 0) + planned
                progress.update(bar, description=f"round {event.round} trials", total=total)
            elif isinstance(event, TrialCompleted):
                progress.advance(bar)

        return asyncio.run(run_experiment(
            spec, exp_id, settings=settings, sim_config=sim, on_event=on_event,
            pattern_stats=None if no_learning else Path(settings.pattern_stats_path)))


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
