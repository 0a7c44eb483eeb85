"""schemas/sql/003_seeds_schema.sql on a database holding data written under 001 and 002:
the seeds' columns backfilled, UUIDs, CHECK constraints, the GIN and partial indexes, the
pattern library written, and success_rate following the outcomes the sink inserts."""

from __future__ import annotations

import asyncpg
import pytest

from agents.patterns.library import load_library
from agents.sinks.migrate import migrate
from tests.integration.test_tenancy_migration import scratch_dsn, write_001_data  # noqa: F401

pytestmark = pytest.mark.integration


async def columns(conn: asyncpg.Connection, table: str) -> set[str]:
    return {r["column_name"] for r in await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = $1", table)}


async def test_003_applies_to_a_database_holding_earlier_data(scratch_dsn):  # noqa: F811
    await migrate(scratch_dsn, upto="001_init")
    conn = await asyncpg.connect(scratch_dsn)
    try:
        await write_001_data(conn)
        await migrate(scratch_dsn, upto="002_tenancy")
        await conn.execute("UPDATE test_variations SET p_adjusted = 0.03 WHERE is_control")
        assert await migrate(scratch_dsn) == ["003_seeds_schema"]

        # The seeds' columns, on every table the issue lists.
        assert {"role", "preferences", "updated_at", "uuid"} <= await columns(conn, "users")
        assert {"organization", "settings", "uuid"} <= await columns(conn, "teams")
        assert {"confidence_score", "metadata", "updated_at", "user_id", "uuid"} <= \
            await columns(conn, "optimizations")
        assert {"user_id", "name", "description", "sample_size", "statistical_significance"} \
            <= await columns(conn, "ab_tests")
        assert {"variation_name", "prompt_text", "models"} <= \
            await columns(conn, "test_variations")
        assert {"success_rate", "examples", "metadata", "updated_at"} <= \
            await columns(conn, "patterns")

        # Earlier rows: a uuid each, and what could be backfilled, backfilled.
        uuids = await conn.fetch("SELECT uuid FROM optimizations")
        assert len({r["uuid"] for r in uuids}) == 3
        test = await conn.fetchrow("SELECT name FROM ab_tests WHERE id = 'exp-x#r1'")
        assert test["name"] == "n"  # the optimization's name
        row = await conn.fetchrow("SELECT variation_name, prompt_text, models FROM "
                                  "test_variations WHERE test_id = 'exp-x#r1'")
        assert (row["variation_name"], row["prompt_text"], row["models"]) == (
            "control", "p", ["sim/small"])

        # The library is written, and success_rate counts the three 001 outcomes of `role`.
        library = {p.id for p in load_library()}
        stored = {r["id"]: r for r in await conn.fetch("SELECT * FROM patterns")}
        assert library <= set(stored)
        role = stored["role"]
        assert (role["trials"], role["successes"]) == (3, 3)
        assert role["success_rate"] == pytest.approx(4 / 5)
        assert role["use_cases"] and role["description"]

        # A new outcome moves it; the same outcome again (a replay) does not.
        insert = ("INSERT INTO pattern_outcomes (experiment_id, round, variation_id, "
                  "pattern_id, domain, model, success) VALUES ('exp-new', 1, 'exp-new-v1', "
                  "'role', 'general', 'sim/small', false) ON CONFLICT DO NOTHING")
        await conn.execute(insert)
        await conn.execute(insert)
        rate = await conn.fetchval("SELECT success_rate FROM patterns WHERE id = 'role'")
        assert rate == pytest.approx(4 / 6)

        # CHECK constraints refuse what the product never writes.
        for bad in ("UPDATE optimizations SET status = 'exploded' WHERE id = 'exp-x'",
                    "UPDATE optimizations SET confidence_score = 2 WHERE id = 'exp-x'",
                    "UPDATE optimizations SET goals = '{virality}' WHERE id = 'exp-x'",
                    "UPDATE ab_tests SET decision = 'maybe' WHERE id = 'exp-x#r1'",
                    "UPDATE test_variations SET p_value = 1.5 WHERE test_id = 'exp-x#r1'",
                    "UPDATE patterns SET success_rate = -0.1 WHERE id = 'role'"):
            with pytest.raises(asyncpg.CheckViolationError):
                await conn.execute(bad)

        # updated_at is the database's to keep.
        before = await conn.fetchval("SELECT updated_at FROM ab_tests WHERE id = 'exp-x#r1'")
        await conn.execute("UPDATE ab_tests SET reason = 'r' WHERE id = 'exp-x#r1'")
        assert await conn.fetchval(
            "SELECT updated_at FROM ab_tests WHERE id = 'exp-x#r1'") > before

        indexes = {r["indexname"]: r["indexdef"] for r in await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'")}
        assert "USING gin (goals)" in indexes["optimizations_goals"]
        assert "WHERE" in indexes["optimizations_open"]
        assert "WHERE (status = 'running'" in indexes["ab_tests_running"]
        # Once: nothing more to apply, and the library is not written twice.
        assert await migrate(scratch_dsn) == []
        assert await conn.fetchval("SELECT count(*) FROM patterns") == len(stored)
    finally:
        await conn.close()


async def test_a_goal_query_uses_the_gin_index(scratch_dsn):  # noqa: F811
    await migrate(scratch_dsn)
    conn = await asyncpg.connect(scratch_dsn)
    try:
        await conn.execute(
            "INSERT INTO optimizations (id, name, prompt, domain, goals, models, spec, "
            "submitted_at, status) SELECT 'e' || i, 'n', 'p', 'g', CASE WHEN i % 100 = 0 "
            "THEN '{creativity}'::text[] ELSE '{clarity}'::text[] END, '{}', '{}', now(), "
            "CASE WHEN i % 50 = 0 THEN 'running' ELSE 'completed' END "
            "FROM generate_series(1, 20000) i")
        await conn.execute("ANALYZE optimizations")
        plan = "\n".join(r[0] for r in await conn.fetch(
            "EXPLAIN SELECT id FROM optimizations WHERE goals @> '{creativity}'"))
        assert "optimizations_goals" in plan, plan
        plan = "\n".join(r[0] for r in await conn.fetch(
            "EXPLAIN SELECT id FROM optimizations WHERE status IN ('submitted', 'running') "
            "ORDER BY submitted_at DESC LIMIT 20"))
        assert "optimizations_open" in plan, plan
    finally:
        await conn.close()
