"""Issue detection: each detector is one reviewer's rule over the segmented prompt and
returns an Issue (what is wrong, why it matters, a concrete fix, and the library patterns
that fix it) or None."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from agents.optimizer.analysis import cues
from agents.patterns.prefilter import Cue
from agents.optimizer.analysis.segments import FENCED_BLOCK, VARIABLE, Segments

MAX_WORDS = 600
_NUMBERED_START = re.compile(r"^\s*(\d+[.)]|[-*•])\s+")
_SHINGLE = 5


@dataclass(frozen=True)
class Issue:
    code: str
    severity: str  # "high" | "medium" | "low"
    explanation: str
    fix: str
    fix_patterns: tuple[str, ...] = ()
    evidence: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, object]:
        return {"code": self.code, "severity": self.severity, "explanation": self.explanation,
                "fix": self.fix, "fix_patterns": list(self.fix_patterns),
                "evidence": list(self.evidence)}


def _instruction_words(seg: Segments) -> int:
    return sum(len(s.split()) for s in seg.sentences)


def _first_unnegated(cue: Cue, text: str) -> str | None:
    """The first match not preceded by a negation ("rather than a formal manual")."""
    for m in cue.finditer(text):
        if not cues.NEGATION_BEFORE.search(text[max(0, m.start() - 40):m.start()]):
            return m.group(0)
    return None


def missing_instruction(seg: Segments) -> Issue | None:
    if any(cues.IMPERATIVE.match(s) for s in seg.lower_sentences) or cues.REQUEST.search(
            seg.lower_bare):
        return None
    return Issue(
        "missing-instruction", "high",
        "The prompt never says what to do: there is no request, question or instruction, so "
        "the model has to guess the task.",
        "Start with one imperative sentence naming the task and its result, e.g. "
        "\"Summarize the text below in three bullet points.\"",
        ("instruction-first",),
    )


def vague_wording(seg: Segments) -> Issue | None:
    body = seg.lower_body
    strong = [m.group(0) for m in cues.VAGUE_STRONG.finditer(body)]
    weak = [m.group(0) for m in cues.VAGUE_WEAK.finditer(body)]
    n = max(1, _instruction_words(seg))
    concrete = cues.NUMBER.search(body) is not None
    if not (
        (strong and len(strong) * 200 >= n)
        or (weak and n <= 15 and not concrete)
        or (len(weak) >= 3 and len(weak) * 40 >= n)
    ):
        return None
    words = list(dict.fromkeys(w.lower() for w in strong + weak))
    return Issue(
        "vague-wording", "medium",
        f"Vague wording ({', '.join(repr(w) for w in words[:5])}) leaves the model to guess "
        "what a good answer is; different runs will guess differently.",
        "Replace each vague word with a concrete criterion: what exactly, how many, how "
        "long, judged by what (e.g. 'best customers' -> 'the 10 customers with the highest "
        "2023 order value').",
        ("constraints", "rubric-first"),
        tuple(words),
    )


def no_output_format(seg: Segments) -> Issue | None:
    text = VARIABLE.sub(" ", seg.lower_text)
    if (cues.FORMAT.search(text) or seg.example_lines
            or cues.IMPLICIT_FORMAT.search(seg.lower_bare)):
        return None
    return Issue(
        "no-output-format", "medium",
        "Nothing says what the answer should look like (shape, length, labels), so answers "
        "vary in form and are hard to check or parse.",
        "State the output format: e.g. 'Respond with only one of: positive, negative', "
        "'three bullet points', 'JSON with keys ...' or 'at most 100 words'.",
        ("output-format", "json-output"),
    )


def no_audience(seg: Segments) -> Issue | None:
    if not cues.PROSE_TASK.search(seg.lower_bare) or cues.CODE_TASK.search(seg.lower_bare):
        return None
    if cues.AUDIENCE.search(seg.lower_text):
        return None
    return Issue(
        "no-audience", "low",
        "The prompt asks for text for people but not who will read it, so the model cannot "
        "choose depth, vocabulary or tone.",
        "Name the reader, e.g. 'Write for first-year nursing students' or 'for a busy "
        "executive who will read it on a phone'.",
        ("audience",),
    )


def multiple_questions(seg: Segments) -> Issue | None:
    questions = [s for s in seg.sentences
                 if s.rstrip().endswith("?") and not _NUMBERED_START.match(s)]
    if len(questions) < 2:
        return None
    return Issue(
        "multiple-questions", "medium",
        f"{len(questions)} questions are asked in one block; models tend to answer the first "
        "fully and skim or skip the rest.",
        "Put the questions in a numbered list and ask for a numbered answer to each, or "
        "split them into separate prompts.",
        ("numbered-questions",),
        tuple(questions),
    )


def unfenced_input(seg: Segments) -> Issue | None:
    text = seg.text
    if VARIABLE.fullmatch(seg.prompt.strip()) and seg.system.strip():
        return None  # a chat turn: the system message instructs, the user turn is the input
    fenced = [(m.start(), m.end()) for m in FENCED_BLOCK.finditer(text)]
    loose = []
    for m in VARIABLE.finditer(text):
        if not cues.TEXT_VARIABLE.search(m.group(1).lower()):
            continue  # short values ({{name}}, {{date}}) read fine inline
        if any(a <= m.start() and m.end() <= b for a, b in fenced):
            continue
        line_start = text.rfind("\n", 0, m.start()) + 1
        line_end = text.find("\n", m.end())
        prefix = text[line_start:m.start()]
        suffix = text[m.end():line_end if line_end >= 0 else len(text)].strip()
        if cues.OPEN_DELIMITER.search(prefix):
            continue
        alone = suffix in ("", ".", ",")
        if alone and (cues.LABEL_LINE.match(prefix) or (not prefix.strip() and _label_above(
                text, line_start))):
            continue
        loose.append(m.group(0))
    if not loose and not _pasted_text(seg):
        return None
    where = ", ".join(dict.fromkeys(loose)) or "the pasted text"
    return Issue(
        "unfenced-input", "high",
        f"Input ({where}) is mixed into the instructions without delimiters: the model cannot "
        "tell data from instructions, and text inside the input can hijack the prompt.",
        "Fence the input, e.g. <input>{{text}}</input> or between triple quotes, and say "
        "that the fenced text is data, not instructions.",
        ("delimiters",),
        tuple(dict.fromkeys(loose)),
    )


def _label_above(text: str, line_start: int) -> bool:
    above = text[:max(0, line_start - 1)].rstrip("\n").rsplit("\n", 1)[-1]
    return bool(cues.LABEL_LINE.match(above))


def _pasted_text(seg: Segments) -> bool:
    """A long text pasted after a short instruction and a colon, without fences."""
    if seg.variables or len(seg.prompt) < 300:
        return False
    head, sep, tail = seg.prompt.partition(":")
    if not sep or len(head.split()) > 20 or len(tail.split()) < 60:
        return False
    return not FENCED_BLOCK.search(tail[:40] + tail[-40:])


def missing_examples(seg: Segments) -> Issue | None:
    body = seg.lower_body
    kind = ("classification" if cues.CLASSIFY.search(body)
            else "extraction" if cues.EXTRACT.search(body)
            else "conversion" if cues.CONVERT.search(body) else None)
    if kind is None or seg.example_lines or cues.EXAMPLES.search(seg.lower_text):
        return None
    return Issue(
        "missing-examples", "medium",
        f"A {kind} task with a specific mapping from input to output, but no example of it: "
        "models follow a shown example far more reliably than a described one.",
        "Add two or three short input -> output examples covering the tricky cases "
        "(an edge case, a near-miss label).",
        ("few-shot",),
        (kind,),
    )


def contradictory_constraints(seg: Segments) -> Issue | None:
    text = VARIABLE.sub(" ", seg.lower_text)
    clashes = []
    for a, b, what in cues.CLASHES:
        left, right = cues.CLASH_SIDES[a], cues.CLASH_SIDES[b]
        if not (left.may_match(text) and right.may_match(text)):
            continue
        first = _first_unnegated(left, text)
        second = _first_unnegated(right, text) if first else None
        if first and second:
            clashes.append(f"{what}: '{first}' / '{second}'")
    most = [int(x) for x in cues.WORDS_AT_MOST.findall(text)]
    least = [int(x) for x in cues.WORDS_AT_LEAST.findall(text)]
    if most and least and min(most) < max(least):
        clashes.append(f"at most {min(most)} words vs at least {max(least)} words")
    if not clashes:
        return None
    return Issue(
        "contradictory-constraints", "high",
        "Some requirements cannot all hold (" + "; ".join(clashes) + "); the model will "
        "silently drop one, and which one changes from run to run.",
        "Decide which requirement wins and delete the other, or say when each applies.",
        (),
        tuple(clashes),
    )


def excessive_length(seg: Segments) -> Issue | None:
    words = [w.lower() for w in seg.words]
    shingles = [tuple(words[i:i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1)]
    repeated = 0.0
    if len(shingles) >= 20:
        counts = Counter(shingles)
        repeated = sum(c - 1 for c in counts.values()) / len(shingles)
    if len(words) <= MAX_WORDS and repeated < 0.2:
        return None
    why = (f"{len(words)} words" if len(words) > MAX_WORDS
           else f"{repeated:.0%} of it repeats itself")
    return Issue(
        "excessive-length", "low",
        f"The prompt is long ({why}): it costs tokens on every call, and instructions buried "
        "in the middle of long prompts are followed less reliably.",
        "Say each instruction once, move reference material into a fenced block or "
        "retrieval, and keep the instructions short and at the start or end.",
        (),
        (why,),
    )


DETECTORS: tuple[Callable[[Segments], Issue | None], ...] = (
    missing_instruction,
    vague_wording,
    no_output_format,
    no_audience,
    multiple_questions,
    unfenced_input,
    missing_examples,
    contradictory_constraints,
    excessive_length,
)
ISSUE_CODES = (
    "missing-instruction", "vague-wording", "no-output-format", "no-audience",
    "multiple-questions", "unfenced-input", "missing-examples", "contradictory-constraints",
    "excessive-length",
)


def detect_issues(seg: Segments) -> list[Issue]:
    return [issue for detect in DETECTORS if (issue := detect(seg)) is not None]
