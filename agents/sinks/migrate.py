"""Apply schemas/sql/*.sql in order, once each, under an advisory lock."""

from __future__ import annotations

from importlib import resources

import asyncpg

LOCK_ID = 0x70726F6D  # any constant: serialises concurrent `db migrate` runs

CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def migration_files() -> list[tuple[str, str]]:
    folder = resources.files("schemas.sql")
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")),
                   key=lambda f: f.name)
    return [(f.name.removesuffix(".sql"), f.read_text()) for f in files]


async def migrate(dsn: str, *, upto: str | None = None) -> list[str]:
    """Apply pending migrations (only those up to version `upto`, when given: a test of a
    later migration on data of an earlier schema); returns the versions applied."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", LOCK_ID)
        await conn.execute(CREATE_LEDGER)
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        applied = []
        for version, sql in migration_files():
            if version in done or (upto is not None and version > upto):
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
            applied.append(version)
        if await conn.fetchval("SELECT to_regclass('patterns') IS NOT NULL AND EXISTS ("
                               "SELECT 1 FROM information_schema.columns WHERE "
                               "table_name = 'patterns' AND column_name = 'success_rate')"):
            await write_pattern_library(conn)
        return applied
    finally:
        await conn.close()


UPSERT_PATTERN = """
INSERT INTO patterns (id, name, type, description, template, use_cases, goals, examples,
                      metadata)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb)
ON CONFLICT (id) DO UPDATE SET
    name = EXCLUDED.name, type = EXCLUDED.type, description = EXCLUDED.description,
    template = EXCLUDED.template, use_cases = EXCLUDED.use_cases, goals = EXCLUDED.goals,
    examples = EXCLUDED.examples, metadata = EXCLUDED.metadata
WHERE (patterns.name, patterns.type, patterns.description, patterns.template,
       patterns.use_cases, patterns.goals, patterns.examples, patterns.metadata)
    IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.type, EXCLUDED.description, EXCLUDED.template,
                      EXCLUDED.use_cases, EXCLUDED.goals, EXCLUDED.examples, EXCLUDED.metadata)
"""


# The counts from every outcome so far: what the trigger has kept since 003, and the outcomes
# of patterns whose row did not exist yet (003 applied before the library was written).
RECOUNT_PATTERNS = """
UPDATE patterns p SET trials = s.n, successes = s.k,
    success_rate = (1 + s.k)::double precision / (2 + s.n)
FROM (SELECT pattern_id, count(*) AS n, count(*) FILTER (WHERE success) AS k
      FROM pattern_outcomes GROUP BY pattern_id) s
WHERE p.id = s.pattern_id AND (p.trials, p.successes) IS DISTINCT FROM (s.n, s.k)
"""


async def write_pattern_library(conn: asyncpg.Connection) -> None:
    """The seeded pattern library (agents/patterns/library.yaml) as rows of `patterns`, so
    the database has the library the agents use; success_rate and its counts are the
    database's own (a trigger on pattern_outcomes keeps them), never overwritten here."""
    import json

    from agents.patterns.library import load_library

    await conn.executemany(UPSERT_PATTERN, [
        (p.id, p.name, p.type, p.description, p.template, list(p.use_cases), list(p.goals),
         json.dumps([dict(e) for e in p.examples]),
         json.dumps({"group": p.group, "target": p.target, "transform": p.transform,
                     "domains": list(p.domains), "models": list(p.models),
                     "placeholders": p.placeholders, "source": "library"}))
        for p in load_library()
    ])
    await conn.execute(RECOUNT_PATTERNS)
