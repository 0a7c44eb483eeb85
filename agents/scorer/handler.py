"""The scorer: score each completed trial, fold it into its experiment's statistics, and
publish the analysis — snapshots as trials arrive, then one final analysis per round.

State is one record per (experiment, round), keyed under the experiment id that keys
trial-completed, so the worker that owns the partition owns the statistics. Folding is
idempotent by trial id, so a redelivered trial never counts twice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from agents.runtime.contract import Emit, StepContext
from agents.scorer.scoring import score_response
from agents.scorer.stats import ExperimentStats, Observation
from schemas.events import AnalysisReady, ExperimentControl, TrialCompleted
from topics.catalogue import ANALYSIS_READY, EXPERIMENT_CONTROL

SNAPSHOT_EVERY = 10


@dataclass
class RoundRecord:
    """Bookkeeping beside the statistics for one experiment round."""

    expected: int
    done: int = 0
    failed: int = 0
    cost_usd: float = 0.0
    seq: int = 0
    final_sent: bool = False
    budget_exhausted: bool = False
    models: list[str] = field(default_factory=list)
    stats: dict = field(default_factory=dict)


def state_key(experiment_id: str, round_: int) -> str:
    return f"{experiment_id}#r{round_}"


async def fold_trial(event: TrialCompleted, ctx: StepContext) -> list[Emit]:
    key = state_key(event.experiment_id, event.round)
    saved = ctx.state.get(key)
    record = RoundRecord(**saved) if saved else RoundRecord(expected=event.expected_trials)
    if record.final_sent:
        return []  # the round is decided; late trials are kept by the sinks, not re-analysed
    stats = (
        ExperimentStats.from_state(record.stats) if record.stats
        else ExperimentStats.new(event.analysis)
    )
    if not stats.fold(_observation(event)):
        return []  # a redelivered trial

    record.done += 1
    record.failed += event.status != "completed"
    record.cost_usd += event.cost_usd
    if event.model not in record.models:
        record.models.append(event.model)

    emits: list[Emit] = []
    cap = event.budget.max_cost_usd
    if cap is not None and record.cost_usd >= cap and not record.budget_exhausted:
        record.budget_exhausted = True
        reason = f"budget: spent ${record.cost_usd:.4f} of ${cap:.4f}"
        emits.append(Emit(EXPERIMENT_CONTROL, ExperimentControl(
            experiment_id=event.experiment_id, command="budget-exhausted", reason=reason)))

    all_in = record.done >= record.expected
    every = getattr(ctx.services, "snapshot_every", SNAPSHOT_EVERY)
    if all_in or record.done % every == 0 or record.budget_exhausted:
        summary = stats.analyze(final=all_in)
        stopped_early = not all_in and summary.decision != "running"
        final = all_in or stopped_early
        record.seq += 1
        record.final_sent = final
        emits.append(Emit(ANALYSIS_READY, _analysis(event, record, summary, final)))
        if stopped_early:
            emits.append(Emit(EXPERIMENT_CONTROL, ExperimentControl(
                experiment_id=event.experiment_id, command="stop", reason=summary.reason)))

    record.stats = stats.to_state()
    ctx.state[key] = asdict(record)
    return emits


def _observation(event: TrialCompleted) -> Observation:
    value: float | None = None
    if event.status == "completed" and event.response is not None:
        score = score_response(event.test_case, event.response)
        value = float(score.passed) if event.analysis.metric == "pass" else score.value
    return Observation(
        trial_id=event.trial_id,
        variation_id=event.variation.variation_id,
        variation_name=event.variation.name,
        is_control=event.variation.is_control,
        patterns=event.variation.patterns,
        cell=f"{event.test_case.id}|{event.model}|{event.repetition}",
        model=event.model,
        value=value,
        cost_usd=event.cost_usd,
    )


def _analysis(event: TrialCompleted, record: RoundRecord, summary, final: bool) -> AnalysisReady:
    return AnalysisReady(
        experiment_id=event.experiment_id,
        round=event.round,
        final=final,
        seq=record.seq,
        trials_expected=record.expected,
        trials_done=record.done,
        trials_failed=record.failed,
        cost_usd=record.cost_usd,
        budget_exhausted=record.budget_exhausted,
        metric=event.analysis.metric,
        alpha=event.analysis.alpha,
        correction=event.analysis.correction,
        variations=tuple(summary.variations),
        srm_p_value=summary.srm_p_value,
        decision=summary.decision,
        winner_id=summary.winner_id,
        reason=summary.reason,
        additional_samples_needed=summary.additional_samples_needed,
        domain=event.domain,
        models=tuple(record.models),
    )
