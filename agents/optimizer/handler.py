"""The optimizer steps: the first round of variations for a submitted prompt, and the next
round from the measured best after each final analysis."""

from __future__ import annotations

import math

from agents.optimizer.analysis import PromptAnalysis, analyze_prompt
from agents.optimizer.generation import Base, Candidate, generate_round
from agents.optimizer.meta import Scored
from agents.optimizer.rounds import (
    Memory,
    decide_next_round,
    measured_best,
    memory_key,
    remember_round,
)
from agents.optimizer.services import OptimizerServices, with_predictions
from agents.runtime.contract import Emit, StepContext
from schemas.events import AnalysisReady, PromptSubmitted, VariationGenerated
from schemas.experiment import ExperimentSpec
from topics.catalogue import VARIATION_GENERATED


def generated_key(experiment_id: str, round_: int) -> str:
    return f"generated:{experiment_id}:{round_}"


async def generate(event: PromptSubmitted, ctx: StepContext) -> list[Emit]:
    """Round 1: the control and up to spec.n_variations candidates: the meta-optimizer's
    (when an LLM is configured), a layout for the target model family, pattern rewrites.

    A redelivered prompt-submitted re-emits the round generated the first time (kept in
    ctx.state), even if pattern statistics moved since, so downstream sees one round.
    """
    key = generated_key(event.experiment_id, 1)
    saved = ctx.state.get(key)
    if saved:
        return [Emit(VARIATION_GENERATED, VariationGenerated.model_validate(saved))]
    spec = event.spec
    base = Base(spec.prompt, spec.system, models=spec.control_models)
    services = _services(ctx)
    analysis = analyze_prompt(base.prompt, base.system, tokens=False)
    proposals = await _meta_candidates(services, spec, base, analysis,
                                       [Scored(spec.prompt, None)], spec.n_variations)
    variations = generate_round(spec, event.experiment_id, ctx.shared, round_=1, base=base,
                                fixes=analysis.fixes(), extra_candidates=proposals)
    variations = with_predictions(variations, spec, services.predictor if services else None)
    out = VariationGenerated(
        experiment_id=event.experiment_id, round=1, variations=tuple(variations), spec=spec,
        **event.owner())
    if spec.max_rounds > 1:
        remember_round(ctx.shared, event.experiment_id, spec, 1, variations)
    ctx.state[key] = out.model_dump(mode="json")
    return [Emit(VARIATION_GENERATED, out)]


async def next_round(event: AnalysisReady, ctx: StepContext) -> list[Emit]:
    """After a round's final analysis: the next round from the measured best, unless the
    target is met, max_rounds is reached or the budget is spent. Once per round."""
    if not event.final:
        return []
    key = generated_key(event.experiment_id, event.round + 1)
    if key in ctx.state:
        saved = ctx.state[key]
        if not saved:
            return []
        return [Emit(VARIATION_GENERATED, VariationGenerated.model_validate(saved))]
    memory = Memory.read(ctx.shared, event.experiment_id)
    if memory is None or memory.round != event.round:
        return []  # a single-round experiment, or a round this optimizer did not start
    spec = memory.spec
    results = {v.variation_id: v for v in event.variations}
    history = memory.history + [
        {"round": event.round, "variation_id": v.variation_id, "name": v.name,
         "prompt": v.prompt, "system": v.system, "patterns": list(v.patterns),
         "mean": results[v.variation_id].mean if v.variation_id in results else None}
        for v in memory.variations
    ]
    best = measured_best(event)
    per_variation = len(spec.test_cases) * len(spec.models) * spec.analysis.repetitions
    memory = Memory(spec, memory.round, memory.variations, history,
                    memory.trials_used + event.trials_done, memory.cost_usd + event.cost_usd)
    decision = decide_next_round(memory, event, best, per_variation)
    if not decision.go or best is None:
        ctx.shared.pop(memory_key(event.experiment_id), None)
        ctx.state[key] = None
        return []

    chosen = next(v for v in memory.variations if v.variation_id == best.variation_id)
    significance = ", a significant winner" if event.winner_id == best.variation_id else ""
    base = Base(chosen.prompt, chosen.system, chosen.patterns,
                rationale=f"the best of round {event.round} ({chosen.name}, mean "
                          f"{best.mean:.3f}{significance})", models=chosen.models)
    tried = [frozenset(h["patterns"]) for h in history if h["patterns"]]
    round_ = event.round + 1
    services = _services(ctx)
    analysis = analyze_prompt(base.prompt, base.system, tokens=False)
    scored = [Scored(h["prompt"], h["mean"], tuple(h["patterns"])) for h in history]
    proposals = await _meta_candidates(services, spec, base, analysis, scored,
                                       decision.n_variations)
    variations = generate_round(spec, event.experiment_id, ctx.shared, round_=round_, base=base,
                                fixes=analysis.fixes(), tried=tried, n=decision.n_variations,
                                extra_candidates=proposals)
    variations = with_predictions(variations, spec, services.predictor if services else None)
    if len(variations) < 2:
        ctx.shared.pop(memory_key(event.experiment_id), None)
        ctx.state[key] = None
        return []
    out = VariationGenerated(experiment_id=event.experiment_id, round=round_,
                             variations=tuple(variations), spec=spec, **event.owner())
    remember_round(ctx.shared, event.experiment_id, spec, round_, variations, history,
                   memory.trials_used, memory.cost_usd)
    ctx.state[key] = out.model_dump(mode="json")
    return [Emit(VARIATION_GENERATED, out)]


def _services(ctx: StepContext) -> OptimizerServices | None:
    return ctx.services if isinstance(ctx.services, OptimizerServices) else None


async def _meta_candidates(services: OptimizerServices | None, spec: ExperimentSpec,
                           base: Base, analysis: PromptAnalysis, history: list[Scored],
                           n: int) -> list[Candidate]:
    """Up to half of the round from the meta-optimizer, when one is configured."""
    meta = services.meta_for(spec) if services else None
    if meta is None or n < 1:
        return []
    return await meta.propose(base, analysis, history, spec.goals, math.ceil(n / 2))
