"""`promptopt patterns list|search|apply|template`: the pattern library.

Each command prints one JSON object or array. Search ranks by text relevance and, given
--stats (a JSON dump of the pattern-stats table), by measured success.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer

from agents.patterns.learning import read_stats_file

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False)


@app.callback()
def _group() -> None:
    """The pattern library: list, search, apply, template."""


def _fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(2)


def _print(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False))


def _load_stats(path: Path | None) -> dict[str, Any]:
    try:
        return read_stats_file(path) if path is not None else {}
    except ValueError as err:
        _fail(f"--stats: {err}")


@app.command("list")
def list_patterns(
    goal: str | None = typer.Option(None, help="only patterns serving this goal"),
    type_: str | None = typer.Option(None, "--type", help="only patterns of this type"),
) -> None:
    """Every pattern in the library (id, name, type, goals, description)."""
    from agents.patterns.library import GOALS, load_library

    if goal is not None and goal not in GOALS:
        _fail(f"--goal must be one of {', '.join(GOALS)}")
    _print([
        {"id": p.id, "name": p.name, "type": p.type, "goals": list(p.goals),
         "description": p.description}
        for p in load_library()
        if (goal is None or goal in p.goals) and (type_ is None or p.type == type_)
    ])


@app.command()
def search(
    query: str = typer.Argument(..., help="what you want the prompt to do better"),
    domain: str | None = typer.Option(None, help="rank patterns proven in this domain first"),
    stats: Path | None = typer.Option(None, help="pattern-stats table as JSON"),
    limit: int = typer.Option(10, min=1, max=100),
) -> None:
    """Patterns ranked by relevance to QUERY and measured success."""
    from agents.patterns.library import search as search_library

    hits = search_library(query, domain=domain, stats=_load_stats(stats), limit=limit)
    _print([h.to_json() for h in hits])


@app.command()
def apply(
    pattern_id: str = typer.Argument(...),
    prompt: str = typer.Argument(..., help='the prompt, or "-" to read it from stdin'),
    system: str | None = typer.Option(None, help="system message, if any"),
    domain: str = typer.Option("general"),
    value: list[str] = typer.Option([], "--value", help="placeholder=value; repeatable"),
) -> None:
    """Rewrite PROMPT with one pattern."""
    from agents.patterns.library import PatternNotApplicable, PatternNotFound, apply_pattern
    from promptopt.commands.analyze import read_prompt

    text = read_prompt(prompt)
    values = {}
    for item in value:
        key, sep, val = item.partition("=")
        if not sep or not key:
            _fail(f"--value must be placeholder=value, got {item!r}")
        values[key] = val
    try:
        applied = apply_pattern(pattern_id, text, system=system, values=values, domain=domain)
    except (PatternNotFound, PatternNotApplicable) as err:
        # Both say what went wrong in their str(); stripping quotes off it (as for a plain
        # KeyError's repr) cut the closing quote of the pattern's name.
        _fail(str(err))
    _print({"pattern": pattern_id, "prompt": applied.prompt, "system": applied.system})


@app.command()
def template(pattern_id: str = typer.Argument(...)) -> None:
    """A pattern's template, placeholders, defaults and an example."""
    from agents.patterns.library import PatternNotFound, pattern_template

    try:
        _print(pattern_template(pattern_id))
    except PatternNotFound as err:
        _fail(str(err))


@app.command()
def mine(
    results: list[Path] = typer.Argument(..., help="`promptopt run` result files (JSON)"),
    min_support: int = typer.Option(2, min=1, help="experiments a candidate must recur in"),
) -> None:
    """Candidate new patterns mined from what significant winners added to their controls."""
    from agents.patterns.mining import mine_patterns, winners_from_results

    docs = []
    for path in results:
        try:
            docs.append(json.loads(path.read_text()))
        except (OSError, ValueError) as err:
            _fail(f"cannot read {path}: {err}")
    try:
        winners = winners_from_results(docs)
    except (KeyError, TypeError) as err:
        _fail(f"not a run result: missing {err}")
    _print([m.to_json() for m in mine_patterns(winners, min_support=min_support)])
