"""What an experiment is made of: test cases, models, goals, budget, analysis settings.

These records travel inside events; they are declared once here and reused by every event
that carries them.
"""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from schemas.bounds import (
    PROMPT_MAX_CHARS,
    PROMPT_MIN_CHARS,
    STORABLE,
    FreeJson,
    Identifier,
    JsonObject,
    LongText,
    ModelId,
    Name,
    Prompt,
    ShortText,
    Url,
    VariationText,
)

Goal = Literal["clarity", "engagement", "accuracy", "efficiency", "creativity"]

# promptfoo's assertion types that promptopt scores (each also as `not-<type>`, its
# inverse), plus promptopt's own: iequals (the `expected:` shorthand), json-schema (is-json
# with a schema), length and readability. Semantics: agents/scorer/assertions/.
BASE_ASSERTION_TYPES: tuple[str, ...] = (
    # text
    "equals", "iequals", "contains", "icontains", "contains-any", "contains-all",
    "icontains-any", "icontains-all", "starts-with", "regex", "word-count", "length",
    "readability", "levenshtein",
    # structure
    "is-json", "contains-json", "json-schema",
    # reference metrics
    "rouge-n", "bleu",
    # the call itself
    "latency", "cost", "perplexity", "perplexity-score",
    # code
    "javascript", "python",
    # model-graded (an LLM judge, or embeddings)
    "llm-rubric", "model-graded-closedqa", "factuality", "model-graded-factuality",
    "answer-relevance", "similar", "g-eval", "moderation",
)
# promptfoo's assert-set: a group of assertions scored as one (its own threshold, weight and
# metric); it has no not- form and holds no assert-set.
SET_TYPE = "assert-set"
# promptfoo's comparisons: they compare the answers of every prompt for one test case (a
# cell), so they are graded once the cell is complete (agents/scorer/cells.py). Top level
# only, at most one of each per test, no not- form (as promptfoo runs them).
COMPARISON_TYPES: tuple[str, ...] = ("select-best", "max-score")
MAX_ASSERTIONS = 200  # a test's, members of assert-sets included
ASSERTION_TYPES: frozenset[str] = frozenset(
    (*BASE_ASSERTION_TYPES, *(f"not-{t}" for t in BASE_ASSERTION_TYPES), SET_TYPE,
     *COMPARISON_TYPES)
)
# Need the answer's token log-probabilities (ModelSpec.logprobs).
LOGPROB_TYPES: frozenset[str] = frozenset({"perplexity", "perplexity-score"})
# Judged by an LLM (or an embedding model): they need a grader and cost money.
MODEL_GRADED_TYPES: frozenset[str] = frozenset(
    {"llm-rubric", "model-graded-closedqa", "factuality", "model-graded-factuality",
     "answer-relevance", "similar", "g-eval", "select-best", "moderation"}
)

# A prompt's length in characters is the same bound for every way a prompt comes in
# (experiment files, the API, user-given A/B arms): schemas.bounds, re-exported here.
__all__ = ["CODE_MAX_CHARS", "PROMPT_MAX_CHARS", "PROMPT_MIN_CHARS"]
# Assertion values, transforms and rubrics are user text too, with room for code.
CODE_MAX_CHARS = 20_000
CodeText = Annotated[str, Field(max_length=CODE_MAX_CHARS), STORABLE]


def base_type(assertion_type: str) -> str:
    """`not-contains` -> `contains`."""
    return assertion_type.removeprefix("not-")


