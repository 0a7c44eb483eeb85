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
    """One trial's row, from its events (the embedded run)."""
    from agents.sinks.mongo import quality_metrics, trial_document

    return document_row({**trial_document(scored.trial), "quality_metrics":
                         quality_metrics(scored)}, arm)


def document_row(doc: dict[str, Any], arm: str | None = None) -> dict[str, Any]:
    """One trial's row from its MongoDB document (agents/sinks/mongo.py): the one shape of
    results per test case, for --output and for GET /api/v1/test/{id}/trials alike.
    `quality_metrics` is None until the trial is graded (score and pass then None)."""
    quality = doc.get("quality_metrics") or {}
    judge = quality.get("judge") or {}
    variation = doc.get("variation") or {}
    prompt = doc.get("prompt")
    cost = float(doc.get("cost_usd") or 0.0)
    judge_cost = float(judge.get("cost_usd") or 0.0)
    return {
        "trial_id": doc.get("trial_id") or doc.get("_id"),
        "round": doc.get("round"),
        "test_case_id": doc.get("test_case_id"),
        "description": doc.get("test_case_description"),
        "vars": doc.get("vars") or {},
        "variation_id": doc.get("variation_id"),
        "arm": arm or variation.get("name"),
        "is_control": bool(variation.get("is_control")),
        "model": doc.get("model"),
        "model_label": doc.get("model_label") or doc.get("model"),
        "repetition": doc.get("repetition", 0),
        "status": doc.get("status"),
        "reason": doc.get("reason"),
        "prompt": prompt.get("text") if isinstance(prompt, dict) else prompt,
        "response": doc.get("response"),
        "score": quality.get("score"),
        "passed": quality.get("pass"),
        "grading_reason": quality.get("reason"),
        "assertions": list(quality.get("assertions") or []),
        "named_scores": dict(quality.get("named_scores") or {}),
        "latency_ms": doc.get("latency_ms"),
        "prompt_tokens": doc.get("prompt_tokens"),
        "completion_tokens": doc.get("completion_tokens"),
        "cost_usd": cost,
        "judge_cost_usd": judge_cost,
        "judge_calls": int(judge.get("calls") or 0),
        "total_cost_usd": cost + judge_cost,
        "cached": bool(doc.get("cached")),
        "attempts": doc.get("attempts"),
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
