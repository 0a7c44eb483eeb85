"""Every event on every topic. JSON on the wire; `schema_version` on each.

The four public contracts are PromptSubmitted, VariationGenerated, TrialCompleted and
AnalysisReady; TrialRequested, ExperimentControl and DeadLetter are internal.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.bounds import ID_PATTERN
from schemas.experiment import (
    AnalysisConfig,
    Budget,
    ExperimentSpec,
    ModelSpec,
    Record,
    TestCase,
    Variation,
    VariationRef,
)

SCHEMA_VERSION: Literal[1] = 1


def _now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    occurred_at: datetime = Field(default_factory=_now)


# What one trial's outcome may carry: an answer longer than any model writes is cut there
# by the trials agent (agents/trials/handler.py), so an event never carries more.
RESPONSE_MAX_CHARS = 200_000
REASON_MAX_CHARS = 2_000

ExperimentId = Annotated[str, Field(min_length=1, max_length=100, pattern=ID_PATTERN)]
OwnerId = Annotated[str, Field(min_length=1, max_length=100)]


class OwnerFields(BaseModel):
    """Whose work this is. Every event derived from an owned one carries the same owner, so
    sinks store it with each row and document and every reader can scope by team. None:
    published without an owner (straight to Kafka): only an admin sees that work."""

    team_id: OwnerId | None = None
    user_id: OwnerId | None = None

    def owner(self) -> dict[str, str | None]:
        """team_id and user_id, to pass on to the events made from this one."""
        return {"team_id": self.team_id, "user_id": self.user_id}


class Owned(OwnerFields, Event):
    """An event of one team's work (see OwnerFields)."""


class PromptSubmitted(Owned):
    experiment_id: ExperimentId
    spec: ExperimentSpec


class VariationGenerated(Owned):
    """One round of candidates for an experiment: the control plus new variations."""

    experiment_id: ExperimentId
    round: int = Field(default=1, ge=1)
    variations: tuple[Variation, ...] = Field(min_length=1, max_length=21)
    spec: ExperimentSpec
    trials_used: int = Field(default=0, ge=0, description=(
        "trials the experiment's earlier rounds requested: this round fans out at most "
        "spec.budget.max_trials minus this many"))

    def planned_trials(self) -> int:
        """Trials the round plans: the cells each variation runs (test case x model x
        repetition where both it and the test case run on the model)."""
        return sum(self.spec.cells(v.models) for v in self.variations)

    def trials_allowed(self) -> int:
        """Of planned_trials(), how many the trials budget still allows."""
        planned, cap = self.planned_trials(), self.spec.budget.max_trials
        return planned if cap is None else max(0, min(planned, cap - self.trials_used))


class TrialSpec(OwnerFields, Record):
    """What identifies one trial and what its scoring needs: the part that TrialRequested
    and TrialCompleted share, declared once.

    `model` is the whole ModelSpec (options and prices, so a completed trial says how it was
    called); secrets never serialise (ModelSpec excludes them). Owner fields (team_id,
    user_id) belong here too, so every trial event carries its team.
    """

    trial_id: str = Field(min_length=1, max_length=200)
    experiment_id: ExperimentId
    round: int = Field(default=1, ge=1)
    variation: VariationRef
    test_case: TestCase
    model: ModelSpec
    repetition: int = Field(default=0, ge=0)
    expected_trials: int = Field(ge=1, description="trials planned for this round")
    # Its cell: the round's trials of this test case x model x repetition, one per
    # variation that runs there. Comparison assertions (select-best, max-score) wait for
    # all of them; `cell_position` orders them (promptfoo's output index: ties go first).
    cell_size: int = Field(default=1, ge=1, le=21, description="trials in this trial's cell")
    cell_position: int = Field(default=0, ge=0, le=20)
    analysis: AnalysisConfig = AnalysisConfig()
    budget: Budget = Budget()
    domain: str = "general"


