"""The API's Store on PostgreSQL (asyncpg), over the tables of schemas/sql/.

The pool opens lazily, so the API starts (and /ready can say what is down) while the
database is away; connection failures become StoreUnavailable, which the API turns into 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from agents.patterns.learning import stats_key
from agents.sinks.postgres import ab_test_id
from api.store import StoreUnavailable, User

USER_COLUMNS = "u.id, u.email, u.name, u.team_id, u.rate_limit_per_minute"
USER_BY_KEY = f"""
SELECT {USER_COLUMNS} FROM api_keys k JOIN users u ON u.id = k.user_id
WHERE k.key_hash = $1 AND k.revoked_at IS NULL
"""
USER_BY_ID = f"SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1"
UPSERT_USER = """
INSERT INTO users (id, email, name, rate_limit_per_minute) VALUES ($1, $2, $3, $4)
ON CONFLICT (email) DO UPDATE SET
    name = CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE users.name END,
    rate_limit_per_minute = CASE WHEN $5 THEN EXCLUDED.rate_limit_per_minute
                                 ELSE users.rate_limit_per_minute END
RETURNING id, email, name, team_id, rate_limit_per_minute
"""
INSERT_KEY = "INSERT INTO api_keys (id, user_id, key_hash, name) VALUES ($1, $2, $3, $4)"
OPTIMIZATION = """
SELECT id, name, status, domain, goals, models, submitted_by, submitted_at, completed_at,
       best_variation_id, best_score, improvement
FROM optimizations WHERE id = $1
"""
TESTS = """
SELECT id, round, status, decision, winner_variation_id, reason, metric, alpha, correction,
       trials_expected, trials_done, trials_failed, cost_usd, budget_exhausted, srm_p_value,
       seq, started_at, completed_at
FROM ab_tests WHERE optimization_id = $1 ORDER BY round
"""
VARIATIONS = """
SELECT v.id AS variation_id, v.name, v.prompt, v.system, v.is_control, v.patterns,
       v.rationale, v.predicted_score, tv.n, tv.n_failed, tv.mean, tv.ci_low, tv.ci_high,
       tv.test, tv.p_value, tv.p_adjusted, tv.p_always_valid, tv.lift, tv.lift_ci_low,
       tv.lift_ci_high, tv.p_best, tv.expected_loss, tv.cost_usd
FROM optimization_variations v
LEFT JOIN test_variations tv ON tv.variation_id = v.id AND tv.test_id = $3
WHERE v.optimization_id = $1 AND v.round = $2
ORDER BY v.is_control DESC, v.created_at, v.id
"""
LATEST_ANALYSIS = """
SELECT payload FROM analyses WHERE experiment_id = $1 AND round = $2
ORDER BY final DESC, seq DESC LIMIT 1
"""
PATTERN_STATS = "SELECT pattern_id, domain, model, alpha, beta FROM pattern_statistics"

# Errors that mean "the database is not there (yet)", not "the query is wrong".
UNAVAILABLE = (OSError, asyncio.TimeoutError, asyncpg.PostgresConnectionError,
               asyncpg.InterfaceError, asyncpg.CannotConnectNowError,
               asyncpg.UndefinedTableError)


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
        except asyncpg.UndefinedTableError as err:
            raise StoreUnavailable(f"PostgreSQL not migrated (`promptopt db migrate`): {err}"
                                   ) from err
        except UNAVAILABLE as err:
            raise StoreUnavailable(f"PostgreSQL unavailable: {err}") from err

    async def ping(self) -> None:
        async with self._conn() as conn:
            await conn.fetchval("SELECT 1")

    async def user_by_key_hash(self, key_hash: str) -> User | None:
        async with self._conn() as conn:
            row = await conn.fetchrow(USER_BY_KEY, key_hash)
        return User(**dict(row)) if row else None

    async def user_by_id(self, user_id: str) -> User | None:
        async with self._conn() as conn:
            row = await conn.fetchrow(USER_BY_ID, user_id)
        return User(**dict(row)) if row else None

    async def create_key(self, email: str, key_hash: str, *, name: str = "",
                         rate_limit_per_minute: int | None = None) -> tuple[User, str]:
        key_id = f"key_{uuid.uuid4().hex[:16]}"
        async with self._conn() as conn, conn.transaction():
            row = await conn.fetchrow(
                UPSERT_USER, f"usr_{uuid.uuid4().hex[:16]}", email, name,
                rate_limit_per_minute or 60, rate_limit_per_minute is not None)
            await conn.execute(INSERT_KEY, key_id, row["id"], key_hash, name)
        return User(**dict(row)), key_id

    async def experiment_status(self, experiment_id: str) -> str | None:
        async with self._conn() as conn:
            return await conn.fetchval("SELECT status FROM optimizations WHERE id = $1",
                                       experiment_id)

    async def test_results(self, experiment_id: str, round_: int | None = None
                           ) -> dict[str, Any] | None:
        async with self._conn() as conn:
            optimization = await conn.fetchrow(OPTIMIZATION, experiment_id)
            if optimization is None:
                return None
            tests = [dict(r) for r in await conn.fetch(TESTS, experiment_id)]
            chosen = _choose_round(tests, round_)
            variations, analysis = [], None
            if chosen is not None:
                rows = await conn.fetch(VARIATIONS, experiment_id, chosen["round"],
                                        ab_test_id(experiment_id, chosen["round"]))
                variations = [dict(r) for r in rows]
                payload = await conn.fetchval(LATEST_ANALYSIS, experiment_id, chosen["round"])
                analysis = json.loads(payload) if payload is not None else None
        return {
            "experiment": dict(optimization),
            "rounds": [t["round"] for t in tests],
            "test": chosen,
            "variations": variations,
            "analysis": analysis,
        }

    async def pattern_stats(self) -> dict[str, dict[str, float]]:
        async with self._conn() as conn:
            rows = await conn.fetch(PATTERN_STATS)
        return {stats_key(r["pattern_id"], r["domain"], r["model"]):
                {"alpha": float(r["alpha"]), "beta": float(r["beta"])} for r in rows}


def _choose_round(tests: list[dict[str, Any]], round_: int | None) -> dict[str, Any] | None:
    if round_ is None:
        return tests[-1] if tests else None
    return next((t for t in tests if t["round"] == round_), None)
