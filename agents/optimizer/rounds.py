"""Rounds: what the optimizer remembers about an experiment between its rounds, and whether
to start another one after a final analysis.

The memory lives in the optimizer's own partitioned table ("optimizer-rounds") under
"round:<experiment id>". Its two steps consume prompt-submitted and analysis-ready, both
keyed by experiment id with the same partition count, so the table is co-partitioned with
both: the worker that generated a round is the one that reads its final analysis. It holds
only in-flight multi-round experiments and is deleted when the last round is decided.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schemas.events import AnalysisReady, VariationResult
from schemas.experiment import ExperimentSpec, Variation


def memory_key(experiment_id: str) -> str:
    return f"round:{experiment_id}"


def remember_round(
    state: Any, experiment_id: str, spec: ExperimentSpec, round_: int,
    variations: list[Variation], history: list[dict[str, Any]] | None = None,
    trials_used: int = 0, cost_usd: float = 0.0,
) -> None:
    """trials_used: trials requested by this round and the ones before it."""
    state[memory_key(experiment_id)] = {
        "spec": spec.model_dump(mode="json"),
        "round": round_,
        "variations": [v.model_dump(mode="json") for v in variations],
        "history": history or [],
        "trials_used": trials_used,
        "cost_usd": cost_usd,
    }


@dataclass(frozen=True)
class Memory:
    spec: ExperimentSpec
    round: int
    variations: list[Variation]
    history: list[dict[str, Any]]  # every earlier candidate with its measured mean
    trials_used: int
    cost_usd: float

    @classmethod
    def read(cls, state: Mapping[str, Any], experiment_id: str) -> Memory | None:
        raw = state.get(memory_key(experiment_id))
        if not raw:
            return None
        return cls(
            spec=ExperimentSpec.model_validate(raw["spec"]),
            round=int(raw["round"]),
            variations=[Variation.model_validate(v) for v in raw["variations"]],
            history=list(raw["history"]),
            trials_used=int(raw["trials_used"]),
            cost_usd=float(raw["cost_usd"]),
        )


def measured_best(analysis: AnalysisReady) -> VariationResult | None:
    """The significant winner if there is one, else the highest measured mean (the control
    on ties, so a round of noise does not move the base)."""
    if analysis.decision == "winner" and analysis.winner_id:
        for v in analysis.variations:
            if v.variation_id == analysis.winner_id:
                return v
    measured = [v for v in analysis.variations if v.mean is not None]
    if not measured:
        return None
    return max(measured, key=lambda v: (v.mean, v.is_control))


@dataclass(frozen=True)
class NextRound:
    go: bool
    reason: str
    n_variations: int = 0


def decide_next_round(memory: Memory, analysis: AnalysisReady, best: VariationResult | None,
                      trials_per_variation: int) -> NextRound:
    """Another round only if the target is not met, rounds and budget remain, and the
    budget left pays for the control and at least one variation."""
    spec = memory.spec
    if best is None:
        return NextRound(False, "no variation was measured")
    if spec.target_score is not None and best.mean is not None and best.mean >= spec.target_score:
        return NextRound(False, f"target {spec.target_score} reached ({best.mean:.3f})")
    if analysis.round >= spec.max_rounds:
        return NextRound(False, f"max_rounds {spec.max_rounds} reached")
    if analysis.budget_exhausted:
        return NextRound(False, "budget exhausted")
    n = spec.n_variations
    if spec.budget.max_trials is not None:
        left = spec.budget.max_trials - memory.trials_used
        affordable = left // max(1, trials_per_variation) - 1  # minus the control
        n = min(n, affordable)
    if spec.budget.max_cost_usd is not None:
        left_usd = spec.budget.max_cost_usd - memory.cost_usd
        per_variation = analysis.cost_usd / max(1, len(analysis.variations))
        if per_variation > 0:
            n = min(n, int(left_usd // per_variation) - 1)
    if n < 1:
        return NextRound(False, "budget left does not pay for another round")
    return NextRound(True, f"best so far {best.mean:.3f} (round {analysis.round})", n)