class Record(BaseModel):
    # NaN and Infinity are refused in every number: no statistic or price means them.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ModelSpec(Record):
    """A litellm model id with its call options.

    Credentials never travel on a topic: `api_key_env` names the environment variable that
    holds the key, and the worker making the call reads it (agents/llm).
    """

    id: ModelId = Field(description="litellm model id, e.g. openai/gpt-4o-mini")
    label: ShortText | None = Field(default=None,
                                    description="how reports name this model (promptfoo's label)")
    # Only to hosts the settings allow (agents/llm/allowed_hosts.py: the API answers 422
    # for any other, and the worker checks again before any call).
    api_base: Url | None = None
    api_key: str | None = Field(default=None, exclude=True, repr=False)
    api_key_env: str | None = Field(default=None, max_length=100,
                                    pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                    description="environment variable holding the API key")
    temperature: float | None = Field(default=0.0, ge=0, le=2)
    max_tokens: int | None = Field(default=256, ge=1, le=1_000_000)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    # Prices (USD per token) for models litellm's cost map does not know (local or custom
    # deployments); the dearest hosted models cost well under a cent a token.
    input_cost_per_token: float | None = Field(default=None, ge=0, le=1)
    output_cost_per_token: float | None = Field(default=None, ge=0, le=1)
    rpm: int | None = Field(default=None, ge=1, le=1_000_000)
    max_concurrency: int | None = Field(default=None, ge=1, le=10_000)
    # Ask for the answer's token log-probabilities (OpenAI's `logprobs: true`). Set for a
    # trial whose test case has a perplexity assertion (agents/trials/plan.py), so nobody
    # has to write it; only their sum and count travel on the trial (TrialCompleted).
    logprobs: bool = False
    # The same model listed twice with different options (promptfoo allows it): each gets
    # a variant (its label, else a fingerprint of its options; promptopt.experiment_file)
    # so its trials, cells and per-model statistics stay apart. None: listed once.
    variant: str | None = Field(default=None, max_length=100, pattern=r"^[A-Za-z0-9._:+-]+$")

    @property
    def key(self) -> str:
        """What tells this model's trials apart: its id, and its variant if it has one."""
        return f"{self.id}#{self.variant}" if self.variant else self.id

    @property
    def display_name(self) -> str:
        return self.label or self.key


def names_model(names: tuple[str, ...], model: ModelSpec) -> bool:
    """Whether a `models` list (a prompt's, a test case's) names `model`: by its id, its key
    (one of two same-id models) or its label. An empty list names every model."""
    return not names or bool({model.id, model.key, model.label} & set(names))


class Assertion(Record):
    type: str = Field(max_length=40,
                      json_schema_extra={"enum": list[JsonValue](sorted(ASSERTION_TYPES))})
    value: FreeJson = None
    threshold: float | None = Field(default=None, ge=-1e9, le=1e9)
    # 0: scored as a named metric only, never failing the test (as promptfoo).
    weight: float = Field(default=1.0, ge=0, le=1_000)
    metric: ShortText | None = Field(default=None,
                                     description="named metric this assertion's score adds to")
    transform: CodeText | None = Field(default=None,
                                       description="JavaScript applied to the output first")
    provider: ModelSpec | None = Field(default=None, description="the grader (model-graded)")
    embedder: ModelSpec | None = Field(default=None, description="the embedding model "
                                       "(similar, answer-relevance)")
    rubric_prompt: CodeText | None = None
    # assert-set only: its members (promptfoo's `assert`).
    assertions: tuple[Assertion, ...] = Field(default=(), max_length=50)

    @model_validator(mode="after")
    def _sets_hold_members(self) -> Assertion:
        if self.type == SET_TYPE:
            if not self.assertions:
                raise ValueError("an assert-set needs its assertions")
            if any(a.type == SET_TYPE for a in self.assertions):
                raise ValueError("an assert-set cannot hold another assert-set")
            if any(a.type in COMPARISON_TYPES for a in self.assertions):
                raise ValueError("an assert-set cannot hold select-best or max-score (they "
                                 "compare whole answers; put them in the test's assert)")
        elif self.assertions:
            raise ValueError(f"only an assert-set holds assertions, not {self.type!r}")
        return self

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in ASSERTION_TYPES:
            raise ValueError(f"unknown assertion type {value!r}")
        return value

    @field_validator("value")
    @classmethod
    def _bounded_value(cls, value: Any) -> Any:
        if value is not None and len(json.dumps(value, default=str)) > CODE_MAX_CHARS:
            raise ValueError(f"at most {CODE_MAX_CHARS} characters")
        return value

    @property
    def base(self) -> str:
        return base_type(self.type)

    @property
    def inverse(self) -> bool:
        return self.type.startswith("not-")


