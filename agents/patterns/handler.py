"""The patterns steps: learn from each round's final analysis, exactly once.

Learning is two steps so that every posterior has a single writer. `learn` (partitioned
by experiment) turns a final analysis into pattern outcomes on pattern-outcome, keyed by
the posterior each one updates; `tally` (partitioned by posterior) adds them up. Two
workers finishing experiments at once thus never race on the same posterior.
"""

from __future__ import annotations

from agents.patterns.learning import apply_outcomes, outcomes_from_analysis
from agents.runtime.contract import Emit, StepContext
from schemas.events import AnalysisReady, PatternOutcomeRecorded
from topics.catalogue import PATTERN_OUTCOME


def done_key(experiment_id: str, round_: int) -> str:
    return f"done:{experiment_id}:{round_}"


async def learn(event: AnalysisReady, ctx: StepContext) -> list[Emit]:
    """Publish what a final analysis teaches about each pattern; snapshots teach nothing.

    A redelivered final analysis of a round already learned from is ignored (a marker in
    ctx.window remembers the round for settings.state_window_s); should a crash re-publish
    outcomes anyway, tally drops them.
    """
    if not event.final:
        return []
    key = done_key(event.experiment_id, event.round)
    if key in ctx.window:
        return []
    ctx.window[key] = True
    return [Emit(PATTERN_OUTCOME, outcome) for outcome in outcomes_from_analysis(event)]


async def tally(event: PatternOutcomeRecorded, ctx: StepContext) -> list[Emit]:
    """Add one outcome to its posterior in the shared pattern statistics, once."""
    seen = f"seen:{event.outcome_id}"
    if seen in ctx.window:
        return []
    apply_outcomes(ctx.shared, [event])
    ctx.window[seen] = True
    return []
