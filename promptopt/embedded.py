"""Run one experiment end to end in this process: the `promptopt run` job.

Starts the LLM simulator when a model is a "sim/" model, runs every agent on the local
runtime, publishes the prompt, and collects what comes out until the last round's final
analysis is in.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.patterns.learning import SHARED_TABLE as PATTERN_STATS
from agents.runtime.assembly import all_agents
from agents.runtime.local import LocalRuntime
from agents.scorer.stats.power import PlanCheck, check_plan
from agents.sinks.mongo import trial_document
from promptopt.results import run_summary, rows_per_test_case
from promptopt.settings import Settings, get_settings
from schemas.events import (
    AnalysisReady,
    DeadLetter,
    Event,
    PromptSubmitted,
    TrialCompleted,
    TrialScored,
    VariationGenerated,
)
from schemas.experiment import ExperimentSpec
from topics.catalogue import (
    ANALYSIS_READY,
    DEAD_LETTER,
    PROMPT_SUBMITTED,
    TRIAL_COMPLETED,
    TRIAL_SCORED,
    VARIATION_GENERATED,
    Topic,
)


@dataclass
class RunResult:
    experiment_id: str
    spec: ExperimentSpec
    rounds: list[VariationGenerated] = field(default_factory=list)
    analyses: list[AnalysisReady] = field(default_factory=list)  # every snapshot, in order
    trials: list[TrialCompleted] = field(default_factory=list)
    scored: list[TrialScored] = field(default_factory=list)  # the trials, graded
    dead_letters: list[DeadLetter] = field(default_factory=list)

    def finals(self) -> list[AnalysisReady]:
        return [a for a in self.analyses if a.final]

    def to_json(self) -> dict[str, Any]:
        return {
            "experiment_id": self.experiment_id,
            "spec": self.spec.model_dump(mode="json"),
            "rounds": [r.model_dump(mode="json", exclude={"spec"}) for r in self.rounds],
            "final_analyses": [a.model_dump(mode="json") for a in self.finals()],
            "trials": [trial_document(t) for t in self.trials],
            "results": rows_per_test_case(self),
            "summary": run_summary(self).to_json(),
            "dead_letters": [d.model_dump(mode="json") for d in self.dead_letters],
        }


def uses_simulator(spec: ExperimentSpec, settings: Settings) -> bool:
    """A sim/ model among the experiment's models, its graders, or the settings' graders."""
    ids = [m.id for m in spec.models]
    ids += [m.id for t in spec.test_cases for a in t.every_assertion()
            for m in (a.provider, a.embedder) if m is not None]
    ids += [i for i in (settings.grader_model, settings.embedding_model) if i]
    if any(a.base == "moderation" for t in spec.test_cases for a in t.every_assertion()):
        ids += [settings.moderation_model or ""]
    return any(i.startswith("sim/") for i in ids)


def plan_check(spec: ExperimentSpec) -> PlanCheck:
    """Can the planned trials detect spec.analysis.min_effect? (Before spending anything.)"""
    analysis = spec.analysis
    per_variation = spec.cells(spec.control_models)
    return check_plan(per_variation, analysis.min_effect, alpha=analysis.alpha,
                      power=analysis.power, metric=analysis.metric)


async def run_experiment(
    spec: ExperimentSpec,
    experiment_id: str,
    *,
    settings: Settings | None = None,
    sim_config: Any = None,
    on_event: Callable[[Topic, Event], None] | None = None,
    timeout_s: float = 600,
    pattern_stats: Path | None = None,
) -> RunResult:
    """Run one experiment to its last final analysis.

    pattern_stats: a JSON file of learned pattern statistics, read before and written
    after, so that successive local runs learn as the Kafka fleet does.
    """
    settings = settings or get_settings()
    result = RunResult(experiment_id, spec)
    collectors: dict[str, list[Any]] = {
        VARIATION_GENERATED.name: result.rounds,
        ANALYSIS_READY.name: result.analyses,
        TRIAL_COMPLETED.name: result.trials,
        TRIAL_SCORED.name: result.scored,
        DEAD_LETTER.name: result.dead_letters,
    }

    def collect(topic: Topic, event: Event) -> None:
        collectors[topic.name].append(event)
        if on_event is not None:
            on_event(topic, event)

    async with contextlib.AsyncExitStack() as stack:
        if uses_simulator(spec, settings):
            from agents.trials.simulator import run_simulator

            sim = await stack.enter_async_context(run_simulator(sim_config))
            settings = settings.model_copy(update={"sim_base_url": sim.base_url})
        runtime = LocalRuntime(
            all_agents(), settings,
            observers=[(t, collect) for t in
                       (VARIATION_GENERATED, ANALYSIS_READY, TRIAL_COMPLETED, TRIAL_SCORED,
                        DEAD_LETTER)],
        )
        await stack.enter_async_context(runtime)
        learned = runtime.table(PATTERN_STATS)
        if pattern_stats is not None and pattern_stats.exists():
            learned.update(json.loads(pattern_stats.read_text()))
        await runtime.publish(PROMPT_SUBMITTED,
                              PromptSubmitted(experiment_id=experiment_id, spec=spec))
        await runtime.run_until_idle(timeout=timeout_s)
        if pattern_stats is not None:
            pattern_stats.parent.mkdir(parents=True, exist_ok=True)
            # Only the posteriors: the table also holds per-experiment round memory.
            posteriors = {k: v for k, v in learned.items() if k.startswith("pattern:")}
            pattern_stats.write_text(json.dumps(posteriors, indent=1, sort_keys=True))
    return result
