"""The scorer: fold each graded trial (trial-scored, from scorer.grade) into its
experiment's statistics, and publish the analysis — snapshots as trials arrive, then one
final analysis per round.

State, all under keys derived from the experiment id that keys trial-completed (so the
worker owning the partition owns the statistics):
- one small RoundRecord per (experiment, round): counts, cost, snapshot number;
- one entry per folded trial (its Observation and its arrival number). Writing it is O(1),
  and its presence is what makes folding idempotent: a redelivered trial finds its entry
  and is ignored. The rebuild refolds in arrival order (a state store may iterate keys
  sorted), so the anytime-valid sequences see the same path after a restart.
The live ExperimentStats is a cache in the process, rebuilt from the trial entries when
missing or behind (after a restart, or when the partition was owned by another worker).
When a round is final its trial entries are deleted; the record remembers it is final and
counts the trials still in flight (late). Once every expected trial has arrived the round
is over: the record and the late markers go too, and a marker in the windowed state
(ctx.window) makes any later redelivery of the round a no-op. Nothing of a round is kept
beyond that window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agents.runtime.contract import Emit, StepContext
from agents.scorer.grade import GradeServices
from agents.scorer.stats import AnalysisSummary, ExperimentStats, Observation
from schemas.events import AnalysisReady, ExperimentControl, TrialScored
from schemas.experiment import AnalysisConfig
from topics.catalogue import ANALYSIS_READY, EXPERIMENT_CONTROL

SNAPSHOT_EVERY = 10


@dataclass
class ScorerServices:
    snapshot_every: int = SNAPSHOT_EVERY
    live: dict[str, ExperimentStats] = field(default_factory=dict)
    grade: GradeServices | None = None  # the judges of scorer.grade


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
    # Trials that completed after the round was decided (in flight at an early stop):
    # not analysed, but what they cost was spent.
    late: int = 0
    late_cost_usd: float = 0.0

    def to_state(self) -> dict[str, Any]:
        """The record as a state value (RoundRecord(**value) reads it back)."""
        return {**vars(self), "models": list(self.models)}


def round_key(experiment_id: str, round_: int) -> str:
    return f"{experiment_id}#r{round_}"


def trial_key(round_key_: str, trial_id: str) -> str:
    return f"{round_key_}|trial|{trial_id}"


async def fold_trial(event: TrialScored, ctx: StepContext) -> list[Emit]:
    trial = event.trial.trial
    key = round_key(trial.experiment_id, trial.round)
    if key in ctx.window:
        return []  # the round is over: every one of its trials arrived before this copy
    saved = ctx.state.get(key)
    record = RoundRecord(**saved) if saved else RoundRecord(expected=trial.expected_trials)
    entry = trial_key(key, trial.trial_id)
    marker = ctx.state.get(entry)
    if marker is not None and not _record_lags(record, marker):
        return []  # a redelivered trial
    if record.final_sent:
        # The round is decided; a late trial is not re-analysed, but its cost counts (its
        # marker makes a redelivery count once).
        ctx.state[entry] = {"late": True}
        record.late += 1
        record.late_cost_usd += event.cost_usd
        if record.done + record.late >= record.expected:
            _end_round(ctx, key)
        else:
            ctx.state[key] = record.to_state()
        return []

    services: ScorerServices = ctx.services or ScorerServices()
    if marker is not None:
        services.live.pop(key, None)  # rebuilt from the entries, which count the trial
    stats = _live_stats(services, ctx.state, key, record, trial.analysis)
    looked = False
    if marker is None:
        observation = _observation(event)
        looks_before = stats.looks_taken
        stats.fold(observation)
        looked = stats.looks_taken != looks_before  # a planned group-sequential look
        # A shallow copy (dataclasses.asdict copies recursively: ~20 us a trial, for flat
        # records of strings and numbers).
        failed = event.trial.status != "completed"
        ctx.state[entry] = {**vars(observation), "order": record.done, "failed": failed,
                            "model_id": trial.model.id}
        _count(record, event.cost_usd, failed, trial.model.id)
    # else: the record lagged its trial's entry; _live_stats has counted the trial now

    emits: list[Emit] = []
    cap = trial.budget.max_cost_usd
    if cap is not None and record.cost_usd >= cap and not record.budget_exhausted:
        record.budget_exhausted = True
        reason = f"budget: spent ${record.cost_usd:.4f} of ${cap:.4f}"
        emits.append(Emit(EXPERIMENT_CONTROL, ExperimentControl(
            experiment_id=trial.experiment_id, command="budget-exhausted", reason=reason,
            **trial.owner())))

    all_in = record.done >= record.expected
    if all_in or snapshot_due(record.done, services.snapshot_every) or emits or looked:
        summary = stats.analyze(final=all_in)
        stopped_early = not all_in and summary.decision != "running"
        record.seq += 1
        record.final_sent = all_in or stopped_early
        emits.append(Emit(ANALYSIS_READY, _analysis(event, record, summary)))
        if stopped_early:
            # This round is decided; a next round of the same experiment must still run.
            emits.append(Emit(EXPERIMENT_CONTROL, ExperimentControl(
                experiment_id=trial.experiment_id, command="stop", reason=summary.reason,
                round=trial.round, **trial.owner())))
        if record.final_sent:
            _forget_trials(services, ctx.state, key)
            if all_in:
                _end_round(ctx, key)
                return emits

    ctx.state[key] = record.to_state()
    return emits


def _end_round(ctx: StepContext, key: str) -> None:
    """Every trial of the round has arrived: nothing of it stays in the state."""
    prefix = trial_key(key, "")
    for name in [name for name in list(ctx.state.keys()) if name.startswith(prefix)]:
        del ctx.state[name]
    ctx.state.pop(key, None)
    ctx.window[key] = True


def snapshot_due(done: int, every: int) -> bool:
    """A snapshot after every `every` trials while a round is small, then after every ~5 %
    more: a snapshot costs an analysis (tests, intervals, P(best) draws), which at every 10
    trials of a 10,000-trial round costs more CPU than the LLM calls; this way a round
    gets O(log n) snapshots (~130 for 10,000) and a dashboard still moves every 5 %."""
    step = every * max(1, done // (20 * every))
    return done % step == 0


def _live_stats(services: ScorerServices, state: Any, key: str, record: RoundRecord,
                config: AnalysisConfig) -> ExperimentStats:
    stats = services.live.get(key)
    if stats is not None and stats.n_folded == record.done:
        return stats
    stats = ExperimentStats(config, planned_trials=record.expected)
    prefix = trial_key(key, "")
    entries = [value for name, value in list(state.items()) if name.startswith(prefix)]
    for value in sorted(entries, key=lambda v: v.get("order", 0)):
        fields = {k: v for k, v in value.items() if k not in _ENTRY_ONLY}
        stats.fold(Observation(**{**fields, "patterns": tuple(fields["patterns"])}))
        if _record_lags(record, value):
            _count(record, value["cost_usd"], value["failed"], value["model_id"])
    services.live[key] = stats
    return stats


_ENTRY_ONLY = ("order", "failed", "model_id")  # a trial entry's fields beside its Observation


def _record_lags(record: RoundRecord, marker: dict[str, Any]) -> bool:
    """A trial's entry and its round's record are two writes to the changelog, entry first.
    A kill -9 between them (test_worker_crash in one fresh-clone CI run) left the entry of
    the round's 11th trial without the record that counts it: the restarted worker took the
    trial for a redelivery and the round stopped at 59 of 60. An entry whose order is not
    below the record's count is such a trial; it is counted from its entry."""
    order = marker.get("order")
    return order is not None and order >= record.done and "model_id" in marker


