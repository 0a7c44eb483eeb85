"""PostgreSQL sink (asyncpg): optimizations, variations, A/B tests and their analyses.

Idempotent by construction: records are inserted ON CONFLICT DO NOTHING, and a test's
analysis is only replaced by one with a higher `seq`, and never after it is final.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import asyncpg

from agents.patterns.learning import outcomes_from_analysis
from agents.runtime.failures import ServiceNotReady
from agents.sinks.migrate import migrate
from schemas.events import AnalysisReady, Event, PromptSubmitted, VariationGenerated
from topics.catalogue import ANALYSIS_READY, PROMPT_SUBMITTED, VARIATION_GENERATED, Topic

INSERT_OPTIMIZATION = """
INSERT INTO optimizations (id, name, prompt, system, domain, goals, models, spec,
                           submitted_by, submitted_at, team_id, user_id, metadata)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $9, $12::jsonb)
ON CONFLICT (id) DO NOTHING
"""
INSERT_VARIATION = """
INSERT INTO optimization_variations (id, optimization_id, round, name, prompt, system,
    is_control, patterns, rewrites, rationale, predicted_score, created_at, team_id, user_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
ON CONFLICT (id) DO NOTHING
"""
INSERT_TEST = """
INSERT INTO ab_tests (id, optimization_id, round, metric, alpha, correction, started_at,
                      team_id, user_id, name, description, sample_size)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (id) DO NOTHING
"""
MARK_RUNNING = "UPDATE optimizations SET status = 'running' WHERE id = $1 AND status = 'submitted'"
UPDATE_TEST = """
UPDATE ab_tests SET status = $2, decision = $3, winner_variation_id = $4, reason = $5,
    trials_expected = $6, trials_done = $7, trials_failed = $8, cost_usd = $9,
    budget_exhausted = $10, srm_p_value = $11, seq = $12, statistical_significance = $14,
    completed_at = CASE WHEN $2 = 'completed' THEN $13::timestamptz ELSE NULL END
WHERE id = $1 AND status <> 'completed' AND seq < $12
RETURNING id
"""
UPSERT_TEST_VARIATION = """
INSERT INTO test_variations (test_id, variation_id, is_control, n, n_failed, mean, ci_low,
    ci_high, test, p_value, p_adjusted, p_always_valid, lift, lift_ci_low, lift_ci_high,
    p_best, expected_loss, cost_usd, seq, team_id, user_id, variation_name, prompt_text, models)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
        $20, $21, $22, (SELECT prompt FROM optimization_variations WHERE id = $2), $23)
ON CONFLICT (test_id, variation_id) DO UPDATE SET
    n = EXCLUDED.n, n_failed = EXCLUDED.n_failed, mean = EXCLUDED.mean,
    ci_low = EXCLUDED.ci_low, ci_high = EXCLUDED.ci_high, test = EXCLUDED.test,
    p_value = EXCLUDED.p_value, p_adjusted = EXCLUDED.p_adjusted,
    p_always_valid = EXCLUDED.p_always_valid, lift = EXCLUDED.lift,
    lift_ci_low = EXCLUDED.lift_ci_low, lift_ci_high = EXCLUDED.lift_ci_high,
    p_best = EXCLUDED.p_best, expected_loss = EXCLUDED.expected_loss,
    cost_usd = EXCLUDED.cost_usd, seq = EXCLUDED.seq
WHERE test_variations.seq < EXCLUDED.seq
"""
INSERT_ANALYSIS = """
INSERT INTO analyses (experiment_id, round, seq, final, payload, created_at, team_id, user_id)
VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8)
ON CONFLICT DO NOTHING
"""
COMPLETE_OPTIMIZATION = """
UPDATE optimizations SET status = 'completed', completed_at = $2,
    best_variation_id = $3, best_score = $4, improvement = $5, confidence_score = $6
