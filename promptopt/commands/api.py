"""`promptopt api`: serve the REST API, SSE stream and dashboard (uvicorn);
`promptopt api create-key --email E --team T`: a user (in team T, created if new) and an
API key (printed once); `teams`, `users`, `move-user`: teams and their members;
`revoke-key`, `revoke-tokens`: credentials that stop working at once;
`promptopt api token --user-id U`: a JWT for that user, signed with PROMPTOPT_API_JWT_SECRET.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
from typing import NoReturn

import typer

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
log = logging.getLogger("promptopt.api")


def _fail(message: str, code: int = 2) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)  # not typer.Exit: the lazy click group does not translate it


@app.callback(invoke_without_command=True)
def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, help="address to bind (default PROMPTOPT_API_HOST "
                                    "or 127.0.0.1)"),
    port: int | None = typer.Option(None, help="TCP port (default PROMPTOPT_API_PORT or 8000)"),
    public_read: bool | None = typer.Option(None, "--public-read/--no-public-read",
                                            help="health, ready, metrics and streams "
                                            "without credentials"),
    log_level: str = typer.Option("info"),
) -> None:
    """Serve the REST API (/api/v1), the SSE stream, the dashboard (/) and /metrics."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from api import create_app
    from api.settings import ApiSettings
    from promptopt.settings import get_settings

    updates = {k: v for k, v in (("host", host), ("port", port), ("public_read", public_read))
               if v is not None}
    settings = ApiSettings().model_copy(update=updates)
    core = get_settings()
    from promptopt.logging_config import configure_logging

    configure_logging(log_level, core.log_format)
    if settings.migrate_on_start:
        asyncio.run(_prepare(core.postgres_dsn, core.kafka_bootstrap))
    if settings.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port, addr=settings.host)
        print(f"Prometheus metrics on http://{settings.host}:{settings.metrics_port}/metrics",
              file=sys.stderr)
    print(f"promptopt API on http://{settings.host}:{settings.port}/ "
          f"(public read: {'on' if settings.public_read else 'off'})", file=sys.stderr)
    uvicorn.run(create_app(settings, core=core), host=settings.host, port=settings.port,
                log_level=log_level.lower(), log_config=None)  # our handlers, not uvicorn's


async def _prepare(dsn: str, bootstrap: str) -> None:
    """Tables and topics, best effort: the API starts anyway and /ready says what is down."""
    from agents.sinks.migrate import migrate
    from topics.admin import ensure_topics

    for what, step in (("PostgreSQL migrations", migrate(dsn)),
                       ("Kafka topics", ensure_topics(bootstrap))):
        try:
            await asyncio.wait_for(step, 20)
        except Exception as err:
            log.warning("%s not prepared (%r); continuing", what, err)


async def _accounts(work) -> object:
    """Run `work(conn)` on a migrated database; AccountError and an unreachable database
    become one-line errors."""
    import asyncpg

    from agents.sinks.migrate import migrate
    from promptopt.settings import get_settings

    dsn = get_settings().postgres_dsn
    await migrate(dsn)
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return await work(conn)
    finally:
        await conn.close()


def _run(work) -> None:
    from api.accounts import AccountError

    try:
        out = asyncio.run(_accounts(work))
    except AccountError as err:
        _fail(str(err))
    except OSError as err:
        _fail(f"cannot reach PostgreSQL: {err}", code=1)
    print(json.dumps(out, default=str))


@app.command("create-key")
def create_key(
    email: str = typer.Option(..., help="the user's email; the user is created if new"),
    team: str | None = typer.Option(None, help="the team of a new user (created if new); "
                                    "an existing user keeps its own"),
    name: str = typer.Option("", help="the user's name (and the key's label)"),
    admin: bool | None = typer.Option(None, "--admin/--member",
                                      help="role: an admin sees every team's work"),
    rate_limit: int | None = typer.Option(None, min=0, help="requests per minute for this "
                                          "user (default 60 for a new user; 0: unlimited)"),
) -> None:
    """Create a user (if new, in TEAM) and an API key; prints it once, as JSON. Only its
    sha256 is stored, so it cannot be shown again."""
    if not EMAIL.match(email):
        _fail(f"--email {email!r} is not an email address")
    from api.accounts import create_key as store_key
    from api.auth import hash_key, new_api_key

    key = new_api_key()
    role = None if admin is None else ("admin" if admin else "member")

    async def work(conn):
        created = await store_key(conn, email, hash_key(key), team=team, name=name,
                                  role=role, rate_limit_per_minute=rate_limit)
        return {**created, "key": key}

    _run(work)


@app.command()
def teams() -> None:
    """Every team, with its number of users and experiments."""
    from api.accounts import list_teams

    _run(list_teams)


@app.command()
def users(team: str | None = typer.Option(None, help="only this team's users")) -> None:
    """Users with their team and role."""
    from api.accounts import list_users

    _run(lambda conn: list_users(conn, team))


@app.command("move-user")
def move_user(
    email: str = typer.Option(..., help="the user to move"),
    team: str = typer.Option(..., help="the team it joins"),
    create: bool = typer.Option(False, "--create-team", help="create the team if new"),
) -> None:
    """Move a user to another team: from its next request it sees that team's work. What
    it did before stays with its old team."""
    from api.accounts import move_user as move

    _run(lambda conn: move(conn, email, team, create_team=create))


@app.command("revoke-key")
def revoke_key(key_id: str = typer.Option(..., help="the key's id (key_..., printed by "
                                          "create-key)")) -> None:
    """Revoke an API key: refused from the next request on, by every API process."""
    from api.accounts import revoke_key as revoke

    _run(lambda conn: revoke(conn, key_id))


@app.command("revoke-tokens")
def revoke_tokens(email: str = typer.Option(..., help="the user whose JWTs to revoke")) -> None:
    """Refuse every JWT of the user issued until now (its API keys are not touched)."""
    from api.accounts import revoke_tokens as revoke

    _run(lambda conn: revoke(conn, email))


@app.command()
def token(
    user_id: str = typer.Option(..., help="the JWT's subject: a user id"),
    ttl: int = typer.Option(3600, min=1, help="seconds until it expires (at most "
                            "PROMPTOPT_API_JWT_MAX_LIFETIME_S)"),
) -> None:
    """Mint a JWT for USER_ID with PROMPTOPT_API_JWT_SECRET (and the audience and issuer
    the API expects, when set); prints {"token": ...}."""
    import time

    import jwt

    from api.settings import ApiSettings

    settings = ApiSettings()
    if not settings.jwt_secret:
        _fail("set PROMPTOPT_API_JWT_SECRET first")
    if ttl > settings.jwt_max_lifetime_s:
        _fail(f"--ttl {ttl}: the API accepts tokens of at most "
              f"{settings.jwt_max_lifetime_s} s (PROMPTOPT_API_JWT_MAX_LIFETIME_S)")
    now = int(time.time())
    claims: dict[str, object] = {"sub": user_id, "iat": now, "exp": now + ttl}
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    encoded = jwt.encode(claims, settings.jwt_secret, algorithm=settings.jwt_algorithm)
    print(json.dumps({"token": encoded}))
