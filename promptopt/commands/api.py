"""`promptopt api`: serve the REST API, SSE stream and dashboard (uvicorn);
`promptopt api create-key --email E`: a user and an API key (printed once);
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
    logging.basicConfig(level=log_level.upper())
    if settings.migrate_on_start:
        asyncio.run(_prepare(core.postgres_dsn, core.kafka_bootstrap))
    print(f"promptopt API on http://{settings.host}:{settings.port}/ "
          f"(public read: {'on' if settings.public_read else 'off'})", file=sys.stderr)
    uvicorn.run(create_app(settings, core=core), host=settings.host, port=settings.port,
                log_level=log_level.lower())


async def _prepare(dsn: str, bootstrap: str) -> None:
    """Tables and topics, best effort: the API starts anyway and /ready says what is down."""
    from agents.sinks.migrate import migrate
    from topics.admin import create_topics

    for what, step in (("PostgreSQL migrations", migrate(dsn)),
                       ("Kafka topics", create_topics(bootstrap))):
        try:
            await asyncio.wait_for(step, 20)
        except Exception as err:
            log.warning("%s not prepared (%r); continuing", what, err)


@app.command("create-key")
def create_key(
    email: str = typer.Option(..., help="the user's email; the user is created if new"),
    name: str = typer.Option("", help="the user's name (and the key's label)"),
    rate_limit: int | None = typer.Option(None, min=0, help="requests per minute for this "
                                          "user (default 60 for a new user; 0: unlimited)"),
) -> None:
    """Create a user (if new) and an API key; prints it once, as JSON. Only its sha256 is
    stored, so it cannot be shown again."""
    if not EMAIL.match(email):
        _fail(f"--email {email!r} is not an email address")
    from api.auth import hash_key, new_api_key
    from api.postgres_store import PostgresStore
    from api.store import StoreUnavailable
    from promptopt.settings import get_settings

    key = new_api_key()

    async def store_key() -> dict:
        from agents.sinks.migrate import migrate

        dsn = get_settings().postgres_dsn
        await migrate(dsn)
        store = PostgresStore(dsn)
        try:
            user, key_id = await store.create_key(email, hash_key(key), name=name,
                                                  rate_limit_per_minute=rate_limit)
        finally:
            await store.close()
        return {"user_id": user.id, "email": user.email, "key_id": key_id, "key": key,
                "rate_limit_per_minute": user.rate_limit_per_minute}

    try:
        created = asyncio.run(store_key())
    except (StoreUnavailable, OSError) as err:
        _fail(f"cannot reach PostgreSQL: {err}", code=1)
    print(json.dumps(created))


@app.command()
def token(
    user_id: str = typer.Option(..., help="the JWT's subject: a user id"),
    ttl: int = typer.Option(3600, min=1, help="seconds until it expires"),
) -> None:
    """Mint an HS256 JWT for USER_ID with PROMPTOPT_API_JWT_SECRET; prints {"token": ...}."""
    import time

    import jwt

    from api.settings import ApiSettings

    settings = ApiSettings()
    if not settings.jwt_secret:
        _fail("set PROMPTOPT_API_JWT_SECRET first")
    now = int(time.time())
    encoded = jwt.encode({"sub": user_id, "iat": now, "exp": now + ttl}, settings.jwt_secret,
                         algorithm=settings.jwt_algorithm)
    print(json.dumps({"token": encoded}))