WHERE id = $1 AND (completed_at IS NULL OR completed_at < $2)
"""
OWNER = "SELECT team_id, user_id FROM optimizations WHERE id = $1"
INSERT_PATTERN_OUTCOME = """
INSERT INTO pattern_outcomes (experiment_id, round, variation_id, pattern_id, domain, model,
    success, team_id, user_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT DO NOTHING
"""


class PostgresSink:
    name = "sink.postgres"
    topics = (PROMPT_SUBMITTED, VARIATION_GENERATED, ANALYSIS_READY)

    def __init__(self, dsn: str, pool: asyncpg.Pool | None = None) -> None:
        self._dsn = dsn
        self._pool = pool

    async def open(self) -> None:
        """Apply pending migrations (serialised by an advisory lock), then pool connections;
        the runtimes retry this while PostgreSQL is down."""
        if self._pool is None:
            await migrate(self._dsn)
            self._pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=4)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def write(self, topic: Topic, events: Sequence[Event]) -> None:
        if self._pool is None:
            raise ServiceNotReady(f"{self.name} is not open")
        async with self._pool.acquire() as conn, conn.transaction():
            for event in events:
                match event:
                    case PromptSubmitted():
                        await write_submission(conn, event)
                    case VariationGenerated():
                        await _write_variations(conn, event)
                    case AnalysisReady():
                        await _write_analysis(conn, event)


async def write_submission(conn: asyncpg.Connection, event: PromptSubmitted) -> None:
    spec = event.spec
    await conn.execute(
        INSERT_OPTIMIZATION, event.experiment_id, spec.name, spec.prompt, spec.system,
        spec.domain, list(spec.goals), [m.id for m in spec.models],
        spec.model_dump_json(), event.user_id, event.occurred_at, event.team_id,
        json.dumps({"description": spec.description, "n_variations": spec.n_variations,
                    "max_rounds": spec.max_rounds, "test_cases": len(spec.test_cases),
                    "trials_planned": spec.trials_planned()}),
    )


async def _write_variations(conn: asyncpg.Connection, event: VariationGenerated) -> None:
    # The submission may be consumed after its variations (different topics); make sure
    # the parent row exists so the variations never wait on ordering.
    await write_submission(conn, PromptSubmitted(
        experiment_id=event.experiment_id, spec=event.spec, occurred_at=event.occurred_at,
        **event.owner()))
    team_id, user_id = await _owner(conn, event)
    await conn.executemany(INSERT_VARIATION, [
        (v.variation_id, event.experiment_id, event.round, v.name, v.prompt, v.system,
         v.is_control, list(v.patterns), list(v.rewrites), v.rationale, v.predicted_score,
         event.occurred_at, team_id, user_id)
        for v in event.variations
    ])
    analysis = event.spec.analysis
    await conn.execute(
        INSERT_TEST, ab_test_id(event.experiment_id, event.round), event.experiment_id,
        event.round, analysis.metric, analysis.alpha, analysis.correction, event.occurred_at,
        team_id, user_id, event.spec.name, event.spec.description,
        event.spec.cells(event.spec.control_models),
    )
    await conn.execute(MARK_RUNNING, event.experiment_id)


async def _write_analysis(conn: asyncpg.Connection, event: AnalysisReady) -> None:
    tid = ab_test_id(event.experiment_id, event.round)
    team_id, user_id = await _owner(conn, event)
    await conn.execute(
        INSERT_ANALYSIS, event.experiment_id, event.round, event.seq, event.final,
        event.model_dump_json(), event.occurred_at, team_id, user_id,
    )
    updated = await conn.fetchval(
        UPDATE_TEST, tid, "completed" if event.final else "running", event.decision,
        event.winner_id, event.reason, event.trials_expected, event.trials_done,
        event.trials_failed, event.cost_usd, event.budget_exhausted, event.srm_p_value,
        event.seq, event.occurred_at, significance(event),
    )
    if updated is None:
        return  # an older or repeated analysis: the row already holds newer figures
    await conn.executemany(UPSERT_TEST_VARIATION, [
        (tid, v.variation_id, v.is_control, v.n, v.n_failed, v.mean, v.ci_low, v.ci_high,
         v.test, v.p_value, v.p_adjusted, v.p_always_valid, v.lift, v.lift_ci_low,
         v.lift_ci_high, v.p_best, v.expected_loss, v.cost_usd, event.seq, team_id, user_id,
         v.name, list(event.models))
        for v in event.variations
    ])
    if not event.final:
        return
    best = _best(event)
    control = next((v for v in event.variations if v.is_control), None)
    improvement = (
        best.mean - control.mean
        if best and control and best.mean is not None and control.mean is not None else None
    )
    await conn.execute(
        COMPLETE_OPTIMIZATION, event.experiment_id, event.occurred_at,
        best.variation_id if best else None, best.mean if best else None, improvement,
        best.p_best if best else None,
    )
    await conn.executemany(INSERT_PATTERN_OUTCOME, [
        (o.experiment_id, o.round, o.variation_id, o.pattern_id, o.domain, o.model, o.success,
         team_id, user_id)
        for o in outcomes_from_analysis(event)
    ])


async def _owner(conn: asyncpg.Connection, event: VariationGenerated | AnalysisReady
                 ) -> tuple[str | None, str | None]:
    """Whose work a row of this experiment is: its optimization's owner (set from the
    submission, which the API stamps) wins over what a later event says, so every row of
    an experiment is scoped to the same team; the event's owner when there is no parent."""
    row = await conn.fetchrow(OWNER, event.experiment_id)
    if row is not None and row["team_id"] is not None:
        return row["team_id"], row["user_id"]
    return event.team_id, event.user_id


def significance(event: AnalysisReady) -> float | None:
    """The seeds' statistical_significance: 1 - the smallest adjusted p-value of a variation
    against the control (None before any is computed)."""
    ps = [v.p_adjusted for v in event.variations if not v.is_control and v.p_adjusted is not None]
    return 1 - min(ps) if ps else None


def _best(event: AnalysisReady):
    if event.winner_id:
        return next((v for v in event.variations if v.variation_id == event.winner_id), None)
    return next((v for v in event.variations if v.is_control), None)


def ab_test_id(experiment_id: str, round_: int) -> str:
    return f"{experiment_id}#r{round_}"