class TrialRequested(Event):
    """One LLM call to make: the unit of fan-out, keyed by trial id."""

    trial: TrialSpec
    prompt: str
    system: str | None = None


TrialStatus = Literal["completed", "failed", "skipped"]


class TokenLogprobs(Record):
    """What the perplexity assertions need of an answer's token log-probabilities: their sum
    and how many there are (perplexity = exp(-total / tokens)). Two numbers, however long
    the answer, so a trial event never grows with it."""

    total: float = Field(le=0, ge=-1e12)
    tokens: int = Field(ge=1, le=10_000_000)

    @property
    def perplexity(self) -> float:
        mean_nll = -self.total / self.tokens
        return math.exp(mean_nll) if mean_nll < 700 else math.inf  # past a float's range


class TrialCompleted(Event):
    """The outcome of one trial; failed and budget-skipped trials are reported too."""

    trial: TrialSpec
    status: TrialStatus = "completed"
    reason: str | None = Field(default=None, max_length=REASON_MAX_CHARS)
    response: str | None = Field(default=None, max_length=RESPONSE_MAX_CHARS)
    latency_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float = 0.0
    attempts: int = 1
    cached: bool = False
    # The rendered prompt the model answered (its last user message), for graders and
    # per-test-case reports.
    prompt: str | None = Field(default=None, max_length=50_000)
    # Only when the trial's model was asked for them (ModelSpec.logprobs) and sent them.
    logprobs: TokenLogprobs | None = None


class AssertionOutcome(Record):
    """One assertion's verdict on one response."""

    type: str = Field(max_length=40)  # as written, `not-` included
    passed: bool
    score: float
    reason: str = Field(default="", max_length=2_000)
    weight: float = 1.0
    metric: str | None = Field(default=None, max_length=100)
    metric_only: bool = False  # a measurement (latency, cost), not a score in [0, 1]
    # A member of an assert-set: the position of its set in the trial's outcomes (the set's
    # score already counts it; it is shown, not counted again).
    in_set: int | None = Field(default=None, ge=0)


class TrialScored(Event):
    """A completed trial graded against its test case (internal: scorer.grade ->
    scorer.fold_trial). score and passed are None when there was no response to grade
    (a failed or skipped trial). Judge calls are counted here, beside the trial's own."""

    trial: TrialCompleted
    score: float | None = Field(default=None, ge=0, le=1)
    passed: bool | None = None
    reason: str = Field(default="", max_length=2_000)
    assertions: tuple[AssertionOutcome, ...] = Field(default=(), max_length=500)
    named_scores: dict[str, float] = Field(default_factory=dict)
    judge_calls: int = Field(default=0, ge=0)
    judge_cost_usd: float = Field(default=0.0, ge=0)
    judge_prompt_tokens: int = Field(default=0, ge=0)
    judge_completion_tokens: int = Field(default=0, ge=0)

    @property
    def cost_usd(self) -> float:
        """What this trial cost in all: its call and its judges'."""
        return self.trial.cost_usd + self.judge_cost_usd


# What a cell's comparison sees of each answer: capped, so a cell of 21 long answers still
# fits one event (topics.catalogue.MAX_EVENT_BYTES); a judge reads no more of each anyway.
CELL_ANSWER_MAX_CHARS = 8_000


class AssertionScore(Record):
    """One top-level assertion's score on one answer (what max-score aggregates)."""

    type: str = Field(max_length=40)
    score: float


class CellAnswer(Record):
    """One trial of a complete cell, as a comparison sees it."""

    trial_id: str = Field(min_length=1, max_length=200)
    position: int = Field(ge=0, le=20)
    response: str | None = Field(default=None, max_length=CELL_ANSWER_MAX_CHARS)
    scores: tuple[AssertionScore, ...] = Field(default=(), max_length=500)


