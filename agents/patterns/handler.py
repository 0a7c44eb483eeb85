"""The patterns step: learn from each round's final analysis, exactly once."""

from __future__ import annotations

from agents.patterns.learning import apply_outcomes, outcomes_from_analysis
from agents.runtime.contract import Emit, StepContext
from schemas.events import AnalysisReady


def done_key(experiment_id: str, round_: int) -> str:
    return f"done:{experiment_id}:{round_}"


async def learn(event: AnalysisReady, ctx: StepContext) -> list[Emit]:
    """Update pattern posteriors (ctx.shared) from a final analysis.

    Snapshots are ignored; a redelivered final analysis of a round already learned from is
    ignored too (ctx.state remembers the round), so at-least-once delivery never double counts.
    """
    if not event.final:
        return []
    key = done_key(event.experiment_id, event.round)
    if ctx.state.get(key):
        return []
    apply_outcomes(ctx.shared, outcomes_from_analysis(event))
    ctx.state[key] = True
    return []
