"""The LLM meta-optimizer (OPRO-style): an LLM is shown the prompt, its analysis and the
earlier candidates with their measured scores, and proposes new candidates.

Degrades gracefully: without a configured model, or when the call fails or the answer has
no usable prompt (e.g. the LLM simulator, which does not write prompts), it proposes
nothing and the optimizer keeps to pattern rewrites. Every proposal must keep the prompt's
{{variables}}, fit 10..10,000 characters and differ from every earlier candidate.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agents.optimizer.analysis import MAX_CHARS, MIN_CHARS, PromptAnalysis
from agents.optimizer.generation import Base, Candidate, variables
from agents.optimizer.novelty import is_near_duplicate
from agents.patterns.library import identify_patterns
from schemas.experiment import ModelSpec

if TYPE_CHECKING:  # litellm is heavy: the client comes from the services, at run time
    from agents.llm.client import LLMClient

log = logging.getLogger("promptopt.optimizer.meta")

Complete = Callable[[ModelSpec, list[dict[str, str]]], Awaitable[str | None]]
MAX_HISTORY = 12  # OPRO keeps the best-scored few in the meta-prompt, worst first
_TAGGED = re.compile(r"<prompt>(.*?)</prompt>", re.S)

SYSTEM = (
    "You are an expert prompt engineer. You improve prompts for large language models so "
    "that their answers score higher on the user's test cases."
)


@dataclass(frozen=True)
class Scored:
    prompt: str
    score: float | None  # measured mean, None if not measured yet
    patterns: tuple[str, ...] = ()


def meta_messages(base: Base, analysis: PromptAnalysis, history: Sequence[Scored],
                  goals: Sequence[str], n: int) -> list[dict[str, str]]:
    """The meta-prompt: task, analysis, earlier candidates in ascending score order (the
    OPRO layout: the best last, closest to where the model writes), output contract."""
    measured = sorted((h for h in history if h.score is not None),
                      key=lambda h: h.score or 0.0)
    shown = measured[-MAX_HISTORY:]
    lines = [
        f"Goals: {', '.join(goals)}.",
        "",
        "Current best prompt:",
        f"<prompt>{base.prompt}</prompt>",
    ]
    if base.system:
        lines += ["Its system message:", f"<system>{base.system}</system>"]
    if analysis.issues:
        lines += ["", "Problems found in it:"]
        lines += [f"- {i.code}: {i.explanation} Fix: {i.fix}" for i in analysis.issues]
    if shown:
        lines += ["", "Earlier prompts and their measured scores (0 to 1), worst first:"]
        lines += [f"<prompt score=\"{h.score:.3f}\">{h.prompt}</prompt>" for h in shown]
    names = sorted(variables(base.prompt))
    lines += [
        "",
        f"Write {n} new prompts, different from all of the above, that you expect to score "
        "higher than every earlier prompt.",
        "Keep every template variable exactly as written"
        + (f" ({', '.join('{{' + v + '}}' for v in names)})" if names else "") + ".",
        'Answer with only JSON: {"prompts": [{"prompt": "...", "rationale": "..."}]}',
    ]
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n".join(lines)}]


def parse_proposals(text: str | None) -> list[tuple[str, str]]:
    """(prompt, rationale) pairs from a JSON answer, or from <prompt> tags as a fallback."""
    if not text:
        return []
    start, end = text.find("{"), text.rfind("}")
    if start >= 0 and end > start:
        try:
            data = json.loads(text[start:end + 1])
            items = data.get("prompts", []) if isinstance(data, dict) else []
            found = [(str(i.get("prompt", "")), str(i.get("rationale", "")))
                     for i in items if isinstance(i, dict)]
            if found:
                return found
        except json.JSONDecodeError:
            pass
    return [(p.strip(), "") for p in _TAGGED.findall(text)]


def usable(prompt: str, base: Base, earlier: Sequence[str]) -> bool:
    return (
        len(prompt.strip()) >= MIN_CHARS and len(prompt) <= MAX_CHARS
        and variables(base.prompt) <= variables(prompt)
        and not any(is_near_duplicate(prompt, e) for e in earlier)
    )


class MetaOptimizer:
    def __init__(self, model: ModelSpec, complete: Complete) -> None:
        self.model = model
        self._complete = complete

    async def propose(self, base: Base, analysis: PromptAnalysis, history: Sequence[Scored],
                      goals: Sequence[str], n: int) -> list[Candidate]:
        if n < 1:
            return []
        messages = meta_messages(base, analysis, history, goals, n)
        try:
            answer = await self._complete(self.model, messages)
        except Exception as err:  # the optimizer must not fail because its helper LLM did
            log.warning("meta-optimizer call to %s failed: %r", self.model.id, err)
            return []
        earlier = [base.prompt, *(h.prompt for h in history)]
        out: list[Candidate] = []
        best = max((h.score for h in history if h.score is not None), default=None)
        for prompt, rationale in parse_proposals(answer):
            if len(out) == n or not usable(prompt, base, earlier):
                continue
            earlier.append(prompt)
            used = tuple(p for p in identify_patterns(prompt, base.system)
                         if p not in base.patterns)
            context = f" (best measured so far {best:.3f})" if best is not None else ""
            out.append(Candidate(
                prompt=prompt, system=base.system,
                patterns=tuple(dict.fromkeys((*base.patterns, *used))),
                rewrites=(f"meta-llm: {self.model.id}",),
                rationale=(f"Proposed by the meta-optimizer {self.model.id}, shown the prompt, "
                           f"its analysis and {len(history)} earlier candidates{context}. "
                           + (rationale.strip() or "No rationale given.")),
                source="meta-llm",
            ))
        return out


def client_complete(llm: LLMClient) -> Complete:
    """A Complete over the product's LLM client (limits, retries, cache and cost as for
    trials). The meta-prompt asks for several prompts at once: at least 1,024 tokens."""

    async def complete(model: ModelSpec, messages: list[dict[str, str]]) -> str | None:
        spec = model.model_copy(update={
            "temperature": model.temperature or 0.0,
            "max_tokens": max(model.max_tokens or 0, 1024),
        })
        result = await llm.complete(spec, messages)
        if result.status != "completed":
            log.warning("meta-optimizer call to %s failed: %s", model.id, result.reason)
            return None
        return result.text

    return complete
