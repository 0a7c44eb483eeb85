"""Model-graded assertions: an LLM judge (or an embedding model) through the product's one
LLM client, so the judge's calls get the same limits, retries, cache, budget and cost as
trials. promptfoo's semantics and answer formats:

- llm-rubric: the judge answers JSON {pass, score, reason}; a threshold also needs score.
- model-graded-closedqa: reasoning, then Y or N as the last line.
- factuality: JSON {category: A..E, reason}; D (disagrees with the expert) fails.
- answer-relevance: three questions the output answers, each embedded and compared with
  the query by cosine similarity; their mean is the score (threshold default 0).
- g-eval: the judge writes evaluation steps for the criteria, then scores 0-10 by them;
  score / 10, the mean over a list of criteria, threshold 0.7.
- similar: cosine similarity of the output's embedding with the value's (threshold 0.75);
  a list value passes when any item is similar enough.
- moderation: the output through a moderation model (OpenAI's /moderations protocol); it
  fails when the model flags a category, only those in the value's list if it has one;
  an empty output passes ("No output to moderate").

The judge prompts are promptopt's own wording. A custom `rubric_prompt` may use
{{ output }}, {{ rubric }}, {{ input }}, {{ expected }}, {{ criteria }} and the test's vars.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Protocol

from agents.scorer.assertions.result import Check, GradingContext, JudgeUsage
from agents.scorer.assertions.structure import json_objects
from agents.scorer.assertions.text import BadAssertion
from agents.trials.render import render
from schemas.experiment import Assertion, ModelSpec


class JudgeClient(Protocol):
    """What grading needs of agents.llm.LLMClient."""

    async def complete(self, model: ModelSpec, messages: list[dict[str, Any]]) -> Any: ...

    async def embed(self, model: ModelSpec, texts: list[str]) -> Any: ...

    async def moderate(self, model: ModelSpec, text: str) -> Any: ...


@dataclass(frozen=True)
class Judges:
    """The LLM client and the default grader / embedder (settings), used when an assertion
    names no provider of its own."""

    client: JudgeClient
    grader: ModelSpec | None = None
    embedder: ModelSpec | None = None
    moderator: ModelSpec | None = None


class JudgeFailed(RuntimeError):
    """The judge could not give a verdict (its call failed, or its answer is unreadable)."""

    def __init__(self, reason: str, usage: JudgeUsage) -> None:
        super().__init__(reason)
        self.usage = usage


RUBRIC_SYSTEM = """You are an evaluator. You receive a model's output and a rubric. Decide \
whether the output satisfies the rubric: if what the rubric states is true of the output, \
it passes. Reply with a single JSON object and nothing else: \
{"reason": "<one sentence>", "pass": true or false, "score": <number from 0.0 to 1.0>}."""
RUBRIC_USER = "<output>\n{{ output }}\n</output>\n<rubric>\n{{ rubric }}\n</rubric>"

CLOSEDQA_SYSTEM = """You assess whether a submitted answer to a task meets a criterion. \
Reason about the criterion step by step first. Then write the single letter Y (it meets \
the criterion) or N (it does not) on a line of its own, as the last line of your reply."""
CLOSEDQA_USER = ("<task>\n{{ input }}\n</task>\n<submission>\n{{ output }}\n</submission>\n"
                 "<criterion>\n{{ criteria }}\n</criterion>")

FACTUALITY_SYSTEM = """You compare the factual content of a submitted answer with an expert \
answer to the same question, ignoring style, grammar and punctuation. Choose one category: \
(A) the submission is a subset of the expert answer and consistent with it; \
(B) the submission is a superset of the expert answer and consistent with it; \
(C) the submission has the same details as the expert answer; \
(D) the submission disagrees with the expert answer; \
(E) they differ, but not in a way that matters for factuality. \
Reply with a single JSON object and nothing else: {"category": "<A-E>", "reason": "<why>"}."""
FACTUALITY_USER = ("<question>\n{{ input }}\n</question>\n<expert_answer>\n{{ expected }}\n"
                   "</expert_answer>\n<submission>\n{{ output }}\n</submission>")

QUESTION_SYSTEM = """Write the one question that the given answer responds to. Reply with \
the question only."""
QUESTION_USER = "<answer>\n{{ output }}\n</answer>"

