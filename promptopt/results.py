"""Results per test case, and the run's summary: what a person reading an eval wants after
the statistics — each trial's vars, response, score and assertion verdicts, the arms side by
side, the failures by reason, and everything spent (judges and late trials included)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from schemas.events import AnalysisReady, TrialScored

if TYPE_CHECKING:
    from promptopt.embedded import RunResult

MAX_REASONS = 10


def trial_row(scored: TrialScored, arm: str) -> dict[str, Any]:
    completed = scored.trial
    trial = completed.trial
    return {
        "trial_id": trial.trial_id,
        "round": trial.round,
        "test_case_id": trial.test_case.id,
        "description": trial.test_case.description,
        "vars": trial.test_case.vars,
        "variation_id": trial.variation.variation_id,
        "arm": arm,
        "is_control": trial.variation.is_control,
        "model": trial.model.id,
        "model_label": trial.model.display_name,
        "repetition": trial.repetition,
        "status": completed.status,
        "reason": completed.reason,
        "prompt": completed.prompt,
        "response": completed.response,
        "score": scored.score,
        "passed": scored.passed,
        "grading_reason": scored.reason,
        "assertions": [a.model_dump(mode="json") for a in scored.assertions],
        "named_scores": scored.named_scores,
        "latency_ms": completed.latency_ms,
        "prompt_tokens": completed.prompt_tokens,
        "completion_tokens": completed.completion_tokens,
        "cost_usd": completed.cost_usd,
        "judge_cost_usd": scored.judge_cost_usd,
        "cached": completed.cached,
    }


def arm_names(result: RunResult) -> dict[str, str]:
    """variation id -> the name reports use (the prompt's label, `control`, v1, ...)."""
    return {v.variation_id: v.name for r in result.rounds for v in r.variations}


def rows_per_test_case(result: RunResult) -> list[dict[str, Any]]:
    """One row per trial, ordered by round, test case (file order), arm, model, repetition."""
    names = arm_names(result)
    order = {t.id: i for i, t in enumerate(result.spec.test_cases)}
    arm_order = {v.variation_id: i for r in result.rounds for i, v in enumerate(r.variations)}
    rows = [trial_row(s, names.get(s.trial.trial.variation.variation_id,
                                   s.trial.trial.variation.name)) for s in result.scored]
    rows.sort(key=lambda r: (r["round"], order.get(r["test_case_id"], 0),
                             arm_order.get(r["variation_id"], 0), r["model"], r["repetition"]))
    return rows


@dataclass
class RunSummary:
    trials: int = 0
    completed: int = 0
    failed: int = 0
    skipped: int = 0
    passed: int = 0
    cost_usd: float = 0.0  # everything spent: trials, judges, trials after an early stop
    trial_cost_usd: float = 0.0
    judge_cost_usd: float = 0.0
    judge_calls: int = 0
    analysed_cost_usd: float = 0.0  # what the final analyses counted
    failures: list[tuple[str, int]] = field(default_factory=list)  # (reason, count)
    skips: list[tuple[str, int]] = field(default_factory=list)
    comparable: bool = False
    problem: str = ""  # why the run cannot be read as an A/B test, if it cannot

    def to_json(self) -> dict[str, Any]:
        return {**{k: v for k, v in self.__dict__.items() if k not in ("failures", "skips")},
                "failures": [{"reason": r, "count": n} for r, n in self.failures],
                "skips": [{"reason": r, "count": n} for r, n in self.skips]}


def run_summary(result: RunResult) -> RunSummary:
    summary = RunSummary()
    failures: Counter[str] = Counter()
    skips: Counter[str] = Counter()
    for scored in result.scored:
        completed = scored.trial
        summary.trials += 1
        summary.trial_cost_usd += completed.cost_usd
        summary.judge_cost_usd += scored.judge_cost_usd
        summary.judge_calls += scored.judge_calls
        if completed.status == "completed":
            summary.completed += 1
            summary.passed += bool(scored.passed)
        elif completed.status == "failed":
            summary.failed += 1
            failures[_reason_kind(completed.reason)] += 1
        else:
            summary.skipped += 1
            skips[_reason_kind(completed.reason)] += 1
    summary.cost_usd = summary.trial_cost_usd + summary.judge_cost_usd
    finals = result.finals()
    summary.analysed_cost_usd = sum(a.cost_usd for a in finals)
    summary.failures = failures.most_common(MAX_REASONS)
    summary.skips = skips.most_common(MAX_REASONS)
    summary.comparable, summary.problem = _comparable(finals, summary)
    return summary


def _comparable(finals: list[AnalysisReady], summary: RunSummary) -> tuple[bool, str]:
    if summary.trials and summary.completed == 0:
        if summary.failures:
            reason, count = summary.failures[0]
            most = "" if count == summary.failed else f" ({count} of {summary.failed})"
            return False, f"every trial failed{most}: {reason}"
        return False, "every trial failed"
    if not finals:
        return False, "no final analysis was produced"
    for analysis in finals:
        others = [v for v in analysis.variations if not v.is_control and v.n > 0]
        control = [v for v in analysis.variations if v.is_control and v.n > 0]
        if control and others:
            return True, ""
    return False, ("nothing to compare: only one prompt was measured (give several prompts, "
                   "or `variations:` for the optimizer's candidates)")


def _reason_kind(reason: str | None) -> str:
    """Reasons grouped for a summary: an error's text, without ids or numbers that make
    every message distinct."""
    text = (reason or "unknown").strip().splitlines()[0]
    return text[:400]  # room for the provider's words and what they mean