class CellReady(Owned):
    """Every trial of a cell has been graded on its own: compare them (internal:
    scorer.gather_cell -> scorer.compare_cell). `answers` holds the trials that answered,
    in cell order; `size` counts the cell's trials, failed ones included."""

    experiment_id: ExperimentId
    cell: str = Field(min_length=1, max_length=1_000)
    size: int = Field(ge=1, le=21)
    test_case: TestCase
    answers: tuple[CellAnswer, ...] = Field(default=(), max_length=21)


class TrialVerdict(Record):
    """The comparison outcomes of one trial of a cell (select-best, then max-score)."""

    trial_id: str = Field(min_length=1, max_length=200)
    outcomes: tuple[AssertionOutcome, ...] = Field(max_length=2)
    judge_calls: int = Field(default=0, ge=0)
    judge_cost_usd: float = Field(default=0.0, ge=0)
    judge_prompt_tokens: int = Field(default=0, ge=0)
    judge_completion_tokens: int = Field(default=0, ge=0)


class CellVerdict(Record):
    cell: str = Field(min_length=1, max_length=1_000)
    verdicts: tuple[TrialVerdict, ...] = Field(max_length=21)


class CellMessage(Owned):
    """What scorer.gather_cell reads (internal topic cell-compare): a trial of a test with
    comparison assertions, graded on its own (`answer`), or the comparisons' verdicts on
    its cell (`verdict`). One topic for both, so one ordered step owns each cell."""

    experiment_id: ExperimentId
    answer: TrialScored | None = None
    verdict: CellVerdict | None = None

    @model_validator(mode="after")
    def _one_of(self) -> CellMessage:
        if (self.answer is None) == (self.verdict is None):
            raise ValueError("a cell message holds an answer or a verdict")
        return self


class LookResult(BaseModel):
    """A comparison's latest look of the group-sequential design."""

    model_config = ConfigDict(extra="forbid")

    look: int = Field(ge=0, description="1-based; 0 before the first look")
    looks: int = Field(ge=1, description="planned looks")
    pairs: int = Field(ge=0, description="pairs at this look")
    z: float | None = None  # None: no look yet, or no spread (the z test is undefined)
    efficacy_z: float | None = None  # winner at z >= it, control-best at z <= -it
    futility_z: float | None = None  # non-binding; None at the final look
    next_look_pairs: int | None = None
    final: bool = False
    # The bound z crossed at this look: the design stops there (futility is non-binding).
    crossed: Literal["efficacy", "harm", "futility"] | None = None


class VariationResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variation_id: str
    name: str
    is_control: bool = False
    patterns: tuple[str, ...] = ()
    n: int = 0
    n_failed: int = 0
    mean: float | None = None
    std: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    test: str | None = None  # which test produced p_value (paired-t, welch, ...)
    p_value: float | None = None
    # A rank-based check of the same comparison, robust to skewed or bounded scores:
    # Wilcoxon signed-rank on the pairs, else Mann-Whitney U (R's conventions).
    rank_test: str | None = None
    p_rank: float | None = None
    p_adjusted: float | None = None  # Holm/BH over the planned family
    p_always_valid: float | None = None
    # The interval the decision reads, at the family-adjusted level (AnalysisReady.cs_level):
    # the anytime-valid confidence sequence (sequential) or the fixed-horizon CI (fixed);
    # always inside [-1, 1].
    cs_low: float | None = None
    cs_high: float | None = None
    lift: float | None = None  # mean difference against the control
    lift_ci_low: float | None = None
    lift_ci_high: float | None = None
    relative_lift: float | None = None
    effect_size_d: float | None = None
    p_best: float | None = None
    expected_loss: float | None = None
    cost_usd: float = 0.0
    by_model: dict[str, dict[str, float | int | None]] = Field(default_factory=dict)
    group_sequential: LookResult | None = None  # design group-sequential only