FACTUALITY_SCORES = {"A": 1.0, "B": 1.0, "C": 1.0, "D": 0.0, "E": 1.0}

GEVAL_STEPS_SYSTEM = """You design evaluations. Given evaluation criteria, write three to five \
concise steps an evaluator follows to judge a reply by them. Reply with a single JSON \
object and nothing else: {"steps": ["<step>", ...]}."""
GEVAL_STEPS_USER = "<criteria>\n{{ criteria }}\n</criteria>"
GEVAL_SYSTEM = """You evaluate a reply to an input against evaluation criteria, following \
the evaluation steps. Score how well the reply meets the criteria as an integer from 0 \
(not at all) to 10 (fully). Reply with a single JSON object and nothing else: \
{"score": <0-10>, "reason": "<one sentence>"}."""
GEVAL_USER = ("<criteria>\n{{ criteria }}\n</criteria>\n<steps>\n{{ steps }}\n</steps>\n"
              "<input>\n{{ input }}\n</input>\n<reply>\n{{ output }}\n</reply>")
GEVAL_MAX_SCORE = 10


def grader_for(assertion: Assertion, judges: Judges | None, *, embedding: bool = False
               ) -> tuple[JudgeClient, ModelSpec]:
    if judges is None:
        raise BadAssertion(f"{assertion.base} needs an LLM judge, and none is available here")
    if embedding:
        own = assertion.embedder or (assertion.provider if assertion.base == "similar" else None)
        model = own or judges.embedder
    else:
        model = assertion.provider or judges.grader
    if model is None:
        what = "an embedding model" if embedding else "a grader model"
        raise BadAssertion(f"{assertion.base} needs {what}: set defaultTest.options.provider "
                           "(or the assertion's provider) in the experiment file, or "
                           + ("PROMPTOPT_EMBEDDING_MODEL" if embedding
                              else "PROMPTOPT_GRADER_MODEL"))
    return judges.client, model


async def llm_rubric(value: Any, output: str, assertion: Assertion, ctx: GradingContext,
                     judges: Judges | None) -> tuple[Check, JudgeUsage]:
    rubric = value if isinstance(value, str) else json.dumps(value)
    if not rubric.strip():
        raise BadAssertion('"llm-rubric" needs the rubric as its value')
    answer, usage = await ask_judge(assertion, judges, ctx, RUBRIC_SYSTEM, RUBRIC_USER,
                               {"output": output, "rubric": rubric})
    verdict = next((o for o in json_objects(answer) if isinstance(o, dict)), None)
    if verdict is None:
        raise JudgeFailed(f"the judge's answer is not JSON: {answer[:200]}", usage)
    passed = verdict.get("pass", True)
    if not isinstance(passed, bool):
        passed = str(passed).strip().lower() in ("true", "yes", "pass", "y")
    score = _number(verdict.get("score"), float(passed))
    if assertion.threshold is not None:
        passed = passed and score >= assertion.threshold
    reason = str(verdict.get("reason") or ("Grading passed" if passed else "Grading failed"))
    return Check(passed, score, reason), usage


async def closed_qa(value: Any, output: str, assertion: Assertion, ctx: GradingContext,
                    judges: Judges | None) -> tuple[Check, JudgeUsage]:
    if not isinstance(value, str) or not value.strip():
        raise BadAssertion('"model-graded-closedqa" needs the criterion as its value')
    answer, usage = await ask_judge(assertion, judges, ctx, CLOSEDQA_SYSTEM, CLOSEDQA_USER,
                               {"output": output, "criteria": value, "input": _input(ctx)})
    last = answer.rstrip()
    if last.endswith("Y"):
        return Check(True, 1.0, f"The submission meets the criterion: {_clip(answer)}"), usage
    if last.endswith("N"):
        return Check(False, 0.0, f"The submission does not meet the criterion: "
                                 f"{_clip(answer)}"), usage
    raise JudgeFailed(f"the judge did not end with Y or N: {_clip(answer)}", usage)