class TestCase(Record):
    __test__ = False  # not a pytest class

    id: Name
    description: Annotated[str, Field(max_length=1_000), STORABLE] | None = None
    vars: JsonObject = Field(default_factory=dict)
    expected: LongText | None = None  # shorthand for an `iequals` assertion
    assertions: tuple[Assertion, ...] = Field(default=(), max_length=50)
    # promptfoo's test threshold: the test passes when its weighted score reaches it,
    # whatever single assertions say.
    threshold: float | None = Field(default=None, ge=-1e9, le=1e9)
    transform: CodeText | None = Field(default=None,
                                       description="JavaScript applied to the output first")
    metadata: JsonObject = Field(default_factory=dict)
    # promptfoo's options.prefix / options.suffix: templates put before / after the prompt
    # (a chat's last user message) of every trial of this test.
    prefix: LongText | None = None
    suffix: LongText | None = None
    # promptfoo's per-test `provider` (the test runs on that model only) and `providers`
    # filter: model ids, keys or labels this test case runs on; empty: every model.
    models: tuple[Name, ...] = Field(default=(), max_length=50,
                                     description="model ids, keys or labels it runs on; "
                                                 "empty: all")

    def runs_on(self, model: ModelSpec) -> bool:
        return names_model(self.models, model)

    def all_assertions(self) -> tuple[Assertion, ...]:
        if self.expected is None:
            return self.assertions
        return (Assertion(type="iequals", value=self.expected), *self.assertions)

    def own_assertions(self) -> tuple[Assertion, ...]:
        """The assertions each answer is graded by on its own: all but the comparisons."""
        return tuple(a for a in self.all_assertions() if a.type not in COMPARISON_TYPES)

    def comparisons(self) -> tuple[Assertion, ...]:
        """select-best, then max-score (promptfoo's order), those the test has."""
        return tuple(a for kind in COMPARISON_TYPES for a in self.assertions
                     if a.type == kind)

    @model_validator(mode="after")
    def _bounded_sets(self) -> TestCase:
        if len(self.every_assertion()) > MAX_ASSERTIONS:
            raise ValueError(f"at most {MAX_ASSERTIONS} assertions, those in assert-sets "
                             "included")
        for kind in COMPARISON_TYPES:
            if sum(a.type == kind for a in self.assertions) > 1:
                raise ValueError(f"at most one {kind} per test case")
        return self

    def every_assertion(self) -> tuple[Assertion, ...]:
        """Every assertion, those inside assert-sets too (what needs a judge, logprobs...)."""
        return tuple(a for top in self.all_assertions()
                     for a in ((top, *top.assertions) if top.assertions else (top,)))


class Budget(Record):
    max_trials: int | None = Field(default=None, gt=0, le=10_000_000)
    max_cost_usd: float | None = Field(default=None, gt=0, le=1_000_000)


class AnalysisConfig(Record):
    metric: Literal["score", "pass"] = "score"  # mean assertion score, or all-pass as 0/1
    alpha: float = Field(default=0.05, gt=0, lt=1)
    power: float = Field(default=0.8, gt=0, lt=1)
    # Scores are in [0, 1], so is any difference between them.
    min_effect: float = Field(default=0.0, ge=0, le=1,
                              description="smallest difference that matters")
    # fixed: classic tests once every trial is in; sequential: anytime-valid confidence
    # sequences, decide at any look; group-sequential: z tests at planned looks only, with
    # Lan-DeMets O'Brien-Fleming-type bounds and non-binding futility (near-normal data).
    design: Literal["fixed", "sequential", "group-sequential"] = "sequential"
    # The group-sequential design's planned looks: how many (equally spaced in pairs), or
    # their information fractions (increasing, the last 1).
    looks: Annotated[int, Field(ge=1, le=20)] | Annotated[
        tuple[float, ...], Field(min_length=1, max_length=20)] = Field(
        default=5, description="planned looks (group-sequential): a count or fractions")
    correction: Literal["holm", "bh"] = "holm"
    repetitions: int = Field(default=1, ge=1, le=100)
    # The number of variations compared with the control, fixed at design time: the
    # multiplicity family. The trials agent sets it from the round's variations, so a
    # variation whose trials all fail still counts (None: the variations that report).
    family_size: int | None = Field(default=None, ge=1, le=100)
    # The pairs each comparison gets when every planned trial succeeds (cells run by both the
    # variation and the control); the trials agent sets it, the looks are fractions of it.
    planned_pairs: int | None = Field(default=None, ge=1, le=10_000_000)

    @field_validator("looks")
    @classmethod
    def _fractions(cls, looks: int | tuple[float, ...]) -> int | tuple[float, ...]:
        if isinstance(looks, tuple) and (
                looks[-1] != 1.0 or any(not 0 < t <= 1 for t in looks)
                or any(b <= a for a, b in pairwise(looks))):
            raise ValueError("information fractions must increase within (0, 1] and end at 1")
        return looks

    def timing(self) -> tuple[float, ...]:
        """The planned looks as information fractions."""
        if isinstance(self.looks, int):
            return tuple((k + 1) / self.looks for k in range(self.looks))
        return self.looks


class PromptArm(Record):
    """One of the user's own prompts, compared with the control as it is."""

    label: Name
    prompt: Prompt
    system: LongText | None = None
    models: tuple[Name, ...] = Field(default=(), max_length=50,
                                     description="model ids or labels it runs on; empty: all")


