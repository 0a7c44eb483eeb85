"""What checking one assertion gives, and what grading a whole response gives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas.events import TokenLogprobs
from schemas.experiment import TestCase


@dataclass(frozen=True)
class Check:
    """A family handler's verdict in the positive sense (`contains`, never `not-contains`):
    the grading layer inverts it for not- forms. `metric_only` marks a result that is a
    measurement, not a score in [0, 1] (latency or cost without a threshold)."""

    passed: bool
    score: float
    reason: str
    metric_only: bool = False

    @classmethod
    def binary(cls, passed: bool, failure: str, success: str = "Assertion passed") -> Check:
        return cls(passed, 1.0 if passed else 0.0, success if passed else failure)


@dataclass(frozen=True)
class JudgeUsage:
    """What the LLM judges of one assertion (or a whole trial) cost."""

    calls: int = 0
    cost_usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: JudgeUsage) -> JudgeUsage:
        return JudgeUsage(self.calls + other.calls, self.cost_usd + other.cost_usd,
                          self.prompt_tokens + other.prompt_tokens,
                          self.completion_tokens + other.completion_tokens)


@dataclass(frozen=True)
class AssertionResult:
    type: str  # as written, `not-` included
    passed: bool
    score: float
    reason: str
    weight: float = 1.0
    metric: str | None = None
    metric_only: bool = False
    judge: JudgeUsage = JudgeUsage()  # an assert-set's: its members' together
    members: tuple[AssertionResult, ...] = ()  # an assert-set's, each scored on its own


@dataclass(frozen=True)
class Graded:
    """A response graded against its test case, with promptfoo's aggregation: the score is
    the weighted mean of assertion scores, it passes when every assertion passes (or, with
    a test threshold, when the score reaches it)."""

    score: float
    passed: bool
    reason: str
    results: tuple[AssertionResult, ...] = ()
    named_scores: dict[str, float] = field(default_factory=dict)
    judge: JudgeUsage = JudgeUsage()


@dataclass(frozen=True)
class GradingContext:
    """Everything about the trial an assertion may look at besides the output."""

    test: TestCase
    prompt: str | None = None  # the rendered prompt sent to the model
    latency_ms: float | None = None
    cost_usd: float | None = None
    cached: bool = False
    logprobs: TokenLogprobs | None = None  # the answer's, summarised (sum and count)
    provider: str | None = None
    script_timeout_s: float = 10.0  # javascript / python assertions and transforms

    @property
    def vars(self) -> dict[str, Any]:
        return self.test.vars

    def script_context(self) -> dict[str, Any]:
        """The `context` argument of javascript/python assertions, as promptfoo passes it."""
        return {
            "vars": self.test.vars,
            "prompt": self.prompt,
            "test": {"vars": self.test.vars, "description": self.test.description,
                     "metadata": self.test.metadata},
            "provider": {"id": self.provider} if self.provider else None,
            "providerResponse": {"cost": self.cost_usd, "latencyMs": self.latency_ms,
                                 "cached": self.cached},
        }
