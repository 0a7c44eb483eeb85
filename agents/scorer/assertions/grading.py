"""Grading one response against its test case, as promptfoo does:

1. the test's transform, then each assertion's own, shape the output it checks;
2. string values (and list items) are templates over the test's vars;
3. each family handler answers in the positive sense; a `not-` type inverts pass and score;
4. a failure of the check itself (bad value, script error, judge failure) fails the
   assertion with the reason, never the trial;
5. weight 0 makes an assertion a named metric only (it always passes and does not count);
6. the score is the weighted mean, kept in [0, 1] (the statistics assume bounded scores);
   it passes when every assertion passes, or with a test threshold when the score
   reaches it; a test without assertions passes with score 1;
7. named metrics are the weighted mean of their assertions' scores.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any

from agents.scorer.assertions import code, judged, reference, structure, text
from agents.scorer.assertions.judged import JudgeFailed, Judges
from agents.scorer.assertions.result import (
    AssertionResult,
    Check,
    Graded,
    GradingContext,
    JudgeUsage,
)
from agents.scorer.assertions.text import BadAssertion
from agents.trials.render import MissingVariable, TemplateError, render
from schemas.experiment import SET_TYPE, Assertion, TestCase

Handler = Callable[..., Any]

# base type -> (handler, what it takes): "text" handlers see (value, output, assertion);
# "call" ones also the context; "judged" ones also the judges and return usage.
HANDLERS: dict[str, tuple[Handler, str]] = {
    "equals": (text.equals, "text"),
    "iequals": (text.iequals, "text"),
    "contains": (text.contains, "text"),
    "icontains": (text.icontains, "text"),
    "contains-any": (text.contains_any, "text"),
    "contains-all": (text.contains_all, "text"),
    "icontains-any": (text.icontains_any, "text"),
    "icontains-all": (text.icontains_all, "text"),
    "starts-with": (text.starts_with, "text"),
    "regex": (text.regex, "text"),
    "word-count": (text.word_count, "text"),
    "length": (text.length, "text"),
    "readability": (text.readability, "text"),
    "levenshtein": (text.levenshtein, "text"),
    "is-json": (structure.is_json, "text"),
    "contains-json": (structure.contains_json, "text"),
    "json-schema": (structure.json_schema, "text"),
    "rouge-n": (reference.rouge_n, "text"),
    "bleu": (reference.bleu, "text"),
    "latency": (reference.latency, "call"),
    "cost": (reference.cost, "call"),
    "perplexity": (reference.perplexity, "call"),
    "perplexity-score": (reference.perplexity_score, "call"),
    "javascript": (code.javascript, "call"),
    "python": (code.python, "call"),
    "llm-rubric": (judged.llm_rubric, "judged"),
    "model-graded-closedqa": (judged.closed_qa, "judged"),
    "factuality": (judged.factuality, "judged"),
    "model-graded-factuality": (judged.factuality, "judged"),
    "answer-relevance": (judged.answer_relevance, "judged"),
    "g-eval": (judged.g_eval, "judged"),
    "similar": (judged.similar, "judged"),
    "moderation": (judged.moderation, "judged"),
}


async def grade(test: TestCase, output: str, ctx: GradingContext | None = None,
                judges: Judges | None = None) -> Graded:
    """Grade `output` against every assertion of `test` (see the module docstring)."""
    ctx = ctx or GradingContext(test=test)
    assertions = test.own_assertions()  # comparisons wait for the cell (scorer/cells.py)
    if not assertions:
        return Graded(score=1.0, passed=True, reason="No assertions")
    shaped: Any = output
    if test.transform:
        try:
            shaped = await code.transform(_script(test.transform), output, ctx)
        except (code.ScriptError, ValueError) as err:
            return Graded(score=0.0, passed=False, reason=f"transform failed: {err}")
    results = [await check_one(a, shaped, ctx, judges) for a in assertions]
    return aggregate(test, results)


async def check_one(assertion: Assertion, output: Any, ctx: GradingContext,
                    judges: Judges | None = None) -> AssertionResult:
    if assertion.type == SET_TYPE:
        return await check_set(assertion, output, ctx, judges)
    usage = JudgeUsage()
    try:
        if assertion.transform:
            output = await code.transform(_script(assertion.transform), output, ctx)
        value = render_value(assertion.value, ctx.vars)
        handler, kind = HANDLERS[assertion.base]
        as_text = code.as_text(output)
        if kind == "text":
            check = handler(value, as_text, assertion)
        elif kind == "call":
            check = handler(value, as_text, assertion, ctx)
        else:
            check, usage = await handler(value, as_text, assertion, ctx, judges)
        if inspect.isawaitable(check):
            check = await check
    except JudgeFailed as err:
        check, usage = Check(False, 0.0, str(err)), err.usage
        return _result(assertion, check, usage, invert=False)  # no verdict: not inverted
    except (BadAssertion, code.ScriptError, MissingVariable, TemplateError) as err:
        return _result(assertion, Check(False, 0.0, str(err)), usage, invert=False)
    return _result(assertion, check, usage, invert=assertion.inverse)


def _result(assertion: Assertion, check: Check, usage: JudgeUsage, *, invert: bool
            ) -> AssertionResult:
    passed, score, reason = check.passed, check.score, check.reason
    if invert and not check.metric_only:
        passed = not passed
        score = 1.0 - score if 0.0 <= score <= 1.0 else score
        reason = "Assertion passed" if passed else (
            f"Expected the opposite of {assertion.base}: {check.reason}")
    if assertion.weight == 0:
        passed = True
    return AssertionResult(type=assertion.type, passed=passed, score=score, reason=reason,
                           weight=assertion.weight, metric=assertion.metric,
                           metric_only=check.metric_only, judge=usage)


async def check_set(assertion: Assertion, output: Any, ctx: GradingContext,
                    judges: Judges | None) -> AssertionResult:
    """promptfoo's assert-set: its members graded as a test is (weighted mean; all pass, or
    the score reaches the set's threshold), then counted once in the test, with the set's
    weight and metric. A member's own named metric still reaches the test's."""
    members = [await check_one(a, output, ctx, judges) for a in assertion.assertions]
    graded = aggregate_results(members, assertion.threshold)
    return AssertionResult(type=assertion.type, passed=graded.passed or assertion.weight == 0,
                           score=graded.score, reason=graded.reason, weight=assertion.weight,
                           metric=assertion.metric, judge=graded.judge,
                           members=tuple(members))


def aggregate(test: TestCase, results: list[AssertionResult]) -> Graded:
    return aggregate_results(results, test.threshold)


def aggregate_results(results: list[AssertionResult], threshold: float | None) -> Graded:
    """A test's (or an assert-set's) verdict from its assertions' (see the module doc)."""
    total = weight = 0.0
    named: dict[str, list[float]] = {}
    failed = ""
    for r in results:
        if r.metric_only:
            named.setdefault(r.metric or r.type, [0.0, 0.0])
            named[r.metric or r.type][0] += r.score
            named[r.metric or r.type][1] += 1
            continue
        clipped = min(1.0, max(0.0, r.score))
        total += clipped * r.weight
        weight += r.weight
        if r.metric:
            sums = named.setdefault(r.metric, [0.0, 0.0])
            sums[0] += clipped * (r.weight or 1.0)
            sums[1] += r.weight or 1.0
        if not r.passed and not failed:
            failed = f"{r.type}: {r.reason}"
    score = total / weight if weight > 0 else (1.0 if not failed else 0.0)
    passed = not failed
    reason = failed or "All assertions passed"
    if threshold is not None:
        passed = score >= threshold
        relation = "≥" if passed else "<"
        reason = f"Aggregate score {score:.2f} {relation} {threshold:g} threshold"
    usage = JudgeUsage()
    for r in results:
        usage += r.judge
    named_scores = {k: s / w for k, (s, w) in named.items() if w}
    # An assert-set's members' named metrics (their set's score is its own metric's).
    for r in results:
        if r.members:
            inner = aggregate_results(list(r.members), None).named_scores
            named_scores.update({k: v for k, v in inner.items() if k not in named_scores})
    return Graded(score=score, passed=passed, reason=reason, results=tuple(results),
                  named_scores=named_scores, judge=usage)


def render_value(value: Any, values: dict[str, Any]) -> Any:
    """promptfoo renders string values (and string list items) with the test's vars."""
    if isinstance(value, str):
        return render(value, values)
    if isinstance(value, list):
        return [render(v, values) if isinstance(v, str) else v for v in value]
    return value


def _script(code_value: str) -> str | dict[str, Any]:
    """A transform is inline JavaScript, or a file script the experiment file embedded as
    JSON (see promptopt.experiment_file)."""
    if code_value.startswith("{"):
        try:
            data = json.loads(code_value)
        except ValueError:
            return code_value
        if isinstance(data, dict) and "script" in data:
            return data
    return code_value

