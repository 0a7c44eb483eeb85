"""What a final analysis teaches about patterns: success or failure of each pattern that
made a variation, per domain and model, and the Beta posteriors those outcomes update.

`outcomes_from_analysis` is a pure function of one AnalysisReady event, so the patterns
agent (live posteriors) and the PostgreSQL sink (outcome rows) count the same thing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.events import (
    AnalysisReady,
    PatternOutcomeRecorded,
    VariationResult,
    pattern_posterior_key,
)

SHARED_TABLE = "pattern-stats"
ANY_MODEL = "*"  # the model label when an analysis names no model


# An outcome is the event the patterns agent publishes for it (one definition of the fields).
PatternOutcome = PatternOutcomeRecorded


@dataclass(frozen=True)
class Posterior:
    """Beta(alpha, beta) over a pattern's probability of making a significant winner."""

    alpha: float = 1.0
    beta: float = 1.0

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def trials(self) -> float:
        return self.alpha + self.beta - 2.0


def stats_key(pattern_id: str, domain: str, model: str) -> str:
    return pattern_posterior_key(pattern_id, domain, model)


def is_significant_win(analysis: AnalysisReady, variation: VariationResult) -> bool:
    """Won the round, or beat the control on its own with an adjusted p below alpha."""
    if analysis.decision == "winner" and analysis.winner_id == variation.variation_id:
        return True
    return (
        variation.p_adjusted is not None
        and variation.p_adjusted < analysis.alpha
        and variation.lift is not None
        and variation.lift > 0
    )


def outcomes_from_analysis(analysis: AnalysisReady) -> list[PatternOutcome]:
    """One outcome per (non-control variation with evidence, pattern it adds to the
    control, model); [] unless final.

    A variation with no scored trial (every call failed or was skipped) taught nothing, so it
    yields no outcome rather than a failure.
    """
    if not analysis.final:
        return []
    models = analysis.models or (ANY_MODEL,)
    # A variation is judged against the control, so patterns the control already has (in
    # later rounds, those of the previous best) cannot be what made the difference.
    inherited = {p for v in analysis.variations if v.is_control for p in v.patterns}
    outcomes: list[PatternOutcome] = []
    for variation in analysis.variations:
        if variation.is_control or variation.n == 0 or variation.mean is None:
            continue
        success = is_significant_win(analysis, variation)
        for pattern_id in dict.fromkeys(variation.patterns):  # unique, order kept
            if pattern_id in inherited:
                continue
            for model in models:
                outcomes.append(PatternOutcome(
                    experiment_id=analysis.experiment_id,
                    round=analysis.round,
                    variation_id=variation.variation_id,
                    pattern_id=pattern_id,
                    domain=analysis.domain,
                    model=model,
                    success=success,
                    **analysis.owner(),
                ))
    return outcomes


def read_posterior(
    shared: Mapping[str, Any], pattern_id: str, domain: str, model: str
) -> Posterior:
    raw = shared.get(stats_key(pattern_id, domain, model))
    if not raw:
        return Posterior()
    return Posterior(float(raw["alpha"]), float(raw["beta"]))


def pooled_posterior(
    shared: Mapping[str, Any], pattern_id: str, domain: str, models: Iterable[str]
) -> Posterior:
    """One posterior over several target models: the Beta(1,1) prior plus every model's
    evidence (a prompt is tried on all of an experiment's models at once)."""
    alpha, beta = 1.0, 1.0
    for model in dict.fromkeys(models):
        p = read_posterior(shared, pattern_id, domain, model)
        alpha += p.alpha - 1.0
        beta += p.beta - 1.0
    return Posterior(alpha, beta)


def apply_outcomes(shared: MutableMapping[str, Any], outcomes: Iterable[PatternOutcome]) -> None:
    """Add each outcome to its posterior (conjugate update: +1 to alpha or beta)."""
    for o in outcomes:
        key = stats_key(o.pattern_id, o.domain, o.model)
        p = read_posterior(shared, o.pattern_id, o.domain, o.model)
        shared[key] = {
            "alpha": p.alpha + (1.0 if o.success else 0.0),
            "beta": p.beta + (0.0 if o.success else 1.0),
        }


def read_stats_file(path: Path) -> dict[str, Any]:
    """Pattern statistics saved as JSON (as `promptopt run` keeps them); ValueError if not."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read pattern statistics {path}: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object of pattern statistics")
    return data


def posteriors(shared: Mapping[str, Any]) -> dict[tuple[str, str, str], Posterior]:
    """Every posterior in the table, by (pattern, domain, model)."""
    found: dict[tuple[str, str, str], Posterior] = {}
    for key, raw in shared.items():
        if not key.startswith("pattern:") or not raw:
            continue
        pattern_id, domain, model = key.removeprefix("pattern:").split("|", 2)
        found[(pattern_id, domain, model)] = Posterior(float(raw["alpha"]), float(raw["beta"]))
    return found
