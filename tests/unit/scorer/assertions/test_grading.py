"""How a test's assertions add up, as promptfoo aggregates them: weighted mean, all-pass,
the test threshold, weight 0, named metrics and transforms."""

from __future__ import annotations

import pytest

from agents.scorer.assertions import GradingContext, grade
from schemas.experiment import TestCase


def case(*assertions, **fields) -> TestCase:
    return TestCase(id="t", assertions=assertions, **fields)


async def test_the_score_is_the_weighted_mean_and_it_passes_only_if_all_pass():
    test = case({"type": "contains", "value": "Paris", "weight": 3},
                {"type": "contains", "value": "Rome", "weight": 1})
    graded = await grade(test, "Paris is lovely")
    assert graded.score == pytest.approx(0.75) and not graded.passed
    assert graded.reason.startswith("contains:")


async def test_a_test_threshold_overrides_single_failures():
    test = case({"type": "contains", "value": "Paris"}, {"type": "contains", "value": "Rome"},
                {"type": "contains", "value": "lovely"}, threshold=0.6)
    graded = await grade(test, "Paris is lovely")
    assert graded.passed and graded.score == pytest.approx(2 / 3)
    strict = case({"type": "contains", "value": "Rome"}, {"type": "contains", "value": "x"},
                  threshold=0.6)
    assert not (await grade(strict, "Paris")).passed


async def test_weight_zero_is_a_named_metric_that_never_fails_the_test():
    test = case({"type": "contains", "value": "Paris"},
                {"type": "contains", "value": "Rome", "weight": 0, "metric": "mentions_rome"})
    graded = await grade(test, "Paris")
    assert graded.passed and graded.score == 1.0
    assert graded.named_scores == {"mentions_rome": 0.0}


async def test_named_metrics_average_their_assertions():
    test = case({"type": "contains", "value": "a", "metric": "letters"},
                {"type": "contains", "value": "z", "metric": "letters"},
                {"type": "latency", "metric": "latency_ms"})
    graded = await grade(test, "abc", GradingContext(test=TestCase(id="t"), latency_ms=120.0))
    assert graded.named_scores == {"letters": 0.5, "latency_ms": 120.0}
    assert graded.score == 0.5  # the latency measurement is not a score


async def test_transforms_shape_the_output_each_assertion_sees():
    test = case({"type": "equals", "value": "PARIS", "transform": "output.trim().toUpperCase()"},
                {"type": "equals", "value": " paris "},
                transform="output + ' '")
    graded = await grade(test, " paris")
    assert [r.passed for r in graded.results] == [True, True]
    to_json = case({"type": "equals", "value": {"n": 5}},
                   transform="({n: output.length})")
    assert (await grade(to_json, "hello")).passed


async def test_a_test_without_assertions_passes_with_score_one():
    graded = await grade(case(), "anything")
    assert graded.passed and graded.score == 1.0 and graded.reason == "No assertions"


async def test_the_expected_shorthand_is_a_forgiving_equality():
    graded = await grade(TestCase(id="t", expected="positive"), " Positive. ")
    assert graded.passed


async def test_scores_are_kept_in_zero_one_for_the_statistics():
    test = case({"type": "javascript", "value": "5"})
    graded = await grade(test, "x")
    assert graded.results[0].score == 5 and graded.score == 1.0


# promptfoo's assert-set (configuration/expected-outputs, "Assertion sets"): its members
# are scored as a test is, its threshold is the share of the weighted score that must pass,
# and it counts once in the test with its own weight and metric.
HELLO_SET = {"type": "assert-set", "threshold": 0.5, "assertions": [
    {"type": "contains", "value": "hello"}, {"type": "javascript", "value": "output.length > 10"}]}


async def test_an_assert_set_with_a_threshold_passes_when_its_share_is_reached():
    graded = await grade(case(HELLO_SET), "hello")  # contains passes, length fails
    [result] = graded.results
    assert result.type == "assert-set" and result.score == 0.5 and result.passed
    assert result.reason == "Aggregate score 0.50 ≥ 0.5 threshold"
    assert [m.passed for m in result.members] == [True, False]
    assert graded.passed and graded.score == 0.5
    below = await grade(case({**HELLO_SET, "threshold": 0.6}), "hello")
    assert not below.passed and below.reason == "assert-set: Aggregate score 0.50 < 0.6 threshold"


async def test_an_assert_set_without_threshold_needs_every_member_and_counts_once():
    test = case({"type": "assert-set", "weight": 3, "metric": "greeting", "assertions": [
                    {"type": "contains", "value": "hello"},
                    {"type": "contains", "value": "world", "metric": "planet"}]},
                {"type": "contains", "value": "!"})
    graded = await grade(test, "hello there!")
    assert not graded.passed and graded.reason.startswith("assert-set: contains:")
    # the set scores 0.5 with weight 3, the last assertion 1 with weight 1
    assert graded.score == pytest.approx((0.5 * 3 + 1) / 4)
    assert graded.named_scores == {"greeting": 0.5, "planet": 0.0}


async def test_an_assert_set_s_members_are_reported_after_it():
    from agents.scorer.grade import outcomes

    graded = await grade(case({"type": "equals", "value": "hello"}, HELLO_SET), "hello")
    rows = outcomes(graded.results)
    assert [(r.type, r.in_set) for r in rows] == [
        ("equals", None), ("assert-set", None), ("contains", 1), ("javascript", 1)]


def test_an_assert_set_holds_assertions_and_no_other_set():
    from pydantic import ValidationError

    for bad in ({"type": "assert-set"},
                {"type": "assert-set", "assertions": [HELLO_SET]},
                {"type": "contains", "value": "x", "assertions": [{"type": "equals"}]}):
        with pytest.raises(ValidationError):
            case(bad)
