"""Assertions: how well one response meets its test case, with promptfoo's semantics.

One module per family: text, structure (JSON), reference metrics and measurements, code
(javascript, python, transforms), judged (LLM judges and embeddings); grading.py runs a
test's assertions and aggregates them.
"""

from agents.scorer.assertions.grading import HANDLERS, aggregate, check_one, grade
from agents.scorer.assertions.judged import Judges
from agents.scorer.assertions.result import (
    AssertionResult,
    Check,
    Graded,
    GradingContext,
    JudgeUsage,
)

__all__ = [
    "HANDLERS",
    "AssertionResult",
    "Check",
    "Graded",
    "GradingContext",
    "JudgeUsage",
    "Judges",
    "aggregate",
    "check_one",
    "grade",
]
