"""`promptopt optimize PROMPT --goal clarity ...`: the prompt's analysis and ranked variations
with rationale, predicted score, confidence and expected improvement, without trials.

`promptopt optimize --train RESULT.json ...` (files written by `promptopt run`) or
`--train-simulated N` trains the performance predictor, prints its held-out error against a
mean baseline and saves it (--predictor PATH) for later optimize runs and the optimizer agent.

Prints one JSON object. Invalid input: one line on stderr, exit code 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer

from agents.patterns.learning import read_stats_file

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

GOALS = ("clarity", "engagement", "accuracy", "efficiency", "creativity")


def _fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(2)


@app.command()
def optimize(
    prompt: str | None = typer.Argument(None, help='the prompt, or "-" to read it from stdin'),
    goal: list[str] = typer.Option([], "--goal", "-g", help=f"one of {', '.join(GOALS)}"),
    model: list[str] = typer.Option([], "--model", "-m", help="target model (litellm id)"),
    domain: str = typer.Option("general"),
    system: str | None = typer.Option(None, help="system message, if any"),
    n: int = typer.Option(5, "--variations", "-n", help="variations to generate (1-20)"),
    stats: Path | None = typer.Option(None, help="pattern-stats table as JSON"),
    predictor: Path | None = typer.Option(None, help="predictor file (default: "
                                          ".promptopt/predictor.joblib)"),
    optimizer_model: str | None = typer.Option(
        None, help="LLM for the meta-optimizer (litellm id); none: pattern rewrites only"),
    train: list[Path] = typer.Option([], help="train the predictor on `promptopt run` results"),
    train_simulated: int = typer.Option(0, help="train on N simulated prompts (demo data)"),
) -> None:
    """Generate ranked variations of PROMPT (no trials), or train the predictor."""
    if train or train_simulated:
        _train(train, train_simulated, predictor)
        return
    if prompt is None:
        _fail("give a PROMPT (or --train FILES / --train-simulated N)")
    from promptopt.commands.analyze import read_prompt

    text = read_prompt(prompt)
    if bad := [g for g in goal if g not in GOALS]:
        _fail(f"unknown goal {bad[0]!r}; choose from {', '.join(GOALS)}")
    if not 1 <= n <= 20:
        _fail("--variations must be between 1 and 20")
    print(json.dumps(_optimize(text, system, goal or ["clarity"], model or ["gpt-4o-mini"],
                               domain, n, _stats(stats), predictor, optimizer_model),
                     ensure_ascii=False))


def _stats(path: Path | None) -> dict[str, Any]:
    try:
        return read_stats_file(path) if path is not None else {}
    except ValueError as err:
        _fail(f"--stats: {err}")


def _optimize(text: str, system: str | None, goals: list[str], models: list[str], domain: str,
              n: int, stats: dict[str, Any], predictor_path: Path | None,
              optimizer_model: str | None) -> dict[str, Any]:
    from agents.optimizer.ranked import ranked_variations
    from agents.optimizer.services import load_predictor
    from promptopt.settings import get_settings

    if predictor_path is not None and not predictor_path.exists():
        _fail(f"no predictor at {predictor_path} (train one with --train)")
    try:
        return ranked_variations(text, system, goals, models, domain, n, stats,
                                 load_predictor(predictor_path), optimizer_model,
                                 settings=get_settings())
    except ValueError as err:
        _fail(str(err).splitlines()[0])


def _train(files: list[Path], simulated: int, path: Path | None) -> None:
    from agents.optimizer.predictor import (
        DEFAULT_PATH,
        Predictor,
        evaluate,
        rows_from_run_results,
    )

    rows = []
    try:
        rows += rows_from_run_results(files)
    except (OSError, ValueError, KeyError) as err:
        _fail(f"cannot read run results: {err!r}")
    if simulated:
        from agents.optimizer.simulated_measurements import simulated_rows

        rows += simulated_rows(simulated)
    if len({r.group for r in rows}) < 3:
        _fail(f"need measured prompts from at least 3 experiments or prompts, got {len(rows)} "
              "rows")
    held_out = evaluate(rows, folds=min(5, len({r.group for r in rows})))
    saved = Predictor.train(rows).save(path or DEFAULT_PATH)
    print(json.dumps({"trained_on": len(rows), "path": str(saved), "held_out": held_out}))
