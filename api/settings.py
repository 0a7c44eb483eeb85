"""Settings of the API process, read from PROMPTOPT_API_* environment variables.

Kept apart from promptopt.settings (servers, agents): only the API reads these.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PROMPTOPT_API_", env_file=".env",
                                      extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    # /metrics also on its own port (no credentials; keep that port inside the cluster, as
    # infra/k8s and docker-compose do), so Prometheus needs no API key. 0: only the
    # credentialed /metrics on the main port.
    metrics_port: int = 0
    # /health, /ready and /metrics without credentials. The dashboard page itself is always
    # public (it holds no data, only the code that asks for it); the SSE streams never are:
    # they show a team's work, so they need to know whose.
    public_read: bool = False
    # Secret for bearer JWTs whose `sub` is a user id; empty: JWTs are refused. Tokens must
    # carry exp and iat, live at most jwt_max_lifetime_s, and match the audience and
    # issuer when those are set.
    jwt_secret: str = Field(default="", repr=False)
    jwt_algorithm: str = "HS256"
    jwt_max_lifetime_s: int = Field(default=86_400, gt=0)
    jwt_audience: str = ""
    jwt_issuer: str = ""
    jwt_leeway_s: float = Field(default=30.0, ge=0)  # clock skew allowed on exp/iat/nbf
    # Failed authentications a client address may make per minute (per API process) before
    # it gets 429 without its credentials being looked up.
    auth_failures_per_minute: int = 20
    # While PostgreSQL is unreachable (only then), a credential admitted in the last this
    # many seconds is still let in by this process, under an in-process rate limit.
    auth_fallback_s: float = 60.0
    sse_ping_s: float = 15.0
    check_timeout_s: float = 3.0  # per dependency in /ready
    migrate_on_start: bool = True
    # Below the broker's message limit (promptopt settings kafka_max_message_bytes): a body
    # that passes it still makes an event the broker takes; one that would not is a 413.
    max_body_bytes: int = 900_000
    # The trained performance predictor /predict serves; empty: the optimizer's default
    # (.promptopt/predictor.joblib, written by `promptopt optimize --train ...`).
    predictor_path: str = ""
