"""promptfoo's comparison assertions: they judge the answers of every prompt for one test
case together (a cell, agents/scorer/cells.py), and give pass to the selected answer and
fail to the others.

- select-best: an LLM judge reads every answer and the criteria (the assertion's value)
  and names the best by its 0-based index (the first integer of its reply, as promptfoo
  reads it); an index out of range or no verdict fails every answer.
- max-score: no judge. Each answer's score is the weighted mean (`method: average`, the
  default) or weighted sum (`method: sum`) of its other assertions' scores, `weights` per
  assertion type (default 1); the highest wins, the first of equal ones; with `threshold`
  no answer wins unless the best reaches it. An answer without other assertions fails
  every answer (promptfoo's error). Measurements without a threshold (latency, cost) are
  not scores and are left out.

The winner scores 1 and the others 0, as in promptfoo; how that reaches a trial's own
verdict is agents.scorer.cells.merged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from agents.scorer.assertions.judged import JudgeFailed, Judges, ask_judge
from agents.scorer.assertions.result import Check, GradingContext, JudgeUsage
from agents.scorer.assertions.text import BadAssertion
from schemas.events import CellAnswer
from schemas.experiment import Assertion

SELECT_BEST_SYSTEM = """You compare several candidate outputs produced for the same input \
and choose the one that best meets the selection criteria. Reply with the 0-based index of \
the best candidate and nothing else."""
SELECT_BEST_USER = ("<selection_criteria>\n{{ criteria }}\n</selection_criteria>\n"
                    "{{ candidates }}")
MAX_SCORE_KEYS = {"method", "weights", "threshold"}


async def select_best(assertion: Assertion, answers: Sequence[CellAnswer],
                      ctx: GradingContext, judges: Judges | None
                      ) -> tuple[list[Check], JudgeUsage]:
    criteria = assertion.value
    if not isinstance(criteria, str) or not criteria.strip():
        raise BadAssertion('"select-best" needs the selection criteria as its value')
    outputs = [a.response or "" for a in answers]
    candidates = "\n".join(f'<candidate index="{i}">\n{text}\n</candidate>'
                           for i, text in enumerate(outputs))
    # promptfoo's rubricPrompt variables for select-best: {{ outputs }}, {{ criteria }}.
    answer, usage = await ask_judge(assertion, judges, ctx, SELECT_BEST_SYSTEM,
                                    SELECT_BEST_USER, {"criteria": criteria,
                                                       "candidates": candidates,
                                                       "outputs": outputs})
    found = re.search(r"\d+", answer)
    chosen = int(found.group()) if found else -1
    if not 0 <= chosen < len(answers):
        raise JudgeFailed(f"select-best: the judge named no candidate 0-{len(answers) - 1}: "
                          f"{answer.strip()[:200]}", usage)
    return [Check(True, 1.0, f"Selected as the best: {criteria}") if i == chosen
            else Check(False, 0.0, f"Not selected (candidate {chosen} was): {criteria}")
            for i in range(len(answers))], usage


def max_score(assertion: Assertion, answers: Sequence[CellAnswer]) -> list[Check]:
    method, weights, threshold = _max_score_options(assertion.value)
    if not answers:
        return []
    if any(not a.scores for a in answers):
        raise BadAssertion("max-score needs at least one other assertion of the test to "
                           "aggregate")
    totals = []
    for answer in answers:
        weighted = sum(s.score * weights.get(s.type, 1.0) for s in answer.scores)
        weight = sum(weights.get(s.type, 1.0) for s in answer.scores)
        totals.append(weighted if method == "sum" else (weighted / weight if weight else 0.0))
    best = max(totals)
    winner = totals.index(best)  # the first of equal scores, as promptfoo
    if threshold is not None and best < threshold:
        winner = -1
    checks = []
    for i, total in enumerate(totals):
        if i == winner:
            checks.append(Check(True, 1.0, f"Selected as the highest score ({total:.3f})"))
        elif winner < 0 and total == best:
            checks.append(Check(False, 0.0, f"Not selected: the highest score {total:.3f} is "
                                            f"below the threshold {threshold:g}"))
        else:
            checks.append(Check(False, 0.0, f"Not selected (score {total:.3f}, highest "
                                            f"{best:.3f})"))
    return checks


def _max_score_options(value: Any) -> tuple[str, dict[str, float], float | None]:
    if value is None:
        return "average", {}, None
    if not isinstance(value, dict) or set(value) - MAX_SCORE_KEYS:
        raise BadAssertion("max-score's value is {method: average|sum, weights: {type: "
                           "number}, threshold: number}")
    method = value.get("method", "average")
    weights = value.get("weights") or {}
    threshold = value.get("threshold")
    if method not in ("average", "sum"):
        raise BadAssertion(f"max-score: method is average or sum, not {method!r}")
    if not isinstance(weights, dict) or not all(
            isinstance(w, int | float) and not isinstance(w, bool) and w >= 0
            for w in weights.values()):
        raise BadAssertion("max-score: weights map assertion types to numbers >= 0")
    if threshold is not None and (isinstance(threshold, bool)
                                  or not isinstance(threshold, int | float)):
        raise BadAssertion("max-score: threshold is a number")
    return method, {str(k): float(v) for k, v in weights.items()}, threshold
