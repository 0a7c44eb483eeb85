"""Structural rewrites some patterns need beyond appending text: fencing input, numbering
questions, moving the instruction first. Each returns the rewritten prompt, or None when it
does not apply to this prompt. Template {{variables}} are kept verbatim."""

from __future__ import annotations

import re
from collections.abc import Callable

VARIABLE = re.compile(r"\{\{\s*[A-Za-z_][\w.-]*\s*\}\}")
_FENCED_VARIABLE = re.compile(
    r"(<(input|text|document)>\s*|\"\"\"\s*|```\s*)\{\{\s*[A-Za-z_][\w.-]*\s*\}\}"
)
_QUESTION = re.compile(r"[^.?!\n]*\?")
_LABELLED_TAIL = re.compile(r"^(?P<head>[\s\S]*?:)\s*(?P<body>[^\n][\s\S]{39,})$")


def fence_variables(prompt: str) -> str | None:
    """Wrap each unfenced {{variable}} in <input> tags; without variables, fence a long
    labelled tail ("Summarize: <text>") instead."""
    if VARIABLE.search(prompt):
        if _FENCED_VARIABLE.search(prompt):
            return None
        return VARIABLE.sub(lambda m: f"<input>{m.group(0)}</input>", prompt)
    tail = _LABELLED_TAIL.match(prompt.strip())
    if tail is None:
        return None
    return f"{tail.group('head')}\n<input>\n{tail.group('body').strip()}\n</input>"


def number_questions(prompt: str) -> str | None:
    """Several questions in one paragraph become a numbered list (lead-in text kept)."""
    questions = [q.strip() for q in _QUESTION.findall(prompt) if len(q.strip()) > 3]
    if len(questions) < 2:
        return None
    rest = prompt
    for q in questions:
        rest = rest.replace(q, "", 1)
    lead = re.sub(r"\s+", " ", rest).strip()
    numbered = "\n".join(f"{i}. {q}" for i, q in enumerate(questions, 1))
    return f"{lead}\n\n{numbered}" if lead else numbered


def instruction_first(prompt: str) -> str | None:
    """"{{doc}} ... Summarize the text above." -> "Summarize the text below. ... {{doc}}"."""
    paragraphs = [p for p in re.split(r"\n\s*\n", prompt.strip()) if p.strip()]
    if len(paragraphs) < 2:
        return None
    first, last = paragraphs[0], paragraphs[-1]
    data_first = VARIABLE.fullmatch(first.strip()) is not None or len(first) > 3 * len(last)
    if not data_first or VARIABLE.search(last):
        return None
    instruction = re.sub(r"\babove\b", "below", last)
    return "\n\n".join([instruction, *paragraphs[:-1]])


TRANSFORMS: dict[str, Callable[[str], str | None]] = {
    "fence_variables": fence_variables,
    "number_questions": number_questions,
    "instruction_first": instruction_first,
}
