"""Deterministic scorers: how well one response meets a test case's assertions.

Each assertion scores in [0, 1]; a trial's score is their weighted mean, and it passes when
every assertion passes. LLM-judged rubrics are scored apart (judge.py) because they need
an LLM call.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from dataclasses import dataclass
from typing import Any

import jsonschema

from schemas.experiment import Assertion, TestCase


@dataclass(frozen=True)
class AssertionResult:
    type: str
    score: float
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class Score:
    value: float  # weighted mean of assertion scores, in [0, 1]
    passed: bool  # every assertion passed
    results: tuple[AssertionResult, ...]


def score_response(test_case: TestCase, response: str) -> Score:
    """Score a response against every deterministic assertion of its test case."""
    assertions = [a for a in test_case.all_assertions() if a.type != "llm-rubric"]
    if not assertions:
        raise ValueError(f"test case {test_case.id!r} has no deterministic assertion to score")
    results = tuple(check(a, response) for a in assertions)
    total = sum(a.weight for a in assertions)
    value = sum(a.weight * r.score for a, r in zip(assertions, results, strict=True)) / total
    return Score(value=value, passed=all(r.passed for r in results), results=results)


def check(assertion: Assertion, response: str) -> AssertionResult:
    kind = assertion.type
    text = response.strip()
    value = assertion.value
    match kind:
        case "equals":
            return _binary(kind, text == str(value).strip())
        case "iequals":
            return _binary(kind, _normalise(text) == _normalise(str(value)))
        case "contains":
            return _binary(kind, str(value) in text)
        case "icontains":
            return _binary(kind, str(value).lower() in text.lower())
        case "not-contains":
            return _binary(kind, str(value).lower() not in text.lower())
        case "regex":
            return _binary(kind, re.search(str(value), text) is not None)
        case "is-json":
            return _binary(kind, _parse_json(text) is not _INVALID)
        case "json-schema":
            return _json_schema(value, text)
        case "length":
            return _length(value or {}, text)
        case "readability":
            return _readability(float(value), text)
        case "similar":
            return _similar(str(value), text, assertion.threshold or 0.8)
    raise ValueError(f"assertion type {kind!r} is not a deterministic scorer")


def _binary(kind: str, passed: bool, detail: str = "") -> AssertionResult:
    return AssertionResult(kind, 1.0 if passed else 0.0, passed, detail)


def _normalise(text: str) -> str:
    # Models often add a trailing period or quotes around a one-word answer.
    return re.sub(r"\s+", " ", text.strip().strip(".!\"'`").strip()).lower()


_INVALID = object()


def _parse_json(text: str) -> Any:
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", text, flags=re.S)
    try:
        return json.loads(fenced.group(1) if fenced else text)
    except (json.JSONDecodeError, ValueError):
        return _INVALID


def _json_schema(schema: Any, text: str) -> AssertionResult:
    data = _parse_json(text)
    if data is _INVALID:
        return _binary("json-schema", False, "not JSON")
    try:
        jsonschema.validate(data, schema if isinstance(schema, dict) else json.loads(schema))
    except jsonschema.ValidationError as err:
        return _binary("json-schema", False, err.message[:200])
    return _binary("json-schema", True)


def _length(bounds: dict[str, int], text: str) -> AssertionResult:
    low, high = bounds.get("min", 0), bounds.get("max")
    passed = len(text) >= low and (high is None or len(text) <= high)
    return _binary("length", passed, f"{len(text)} chars")


def flesch_reading_ease(text: str) -> float:
    """Flesch (1948): 206.835 - 1.015 words/sentence - 84.6 syllables/word.

    Written here because textstat now fetches NLTK's cmudict over the network at run time;
    syllables come from pyphen's bundled hyphenation dictionary instead.
    """
    words = re.findall(r"[A-Za-z]+(?:'[a-z]+)?", text)
    if not words:
        return 0.0
    sentences = max(1, len(re.findall(r"[.!?]+(?:\s|$)", text.strip() + " ")))
    syllables = sum(_syllables(w) for w in words)
    return 206.835 - 1.015 * len(words) / sentences - 84.6 * syllables / len(words)


@functools.cache
def _hyphenator():
    import pyphen

    return pyphen.Pyphen(lang="en_US")


def _syllables(word: str) -> int:
    return len(_hyphenator().positions(word.lower())) + 1


def _readability(minimum: float, text: str) -> AssertionResult:
    ease = flesch_reading_ease(text)
    # Partial credit below the bar, so a nearly readable answer scores above a wall of text.
    score = 1.0 if ease >= minimum else max(0.0, ease / minimum) if minimum > 0 else 0.0
    return AssertionResult("readability", score, ease >= minimum, f"Flesch {ease:.1f}")


def _similar(reference: str, text: str, threshold: float) -> AssertionResult:
    ratio = difflib.SequenceMatcher(None, _normalise(reference), _normalise(text)).ratio()
    return AssertionResult("similar", ratio, ratio >= threshold, f"similarity {ratio:.3f}")