async def factuality(value: Any, output: str, assertion: Assertion, ctx: GradingContext,
                     judges: Judges | None) -> tuple[Check, JudgeUsage]:
    if not isinstance(value, str) or not value.strip():
        raise BadAssertion('"factuality" needs the expert answer as its value')
    answer, usage = await ask_judge(assertion, judges, ctx, FACTUALITY_SYSTEM, FACTUALITY_USER,
                               {"output": output, "expected": value, "input": _input(ctx)})
    category, reason = _factuality_verdict(answer)
    if category is None:
        raise JudgeFailed(f"the judge named no category A-E: {_clip(answer)}", usage)
    score = FACTUALITY_SCORES[category]
    return Check(score > 0, score, f"({category}) {reason}"), usage


def _factuality_verdict(answer: str) -> tuple[str | None, str]:
    for obj in json_objects(answer):
        if isinstance(obj, dict) and isinstance(obj.get("category"), str):
            letter = obj["category"].strip().upper()[:1]
            if letter in FACTUALITY_SCORES:
                return letter, str(obj.get("reason") or "")
    match = re.search(r"\(?\b([A-E])\)", answer)  # the older "(B) ..." answer form
    return (match.group(1), answer[match.end():].strip()) if match else (None, "")


async def g_eval(value: Any, output: str, assertion: Assertion, ctx: GradingContext,
                 judges: Judges | None) -> tuple[Check, JudgeUsage]:
    """G-Eval (Liu et al. 2023), as promptfoo runs it: the judge writes evaluation steps for
    each criterion, then scores the output 0-10 by them; the score is that over 10 (the
    mean over several criteria), passing at the threshold (default 0.7)."""
    criteria = [value] if isinstance(value, str) else value
    if not isinstance(criteria, list) or not criteria or not all(
            isinstance(c, str) and c.strip() for c in criteria):
        raise BadAssertion('"g-eval" needs the criteria: a string or a list of strings')
    threshold = assertion.threshold if assertion.threshold is not None else 0.7
    usage = JudgeUsage()
    scores, reasons = [], []
    for criterion in criteria:
        answer, used = await ask_judge(assertion, judges, ctx, GEVAL_STEPS_SYSTEM,
                                  GEVAL_STEPS_USER, {"criteria": criterion})
        usage += used
        found = next((o for o in json_objects(answer) if isinstance(o, dict)
                      and isinstance(o.get("steps"), list)), None)
        if found is None:
            raise JudgeFailed(f"the judge wrote no evaluation steps: {_clip(answer)}", usage)
        steps = "\n".join(f"{i + 1}. {step}" for i, step in enumerate(found["steps"]))
        answer, used = await ask_judge(assertion, judges, ctx, GEVAL_SYSTEM, GEVAL_USER,
                                  {"criteria": criterion, "steps": steps,
                                   "output": output, "input": _input(ctx)})
        usage += used
        verdict = next((o for o in json_objects(answer) if isinstance(o, dict)
                        and "score" in o), None)
        raw = _number(verdict.get("score"), math.nan) if verdict else math.nan
        if math.isnan(raw):
            raise JudgeFailed(f"the judge gave no 0-10 score: {_clip(answer)}", usage)
        scores.append(min(1.0, max(0.0, raw / GEVAL_MAX_SCORE)))
        reasons.append(str((verdict or {}).get("reason") or ""))
    score = sum(scores) / len(scores)
    passed = score >= threshold
    return Check(passed, score, f"G-Eval {score:.2f} is "
                 + ("at least" if passed else "less than") + f" threshold {threshold:g}: "
                 + " / ".join(r for r in reasons if r)), usage


async def answer_relevance(value: Any, output: str, assertion: Assertion,
                           ctx: GradingContext, judges: Judges | None
                           ) -> tuple[Check, JudgeUsage]:
    query = value if isinstance(value, str) and value.strip() else _input(ctx)
    if not query:
        raise BadAssertion('"answer-relevance" needs the query: a `query` var, or a value')
    usage = JudgeUsage()
    questions = []
    for i in range(3):
        # Three phrasings: the same call three times would be one cached answer.
        question, used = await ask_judge(assertion, judges, ctx, QUESTION_SYSTEM
                                    + ("" if i == 0 else f" (phrasing {i + 1})"),
                                    QUESTION_USER, {"output": output})
        usage += used
        questions.append(question.strip())
    vectors, used = await _embed(assertion, judges, [query, *questions])
    usage += used
    sims = [cosine(vectors[0], v) for v in vectors[1:]]
    score = sum(sims) / len(sims)
    threshold = assertion.threshold if assertion.threshold is not None else 0.0
    passed = score >= threshold - 1e-12
    return Check(passed, score, f"Relevance {score:.2f} is "
                 + ("at least" if passed else "less than") + f" threshold {threshold:g}"), usage


