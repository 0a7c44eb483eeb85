"""`promptopt optimize PROMPT --goal clarity ...`: the prompt's analysis and ranked variations
with rationale, predicted score, confidence and expected improvement, without trials.

`promptopt optimize --train RESULT.json ...` (files written by `promptopt run`) or
`--train-simulated N` trains the performance predictor, prints its held-out error against a
mean baseline and saves it (--predictor PATH) for later optimize runs and the optimizer agent.

Prints one JSON object. Invalid input: one line on stderr, exit code 2.
"""

from __future__ import annotations

import asyncio
import hashlib
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
    from agents.optimizer.analysis import analyze_prompt
    from agents.optimizer.generation import Base, generate_round
    from agents.optimizer.meta import Scored
    from agents.optimizer.predictor import features
    from agents.optimizer.services import OptimizerServices, close_services, load_predictor
    from agents.patterns.learning import pooled_posterior
    from promptopt.settings import get_settings
    from schemas.experiment import ExperimentSpec

    if predictor_path is not None and not predictor_path.exists():
        _fail(f"no predictor at {predictor_path} (train one with --train)")
    try:
        spec = ExperimentSpec(
            prompt=text, system=system, domain=domain, goals=tuple(goals), n_variations=n,
            models=[{"id": m} for m in models], test_cases=[{"id": "example"}],
            optimizer_model={"id": optimizer_model} if optimizer_model else None)
    except ValueError as err:
        _fail(str(err).splitlines()[0])
    analysis = analyze_prompt(text, system, models=models)
    experiment_id = "optimize-" + hashlib.sha256(f"{system}\x1f{text}".encode()).hexdigest()[:10]
    base = Base(text, system)
    services = OptimizerServices(settings=get_settings())
    meta = services.meta_for(spec)

    async def propose() -> list[Any]:
        if meta is None:
            return []
        try:
            return await meta.propose(base, analysis, [Scored(text, None)], spec.goals,
                                      (n + 1) // 2)
        finally:
            await close_services(services)

    proposals = asyncio.run(propose())
    variations = generate_round(spec, experiment_id, stats, base=base, fixes=analysis.fixes(),
                                extra_candidates=proposals)
    model = load_predictor(predictor_path)

    predictions: dict[str, tuple[float, float]] = {}
    if model is not None:
        rows = [features(v.prompt, v.system, v.patterns, m, domain)
                for v in variations for m in models]
        flat = model.predict_many(rows)
        for i, v in enumerate(variations):
            mine = flat[i * len(models):(i + 1) * len(models)]
            predictions[v.variation_id] = (sum(p.score for p in mine) / len(mine),
                                           sum(p.confidence for p in mine) / len(mine))
    control = variations[0]
    control_score = predictions.get(control.variation_id, (None, 0.0))[0]

    def entry(v) -> dict[str, Any]:
        a = analyze_prompt(v.prompt, v.system, tokens=False)
        score, confidence = predictions.get(v.variation_id, (None, 0.0))
        success = [pooled_posterior(stats, p, domain, models).mean for p in v.patterns]
        return {
            "name": v.name, "prompt": v.prompt, "system": v.system, "is_control": v.is_control,
            "patterns": list(v.patterns), "rewrites": list(v.rewrites), "rationale": v.rationale,
            "predicted_score": None if score is None else round(score, 4),
            "confidence": round(confidence, 3),
            "expected_improvement": None if score is None or control_score is None
            else round(score - control_score, 4),
            "pattern_success": round(sum(success) / len(success), 4) if success else None,
            "clarity": a.clarity, "specificity": a.specificity,
            "issues": sorted(a.issue_codes),
        }

    entries = [entry(v) for v in variations[1:]]
    # With a predictor: by predicted score. Without: by measured pattern success, then by
    # how much clearer and more specific the analysis finds the rewrite.
    entries.sort(key=lambda e: (-(e["predicted_score"] or 0), -(e["pattern_success"] or 0.5),
                                -(e["clarity"] + e["specificity"]), e["name"]))
    for rank, e in enumerate(entries, 1):
        e["rank"] = rank
    from agents.optimizer.model_format import optimize_for_model

    for_model = {}
    for m in models:
        formatted = optimize_for_model(text, system, m)
        for_model[m] = {"family": formatted.family, "prompt": formatted.prompt,
                        "system": formatted.system, "rewrites": list(formatted.rewrites)}
    return {
        "analysis": analysis.to_json(),
        "control": entry(control),
        "for_model": for_model,
        "variations": entries,
        "predictor": model.meta if model else None,
        "ranked_by": "predicted_score" if model else "pattern_success, then analysis",
    }


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
