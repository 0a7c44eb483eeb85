"""What the simulator answers: a deterministic stand-in for a model, not a language model.

It recognises three task families in the conversation and "solves" them:

- sentiment: a fixed word lexicon over the text to classify gives the true label
  (positive / negative / neutral; see `true_sentiment`);
- arithmetic: "What is 17 + 25?" — the last `a op b` in the text to solve;
- anything else: a sentence built from the prompt's own words.

It answers correctly with probability q(prompt) = clamp(base quality of the model + the
boosts of the quality rules whose pattern matches the prompt, 0, 1), so a prompt with an
explicit output format, examples, a role, step-by-step wording or delimiters measurably
scores higher — which is what makes prompt optimization testable without a real model.

Format compliance: when the prompt asks for one word / only the label, the answer is the
bare label; otherwise it is wrapped in a sentence, so an `equals` check fails where a
`contains` check passes. A wrong answer is another label or a number off by a little.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from dataclasses import dataclass
from typing import Any

from agents.trials.simulator.config import SimConfig
from agents.trials.simulator.judge import judge_reply

POSITIVE_WORDS = frozenset(
    [
        "good",
        "great",
        "excellent",
        "love",
        "loved",
        "loves",
        "amazing",
        "wonderful",
        "fantastic",
        "best",
        "happy",
        "perfect",
        "enjoyed",
        "enjoy",
        "recommend",
        "delightful",
        "superb",
        "brilliant",
        "awesome",
        "pleasant",
        "beautiful",
        "favorite",
        "favourite",
        "nice",
        "impressive",
        "outstanding",
        "satisfied",
        "glad",
        "fun",
        "liked",
        "like",
    ]
)
NEGATIVE_WORDS = frozenset(
    [
        "bad",
        "terrible",
        "awful",
        "hate",
        "hated",
        "worst",
        "poor",
        "boring",
        "disappointing",
        "disappointed",
        "broken",
        "waste",
        "horrible",
        "sad",
        "refund",
        "useless",
        "mediocre",
        "annoying",
        "slow",
        "ugly",
        "rude",
        "dirty",
        "never",
        "angry",
        "failed",
        "fails",
        "broke",
        "dislike",
        "worse",
        "unhappy",
    ]
)
LABELS = ("positive", "negative", "neutral")

# A prompt about a review or an opinion is read as sentiment, as a real model would.
_SENTIMENT_TASK = re.compile(
    r"sentiment|positive|negative|classif|\breviews?\b|opinion|feel about|\btone\b", re.I
)
_ARITHMETIC = re.compile(r"(-?\d+(?:\.\d+)?)\s*([-+*/x×÷])\s*(-?\d+(?:\.\d+)?)")
_BARE_FORMAT = re.compile(
    r"one word|single word|only the (label|answer|number|word)|just the (label|answer|number)"
    r"|respond with only|answer only|nothing else",
    re.I,
)
# Where the input to solve sits, most explicit first; else the whole last user message.
_DELIMITED = (
    re.compile(r'"""(.*?)"""', re.S),
    re.compile(r"<(?:text|input)>(.*?)</(?:text|input)>", re.S),
    re.compile(r"```(.*?)```", re.S),
    re.compile(r"###\s*(.*?)\s*(?:###|$)", re.S),
)
_MARKER = re.compile(r"\b(?:input|text|review|question|problem)\s*:\s*", re.I)
# After a few-shot "Input: ...": the answer cue that ends the input ("Output:", ...).
_ANSWER_CUE = re.compile(r"\b(?:output|answer|label)\s*:.*$", re.I | re.S)
_WORD = re.compile(r"[A-Za-z']+")


@dataclass(frozen=True)
class Answer:
    text: str
    family: str  # sentiment | arithmetic | generic
    correct: bool
    quality: float


def prompt_text(messages: list[dict[str, Any]]) -> str:
    """System + user text, the text the quality rules look at."""
    return "\n".join(_content(m) for m in messages if m.get("role") in ("system", "user", None))


def quality(config: SimConfig, model: str, text: str) -> float:
    q = config.base_for(model)
    for rule in config.quality_rules:
        if re.search(rule.pattern, text, re.I):
            q += rule.boost
    return min(1.0, max(0.0, q))


def true_sentiment(text: str) -> str:
    """The label the lexicon gives: more positive than negative words → positive, etc."""
    words = [w.lower() for w in _WORD.findall(text)]
    score = sum(w in POSITIVE_WORDS for w in words) - sum(w in NEGATIVE_WORDS for w in words)
    return "positive" if score > 0 else "negative" if score < 0 else "neutral"


def solve(a: float, op: str, b: float) -> float | None:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op in "*x×":
        return a * b
    if b == 0:
        return None
    return a / b


def answer(config: SimConfig, model: str, messages: list[dict[str, Any]], u: float) -> Answer:
    """The reply to `messages`; `u` in [0, 1) is the draw deciding right or wrong.

    The model `echo` repeats the last user message (promptfoo's echo provider); a grading
    prompt of promptopt's judges gets a judge's answer (judge.py)."""
    if model.removeprefix("sim/") == "echo":
        users = [_content(m) for m in messages if m.get("role") == "user"]
        return Answer(users[-1] if users else "", "echo", True, 1.0)
    verdict = judge_reply(messages)
    if verdict is not None:
        return Answer(verdict, "judge", True, 1.0)
    full = prompt_text(messages)
    q = quality(config, model, full)
    correct = u < q
    # A second, independent draw picks *how* it is wrong, from the same seeded stream.
    rng = random.Random(int(u * 2**53))
    task = task_input(messages)
    bare = bool(_BARE_FORMAT.search(full))

    if _SENTIMENT_TASK.search(full):
        label = true_sentiment(task)
        if not correct:
            label = rng.choice([x for x in LABELS if x != label])
        text = label if bare else f"The sentiment of this review is {label}."
        return Answer(text, "sentiment", correct, q)

    expressions = list(_ARITHMETIC.finditer(task))
    if expressions:
        match = expressions[-1]
        result = solve(float(match.group(1)), match.group(2), float(match.group(3)))
        if result is not None:
            if not correct:
                result += rng.choice([-1, 1]) * rng.randint(1, 10)
            number = _number(result)
            text = number if bare else f"The answer is {number}."
            return Answer(text, "arithmetic", correct, q)

    return Answer(_generic(full, rng), "generic", correct, q)


def task_input(messages: list[dict[str, Any]]) -> str:
    """The part of the conversation to solve: a delimited block, a marked input, or the last
    user message."""
    users = [_content(m) for m in messages if m.get("role") == "user"]
    last = users[-1] if users else prompt_text(messages)
    for pattern in _DELIMITED:
        found = pattern.findall(last)
        if found:
            return found[-1]
    # The last marker is the real input; earlier ones are few-shot examples.
    markers = list(_MARKER.finditer(last))
    if not markers:
        return last
    rest = last[markers[-1].end():]
    return _ANSWER_CUE.sub("", rest).strip() or rest


_TOKEN = re.compile(r"\s*\S+")


def token_logprobs(seed: int, key: str, reply: Answer) -> dict[str, Any]:
    """OpenAI's `choices[0].logprobs` for `reply`: one entry per word-piece (a word with its
    leading space). A token's probability is drawn from the request: a right answer is
    confident (p in [0.6, 1)), a wrong one less so (p in [0.2, 0.8)), so a perplexity
    assertion separates them as it would on a real model; the same request always gets
    the same numbers."""
    low, high = (0.6, 1.0) if reply.correct else (0.2, 0.8)
    content = []
    for i, token in enumerate(_TOKEN.findall(reply.text) or [""]):
        p = low + (high - low) * draw(seed, "logprob", key, i)
        logprob = math.log(max(p, 1e-12))
        content.append({"token": token, "logprob": logprob,
                        "bytes": list(token.encode()), "top_logprobs": []})
    return {"content": content, "refusal": None}


def count_tokens(text: str) -> int:
    """Roughly what a BPE tokenizer gives for English: 1.3 tokens a word."""
    return max(1, math.ceil(len(text.split()) * 1.3))


def embedding(text: str, dimensions: int = 64) -> list[float]:
    """A unit vector of hashed word counts (feature hashing with signs): texts that share
    words have a positive cosine, identical texts 1, texts with no word in common ~0."""
    vector = [0.0] * dimensions
    for word in _WORD.findall(text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        slot = int.from_bytes(digest[:4], "big") % dimensions
        vector[slot] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def draw(*parts: Any) -> float:
    """A uniform [0, 1) number that is a pure function of `parts`."""
    digest = hashlib.blake2b(json.dumps(parts, sort_keys=True, default=str).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _generic(text: str, rng: random.Random) -> str:
    words = [w.lower() for w in _WORD.findall(text) if len(w) > 3] or ["prompt"]
    picked = [rng.choice(words) for _ in range(min(6, len(words)))]
    return f"Here is a considered response about {', '.join(picked)}."


def _number(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _content(message: dict[str, Any]) -> str:
    content = message.get("content") or ""
    if isinstance(content, list):  # OpenAI content parts
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)