# winner: a variation's interval lies above 0 (above min_effect when set); control-best:
# every planned variation's lies below 0; futile: none can reach min_effect.
Decision = Literal["winner", "control-best", "futile", "inconclusive", "running"]


class AnalysisReady(Owned):
    """The state of an experiment's analysis: snapshots while trials arrive, then a final one."""

    experiment_id: str
    round: int = 1
    final: bool = False
    seq: int = Field(default=0, ge=0, description="snapshot number, increasing")
    trials_expected: int = 0
    trials_done: int = 0
    trials_failed: int = 0
    cost_usd: float = 0.0
    budget_exhausted: bool = False
    metric: str = "score"
    alpha: float = 0.05
    correction: str = "holm"
    variations: tuple[VariationResult, ...] = ()
    srm_p_value: float | None = None
    decision: Decision = "running"
    winner_id: str | None = None
    reason: str = Field(default="", max_length=10_000)
    additional_samples_needed: int | None = None
    design: str = "sequential"
    family_size: int = Field(default=1, ge=0, description="variations in the multiplicity family")
    cs_level: float | None = Field(default=None, description="level of each cs_low..cs_high")
    min_effect: float = 0.0
    warnings: tuple[str, ...] = ()
    domain: str = "general"
    models: tuple[str, ...] = ()


class ExperimentControl(Owned):
    experiment_id: str
    command: Literal["stop", "budget-exhausted"]
    reason: str = ""
    round: int | None = Field(default=None, description="the round it applies to; None: all")


def pattern_posterior_key(pattern_id: str, domain: str, model: str) -> str:
    return f"pattern:{pattern_id}|{domain}|{model}"


class PatternOutcomeRecorded(Owned):
    """What one round's final analysis taught about one pattern (success: it made a
    significant winner). Keyed by the posterior it updates, so one worker owns each."""

    experiment_id: str
    round: int
    variation_id: str
    pattern_id: str
    domain: str
    model: str
    success: bool

    @property
    def posterior_key(self) -> str:
        return pattern_posterior_key(self.pattern_id, self.domain, self.model)

    @property
    def outcome_id(self) -> str:
        return f"{self.experiment_id}#r{self.round}|{self.variation_id}|{self.posterior_key}"


class DeadLetter(Event):
    """An event that could not be handled, with where it came from and why.

    The raw value is kept up to a bound, so that the record itself always fits on the
    topic: `raw_size` and `raw_sha256` describe the whole original, `raw_truncated` says
    whether `raw_value` is all of it. `raw_value_b64` is set only when the bytes are not
    valid UTF-8 (then it, not raw_value, is exact).
    """

    source_topic: str
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    raw_value: str = Field(description="the raw bytes (up to a bound), decoded as UTF-8 "
                                       "with replacement")
    raw_value_b64: str = ""
    raw_size: int = Field(default=0, ge=0, description="bytes in the original value")
    raw_sha256: str = ""
    raw_truncated: bool = False
    reason: str
    agent: str = Field(default="", description="the step or sink that gave up on it")


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        PromptSubmitted,
        VariationGenerated,
        TrialRequested,
        TrialCompleted,
        TrialScored,
        CellMessage,
        CellReady,
        AnalysisReady,
        ExperimentControl,
        PatternOutcomeRecorded,
        DeadLetter,
    )
}

__all__ = [
    "EVENT_TYPES",
    "AnalysisConfig",
    "AnalysisReady",
    "AssertionScore",
    "Budget",
    "CellAnswer",
    "CellMessage",
    "CellReady",
    "CellVerdict",
    "DeadLetter",
    "Event",
    "ExperimentControl",
    "ModelSpec",
    "Owned",
    "PatternOutcomeRecorded",
    "PromptSubmitted",
    "TestCase",
    "TokenLogprobs",
    "TrialCompleted",
    "TrialRequested",
    "TrialScored",
    "TrialSpec",
    "TrialVerdict",
    "Variation",
    "VariationGenerated",
    "VariationResult",
]
