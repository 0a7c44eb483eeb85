"""`promptopt sim-llm`: serve the OpenAI-compatible LLM simulator on loopback."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from pydantic import ValidationError

app = typer.Typer(add_completion=False, help="Serve the OpenAI-compatible LLM simulator.")


@app.command()
def sim_llm(
    port: int = typer.Option(8765, help="TCP port (0 picks a free one)."),
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    config: Path | None = typer.Option(None, help="SimConfig as YAML or JSON."),
    seed: int | None = typer.Option(None, help="Override the config's seed."),
    latency_ms: float | None = typer.Option(None, help="Fixed latency per call, in ms."),
    error_rate: float | None = typer.Option(
        None, help="Share of calls failing, split evenly over 429 / 500 / timeout."
    ),
) -> None:
    """Serve POST /v1/chat/completions, GET /v1/models and /health until interrupted."""
    from agents.trials.simulator import Latency, SimConfig, serve

    try:
        cfg = SimConfig.load(config) if config else SimConfig()
        changes: dict[str, object] = {}
        if seed is not None:
            changes["seed"] = seed
        if latency_ms is not None:
            changes["latency"] = Latency(mean_ms=latency_ms)
        if error_rate is not None:
            share = error_rate / 3
            changes.update(rate_429=share, rate_500=share, rate_timeout=share)
        cfg = SimConfig.model_validate({**cfg.model_dump(), **changes})
    except ValidationError as err:
        problem = err.errors()[0]
        where = ".".join(str(p) for p in problem["loc"]) or "<root>"
        print(f"error: invalid simulator config: {where}: {problem['msg']}", file=sys.stderr)
        sys.exit(2)
    except (OSError, ValueError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"error: invalid simulator config: {first}", file=sys.stderr)
        # sys.exit, not typer.Exit: the lazy click group does not translate typer's Exit.
        sys.exit(2)
    print(f"LLM simulator on http://{host}:{port}/v1 (seed {cfg.seed})", file=sys.stderr)
    serve(cfg, host=host, port=port)
