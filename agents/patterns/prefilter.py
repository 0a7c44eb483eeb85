"""Cheap pre-checks for long regular-expression alternations.

Scanning 2,000 characters with a `\\b(word|word|...)\\b` pattern costs ~50 us in Python's
re whatever the text, and the analysis runs dozens of them. Most prompts contain none of a
pattern's words, and `substring in text` is ~1 us. So each pattern gets the literal text
every match must contain (one per top-level alternative); when none occurs, the regex is
skipped. A pattern whose alternatives do not all start with such a literal gets no hints
and always runs, so the pre-check never changes a result.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_SPECIAL = set("\\.[](){}?*+|^$")
_ZERO_WIDTH = ("\\b", "^")


def _scan(pattern: str, start: int = 0):
    """(index, char, depth) of each structural character from `start`, skipping escapes and
    character classes; depth counts the groups open after the character."""
    depth, i = 0, start
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = pattern.index("]", i + 1) + 1
            continue
        depth += (c == "(") - (c == ")")
        yield i, c, depth
        i += 1


def split_top_level(pattern: str) -> list[str]:
    """Alternatives of `pattern` at nesting depth 0."""
    parts, start = [], 0
    for i, c, depth in _scan(pattern):
        if c == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
    parts.append(pattern[start:])
    return parts


def _group_end(pattern: str, open_at: int) -> int:
    for i, c, depth in _scan(pattern, open_at):
        if c == ")" and depth == 0:
            return i
    raise ValueError(f"unbalanced group in {pattern!r}")


def leading_literals(alternative: str) -> list[str] | None:
    """Literal strings one of which every match of `alternative` starts with (after any
    zero-width assertion), or None when there is no such literal."""
    i = 0
    while True:
        for z in _ZERO_WIDTH:
            if alternative.startswith(z, i):
                i += len(z)
                break
        else:
            if alternative.startswith("(?<", i):  # lookbehind: zero-width, skip it
                i = _group_end(alternative, i) + 1
                continue
            break
    if i < len(alternative) and alternative[i] == "(":
        end = _group_end(alternative, i)
        if end + 1 < len(alternative) and alternative[end + 1] in "?*{":
            return None  # an optional group: matches need not contain it
        inner = alternative[i + 1:end]
        if inner.startswith("?:"):
            inner = inner[2:]
        elif inner.startswith("?P<"):
            inner = inner[inner.index(">") + 1:]
        elif inner.startswith("?"):
            return None  # lookahead and other constructs
        found: list[str] = []
        for sub in split_top_level(inner):
            lits = leading_literals(sub)
            if lits is None:
                return None
            found.extend(lits)
        return found
    run = []
    while i < len(alternative) and alternative[i] not in _SPECIAL:
        run.append(alternative[i])
        i += 1
    if i < len(alternative) and alternative[i] in "?*{" and run:
        run.pop()  # the last character is optional
    literal = "".join(run)
    return [literal] if len(literal) >= 2 else None


def literal_hints(pattern: str) -> tuple[str, ...] | None:
    found: list[str] = []
    for alternative in split_top_level(pattern):
        lits = leading_literals(alternative)
        if lits is None:
            return None
        found.extend(lits)
    return tuple(dict.fromkeys(found))


class Cue:
    """A compiled pattern with a substring pre-check; same methods as re.Pattern."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.rx = re.compile(pattern, flags)
        self.pattern = pattern
        self.hints = literal_hints(pattern)

    def may_match(self, text: str) -> bool:
        return self.hints is None or any(h in text for h in self.hints)

    def search(self, text: str) -> re.Match[str] | None:
        return self.rx.search(text) if self.may_match(text) else None

    def match(self, text: str) -> re.Match[str] | None:
        return self.rx.match(text) if self.may_match(text) else None

    def findall(self, text: str) -> list:
        return self.rx.findall(text) if self.may_match(text) else []

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self.rx.finditer(text) if self.may_match(text) else iter(())