async def similar(value: Any, output: str, assertion: Assertion, ctx: GradingContext,
                  judges: Judges | None) -> tuple[Check, JudgeUsage]:
    references = [value] if isinstance(value, str) else value
    if not isinstance(references, list) or not references or not all(
            isinstance(r, str) for r in references):
        raise BadAssertion('"similar" needs a reference text or a list of them')
    vectors, usage = await _embed(assertion, judges, [output, *references])
    sims = [cosine(vectors[0], v) for v in vectors[1:]]
    threshold = assertion.threshold if assertion.threshold is not None else 0.75
    # Similar to any value passes; so not-similar (its inverse) needs unlike every value.
    best = max(sims)
    passed = best >= threshold
    return Check(passed, best, f"Similarity {best:.2f} is "
                 + ("at least" if passed else "less than") + f" threshold {threshold:g}"), usage


async def moderation(value: Any, output: str, assertion: Assertion, ctx: GradingContext,
                     judges: Judges | None) -> tuple[Check, JudgeUsage]:
    categories = [] if value is None else [value] if isinstance(value, str) else value
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise BadAssertion('"moderation" takes a list of categories to check (or none: all)')
    if not output:
        return Check(True, 1.0, "No output to moderate"), JudgeUsage()
    if judges is None:
        raise BadAssertion("moderation needs a moderation model, and none is available here")
    model = assertion.provider or judges.moderator
    if model is None:
        raise BadAssertion("moderation needs a moderation model: the assertion's provider, "
                           "or PROMPTOPT_MODERATION_MODEL")
    result = await judges.client.moderate(model, output)
    usage = JudgeUsage(1, result.cost_usd)
    if result.status != "completed" or result.flags is None:
        raise JudgeFailed(f"the moderation model {model.id} failed: "
                          f"{result.reason or 'no answer'}", usage)
    flags = result.flags
    if not flags:
        return Check(True, 1.0, "No moderation flags detected"), usage
    relevant = [c for c in flags if not categories or c in categories]
    if relevant:
        return Check(False, 0.0, f"Moderation flags detected: {', '.join(relevant)}"), usage
    return Check(True, 1.0, "No relevant moderation flags detected"), usage


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


async def ask_judge(assertion: Assertion, judges: Judges | None, ctx: GradingContext,
               system: str, user: str, values: dict[str, Any]) -> tuple[str, JudgeUsage]:
    client, model = grader_for(assertion, judges)
    scope = {**ctx.vars, **values}
    if assertion.rubric_prompt:
        messages = _custom_prompt(assertion.rubric_prompt, scope)
    else:
        messages = [{"role": "system", "content": system},
                    {"role": "user", "content": render(user, scope)}]
    result = await client.complete(model, messages)
    usage = JudgeUsage(1, result.cost_usd, result.prompt_tokens or 0,
                       result.completion_tokens or 0)
    if result.status != "completed" or not result.text:
        raise JudgeFailed(f"the judge {model.id} failed: {result.reason or 'no answer'}", usage)
    return result.text, usage


def _custom_prompt(template: str, scope: dict[str, Any]) -> list[dict[str, Any]]:
    from agents.trials.render import render_messages

    return render_messages(template, None, scope)


async def _embed(assertion: Assertion, judges: Judges | None, texts: list[str]
                 ) -> tuple[list[list[float]], JudgeUsage]:
    client, model = grader_for(assertion, judges, embedding=True)
    result = await client.embed(model, texts)
    usage = JudgeUsage(1, result.cost_usd, result.prompt_tokens or 0, 0)
    if result.status != "completed" or not result.vectors:
        raise JudgeFailed(f"the embedding model {model.id} failed: "
                          f"{result.reason or 'no vectors'}", usage)
    return result.vectors, usage


def _input(ctx: GradingContext) -> str:
    """The question the output answers: a query-like var, else the rendered prompt."""
    for name in ("query", "question", "input", "prompt"):
        if isinstance(ctx.vars.get(name), str):
            return ctx.vars[name]
    return ctx.prompt or ""


def _number(value: Any, default: float) -> float:
    if isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _clip(text: str, limit: int = 300) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "..."
