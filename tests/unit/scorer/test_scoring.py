"""Deterministic scorers: one pass/fail case per assertion type, and the weighted mean."""

from __future__ import annotations

import pytest

from agents.scorer.scoring import check, score_response
from schemas.experiment import Assertion, TestCase


@pytest.mark.parametrize(
    ("kind", "value", "response", "passed"),
    [
        ("equals", "positive", " positive ", True),
        ("equals", "positive", "Positive", False),
        ("iequals", "positive", "Positive.", True),
        ("iequals", "positive", "The review is positive.", False),
        ("contains", "42", "The answer is 42.", True),
        ("icontains", "POSITIVE", "it is positive", True),
        ("not-contains", "sorry", "Sure, here it is", True),
        ("not-contains", "sorry", "Sorry, I cannot", False),
        ("regex", r"^\d{3}-\d{4}$", "555-1234", True),
        ("regex", r"^\d{3}-\d{4}$", "call 555-1234", False),
        ("is-json", None, '```json\n{"a": 1}\n```', True),
        ("is-json", None, "{a: 1}", False),
        ("json-schema", {"type": "object", "required": ["label"]}, '{"label": "x"}', True),
        ("json-schema", {"type": "object", "required": ["label"]}, '{"other": 1}', False),
        ("length", {"min": 2, "max": 5}, "abcd", True),
        ("length", {"max": 3}, "abcd", False),
    ],
)
def test_each_assertion_type(kind, value, response, passed):
    result = check(Assertion(type=kind, value=value), response)
    assert result.passed is passed
    assert result.score == (1.0 if passed else 0.0)


def test_readability_gives_partial_credit_below_the_bar():
    simple = check(Assertion(type="readability", value=60), "The cat sat on the mat. It was warm.")
    dense = check(Assertion(type="readability", value=60),
                  "Notwithstanding multitudinous organizational considerations, "
                  "implementation necessitates comprehensive institutional reconfiguration.")
    assert simple.passed and simple.score == 1.0
    assert not dense.passed and 0.0 <= dense.score < 1.0


def test_similarity_scores_the_ratio_and_passes_above_threshold():
    close = check(Assertion(type="similar", value="Paris is the capital of France",
                            threshold=0.8), "Paris is the capital of France.")
    far = check(Assertion(type="similar", value="Paris is the capital of France",
                          threshold=0.8), "I like turtles")
    assert close.passed and close.score > 0.95
    assert not far.passed and far.score < 0.5


def test_trial_score_is_the_weighted_mean_and_passes_only_if_all_pass():
    case = TestCase(id="t", expected="positive",
                    assertions=(Assertion(type="length", value={"max": 3}, weight=3.0),))
    score = score_response(case, "positive")
    assert score.value == pytest.approx(1 / 4)  # iequals passes (w=1), length fails (w=3)
    assert not score.passed


def test_a_test_case_without_deterministic_assertions_is_refused():
    with pytest.raises(ValueError, match="no deterministic assertion"):
        score_response(TestCase(id="t"), "anything")
