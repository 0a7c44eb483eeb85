"""The API's Store on PostgreSQL (asyncpg), over the tables of schemas/sql/.

The pool opens lazily, so the API starts (and /ready can say what is down) while the
database is away; connection failures become StoreUnavailable, which the API turns into 503.

Admission is one statement per request: the key (or token subject) is looked up and a
token is spent from the user's bucket (rate_limit_take, schemas/sql/002) together. So a
revoked key or token stops working at the next request on every API process, and the
limit is shared by all of them, for the one round trip the shared limit needs anyway.

Why PostgreSQL and not Redis (which the platform also runs): the key or token must be
checked in PostgreSQL on every request anyway (no cache, so revocation is immediate), and
spending from the bucket in the same statement costs nothing more; in Redis it would be a
second round trip per request, and Redis is run as a cache whose outage costs only the
cache, which a limit cannot be.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from agents.patterns.learning import stats_key
from agents.sinks.postgres import ab_test_id, write_submission
from api.store import Admission, ExperimentRef, StoreRejected, StoreUnavailable, User
from schemas.events import PromptSubmitted

USER_COLUMNS = "u.id, u.email, u.name, u.team_id, u.role, u.rate_limit_per_minute"
ADMIT_KEY = f"""
SELECT {USER_COLUMNS}, rate_limit_take('user:' || u.id, u.rate_limit_per_minute) AS wait_s
FROM api_keys k JOIN users u ON u.id = k.user_id
WHERE k.key_hash = $1 AND k.revoked_at IS NULL
"""
ADMIT_SUBJECT = f"""
SELECT {USER_COLUMNS}, rate_limit_take('user:' || u.id, u.rate_limit_per_minute) AS wait_s
FROM users u
WHERE u.id = $1
  AND (u.tokens_valid_after IS NULL OR to_timestamp($2) >= u.tokens_valid_after)
"""
# $2: the caller's team; NULL for an admin, who sees every team's work (and the unowned).
IN_SCOPE = "($2::text IS NULL OR team_id = $2)"
EXPERIMENT = f"SELECT id, status, team_id, user_id FROM optimizations WHERE id = $1 AND {IN_SCOPE}"
# Only a row nothing has built on yet: the event never reached the broker.
FORGET = "DELETE FROM optimizations WHERE id = $1 AND status = 'submitted'"
OPTIMIZATION = f"""
SELECT id, name, status, domain, goals, models, submitted_by, team_id, user_id,
       submitted_at, completed_at, best_variation_id, best_score, improvement
FROM optimizations WHERE id = $1 AND {IN_SCOPE}
"""
TESTS = f"""
SELECT id, round, status, decision, winner_variation_id, reason, metric, alpha, correction,
       trials_expected, trials_done, trials_failed, cost_usd, budget_exhausted, srm_p_value,
       seq, started_at, completed_at
FROM ab_tests WHERE optimization_id = $1 AND {IN_SCOPE} ORDER BY round
"""
VARIATIONS = """
SELECT v.id AS variation_id, v.name, v.prompt, v.system, v.is_control, v.patterns,
       v.rationale, v.predicted_score, tv.n, tv.n_failed, tv.mean, tv.ci_low, tv.ci_high,
       tv.test, tv.p_value, tv.p_adjusted, tv.p_always_valid, tv.lift, tv.lift_ci_low,
       tv.lift_ci_high, tv.p_best, tv.expected_loss, tv.cost_usd