class ExperimentSpec(Record):
    """Everything a user states about one optimization; the body of prompt-submitted."""

    name: Name = "experiment"
    description: LongText = ""  # what the experiment is for (ab_tests.description)
    prompt: Prompt = Field(description="template with {{vars}}; the control")
    system: LongText | None = None
    # The control's name in reports and the models it runs on (empty: every model).
    control_label: Name | None = None
    control_models: tuple[Name, ...] = Field(default=(), max_length=50)
    # Further prompts of the user's, compared with the control as given (promptfoo's
    # several prompts); the optimizer's n_variations candidates come on top.
    arms: tuple[PromptArm, ...] = Field(default=(), max_length=20)
    domain: ShortText = "general"
    test_cases: tuple[TestCase, ...] = Field(min_length=1, max_length=10_000)
    models: tuple[ModelSpec, ...] = Field(min_length=1, max_length=50)
    goals: tuple[Goal, ...] = Field(default=("clarity",), max_length=5)
    n_variations: int = Field(default=3, ge=0, le=20)
    max_rounds: int = Field(default=1, ge=1, le=10)
    target_score: float | None = Field(default=None, ge=0, le=1)
    budget: Budget = Budget()
    analysis: AnalysisConfig = AnalysisConfig()
    # The LLM the optimizer's meta-optimizer asks for new candidates (OPRO-style); None: the
    # process settings decide, and without any the optimizer uses pattern rewrites only.
    optimizer_model: ModelSpec | None = None

    def cells(self, prompt_models: tuple[str, ...] = ()) -> int:
        """The trials of one prompt that runs on `prompt_models` (empty: every model) in one
        round: the cells (test case x model x repetition) where both it and the test case
        run on the model."""
        runs = sum(1 for t in self.test_cases for m in self.models
                   if t.runs_on(m) and names_model(prompt_models, m))
        return runs * self.analysis.repetitions

    def trials_planned(self) -> int:
        """Trials over every round if all were run, an upper bound: the cells of each prompt
        (control, the user's arms, the optimizer's candidates, which run where the control
        runs) x rounds."""
        per_round = ((1 + self.n_variations) * self.cells(self.control_models)
                     + sum(self.cells(a.models) for a in self.arms))
        return per_round * self.max_rounds

    @model_validator(mode="after")
    def _unique_test_ids(self) -> ExperimentSpec:
        ids = [t.id for t in self.test_cases]
        if len(ids) != len(set(ids)):
            raise ValueError("test case ids must be unique")
        keys = [m.key for m in self.models]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            raise ValueError(f"models: {', '.join(twice)} listed twice; the same model twice "
                             "needs a different `variant` (or label, in an experiment file) "
                             "for each")
        known = set(keys) | {m.id for m in self.models} | {m.label for m in self.models
                                                            if m.label}
        for models in (self.control_models, *(a.models for a in self.arms)):
            unknown = sorted(set(models) - known)
            if unknown:
                raise ValueError(f"a prompt names models the experiment lacks: {unknown}")
        for test in self.test_cases:
            unknown = sorted(set(test.models) - known)
            if unknown:
                raise ValueError(f"test case {test.id!r} names models the experiment lacks: "
                                 f"{unknown}")
            prompts = (self.control_models, *(a.models for a in self.arms))
            if not any(test.runs_on(m) and names_model(p, m) for m in self.models
                       for p in prompts):
                raise ValueError(f"test case {test.id!r}: no prompt runs on its models "
                                 f"({', '.join(test.models)})")
        return self


class Variation(Record):
    variation_id: Identifier
    name: Name
    prompt: VariationText
    system: VariationText | None = None
    is_control: bool = False
    patterns: tuple[str, ...] = Field(default=(), max_length=50)
    rewrites: tuple[str, ...] = Field(default=(), max_length=50)
    rationale: LongText = ""
    predicted_score: float | None = None
    # Model ids (or labels) this variation runs on; empty: every model of the experiment
    # (promptfoo's per-provider prompts).
    models: tuple[Name, ...] = Field(default=(), max_length=50)

    def runs_on(self, model: ModelSpec) -> bool:
        """promptfoo's per-provider prompts: a variation naming models runs only on those (by
        id, by the key of one of two same-id models, or by label)."""
        return names_model(self.models, model)


class VariationRef(Record):
    """The part of a variation that trials and analyses carry along."""

    variation_id: Identifier
    name: Name
    is_control: bool = False
    patterns: tuple[str, ...] = Field(default=(), max_length=50)
