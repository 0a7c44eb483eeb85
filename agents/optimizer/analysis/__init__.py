"""Prompt analysis: components, clarity and specificity with the features behind them,
detected issues (each with an explanation and a fix), known patterns, token counts.

Deterministic and fast (regular expressions over the text, no model): the optimizer runs
it on every submitted prompt, and the API serves it as /api/v1/analyze.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agents.optimizer.analysis.components import Components, components
from agents.optimizer.analysis.issues import ISSUE_CODES, Issue, detect_issues
from agents.optimizer.analysis.scores import clarity, specificity
from agents.optimizer.analysis.segments import split
from agents.optimizer.analysis.tokens import count_tokens
from agents.patterns.library import identify_patterns
from schemas.bounds import PROMPT_MAX_CHARS, PROMPT_MIN_CHARS

MIN_CHARS, MAX_CHARS = PROMPT_MIN_CHARS, PROMPT_MAX_CHARS  # the API's and experiments' too


@dataclass(frozen=True)
class PromptAnalysis:
    components: Components
    clarity: float
    clarity_features: dict[str, float]
    specificity: float
    specificity_features: dict[str, float]
    issues: tuple[Issue, ...]
    patterns: tuple[str, ...]
    tokens: dict[str, int]
    words: int
    chars: int

    @property
    def issue_codes(self) -> set[str]:
        return {i.code for i in self.issues}

    def fixes(self) -> dict[str, str]:
        """Library pattern id -> the issue it fixes (first pattern of each issue)."""
        out: dict[str, str] = {}
        for issue in self.issues:
            for pid in issue.fix_patterns[:1]:
                out.setdefault(pid, issue.code)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "components": self.components.to_json(),
            "clarity": self.clarity,
            "clarity_features": self.clarity_features,
            "specificity": self.specificity,
            "specificity_features": self.specificity_features,
            "issues": [i.to_json() for i in self.issues],
            "patterns": list(self.patterns),
            "tokens": self.tokens,
            "words": self.words,
            "chars": self.chars,
        }


class InvalidPrompt(ValueError):
    """Empty or oversized prompt (outside 10..10,000 characters)."""


def check_prompt(prompt: str) -> str:
    n = len(prompt.strip())
    if n < MIN_CHARS:
        raise InvalidPrompt(f"prompt too short: {n} characters (minimum {MIN_CHARS})")
    if len(prompt) > MAX_CHARS:
        raise InvalidPrompt(f"prompt too long: {len(prompt)} characters (maximum {MAX_CHARS})")
    return prompt


def analyze_prompt(
    prompt: str,
    system: str | None = None,
    *,
    models: Sequence[str] = (),
    tokens: bool = True,
) -> PromptAnalysis:
    seg = split(prompt, system)
    issues = tuple(detect_issues(seg))
    codes = {i.code for i in issues}
    clarity_score, clarity_features = clarity(seg, codes)
    specificity_score, specificity_features = specificity(seg, codes)
    return PromptAnalysis(
        components=components(seg),
        clarity=clarity_score,
        clarity_features=clarity_features,
        specificity=specificity_score,
        specificity_features=specificity_features,
        issues=issues,
        patterns=tuple(identify_patterns(prompt, system)),
        tokens=count_tokens(seg.text, models) if tokens else {},
        words=len(seg.words),
        chars=len(seg.text),
    )


__all__ = ["ISSUE_CODES", "InvalidPrompt", "Issue", "PromptAnalysis", "analyze_prompt",
           "check_prompt"]
