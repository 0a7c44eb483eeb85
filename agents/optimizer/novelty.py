"""Near-duplicate removal: a candidate that differs from an earlier one by a word or two
(or only in case, spacing and punctuation) would waste trials on the same prompt."""

from __future__ import annotations

import re

_WORD = re.compile(r"[\w{}]+")


def normalized_words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def shingles(text: str, size: int = 3) -> set[tuple[str, ...]]:
    words = normalized_words(text)
    if len(words) < size:
        return {tuple(words)}
    return {tuple(words[i:i + size]) for i in range(len(words) - size + 1)}


def is_near_duplicate(a: str, b: str, *, max_changed_shingles: int = 6) -> bool:
    """True when b is a give or take one word: equal up to case, spacing and punctuation,
    or at most six word 3-grams differ (one word changed anywhere) and those are a small
    part of both texts. Counted in absolute terms, not as a ratio, so a real 15-word
    addition to a long prompt still counts as a new candidate."""
    if normalized_words(a) == normalized_words(b):
        return True
    sa, sb = shingles(a), shingles(b)
    changed = len(sa ^ sb)
    return changed <= max_changed_shingles and changed <= 0.2 * (len(sa) + len(sb))


def drop_near_duplicates(texts: list[str], keep_first: int = 1) -> list[int]:
    """Indices of texts to keep: each kept text is no near-duplicate of an earlier kept one.
    The first `keep_first` (the control) are always kept."""
    kept: list[int] = list(range(min(keep_first, len(texts))))
    for i in range(keep_first, len(texts)):
        if not any(is_near_duplicate(texts[j], texts[i]) for j in kept):
            kept.append(i)
    return kept