FROM optimization_variations v
LEFT JOIN test_variations tv ON tv.variation_id = v.id AND tv.test_id = $4
WHERE v.optimization_id = $1 AND ($2::text IS NULL OR v.team_id = $2) AND v.round = $3
ORDER BY v.is_control DESC, v.created_at, v.id
"""
LATEST_ANALYSIS = f"""
SELECT payload FROM analyses WHERE experiment_id = $1 AND {IN_SCOPE} AND round = $3
ORDER BY final DESC, seq DESC LIMIT 1
"""
PATTERN_STATS = "SELECT pattern_id, domain, model, alpha, beta FROM pattern_statistics"

# Errors that mean "the database is not there (yet)", not "the query is wrong".
UNAVAILABLE = (OSError, asyncio.TimeoutError, asyncpg.PostgresConnectionError,
               asyncpg.InterfaceError, asyncpg.CannotConnectNowError,
               asyncpg.UndefinedTableError, asyncpg.UndefinedFunctionError,
               asyncpg.UndefinedColumnError)


def user_from_row(row: asyncpg.Record) -> User:
    return User(id=row["id"], email=row["email"], name=row["name"], team_id=row["team_id"],
                role=row["role"], rate_limit_per_minute=row["rate_limit_per_minute"])


class PostgresStore:
    def __init__(self, dsn: str, *, max_size: int = 8, timeout_s: float = 5.0) -> None:
        self._dsn = dsn
        self._max_size = max_size
        self._timeout_s = timeout_s
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        with contextlib.suppress(StoreUnavailable):
            await self._get_pool()

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _get_pool(self) -> asyncpg.Pool:
        async with self._lock:
            if self._pool is None:
                try:
                    self._pool = await asyncpg.create_pool(
                        self._dsn, min_size=1, max_size=self._max_size,
                        timeout=self._timeout_s, command_timeout=self._timeout_s * 2)
                except UNAVAILABLE as err:
                    raise StoreUnavailable(f"PostgreSQL unreachable: {err}") from err
            return self._pool

    @contextlib.asynccontextmanager
    async def _conn(self) -> AsyncIterator[asyncpg.Connection]:
        pool = await self._get_pool()
        try:
            async with pool.acquire(timeout=self._timeout_s) as conn:
                yield conn
        except asyncpg.DataError as err:
            raise StoreRejected(f"the database cannot store a value of this request: {err}"
                                ) from err
        except (asyncpg.UndefinedTableError, asyncpg.UndefinedFunctionError,
                asyncpg.UndefinedColumnError) as err:
            raise StoreUnavailable(f"PostgreSQL not migrated (`promptopt db migrate`): {err}"
                                   ) from err
        except UNAVAILABLE as err:
            raise StoreUnavailable(f"PostgreSQL unavailable: {err}") from err

    async def ping(self) -> None:
        async with self._conn() as conn:
            await conn.fetchval("SELECT 1")

    async def admit_key(self, key_hash: str) -> Admission | None:
        async with self._conn() as conn:
            row = await conn.fetchrow(ADMIT_KEY, key_hash)
        return Admission(user_from_row(row), float(row["wait_s"])) if row else None

    async def admit_subject(self, user_id: str, issued_at: float) -> Admission | None:
        async with self._conn() as conn:
            row = await conn.fetchrow(ADMIT_SUBJECT, user_id, float(issued_at))
        return Admission(user_from_row(row), float(row["wait_s"])) if row else None

    async def record_submission(self, event: PromptSubmitted) -> None:
        async with self._conn() as conn:
            await write_submission(conn, event)

    async def forget_submission(self, experiment_id: str) -> None:
        async with self._conn() as conn:
            await conn.execute(FORGET, experiment_id)

    async def experiment(self, experiment_id: str, team: str | None) -> ExperimentRef | None:
        async with self._conn() as conn:
            row = await conn.fetchrow(EXPERIMENT, experiment_id, team)
        return ExperimentRef(**dict(row)) if row else None

    async def test_results(self, experiment_id: str, team: str | None,
                           round_: int | None = None) -> dict[str, Any] | None:
        async with self._conn() as conn:
            optimization = await conn.fetchrow(OPTIMIZATION, experiment_id, team)
            if optimization is None:
                return None
            tests = [dict(r) for r in await conn.fetch(TESTS, experiment_id, team)]
            chosen = _choose_round(tests, round_)
            variations, analysis = [], None
            if chosen is not None:
                rows = await conn.fetch(VARIATIONS, experiment_id, team, chosen["round"],
                                        ab_test_id(experiment_id, chosen["round"]))
                variations = [dict(r) for r in rows]
                payload = await conn.fetchval(LATEST_ANALYSIS, experiment_id, team,
                                              chosen["round"])
                analysis = json.loads(payload) if payload is not None else None
        return {
            "experiment": dict(optimization),
            "rounds": [t["round"] for t in tests],
            "test": chosen,
            "variations": variations,
            "analysis": analysis,
        }

    async def pattern_stats(self) -> dict[str, dict[str, float]]:
        # Pooled over every team on purpose: counts of which pattern won where, no prompt
        # or result of any team, and the learning is worth more the more it has seen.
        async with self._conn() as conn:
            rows = await conn.fetch(PATTERN_STATS)
        return {stats_key(r["pattern_id"], r["domain"], r["model"]):
                {"alpha": float(r["alpha"]), "beta": float(r["beta"])} for r in rows}


def _choose_round(tests: list[dict[str, Any]], round_: int | None) -> dict[str, Any] | None:
    if round_ is None:
        return tests[-1] if tests else None
    return next((t for t in tests if t["round"] == round_), None)
