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
    # /health, /ready, /metrics and the SSE streams without credentials. The dashboard page
    # itself is always public: it holds no data, only the code that asks for it.
    public_read: bool = False
    # HS256 secret for bearer JWTs whose `sub` is a user id; empty: JWTs are refused.
    jwt_secret: str = Field(default="", repr=False)
    jwt_algorithm: str = "HS256"
    # How long a verified credential is trusted before PostgreSQL is asked again (also how
    # long a revoked key keeps working on this process).
    auth_cache_s: float = 30.0
    sse_ping_s: float = 15.0
    check_timeout_s: float = 3.0  # per dependency in /ready
    migrate_on_start: bool = True
    max_body_bytes: int = 2_000_000  # an experiment with thousands of test cases fits
    # The trained performance predictor /predict serves; empty: the optimizer's default
    # (.promptopt/predictor.joblib, written by `promptopt optimize --train ...`).
    predictor_path: str = ""
