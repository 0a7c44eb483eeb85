"""Teams, users and their credentials, as the `promptopt api ...` commands manage them.

A user belongs to exactly one team; its work stays with the team it was done in when the
user moves. Keys are stored as sha256 digests only (api.auth.hash_key).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from api.store import ROLES, Role


class AccountError(ValueError):
    """A request the accounts cannot satisfy (unknown user, user in another team, ...)."""


@dataclass(frozen=True)
class Team:
    id: str
    name: str


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def check_team_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 100 or not name.isprintable():
        raise AccountError(f"team name {name!r}: 1 to 100 printable characters")
    return name


async def ensure_team(conn: asyncpg.Connection, name: str) -> tuple[Team, bool]:
    """The team called `name`, created if new; (team, created)."""
    name = check_team_name(name)
    row = await conn.fetchrow(
        "INSERT INTO teams (id, name) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING "
        "RETURNING id, name", new_id("team"), name)
    if row is not None:
        return Team(row["id"], row["name"]), True
    row = await conn.fetchrow("SELECT id, name FROM teams WHERE name = $1", name)
    return Team(row["id"], row["name"]), False


async def team_by_name(conn: asyncpg.Connection, name: str) -> Team:
    row = await conn.fetchrow("SELECT id, name FROM teams WHERE name = $1", name)
    if row is None:
        raise AccountError(f"no team named {name!r} (`promptopt api teams` lists them)")
    return Team(row["id"], row["name"])


async def create_key(conn: asyncpg.Connection, email: str, key_hash: str, *,
                     team: str | None, name: str = "", role: Role | None = None,
                     rate_limit_per_minute: int | None = None) -> dict[str, Any]:
    """A key for the user with this email. A new user needs a team (created if new); an
    existing one keeps its team (naming another is an error: `move-user` moves)."""
    if role is not None and role not in ROLES:
        raise AccountError(f"role {role!r}: one of {', '.join(ROLES)}")
    async with conn.transaction():
        user = await conn.fetchrow(
            "SELECT u.id, u.team_id, t.name AS team FROM users u JOIN teams t "
            "ON t.id = u.team_id WHERE u.email = $1 FOR UPDATE OF u", email)
        team_created = False
        if user is None:
            if team is None:
                raise AccountError(f"{email} is a new user: name its team with --team "
                                   "(created if new)")
            found, team_created = await ensure_team(conn, team)
            user_id = new_id("usr")
            await conn.execute(
                "INSERT INTO users (id, email, name, team_id, role, rate_limit_per_minute) "
                "VALUES ($1, $2, $3, $4, $5, $6)", user_id, email, name, found.id,
                role or "member", 60 if rate_limit_per_minute is None else rate_limit_per_minute)
        else:
            if team is not None and check_team_name(team) != user["team"]:
                raise AccountError(f"{email} is in team {user['team']!r}; move it with "
                                   f"`promptopt api move-user --email {email} --team {team}`")
            user_id = user["id"]
            await conn.execute(
                "UPDATE users SET name = CASE WHEN $2 <> '' THEN $2 ELSE name END, "
                "role = COALESCE($3, role), "
                "rate_limit_per_minute = COALESCE($4, rate_limit_per_minute) WHERE id = $1",
                user_id, name, role, rate_limit_per_minute)
        key_id = new_id("key")
        await conn.execute("INSERT INTO api_keys (id, user_id, key_hash, name) "
                           "VALUES ($1, $2, $3, $4)", key_id, user_id, key_hash, name)
        row = await conn.fetchrow(USER_WITH_TEAM + " WHERE u.id = $1", user_id)
    return {**dict(row), "key_id": key_id, "team_created": team_created}


USER_WITH_TEAM = """
SELECT u.id AS user_id, u.email, u.name, u.role, u.rate_limit_per_minute,
       t.id AS team_id, t.name AS team
FROM users u JOIN teams t ON t.id = u.team_id
"""


async def list_teams(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch("""
        SELECT t.id, t.name, t.created_at,
               (SELECT count(*) FROM users u WHERE u.team_id = t.id) AS users,
               (SELECT count(*) FROM optimizations o WHERE o.team_id = t.id) AS experiments
        FROM teams t ORDER BY t.name""")
    return [{**dict(r), "created_at": r["created_at"].isoformat()} for r in rows]


async def list_users(conn: asyncpg.Connection, team: str | None = None) -> list[dict[str, Any]]:
    if team is None:
        rows = await conn.fetch(USER_WITH_TEAM + " ORDER BY t.name, u.email")
    else:
        found = await team_by_name(conn, team)
        rows = await conn.fetch(USER_WITH_TEAM + " WHERE u.team_id = $1 ORDER BY u.email",
                                found.id)
    return [dict(r) for r in rows]


async def move_user(conn: asyncpg.Connection, email: str, team: str, *,
                    create_team: bool = False) -> dict[str, Any]:
    """Put the user in `team`: from the next request on it sees that team's work, not the
    old one's (its past work stays with the team it was done in)."""
    async with conn.transaction():
        if create_team:
            found, _ = await ensure_team(conn, team)
        else:
            found = await team_by_name(conn, team)
        moved = await conn.fetchval("UPDATE users SET team_id = $2 WHERE email = $1 "
                                    "RETURNING id", email, found.id)
        if moved is None:
            raise AccountError(f"no user with email {email!r}")
        row = await conn.fetchrow(USER_WITH_TEAM + " WHERE u.id = $1", moved)
    return dict(row)


async def revoke_key(conn: asyncpg.Connection, key_id: str) -> dict[str, Any]:
    row = await conn.fetchrow(
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 "
        "RETURNING id AS key_id, user_id, revoked_at", key_id)
    if row is None:
        raise AccountError(f"no API key {key_id!r}")
    return {**dict(row), "revoked_at": row["revoked_at"].isoformat()}


async def revoke_tokens(conn: asyncpg.Connection, email: str) -> dict[str, Any]:
    """Every JWT of the user issued up to now stops working (its keys are not touched)."""
    row = await conn.fetchrow(
        "UPDATE users SET tokens_valid_after = now() WHERE email = $1 "
        "RETURNING id AS user_id, tokens_valid_after", email)
    if row is None:
        raise AccountError(f"no user with email {email!r}")
    return {**dict(row), "tokens_valid_after": row["tokens_valid_after"].isoformat()}


async def user_id_for(conn: asyncpg.Connection, email_or_id: str) -> str:
    found = await conn.fetchval("SELECT id FROM users WHERE email = $1 OR id = $1",
                                email_or_id)
    if found is None:
        raise AccountError(f"no user {email_or_id!r}")
    return found
