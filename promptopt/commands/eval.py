"""`promptopt eval -c promptfooconfig.yaml`: the run, as promptfoo users type it. Without -c,
the current folder's promptfooconfig.yaml."""

from __future__ import annotations

from pathlib import Path

import typer

from promptopt.commands.run import execute

app = typer.Typer(add_completion=False)


@app.command()
def eval(  # the command's name
    config: Path | None = typer.Option(None, "--config", "-c",
                                       help="promptfoo config or experiment file (default: "
                                            "./promptfooconfig.yaml; a folder finds its own)"),
    output: list[Path] = typer.Option([], "--output", "-o",
                                      help="write .json, .csv or .html (repeatable)"),
    out: Path | None = typer.Option(None, help="also keep the full JSON result in this folder"),
    sim_config: Path | None = typer.Option(None, help="LLM simulator config (YAML/JSON)"),
    no_learning: bool = typer.Option(
        False, "--no-learning", help="neither read nor update the learned pattern statistics"),
) -> None:
    """Evaluate the prompts of a promptfoo config, with A/B statistics."""
    execute(config, out=out, outputs=output, sim_config=sim_config, no_learning=no_learning)
