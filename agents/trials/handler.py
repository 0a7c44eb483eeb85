"""The trials steps: fan a round out into trial requests, run each trial, obey stop commands."""

from __future__ import annotations

import logging
from typing import Any

from agents.runtime.contract import Emit, StepContext
from agents.trials.plan import (
    BUDGET_TRIALS_REASON,
    plan_round,
    request,
    round_analysis,
    skipped,
)
from agents.trials.render import MissingVariable, TemplateError, render, render_messages
from agents.trials.services import TrialsServices
from schemas.events import (
    REASON_MAX_CHARS,
    RESPONSE_MAX_CHARS,
    ExperimentControl,
    TokenLogprobs,
    TrialCompleted,
    TrialRequested,
    VariationGenerated,
)
from topics.catalogue import TRIAL_COMPLETED, TRIAL_REQUESTED

BUDGET_COST_REASON = "budget: max_cost_usd"
SENT_PROMPT_MAX_CHARS = 50_000

log = logging.getLogger("promptopt.trials")


def stop_key(experiment_id: str, round_: int | None = None) -> str:
    """A stop of one round (a sequential decision) or of every round (a user, a budget)."""
    return f"stopped:{experiment_id}" if round_ is None else f"stopped:{experiment_id}:r{round_}"


async def fan_out(event: VariationGenerated, ctx: StepContext) -> list[Emit]:
    """One TrialRequested per variation x model x test case x repetition, up to max_trials
    over the whole experiment; the rest are reported at once as skipped trials, so the
    round's trial-completed count always reaches expected_trials.

    Stateless: the round says what its experiment's earlier rounds requested (trials_used,
    kept by the optimizer, which plans the rounds), so a redelivered round recomputes the
    same cut and nothing per experiment is kept here."""
    trials = plan_round(event)
    expected = len(trials)
    allowed = event.trials_allowed()
    analysis = round_analysis(event)  # once per round: it walks every cell
    emits = [Emit(TRIAL_REQUESTED, request(event, t, expected, analysis))
             for t in trials[:allowed]]
    emits += [
        Emit(TRIAL_COMPLETED, skipped(event, t, expected, BUDGET_TRIALS_REASON, analysis))
        for t in trials[allowed:]
    ]
    return emits


async def run_trial(event: TrialRequested, ctx: StepContext) -> list[Emit]:
    """Make the trial's LLM call and report it; never raises for an LLM or template error."""
    services: TrialsServices = ctx.services
    trial = event.trial
    stopped = ctx.shared.get(stop_key(trial.experiment_id)) or ctx.shared.get(
        stop_key(trial.experiment_id, trial.round))
    if stopped:
        return [_completed(event, status="skipped", reason=str(stopped), attempts=0)]
    cap = trial.budget.max_cost_usd
    if cap is not None and services.spent(trial.experiment_id) >= cap:
        return [_completed(event, status="skipped", reason=BUDGET_COST_REASON, attempts=0)]
    try:
        messages = trial_messages(event)
    except (MissingVariable, TemplateError) as err:
        return [_completed(event, status="failed", reason=str(err), attempts=0)]

    result = await services.llm.complete(trial.model, messages)
    services.add_spend(trial.experiment_id, result.cost_usd)
    log.debug("trial %s %s %s/%s %s in %.0f ms, $%.6f%s", trial.trial_id, trial.model.id,
              trial.experiment_id, trial.variation.variation_id, result.status,
              result.latency_ms or 0.0, result.cost_usd, " (cached)" if result.cached else "")
    return [
        _completed(
            event,
            status=result.status,
            reason=result.reason,
            response=result.text,
            latency_ms=result.latency_ms,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            cost_usd=result.cost_usd,
            attempts=result.attempts,
            cached=result.cached,
            prompt=sent_prompt(messages),
            logprobs=TokenLogprobs(total=result.logprob_total, tokens=result.logprob_tokens)
            if result.logprob_total is not None and result.logprob_tokens else None,
        )
    ]


async def control(event: ExperimentControl, ctx: StepContext) -> list[Emit]:
    """Remember that an experiment is stopped; every later trial of it is skipped."""
    ctx.shared[stop_key(event.experiment_id, event.round)] = stop_reason(event)
    return []


def stop_reason(event: ExperimentControl) -> str:
    prefix = "budget" if event.command == "budget-exhausted" else "stopped"
    if not event.reason:
        return BUDGET_COST_REASON if prefix == "budget" else "stopped"
    return event.reason if event.reason.startswith(prefix) else f"{prefix}: {event.reason}"


def trial_messages(event: TrialRequested) -> list[dict[str, Any]]:
    """The system message and the rendered prompt (a chat prompt's own messages), with the
    test's prefix and suffix around the last user message (promptfoo's options.prefix,
    options.suffix)."""
    test = event.trial.test_case
    messages = render_messages(event.prompt, event.system, test.vars)
    if test.prefix or test.suffix:
        last = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=None)
        if last is not None:
            before = render(test.prefix, test.vars) if test.prefix else ""
            after = render(test.suffix, test.vars) if test.suffix else ""
            messages[last] = {**messages[last],
                              "content": f"{before}{messages[last]['content']}{after}"}
    return messages


def sent_prompt(messages: list[dict[str, Any]]) -> str:
    """What the model was asked (the last user message), kept on the trial for its graders
    and its report; clipped to the event's bound."""
    users = [str(m["content"]) for m in messages if m.get("role") == "user"]
    return (users[-1] if users else "")[:SENT_PROMPT_MAX_CHARS]


def _completed(event: TrialRequested, **outcome: Any) -> Emit:
    # Within the event's bounds: a runaway answer or error text is cut, not a lost trial.
    for name, limit in (("response", RESPONSE_MAX_CHARS), ("reason", REASON_MAX_CHARS)):
        if isinstance(outcome.get(name), str):
            outcome[name] = outcome[name][:limit]
    return Emit(TRIAL_COMPLETED, TrialCompleted(trial=event.trial, **outcome))
