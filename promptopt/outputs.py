"""`--output` files of a run: .json (the whole result), .csv (one row per trial), .html (a
self-contained report: the statistics, the decision, and per test case the arms side by
side, as promptfoo's viewer shows them)."""

from __future__ import annotations

import csv
import functools
import io
import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from promptopt.report import look_lines
from promptopt.results import run_summary, rows_per_test_case

if TYPE_CHECKING:
    from promptopt.embedded import RunResult

FORMATS = (".json", ".csv", ".html")
CSV_COLUMNS = ("test_case_id", "description", "vars", "arm", "is_control", "model",
               "repetition", "status", "score", "passed", "response", "reason",
               "failed_assertions", "named_scores", "latency_ms", "cost_usd",
               "judge_cost_usd", "trial_id", "round")


class OutputError(ValueError):
    """An --output path the run cannot write (unknown format)."""


def check_paths(paths: list[Path]) -> None:
    for path in paths:
        if path.suffix.lower() not in FORMATS:
            raise OutputError(f"--output {path}: give a .json, .csv or .html file")


def write_outputs(result: RunResult, paths: list[Path]) -> list[Path]:
    check_paths(paths)
    written = []
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        suffix = path.suffix.lower()
        if suffix == ".json":
            text = json.dumps(result.to_json(), indent=2)
        elif suffix == ".csv":
            text = to_csv(result)
        else:
            text = to_html(result)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def to_csv(result: RunResult) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in rows_per_test_case(result):
        failed = [f"{a['type']}: {a['reason']}" for a in row["assertions"] if not a["passed"]]
        writer.writerow({**row, "vars": json.dumps(row["vars"], ensure_ascii=False),
                         "failed_assertions": " | ".join(failed),
                         "named_scores": json.dumps(row["named_scores"]) if row["named_scores"]
                         else ""})
    return out.getvalue()


@functools.cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("promptopt", "templates"),
        autoescape=True,  # responses and vars are untrusted text
        trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["num"] = lambda x, d=3: "-" if x is None else f"{x:.{d}f}"
    env.filters["p"] = lambda x: "-" if x is None else ("<0.001" if x < 0.001 else f"{x:.3f}")
    env.filters["usd"] = lambda x: f"${x:.4f}"
    env.filters["tojson_text"] = lambda x: json.dumps(x, ensure_ascii=False)
    return env.get_template("report.html")


def to_html(result: RunResult) -> str:
    rows = rows_per_test_case(result)
    summary = run_summary(result)
    names = {v.variation_id: v for r in result.rounds for v in r.variations}
    rounds = []
    for analysis in result.finals():
        arms = [names[v.variation_id] for v in sorted(
            analysis.variations, key=lambda v: (not v.is_control, v.name))
            if v.variation_id in names]
        models = sorted({r["model_label"] for r in rows if r["round"] == analysis.round})
        columns = [(arm, model) for arm in arms for model in models
                   if any(r["variation_id"] == arm.variation_id and r["model_label"] == model
                          for r in rows)]
        cells: dict[str, dict[tuple[str, str], list[dict[str, Any]]]] = defaultdict(
            lambda: defaultdict(list))
        cases: dict[str, dict[str, Any]] = {}
        for r in rows:
            if r["round"] != analysis.round:
                continue
            cases.setdefault(r["test_case_id"], r)
            cells[r["test_case_id"]][(r["variation_id"], r["model_label"])].append(r)
        metrics = _named_metric_means(rows, analysis.round)
        rounds.append({"analysis": analysis, "columns": columns, "cases": cases,
                       "cells": cells, "metrics": metrics, "looks": look_lines(analysis),
                       "pass_rates": _pass_rates(rows, analysis.round)})
    return _template().render(
        result=result, spec=result.spec, summary=summary, rounds=rounds,
        prompts={v.variation_id: v for v in names.values()},
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))


def _named_metric_means(rows: list[dict[str, Any]], round_: int) -> dict[str, dict[str, float]]:
    sums: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["round"] == round_:
            for name, value in r["named_scores"].items():
                sums[name][r["variation_id"]].append(value)
    return {name: {vid: sum(v) / len(v) for vid, v in by.items()} for name, by in sums.items()}


def _pass_rates(rows: list[dict[str, Any]], round_: int) -> dict[str, tuple[int, int]]:
    rates: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        if r["round"] == round_ and r["status"] == "completed":
            rates[r["variation_id"]][0] += bool(r["passed"])
            rates[r["variation_id"]][1] += 1
    return {k: (v[0], v[1]) for k, v in rates.items()}
