"""Replay historical A/B tests from a CSV through the scorer's engines.

The CSV has columns stream,a,b (a = control, b = variant); each row is one pair, in time
order within its stream. Unpaired (`--unpaired`): an empty cell means that arm has no
observation in that row; the observations are then blocked by arrival exactly as
agents.scorer.stats.betting.pseudo_pairs does (a before b within a row).

Two designs, as `promptopt run` runs them: the always-valid betting sequence (design
sequential, a look after every pair), or a group-sequential plan (design group-sequential):
the scorer's LookPlan and LookMonitor, looks at planned pair counts, stopping at the first
look whose z crosses the efficacy, harm or non-binding futility bound, as the scorer stops a
round of one variation; a stream that ends before its last planned look gets the final look
at the pairs it has, spending the alpha left. Paired rows only: the scorer pairs by cell and
never runs that design on unpaired arms.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from agents.scorer.stats.betting import analyze_stream, pseudo_pairs
from agents.scorer.stats.moments import RunningMoments
from agents.scorer.stats.planned_looks import Look, LookMonitor, LookPlan, normality_warnings

DIRECTION = {"above": "b-better", "below": "a-better", "none": "none"}


def replay_csv(path: Path, unpaired: bool, metric: str, alpha: float) -> Iterator[dict]:
    """One result per stream, in order of first appearance. ValueError names the bad row."""
    streams = _read(path, unpaired, metric)
    return (_replay(name, a, b, unpaired, alpha) for name, (a, b) in streams.items())


def replay_group_sequential(path: Path, metric: str, alpha: float, power: float,
                            timing: tuple[float, ...], planned_pairs: int | None
                            ) -> Iterator[dict]:
    """One result per stream for a group-sequential plan: looks at `timing` (information
    fractions) of planned_pairs (None: each stream's own number of rows)."""
    streams = _read(path, False, metric)
    return (_replay_planned(name, np.asarray(a), np.asarray(b), metric,
                            LookPlan.make(timing, planned_pairs or len(a), alpha, power, 1))
            for name, (a, b) in streams.items())


DIRECTION_OF = {"efficacy": "b-better", "harm": "a-better", "futility": "none"}


def _replay_planned(name: str, a: np.ndarray, b: np.ndarray, metric: str, plan: LookPlan
                    ) -> dict:
    monitor, moments = LookMonitor(plan), RunningMoments()
    for difference in (b - a)[:plan.counts[-1]].tolist():
        moments.add(difference)
        if monitor.add(difference, moments) and monitor.looks[-1].crossed:
            break
    last = monitor.latest if monitor.latest and monitor.latest.crossed else (
        monitor.final_look(moments))
    looks = list(monitor.looks)
    if last is not None:  # the final look, at the pairs the stream has
        looks[-1:] = [looks[-1], last] if looks and looks[-1].pairs != last.pairs else [last]
    crossed = last.crossed if last else None
    counts = [(round(float(arm[:last.pairs].sum())), last.pairs) for arm in (a, b)] if last else []
    return {"stream": name, "n": len(a),
            "first_rejection": last.pairs if last and crossed in ("efficacy", "harm") else None,
            "decision": DIRECTION_OF[crossed] if crossed else "none", "p_always_valid": None,
            "cs_low": last.low if last else None, "cs_high": last.high if last else None,
            "design": "group-sequential", "planned_pairs": plan.counts[-1],
            "stopped_at_look": last.number if last and crossed else None, "stopped_for": crossed,
            "looks": [_look_json(look) for look in looks],
            "warnings": normality_warnings(name, last, counts, metric) if last else []}


def _look_json(look: Look) -> dict:
    return {"look": look.number, "of": look.of, "pairs": look.pairs, "z": look.z,
            "efficacy_z": look.upper, "futility_z": look.lower, "low": look.low,
            "high": look.high, "final": look.final}


def _replay(name: str, a: list[float], b: list[float], unpaired: bool, alpha: float) -> dict:
    rows = len(a)
    xa, xb = np.asarray(a), np.asarray(b)
    if unpaired:
        arm = np.stack([np.zeros(rows, int), np.ones(rows, int)], axis=1).ravel()
        values = np.stack([xa, xb], axis=1).ravel()
        present = ~np.isnan(values)
        row_of = np.repeat(np.arange(rows), 2)[present]
        diffs, closed = pseudo_pairs(arm[present], values[present])
        result = analyze_stream(diffs, alpha)
        first = (None if result.first_rejection is None
                 else int(row_of[closed[result.first_rejection - 1]]) + 1)
    else:
        result = analyze_stream(xb - xa, alpha)
        first = result.first_rejection
    return {"stream": name, "n": rows, "first_rejection": first,
            "decision": DIRECTION[result.direction], "p_always_valid": result.p_value,
            "cs_low": result.cs_low, "cs_high": result.cs_high}


def _read(path: Path, unpaired: bool, metric: str) -> dict[str, tuple[list[float], list[float]]]:
    try:
        handle = path.open(newline="")
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    streams: dict[str, tuple[list[float], list[float]]] = {}
    with handle:
        reader = csv.reader(handle)
        header = [h.strip() for h in next(reader, [])]
        if header != ["stream", "a", "b"]:
            raise ValueError(f"{path}: the header must be stream,a,b, got {','.join(header)!r}")
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != 3:
                raise ValueError(f"{path} line {line}: expected 3 columns, got {len(row)}")
            a, b = (_value(cell, metric, unpaired, path, line) for cell in row[1:])
            if math.isnan(a) and math.isnan(b):
                raise ValueError(f"{path} line {line}: neither arm has an observation")
            arms = streams.setdefault(row[0], ([], []))
            arms[0].append(a)
            arms[1].append(b)
    if not streams:
        raise ValueError(f"{path}: no rows")
    return streams


def _value(cell: str, metric: str, unpaired: bool, path: Path, line: int) -> float:
    text = cell.strip()
    if not text:
        if unpaired:
            return math.nan
        raise ValueError(f"{path} line {line}: empty cell (use --unpaired for unpaired arms)")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{path} line {line}: not a number: {text!r}") from None
    if metric == "pass" and value not in (0.0, 1.0):
        raise ValueError(f"{path} line {line}: --metric pass needs 0 or 1, got {text}")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{path} line {line}: a score must lie in [0, 1], got {text}")
    return value
