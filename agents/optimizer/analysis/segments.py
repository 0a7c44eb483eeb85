"""Cutting a prompt into the pieces the analysis reasons about: template variables, fenced
blocks, example blocks, sentences."""

from __future__ import annotations

import re
from dataclasses import dataclass

VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}")
FENCED_BLOCK = re.compile(
    r'"""[\s\S]*?"""|```[\s\S]*?```|<(\w+)[^>]*>(?!\s*tags?\b)[\s\S]*?</\1>|"[^"\n]{0,400}"',
    re.M,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(<{])|\n+")
_EXAMPLE_HEAD = re.compile(r"^\s*(examples?|e\.g\.|for example|for instance)\b", re.I)
_EXAMPLE_LINE = re.compile(r"^\s*(input|output|q|a|user|assistant|review|text)\s*:|->|=>", re.I)
_NUMBERED = re.compile(r"^\s*(\d+[.)]|[-*•])\s+")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*|\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class Segments:
    text: str  # system + prompt, as the model sees the instructions
    prompt: str
    system: str
    bare: str  # text with fenced blocks and variables blanked out: the instructions only
    sentences: tuple[str, ...]  # sentences of `bare`, example lines excluded
    example_lines: tuple[str, ...]
    numbered_lines: tuple[str, ...]
    words: tuple[str, ...]  # words of the whole text
    variables: tuple[str, ...]


def split(prompt: str, system: str | None = None) -> Segments:
    system = system or ""
    text = f"{system}\n\n{prompt}" if system else prompt
    bare = VARIABLE.sub(" ", FENCED_BLOCK.sub(" ", text))
    sentences: list[str] = []
    examples: list[str] = []
    numbered: list[str] = []
    in_examples = False
    for line in bare.split("\n"):
        stripped = line.strip()
        if not stripped:
            in_examples = False
            continue
        if _EXAMPLE_HEAD.match(stripped):
            in_examples = True
            examples.append(stripped)
            continue
        if in_examples or _EXAMPLE_LINE.search(stripped):
            examples.append(stripped)
            continue
        if _NUMBERED.match(stripped):
            numbered.append(stripped)
        sentences.extend(s.strip() for s in _SENTENCE_END.split(stripped) if s.strip())
    return Segments(
        text=text, prompt=prompt, system=system, bare=bare, sentences=tuple(sentences),
        example_lines=tuple(examples), numbered_lines=tuple(numbered),
        words=tuple(_WORD.findall(text)), variables=tuple(dict.fromkeys(VARIABLE.findall(text))),
    )


def syllables(word: str) -> int:
    """Vowel groups, minus a silent final e: the usual English estimate."""
    w = word.lower()
    count = len(re.findall(r"[aeiouy]+", w))
    if w.endswith("e") and not w.endswith(("le", "ee")) and count > 1:
        count -= 1
    return max(1, count)


def reading_ease(sentences: tuple[str, ...]) -> float:
    """Flesch reading ease (higher is easier; 60-70 is plain English)."""
    words = [w for s in sentences for w in _WORD.findall(s) if w[0].isalpha()]
    if not words or not sentences:
        return 100.0
    per_sentence = len(words) / len(sentences)
    per_word = sum(syllables(w) for w in words) / len(words)
    return 206.835 - 1.015 * per_sentence - 84.6 * per_word
