"""The simulator as an LLM judge, for tests and demos of model-graded assertions without a
real model (its embeddings endpoint serves `similar` and answer-relevance).

It recognises promptopt's judge prompts by their sections (agents/scorer/assertions/
judged.py) and answers in each protocol: llm-rubric JSON, closed-QA's final Y/N,
factuality's category, answer-relevance's question, G-Eval's steps and 0-10 score,
select-best's index (the candidate covering most of the criteria; the first of equals).
Verdicts are lexical and deterministic: a rubric is met when the output has most of the
rubric's content words (or, for a negated rubric, none of them), and quoted phrases must
appear (or must not).
"""

from __future__ import annotations

import json
import re
from typing import Any

STOPWORDS = frozenset("""a an and are as at be been but by do does for from has have how
i if in into is it its of on or that the their them then there these this those to was
were what when where which who why will with would you your output response answer
should must contain contains include includes mention mentions text reply says say states
state gives give""".split())  # noqa: SIM905
_NEGATION = re.compile(r"\b(not|no|never|without|avoid|avoids|doesn't|don't|isn't)\b", re.I)
_QUOTED = re.compile(r"[\"“']([^\"”']{2,80})[\"”']")
_WORD = re.compile(r"[a-z0-9]+")
_CANDIDATE = re.compile(r'<candidate index="\d+">\n?(.*?)\n?</candidate>', re.S)


def section(text: str, name: str) -> str | None:
    match = re.search(rf"<{name}>\n?(.*?)\n?</{name}>", text, re.S)
    return match.group(1) if match else None


def judge_reply(messages: list[dict[str, Any]]) -> str | None:
    """The judge's answer to a grading prompt, or None if the messages are not one."""
    text = "\n".join(str(m.get("content") or "") for m in messages)
    selection = section(text, "selection_criteria")
    if selection is not None:
        candidates = _CANDIDATE.findall(text)
        covered = [meets(c, selection)[1] for c in candidates]
        return str(covered.index(max(covered))) if covered else "none"
    output = section(text, "output")
    rubric = section(text, "rubric")
    if output is not None and rubric is not None:
        passed, score, why = meets(output, rubric)
        return json.dumps({"reason": why, "pass": passed, "score": round(score, 3)})
    submission = section(text, "submission")
    expert = section(text, "expert_answer")
    if submission is not None and expert is not None:
        category, why = compare_facts(submission, expert)
        return json.dumps({"category": category, "reason": why})
    criterion = section(text, "criterion")
    if submission is not None and criterion is not None:
        passed, _, why = meets(submission, criterion)
        return f"Reasoning: {why}\n{'Y' if passed else 'N'}"
    criteria = section(text, "criteria")
    if criteria is not None:
        reply = section(text, "reply")
        if reply is None:  # G-Eval's first call: the evaluation steps
            return json.dumps({"steps": [f"Check that the reply {w}." for w in
                                         (content_words(criteria)[:3] or ["answers"])]})
        _, coverage, why = meets(reply, criteria)
        return json.dumps({"score": round(coverage * 10), "reason": why})
    answer = section(text, "answer")
    if answer is not None:
        words = content_words(answer)[:6] or ["this"]
        if "phrasing" in text:  # a second phrasing: the same topic, other words first
            words = words[::-1]
        return f"What about {' '.join(words)}?"
    return None


def content_words(text: str) -> list[str]:
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if (len(word) > 2 or word.isdigit()) and word not in STOPWORDS:
            seen.setdefault(word, None)
    return list(seen)


def _stem(word: str) -> str:
    """A crude stem (hateful, hated, hates -> hate): enough to match a rubric's words."""
    for suffix in ("fulness", "ness", "ful", "ing", "ed", "es", "ly", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:6]


def meets(output: str, rubric: str) -> tuple[bool, float, str]:
    low = output.lower()
    negated = bool(_NEGATION.search(rubric))
    quoted = [q.lower() for q in _QUOTED.findall(rubric)]
    if quoted:
        present = [q for q in quoted if q in low]
        passed = not present if negated else len(present) == len(quoted)
        score = 1.0 if passed else 0.0
        return passed, score, (f"the output {'contains' if present else 'lacks'} "
                               f"{', '.join(repr(q) for q in (present or quoted))}")
    stems = {_stem(w) for w in content_words(_NEGATION.sub(" ", rubric))}
    if not stems:
        return True, 1.0, "the rubric states nothing to check"
    have = {_stem(w) for w in content_words(output)}
    coverage = len(stems & have) / len(stems)
    if negated:
        passed = coverage == 0
        return passed, 1.0 - coverage, f"{coverage:.0%} of what the rubric rules out appears"
    return coverage >= 0.5, coverage, f"the output covers {coverage:.0%} of the rubric's terms"


def compare_facts(submission: str, expert: str) -> tuple[str, str]:
    sub, exp = set(content_words(submission)), set(content_words(expert))
    labels = {"positive", "negative", "neutral", "yes", "true", "false"}
    numbers_sub = {w for w in sub if w.isdigit()}
    numbers_exp = {w for w in exp if w.isdigit()}
    if (sub & labels and exp & labels and not sub & exp & labels) or (
            numbers_sub and numbers_exp and not numbers_sub & numbers_exp):
        return "D", "the submission contradicts the expert answer"
    if not exp:
        return "C", "the expert answer states nothing to compare"
    if exp <= sub:
        return ("C", "the same details") if sub <= exp else (
            "B", "the submission has every expert detail and more")
    if sub and sub <= exp:
        return "A", "the submission is a consistent subset of the expert answer"
    if len(sub & exp) >= 0.5 * len(exp):
        return "E", "the answers differ in details that do not change the facts"
    return "D", "the submission does not agree with the expert answer"


# A word list per OpenAI moderation category: the simulator's moderation endpoint flags a
# text that uses one of them (deterministic and lexical, like its judge; for tests only).
MODERATION_WORDS: dict[str, frozenset[str]] = {
    "hate": frozenset({"vermin", "subhuman", "inferior race"}),
    "harassment": frozenset({"idiot", "stupid", "loser", "moron", "pathetic"}),
    "harassment/threatening": frozenset({"hunt you down", "you will regret"}),
    "violence": frozenset({"kill", "murder", "stab", "shoot", "beat them"}),
    "self-harm": frozenset({"hurt myself", "end my life"}),
    "sexual": frozenset({"explicit sex", "nude"}),
}
MODERATION_CATEGORIES: tuple[str, ...] = (
    "hate", "hate/threatening", "harassment", "harassment/threatening", "self-harm",
    "self-harm/intent", "self-harm/instructions", "sexual", "sexual/minors", "violence",
    "violence/graphic")


def moderation_result(text: str) -> dict[str, Any]:
    """One result of OpenAI's /v1/moderations answer for `text`."""
    low = f" {' '.join(_WORD.findall(text.lower()))} "
    hits = {category: any(f" {w} " in low for w in words)
            for category, words in MODERATION_WORDS.items()}
    categories = {c: hits.get(c, False) for c in MODERATION_CATEGORIES}
    return {"flagged": any(categories.values()), "categories": categories,
            "category_scores": {c: 0.97 if hit else 0.001 for c, hit in categories.items()}}