def _count(record: RoundRecord, cost_usd: float, failed: bool, model: str) -> None:
    record.done += 1
    record.failed += failed
    record.cost_usd += cost_usd
    if model not in record.models:
        record.models.append(model)


def _forget_trials(services: ScorerServices, state: Any, key: str) -> None:
    services.live.pop(key, None)
    prefix = trial_key(key, "")
    for name in [name for name in list(state.keys()) if name.startswith(prefix)]:
        del state[name]


def _observation(event: TrialScored) -> Observation:
    trial = event.trial.trial
    value: float | None = None
    if event.score is not None:
        value = float(bool(event.passed)) if trial.analysis.metric == "pass" else event.score
    return Observation(
        trial_id=trial.trial_id,
        variation_id=trial.variation.variation_id,
        variation_name=trial.variation.name,
        is_control=trial.variation.is_control,
        patterns=trial.variation.patterns,
        # the model's key: the same model twice with different options is two cells
        cell=f"{trial.test_case.id}|{trial.model.key}|{trial.repetition}",
        model=trial.model.key,
        value=value,
        cost_usd=event.cost_usd,
    )


def _analysis(event: TrialScored, record: RoundRecord, summary: AnalysisSummary
              ) -> AnalysisReady:
    trial = event.trial.trial
    return AnalysisReady(
        **trial.owner(),
        experiment_id=trial.experiment_id,
        round=trial.round,
        final=record.final_sent,
        seq=record.seq,
        trials_expected=record.expected,
        trials_done=record.done,
        trials_failed=record.failed,
        cost_usd=record.cost_usd,
        budget_exhausted=record.budget_exhausted,
        metric=trial.analysis.metric,
        alpha=trial.analysis.alpha,
        correction=trial.analysis.correction,
        variations=tuple(summary.variations),
        srm_p_value=summary.srm_p_value,
        decision=summary.decision,
        winner_id=summary.winner_id,
        reason=summary.reason,
        additional_samples_needed=summary.additional_samples_needed,
        design=summary.design,
        family_size=summary.family_size,
        cs_level=summary.cs_level,
        min_effect=trial.analysis.min_effect,
        warnings=summary.warnings,
        domain=trial.domain,
        models=tuple(record.models),
    )
