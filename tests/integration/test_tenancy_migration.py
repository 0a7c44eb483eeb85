"""schemas/sql/002_tenancy.sql on a database holding data written under 001, and the
scoping queries and shared rate limit it serves, on the real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from agents.sinks.migrate import migrate
from api.postgres_store import PostgresStore

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def scratch_dsn(settings) -> AsyncIterator[str]:
    """A database of its own, dropped afterwards."""
    name = f"promptopt_mig_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(settings.postgres_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield settings.postgres_dsn.rsplit("/", 1)[0] + "/" + name
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def write_001_data(conn: asyncpg.Connection) -> None:
    """What a deployment on 001 holds: a team with a user, a user without a team, their
    experiments (one run to its analysis), and one published straight to Kafka (no user)."""
    await conn.execute("INSERT INTO teams (id, name) VALUES ('team_x', 'x')")
    await conn.execute("""INSERT INTO users (id, email, team_id) VALUES
        ('usr_x', 'x@example.com', 'team_x'), ('usr_loose', 'loose@example.com', NULL)""")
    await conn.execute("INSERT INTO api_keys (id, user_id, key_hash) VALUES "
                       "('key_1', 'usr_loose', 'hash-of-loose')")
    for eid, who in (("exp-x", "usr_x"), ("exp-loose", "usr_loose"), ("exp-anon", None)):
        await conn.execute(
            "INSERT INTO optimizations (id, name, prompt, domain, goals, models, spec, "
            "submitted_by, submitted_at) VALUES ($1, 'n', 'p', 'general', '{clarity}', "
            "'{sim/small}', '{}', $2, $3)", eid, who, T0)
        await conn.execute(
            "INSERT INTO optimization_variations (id, optimization_id, round, name, prompt, "
            "is_control, patterns, rewrites, rationale, created_at) "
            "VALUES ($1, $2, 1, 'control', 'p', true, '{}', '{}', '', $3)", f"{eid}-v0", eid, T0)
        await conn.execute("INSERT INTO ab_tests (id, optimization_id, round, started_at) "
                           "VALUES ($1, $2, 1, $3)", f"{eid}#r1", eid, T0)
        await conn.execute(
            "INSERT INTO test_variations (test_id, variation_id, is_control, n, n_failed, "
            "seq) VALUES ($1, $2, true, 4, 0, 1)", f"{eid}#r1", f"{eid}-v0")
        await conn.execute(
            "INSERT INTO analyses (experiment_id, round, seq, final, payload, created_at) "
            "VALUES ($1, 1, 1, true, $2, $3)", eid, json.dumps({"final": True}), T0)
        await conn.execute(
            "INSERT INTO pattern_outcomes (experiment_id, round, variation_id, pattern_id, "
            "domain, model, success) VALUES ($1, 1, $2, 'role', 'general', 'sim/small', true)",
            eid, f"{eid}-v0")


OWNED = ("optimization_variations", "ab_tests", "test_variations", "analyses",
         "pattern_outcomes")


async def test_002_applies_to_a_database_holding_001_data(scratch_dsn):
    assert await migrate(scratch_dsn, upto="001_init") == ["001_init"]
    conn = await asyncpg.connect(scratch_dsn)
    try:
        await write_001_data(conn)
        assert await migrate(scratch_dsn, upto="002_tenancy") == ["002_tenancy"]

        users = {r["id"]: dict(r) for r in await conn.fetch(
            "SELECT u.id, u.role, t.name AS team FROM users u JOIN teams t ON t.id = u.team_id")}
        assert users == {"usr_x": {"id": "usr_x", "role": "member", "team": "x"},
                         "usr_loose": {"id": "usr_loose", "role": "member", "team": "default"}}
        with pytest.raises(asyncpg.NotNullViolationError):
            await conn.execute("INSERT INTO users (id, email) VALUES ('u3', 'u3@example.com')")
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute("UPDATE users SET role = 'owner' WHERE id = 'usr_x'")

        owners = {r["id"]: (r["team_id"], r["user_id"]) for r in await conn.fetch(
            "SELECT id, team_id, user_id FROM optimizations")}
        assert owners == {"exp-x": ("team_x", "usr_x"),
                          "exp-loose": ("team_default", "usr_loose"),
                          "exp-anon": (None, None)}  # nobody's: only an admin sees it
        for table in OWNED:
            rows = await conn.fetch(f"SELECT team_id, user_id FROM {table} ORDER BY team_id")
            assert sorted((r["team_id"] or "", r["user_id"] or "") for r in rows) == [
                ("", ""), ("team_default", "usr_loose"), ("team_x", "usr_x")], table
        indexes = {r["indexname"] for r in await conn.fetch(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
        assert {"optimizations_by_team", "ab_tests_by_team", "analyses_by_team",
                "optimization_variations_by_team", "test_variations_by_team"} <= indexes
        # Applied once: a second run has nothing to do.
        assert await migrate(scratch_dsn, upto="002_tenancy") == []
    finally:
        await conn.close()

    store = PostgresStore(scratch_dsn)
    try:
        assert (await store.test_results("exp-x", "team_x"))["analysis"] == {"final": True}
        assert await store.test_results("exp-x", "team_default") is None
        assert await store.experiment("exp-anon", "team_x") is None
        assert (await store.experiment("exp-anon", None)).status == "submitted"  # an admin
        admitted = await store.admit_key("hash-of-loose")
        assert admitted.user.team_id == "team_default" and admitted.wait_s == 0
    finally:
        await store.close()


async def test_the_scoping_queries_use_the_team_indexes(scratch_dsn):
    await migrate(scratch_dsn, upto="002_tenancy")
    conn = await asyncpg.connect(scratch_dsn)
    try:
        await conn.execute("INSERT INTO teams (id, name) SELECT 't' || i, 'team ' || i "
                           "FROM generate_series(1, 50) i")
        await conn.execute(
            "INSERT INTO optimizations (id, name, prompt, domain, goals, models, spec, "
            "submitted_at, team_id) SELECT 'e' || i, 'n', 'p', 'g', '{}', '{}', '{}', "
            "now() - i * interval '1 minute', 't' || (i % 50 + 1) "
            "FROM generate_series(1, 20000) i")
        await conn.execute("ANALYZE optimizations")
        plan = "\n".join(r[0] for r in await conn.fetch(
            "EXPLAIN SELECT id FROM optimizations WHERE team_id = 't7' "
            "ORDER BY submitted_at DESC LIMIT 20"))
        assert "optimizations_by_team" in plan, plan
    finally:
        await conn.close()


async def test_rate_limit_take_is_one_bucket_whatever_the_concurrency(scratch_dsn):
    await migrate(scratch_dsn, upto="002_tenancy")
    pool = await asyncpg.create_pool(scratch_dsn, min_size=8, max_size=8)
    try:
        async def take() -> float:
            return await pool.fetchval("SELECT rate_limit_take('user:u', 10)")

        waits = await asyncio.gather(*(take() for _ in range(40)))
        assert sum(w == 0 for w in waits) == 10  # exactly the burst, however interleaved
        assert all(0 < w <= 6.0 for w in waits if w)  # one token per 60/10 s
        assert await pool.fetchval("SELECT rate_limit_take('user:other', 10)") == 0
        assert await pool.fetchval("SELECT rate_limit_take('user:u', 0)") == 0  # unlimited
    finally:
        await pool.close()
