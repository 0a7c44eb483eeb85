"""Process settings, read from PROMPTOPT_* environment variables (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PROMPTOPT_", env_file=".env", extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:19092"
    postgres_dsn: str = "postgresql://promptopt@127.0.0.1:15432/promptopt"
    mongo_uri: str = "mongodb://127.0.0.1:27018/"
    mongo_db: str = "promptopt"

    # Faust: short session timeouts so a worker joins its group in seconds, not ~30 s.
    faust_app_id: str = "promptopt"
    faust_session_timeout_s: float = 6.0
    faust_heartbeat_interval_s: float = 1.0
    faust_web_port: int = 6066
    faust_partitions: int = 4
    faust_data_dir: str = ".infra/faust-data"

    metrics_port: int = 0  # 0: no standalone /metrics server (the Faust web serves it)

    # Models named "sim/<name>" are served by the LLM simulator at this address.
    sim_base_url: str = "http://127.0.0.1:8765/v1"

    # A file for the deterministic-call cache, so a rerun in a new process is free too.
    llm_cache_path: str | None = None

    llm_concurrency: int = 64
    llm_timeout_s: float = 30.0
    llm_max_retries: int = 3
    snapshot_every: int = 10  # analysis-ready snapshot after every N folded trials

    # The optimizer: its trained performance predictor (`promptopt optimize --train`), the
    # LLM of its OPRO-style meta-optimizer (None: pattern rewrites only), and where the
    # embedded runtime keeps learned pattern statistics between `promptopt run`s.
    predictor_path: str = ".promptopt/predictor.joblib"
    optimizer_model: str | None = None
    pattern_stats_path: str = ".promptopt/pattern-stats.json"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
