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


def generated_key(experiment_id: str) -> str:
    """The experiment's latest round as emitted, re-emitted as it was on a redelivery."""
    return f"generated:{experiment_id}"


async def generate(event: PromptSubmitted, ctx: StepContext) -> list[Emit]:
    """Round 1: the control and up to spec.n_variations candidates: the meta-optimizer's
    (when an LLM is configured), a layout for the target model family, pattern rewrites.

    A redelivered prompt-submitted re-emits the round generated the first time (kept in
    ctx.state), even if pattern statistics moved since, so downstream sees one round; one
    that comes after its experiment ended (ctx.window remembers) is ignored.
    """
    exp = event.experiment_id
    if exp in ctx.window:
        return []
    saved = ctx.state.get(generated_key(exp))
    if saved:
        if saved["round"] != 1:
            return []  # the experiment is past its first round
        return [Emit(VARIATION_GENERATED, VariationGenerated.model_validate(saved))]
    spec = event.spec
    base = Base(spec.prompt, spec.system, models=spec.control_models)
    services = _services(ctx)
    analysis = analyze_prompt(base.prompt, base.system, tokens=False)
    proposals = await _meta_candidates(services, spec, base, analysis,
                                       [Scored(spec.prompt, None)], spec.n_variations)
    variations = generate_round(spec, exp, ctx.shared, round_=1, base=base,
                                fixes=analysis.fixes(), extra_candidates=proposals)
    variations = with_predictions(variations, spec, services.predictor if services else None)
    out = VariationGenerated(experiment_id=exp, round=1, variations=tuple(variations),
                             spec=spec, **event.owner())
    if spec.max_rounds > 1:
        remember_round(ctx.state, exp, spec, 1, variations, trials_used=out.trials_allowed())
    ctx.state[generated_key(exp)] = out.model_dump(mode="json")
    return [Emit(VARIATION_GENERATED, out)]


async def next_round(event: AnalysisReady, ctx: StepContext) -> list[Emit]:
    """After a round's final analysis: the next round from the measured best, unless the
    target is met, max_rounds is reached or the budget is spent. Once per round.

    When no round follows, the experiment is over here: its memory and last round leave
    the state, and a marker in ctx.window makes later redeliveries no-ops."""
    exp = event.experiment_id
    if not event.final or exp in ctx.window:
        return []
    saved = ctx.state.get(generated_key(exp))
    if saved and saved["round"] == event.round + 1:
        return [Emit(VARIATION_GENERATED, VariationGenerated.model_validate(saved))]
    if saved and saved["round"] > event.round + 1:
        return []  # the final of an earlier round, redelivered
    memory = Memory.read(ctx.state, exp)
    if memory is not None and memory.round != event.round:
        return []  # not the round this optimizer is waiting for
    if memory is None:
        # A single-round experiment, or a round this optimizer did not start (variations
        # submitted directly): its last round is decided.
        return _end(ctx, exp, "one round")
    spec = memory.spec
    results = {v.variation_id: v for v in event.variations}
    history = memory.history + [
        {"round": event.round, "variation_id": v.variation_id, "name": v.name,
         "prompt": v.prompt, "system": v.system, "patterns": list(v.patterns),
         "mean": results[v.variation_id].mean if v.variation_id in results else None}
        for v in memory.variations
    ]
    best = measured_best(event)
    per_variation = spec.cells(spec.control_models)
    memory = Memory(spec, memory.round, memory.variations, history,
                    memory.trials_used, memory.cost_usd + event.cost_usd)
    decision = decide_next_round(memory, event, best, per_variation)
    if not decision.go or best is None:
        return _end(ctx, exp, decision.reason)

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
    variations = generate_round(spec, exp, ctx.shared, round_=round_, base=base,
                                fixes=analysis.fixes(), tried=tried, n=decision.n_variations,
                                extra_candidates=proposals)
    variations = with_predictions(variations, spec, services.predictor if services else None)
    if len(variations) < 2:
        return _end(ctx, exp, "no new candidate")
    out = VariationGenerated(experiment_id=exp, round=round_, variations=tuple(variations),
                             spec=spec, trials_used=memory.trials_used, **event.owner())
    remember_round(ctx.state, exp, spec, round_, variations, history,
                   memory.trials_used + out.trials_allowed(), memory.cost_usd)
    ctx.state[generated_key(exp)] = out.model_dump(mode="json")
    return [Emit(VARIATION_GENERATED, out)]


def _end(ctx: StepContext, experiment_id: str, reason: str) -> list[Emit]:
    ctx.state.pop(memory_key(experiment_id), None)
    ctx.state.pop(generated_key(experiment_id), None)
    ctx.window[experiment_id] = reason
    return []


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
