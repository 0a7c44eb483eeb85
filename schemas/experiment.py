"""What an experiment is made of: test cases, models, goals, budget, analysis settings.

These records travel inside events; they are declared once here and reused by every event
that carries them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Goal = Literal["clarity", "engagement", "accuracy", "efficiency", "creativity"]

AssertionType = Literal[
    "equals",  # response (trimmed) equals value
    "iequals",  # case-insensitive equals
    "contains",
    "icontains",
    "not-contains",
    "regex",
    "is-json",
    "json-schema",  # value: a JSON Schema the parsed response must satisfy
    "length",  # value: {"min": int, "max": int} in characters
    "readability",  # value: minimum Flesch reading ease
    "similar",  # value: reference text; threshold: minimum similarity in [0, 1]
    "llm-rubric",  # value: rubric text, judged by an LLM
]


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Assertion(Record):
    type: AssertionType
    value: Any = None
    threshold: float | None = None
    weight: float = Field(default=1.0, gt=0)


class TestCase(Record):
    __test__ = False  # not a pytest class

    id: str = Field(min_length=1, max_length=200)
    vars: dict[str, Any] = Field(default_factory=dict)
    expected: str | None = None  # shorthand for an `equals` assertion
    assertions: tuple[Assertion, ...] = ()

    def all_assertions(self) -> tuple[Assertion, ...]:
        if self.expected is None:
            return self.assertions
        return (Assertion(type="iequals", value=self.expected), *self.assertions)


class ModelSpec(Record):
    """A litellm model id with its call options."""

    id: str = Field(min_length=1, description="litellm model id, e.g. openai/gpt-4o-mini")
    api_base: str | None = None
    api_key: str | None = Field(default=None, exclude=True, repr=False)
    temperature: float | None = 0.0
    max_tokens: int | None = 256
    seed: int | None = None
    # Prices for models litellm's cost map does not know (local or custom deployments).
    input_cost_per_token: float | None = None
    output_cost_per_token: float | None = None
    rpm: int | None = None
    max_concurrency: int | None = None


class Budget(Record):
    max_trials: int | None = Field(default=None, gt=0)
    max_cost_usd: float | None = Field(default=None, gt=0)


class AnalysisConfig(Record):
    metric: Literal["score", "pass"] = "score"  # mean assertion score, or all-pass as 0/1
    alpha: float = Field(default=0.05, gt=0, lt=1)
    power: float = Field(default=0.8, gt=0, lt=1)
    min_effect: float = Field(default=0.0, ge=0, description="smallest difference that matters")
    design: Literal["fixed", "sequential"] = "sequential"
    correction: Literal["holm", "bh"] = "holm"
    repetitions: int = Field(default=1, ge=1, le=100)


class ExperimentSpec(Record):
    """Everything a user states about one optimization; the body of prompt-submitted."""

    name: str = Field(default="experiment", max_length=200)
    prompt: str = Field(min_length=1, max_length=10_000, description="template with {{vars}}")
    system: str | None = None
    domain: str = "general"
    test_cases: tuple[TestCase, ...] = Field(min_length=1)
    models: tuple[ModelSpec, ...] = Field(min_length=1)
    goals: tuple[Goal, ...] = ("clarity",)
    n_variations: int = Field(default=3, ge=0, le=20)
    max_rounds: int = Field(default=1, ge=1, le=10)
    target_score: float | None = None
    budget: Budget = Budget()
    analysis: AnalysisConfig = AnalysisConfig()
    # The LLM the optimizer's meta-optimizer asks for new candidates (OPRO-style); None: the
    # process settings decide, and without any the optimizer uses pattern rewrites only.
    optimizer_model: ModelSpec | None = None

    @model_validator(mode="after")
    def _unique_test_ids(self) -> ExperimentSpec:
        ids = [t.id for t in self.test_cases]
        if len(ids) != len(set(ids)):
            raise ValueError("test case ids must be unique")
        return self


class Variation(Record):
    variation_id: str
    name: str
    prompt: str
    system: str | None = None
    is_control: bool = False
    patterns: tuple[str, ...] = ()
    rewrites: tuple[str, ...] = ()
    rationale: str = ""
    predicted_score: float | None = None


class VariationRef(Record):
    """The part of a variation that trials and analyses carry along."""

    variation_id: str
    name: str
    is_control: bool = False
    patterns: tuple[str, ...] = ()
