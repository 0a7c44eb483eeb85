"""What the LLM simulator does: latency, injected errors and how good its answers are.

A SimConfig is plain data (pydantic), loadable from YAML or JSON, so a demo, a load test
and a unit test can each state the simulator they want.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from promptopt.yaml_text import read_yaml


class Latency(BaseModel):
    """Time the simulator waits before answering, in milliseconds.

    fixed: always mean_ms. normal: N(mean_ms, std_ms) cut at min_ms. lognormal: a lognormal
    whose mean and standard deviation are mean_ms and std_ms (heavy right tail, like real APIs).
    """

    model_config = ConfigDict(extra="forbid")

    distribution: Literal["fixed", "normal", "lognormal"] = "fixed"
    mean_ms: float = Field(default=0.0, ge=0)
    std_ms: float = Field(default=0.0, ge=0)
    min_ms: float = Field(default=0.0, ge=0)


class QualityRule(BaseModel):
    """A prompt trait the simulated model rewards: `boost` added to q when `pattern` matches."""

    model_config = ConfigDict(extra="forbid")

    name: str
    pattern: str  # Python regex, searched case-insensitively over system + user text
    boost: float


# The traits a good prompt has, as prompt-engineering guides list them. Their boosts add up
# to 0.5, so a prompt with all of them on a model of base 0.5 is always right.
DEFAULT_RULES: tuple[QualityRule, ...] = (
    QualityRule(
        name="output-format",
        pattern=r"one word|single word|only the (label|answer|number|word)|just the "
        r"(label|answer|number)|respond with only|answer only|nothing else|output format",
        boost=0.1,
    ),
    QualityRule(name="examples", pattern=r"examples?:|input:[\s\S]*output:", boost=0.15),
    QualityRule(
        name="role",
        pattern=r"you are an? (expert|experienced|specialist|professional|seasoned)",
        boost=0.1,
    ),
    QualityRule(
        name="step-by-step",
        pattern=r"step[- ]by[- ]step|think (carefully|through|it through)|let's think",
        boost=0.1,
    ),
    QualityRule(name="delimiters", pattern=r'"""|<text>|<input>|###|```', boost=0.05),
)


class SimConfig(BaseModel):
    """Everything the simulator does, as data. Defaults: instant, error-free, q = 0.5."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    latency: Latency = Latency()
    # Per-model latency, keyed by the model name the client sends ("small", not "sim/small").
    model_latency: dict[str, Latency] = Field(default_factory=dict)

    # Injected failures, as probabilities per attempt (a retry draws again).
    rate_429: float = Field(default=0.0, ge=0, le=1)
    rate_500: float = Field(default=0.0, ge=0, le=1)
    rate_timeout: float = Field(default=0.0, ge=0, le=1)
    retry_after_s: int = Field(default=1, ge=0, description="Retry-After header on a 429")
    # When set, a request without "Authorization: Bearer <api_key>" gets a 401, as a
    # provider answers a wrong key (never worth a retry).
    api_key: str | None = None
    # When set, every request (with a good key) gets this status, as a provider answers a
    # request it will never serve: a malformed one (400), a key without access to the
    # model (403), an unknown model (404), refused content (422).
    reject_status: Literal[400, 403, 404, 422] | None = None
    hang_s: float = Field(default=300.0, gt=0, description="how long a 'timeout' hangs")

    # Answer quality: q = clamp(base + sum of boosts of matching rules, 0, 1).
    base_quality: float = Field(default=0.5, ge=0, le=1)
    model_quality: dict[str, float] = Field(
        default_factory=lambda: {"small": 0.35, "medium": 0.5, "large": 0.65}
    )
    quality_rules: tuple[QualityRule, ...] = DEFAULT_RULES

    @property
    def error_rate(self) -> float:
        return self.rate_429 + self.rate_500 + self.rate_timeout

    def base_for(self, model: str) -> float:
        name = model.removeprefix("sim/")
        return self.model_quality.get(name, self.base_quality)

    def latency_for(self, model: str) -> Latency:
        return self.model_latency.get(model.removeprefix("sim/"), self.latency)

    @classmethod
    def load(cls, path: str | Path) -> SimConfig:
        """Read a YAML or JSON file (JSON is YAML, so one parser serves both)."""
        data = read_yaml(path) or {}
        return cls.model_validate(data)
