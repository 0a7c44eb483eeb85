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
    # Lowercased copies, for the cue patterns (which are lowercase, without re.IGNORECASE).
    lower_text: str = ""
    lower_bare: str = ""
    lower_body: str = ""  # the sentences joined: instructions without examples
    lower_sentences: tuple[str, ...] = ()


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
    lower_sentences = tuple(s.lower() for s in sentences)
    return Segments(
        text=text, prompt=prompt, system=system, bare=bare, sentences=tuple(sentences),
        example_lines=tuple(examples), numbered_lines=tuple(numbered),
        words=tuple(_WORD.findall(text)), variables=tuple(dict.fromkeys(VARIABLE.findall(text))),
        lower_text=text.lower(), lower_bare=bare.lower(), lower_body=" ".join(lower_sentences),
        lower_sentences=lower_sentences,
    )


_VOWEL_GROUP = re.compile(r"[aeiouy]+")
_SILENT_E = re.compile(r"[^aeiouy\s]e\b")  # "make", not "the" (counted back below)
_LETTER_WORD = re.compile(r"[a-z][a-z'-]*")


def reading_ease(lower_sentences: tuple[str, ...]) -> float:
    """Flesch reading ease (higher is easier; 60-70 is plain English), with syllables
    estimated as vowel groups minus silent final e's, counted over the whole text at once."""
    text = " ".join(lower_sentences)
    words = _LETTER_WORD.findall(text)
    if not words or not lower_sentences:
        return 100.0
    syllables = len(_VOWEL_GROUP.findall(text)) - len(_SILENT_E.findall(text))
    syllables = max(len(words), syllables)  # every word has at least one
    return 206.835 - 1.015 * len(words) / len(lower_sentences) - 84.6 * syllables / len(words)
