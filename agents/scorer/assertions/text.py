"""Text assertions, with promptfoo's semantics: equals (exact; an object value compares
as JSON), contains / icontains (-any / -all), starts-with, regex, word-count, levenshtein,
and promptopt's iequals, length and readability.

Each handler answers in the positive sense; `not-` forms are inverted by the grader.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from rapidfuzz.distance import Levenshtein

from agents.scorer.assertions.result import Check
from schemas.experiment import Assertion


class BadAssertion(ValueError):
    """The assertion itself is malformed (a missing or wrong-typed value)."""


def equals(value: Any, output: str, assertion: Assertion) -> Check:
    if isinstance(value, (dict, list)):
        try:
            passed = json.loads(output) == value
        except ValueError:
            passed = False
        return Check.binary(passed, f"Expected output to equal {json.dumps(value)}")
    return Check.binary(output == str(value), f'Expected output "{_clip(output)}" to equal '
                                              f'"{_clip(str(value))}"')


def normalise(text: str) -> str:
    # Models often add a trailing period or quotes around a one-word answer.
    return re.sub(r"\s+", " ", text.strip().strip(".!\"'`").strip()).lower()


def iequals(value: Any, output: str, assertion: Assertion) -> Check:
    return Check.binary(normalise(output) == normalise(str(value)),
                        f'Expected "{_clip(output)}" to equal "{value}" (ignoring case, '
                        "spaces and trailing punctuation)")


def contains(value: Any, output: str, assertion: Assertion) -> Check:
    needle = _needle(value, assertion)
    return Check.binary(needle in output, f'Expected output to contain "{needle}"')


def icontains(value: Any, output: str, assertion: Assertion) -> Check:
    needle = _needle(value, assertion)
    return Check.binary(needle.lower() in output.lower(), f'Expected output to contain "{needle}"')


def contains_any(value: Any, output: str, assertion: Assertion) -> Check:
    needles = _needles(value, assertion)
    return Check.binary(any(n in output for n in needles),
                        f'Expected output to contain one of "{", ".join(needles)}"')


def icontains_any(value: Any, output: str, assertion: Assertion) -> Check:
    needles = _needles(value, assertion)
    low = output.lower()
    return Check.binary(any(n.lower() in low for n in needles),
                        f'Expected output to contain one of "{", ".join(needles)}"')


def contains_all(value: Any, output: str, assertion: Assertion) -> Check:
    needles = _needles(value, assertion)
    missing = [n for n in needles if n not in output]
    return Check.binary(not missing, f"Expected output to contain all of [{', '.join(needles)}]."
                                     f" Missing: [{', '.join(missing)}]")


def icontains_all(value: Any, output: str, assertion: Assertion) -> Check:
    needles = _needles(value, assertion)
    low = output.lower()
    missing = [n for n in needles if n.lower() not in low]
    return Check.binary(not missing, f"Expected output to contain all of [{', '.join(needles)}]."
                                     f" Missing: [{', '.join(missing)}]")


def starts_with(value: Any, output: str, assertion: Assertion) -> Check:
    if not isinstance(value, str) or not value:
        raise BadAssertion('"starts-with" needs a string value')
    return Check.binary(output.startswith(value), f'Expected output to start with "{value}"')


def regex(value: Any, output: str, assertion: Assertion) -> Check:
    pattern = compiled_regex(value)
    return Check.binary(pattern.search(output) is not None,
                        f'Expected output to match regex "{value}"')


@functools.lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def compiled_regex(value: Any) -> re.Pattern[str]:
    """JavaScript and Python regex syntax agree on what eval configs use (classes, groups,
    anchors, lookaheads); named groups differ, `(?<name>` is accepted as Python's."""
    if not isinstance(value, str) or not value:
        raise BadAssertion('"regex" needs a string value')
    try:
        return _compile(re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", value))
    except re.error as err:
        raise BadAssertion(f"invalid regex {value!r}: {err}") from None


def word_count(value: Any, output: str, assertion: Assertion) -> Check:
    count = len(output.split())
    if isinstance(value, dict):
        low, high = value.get("min"), value.get("max")
        if low is None and high is None:
            raise BadAssertion('"word-count" needs a number or {min, max}')
        if low is not None and high is not None and low > high:
            raise BadAssertion(f'"word-count": min ({low}) is above max ({high})')
        passed = (low is None or count >= low) and (high is None or count <= high)
        bounds = f"between {low} and {high}" if low is not None and high is not None else (
            f"at least {low}" if low is not None else f"at most {high}")
        return Check.binary(passed, f"Word count {count} is not {bounds}")
    try:
        expected = int(value)
    except (TypeError, ValueError):
        raise BadAssertion('"word-count" needs a number or {min, max}') from None
    return Check.binary(count == expected, f"Word count {count} does not equal {expected}")


def length(value: Any, output: str, assertion: Assertion) -> Check:
    if not isinstance(value, dict) or not ({"min", "max"} & set(value)):
        raise BadAssertion('"length" needs {min, max} (characters)')
    text = output.strip()
    low, high = value.get("min") or 0, value.get("max")
    passed = len(text) >= low and (high is None or len(text) <= high)
    return Check(passed, 1.0 if passed else 0.0, f"{len(text)} characters"
                 + ("" if passed else f", expected {low}..{high if high is not None else ''}"))


def levenshtein(value: Any, output: str, assertion: Assertion) -> Check:
    if not isinstance(value, str):
        raise BadAssertion('"levenshtein" needs a string value')
    limit = assertion.threshold if assertion.threshold is not None else 5
    distance = Levenshtein.distance(output, value)
    return Check.binary(distance <= limit,
                        f"Levenshtein distance {distance} is greater than threshold {limit:g}")


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
def _hyphenator() -> Any:
    import pyphen

    return pyphen.Pyphen(lang="en_US")


def _syllables(word: str) -> int:
    return len(_hyphenator().positions(word.lower())) + 1


def readability(value: Any, output: str, assertion: Assertion) -> Check:
    try:
        minimum = float(value)
    except (TypeError, ValueError):
        raise BadAssertion('"readability" needs a minimum Flesch reading ease') from None
    ease = flesch_reading_ease(output)
    # Partial credit below the bar, so a nearly readable answer scores above a wall of text.
    score = 1.0 if ease >= minimum else max(0.0, ease / minimum) if minimum > 0 else 0.0
    return Check(ease >= minimum, score, f"Flesch reading ease {ease:.1f} (minimum {minimum:g})")


def _needle(value: Any, assertion: Assertion) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or value == "":
        raise BadAssertion(f'"{assertion.base}" needs a string or number value')
    return str(value)


def _needles(value: Any, assertion: Assertion) -> list[str]:
    if isinstance(value, str):
        # promptfoo reads "a, b, c" (and CSV-quoted items) as a list
        value = [v.strip().strip('"') for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not value:
        raise BadAssertion(f'"{assertion.base}" needs a list of strings')
    return [str(v) for v in value]


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
