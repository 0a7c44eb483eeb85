"""Process settings, read from PROMPTOPT_* environment variables (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from topics.catalogue import MAX_EVENT_BYTES


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PROMPTOPT_", env_file=".env", extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:19092"
    postgres_dsn: str = "postgresql://promptopt@127.0.0.1:15432/promptopt"
    mongo_uri: str = "mongodb://127.0.0.1:27018/"
    mongo_db: str = "promptopt"

    # Faust: short session timeouts so a worker joins its group in seconds, not ~30 s.
    faust_app_id: str = "promptopt"
    # Names the changelogs of state shared across agents (global tables); empty: the app id.
    # Role workers (`promptopt worker --role ...`, infra/k8s) each have their own app id
    # (consumer group) and this one in common.
    faust_shared_id: str = ""
    faust_session_timeout_s: float = 6.0
    faust_heartbeat_interval_s: float = 1.0
    faust_web_port: int = 6066
    # Address the worker's web server (/metrics) binds: loopback by default; 0.0.0.0 in a
    # container, so Prometheus can scrape it from outside (docker-compose, infra/k8s).
    faust_web_host: str = "127.0.0.1"
    faust_partitions: int = 4
    faust_data_dir: str = ".infra/faust-data"

    # The runtimes (agents/runtime): backoff for failures a retry can cure (a service not
    # open yet, a database or broker down, a timeout); None retries until the worker stops.
    retry_initial_s: float = 0.2
    retry_max_s: float = 30.0
    retry_give_up_s: float | None = None
    # Sinks write batches of up to sink_batch events, waiting at most sink_within_s.
    sink_batch: int = 200
    sink_within_s: float = 0.5
    # /health: a partition with lag where a consumer finished nothing for this long makes
    # the worker unhealthy (an orchestrator then restarts it).
    health_stall_s: float = 120.0
    # Windowed state (agents/runtime/window.py): how long the markers of ended rounds and
    # experiments are kept, so that a redelivery after the end is still recognised. Far
    # longer than any redelivery takes (minutes), far shorter than all of history.
    state_window_s: float = 24 * 3600.0
    # Changelog topics of the state tables: segments roll this often so that the log
    # cleaner can compact away the keys of ended experiments, and their tombstones are
    # dropped after state_tombstones_ms; a recovering worker then reads about the live
    # state, not every write ever made.
    state_segment_ms: int = 3600 * 1000
    state_tombstones_ms: int = 3600 * 1000

    # Logging for every process: level, and "text" or "json" (one object per line).
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"

    metrics_port: int = 0  # 0: no standalone /metrics server (the Faust web serves it)

    # Models named "sim/<name>" are served by the LLM simulator at this address.
    sim_base_url: str = "http://127.0.0.1:8765/v1"

    # The hosts a model's api_base may name (agents/llm/allowed_hosts.py): "host",
    # "host:port", "*.domain" or "*" (any public address), comma-separated. Loopback,
    # private and link-local addresses only when listed as they are; sim_base_url always.
    llm_allowed_hosts: Annotated[list[str], NoDecode] = []
    # Hosts besides a provider's own that may receive its credentials, as JSON:
    # {"azure": ["myres.openai.azure.com"]}. Any other allowed host is called without them.
    llm_credential_hosts: dict[str, list[str]] = {}

    # Redis, the cache every process shares (promptopt/redis_cache.py). Its address is
    # PROMPTOPT_REDIS_URL, else the loopback server infra/redis.sh starts on
    # PROMPTOPT_REDIS_PORT. Keys start with cache_prefix, so deployments can share a server.
    redis_url: str = ""
    redis_port: int = 16379
    cache_prefix: str = "promptopt"

    # Where deterministic LLM answers are kept beyond this process: "redis" (every worker
    # shares them: what a fleet wants; docker-compose and infra/k8s set it), "file" (SQLite
    # at llm_cache_path: reruns on one machine), "memory" (this process only). Setting only
    # llm_cache_path means "file", as before.
    llm_cache: Literal["memory", "file", "redis"] = "memory"
    llm_cache_path: str | None = None
    llm_cache_ttl_s: float = 7 * 86400
    # The seeds' caches: optimization results by prompt hash, the pattern library by type.
    optimization_cache_ttl_s: float = 3600
    patterns_cache_ttl_s: float = 600

    llm_concurrency: int = 64
    llm_timeout_s: float = 30.0
    llm_max_retries: int = 3
    # A Retry-After longer than this fails the call instead of holding its trial.
    llm_max_retry_after_s: float = 60.0
    snapshot_every: int = 10  # analysis-ready snapshot after every N folded trials

    # LLM judges of model-graded assertions (llm-rubric, factuality, ...) and the embedding
    # model of `similar` / answer-relevance, when the experiment names none (litellm ids;
    # sim/... models are served by the simulator). Judge calls go through the same LLM
    # client as trials, so its limits, retries, cache and prices apply.
    grader_model: str | None = None
    embedding_model: str | None = None
    # The `moderation` assertion's model when it names none: OpenAI's, as promptfoo's
    # default (any server of OpenAI's /moderations protocol; sim/moderation in tests).
    moderation_model: str | None = "openai/omni-moderation-latest"
    grade_concurrency: int = 16  # trials graded at once per worker (judges wait on LLMs)
    assertion_timeout_s: float = 10.0  # javascript / python assertions and transforms

    # The optimizer: its trained performance predictor (`promptopt optimize --train`), the
    # LLM of its OPRO-style meta-optimizer (None: pattern rewrites only), and where the
    # embedded runtime keeps learned pattern statistics between `promptopt run`s.
    predictor_path: str = ".promptopt/predictor.joblib"
    optimizer_model: str | None = None
    pattern_stats_path: str = ".promptopt/pattern-stats.json"

    # What one experiment may ask for, whoever submits it (the API answers 422 beyond):
    # trials planned over all its rounds, and a budget, which is also the budget of an
    # experiment that states none.
    experiment_max_trials: int = 20_000
    experiment_max_cost_usd: float = 20.0
    # The largest event any producer sends: under the broker's message.max.bytes
    # (1,048,588 by default) and aiokafka's max_request_size (1,048,576), with room for
    # the record's own overhead. The API's body limit sits below it.
    kafka_max_message_bytes: int = MAX_EVENT_BYTES  # what topics.codec.encode enforces

    @field_validator("llm_allowed_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [h.strip() for h in value.split(",") if h.strip()]
        return value

    @model_validator(mode="after")
    def _derived(self) -> Settings:
        if not self.redis_url:
            self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        if self.llm_cache == "memory" and self.llm_cache_path:
            self.llm_cache = "file"
        if self.llm_cache == "file" and not self.llm_cache_path:
            raise ValueError("llm_cache=file needs llm_cache_path (PROMPTOPT_LLM_CACHE_PATH)")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
