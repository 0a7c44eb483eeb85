"""Which trials a round of variations needs: every variation x model x test case x
repetition where both the variation and the test case run on the model (promptfoo's
per-provider prompts and per-test providers), with deterministic ids, cut at the
experiment's max_trials budget."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from schemas.events import TrialCompleted, TrialRequested, TrialSpec, VariationGenerated
from schemas.experiment import (
    LOGPROB_TYPES,
    AnalysisConfig,
    ModelSpec,
    TestCase,
    Variation,
    VariationRef,
)

BUDGET_TRIALS_REASON = "budget: max_trials"


@dataclass(frozen=True)
class PlannedTrial:
    trial_id: str
    variation: Variation
    model: ModelSpec
    test_case: TestCase
    repetition: int
    cell_size: int = 1  # the round's trials of this test case x model x repetition
    cell_position: int = 0  # this one's place among them (the variations' order)


def trial_id(
    experiment_id: str,
    round_: int,
    variation_id: str,
    model_id: str,
    test_case_id: str,
    repetition: int,
) -> str:
    """Same inputs, same id: a redelivered request or a replayed round is not a new trial."""
    raw = "\x1f".join(
        (experiment_id, str(round_), variation_id, model_id, test_case_id, str(repetition))
    )
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def plan_round(event: VariationGenerated) -> list[PlannedTrial]:
    """All trials of the round, ordered so that a budget cut keeps whole blocks: every
    variation gets the same test cases (pairs stay intact), repetition by repetition. The
    trials of one test case x model x repetition are a cell (what comparisons compare)."""
    spec = event.spec
    planned: list[PlannedTrial] = []
    for rep in range(spec.analysis.repetitions):
        for tc in spec.test_cases:
            for m in spec.models:
                if not tc.runs_on(m):
                    continue
                cell = [v for v in event.variations if runs_on(v, m)]
                planned += [
                    PlannedTrial(trial_id(event.experiment_id, event.round, v.variation_id,
                                          m.key, tc.id, rep),
                                 v, m, tc, rep, cell_size=len(cell), cell_position=i)
                    for i, v in enumerate(cell)]
    return planned


runs_on = Variation.runs_on  # (variation, model): declared once, with the Variation


def ref(variation: Variation) -> VariationRef:
    return VariationRef(
        variation_id=variation.variation_id,
        name=variation.name,
        is_control=variation.is_control,
        patterns=variation.patterns,
    )


def round_analysis(event: VariationGenerated) -> AnalysisConfig:
    """The analysis settings of a round, with its multiplicity family fixed now, at design
    time: the round's variations besides the control, whether or not their trials succeed."""
    family = sum(not v.is_control for v in event.variations)
    return event.spec.analysis.model_copy(update={"family_size": max(1, family),
                                                  "planned_pairs": planned_pairs(event)})


def planned_pairs(event: VariationGenerated) -> int | None:
    """The most pairs any variation gets with the control if every trial succeeds: cells
    (test case x model x repetition) both run (a test case on some models only has cells
    on those). The group-sequential looks are fractions of it; trials a budget cuts end
    the round at a final look before the last planned one."""
    spec = event.spec
    control = next((v for v in event.variations if v.is_control), None)
    if control is None:
        return None

    def shared(v: Variation) -> int:
        return sum(1 for tc in spec.test_cases for m in spec.models
                   if tc.runs_on(m) and runs_on(v, m) and runs_on(control, m))

    most = max((shared(v) for v in event.variations if not v.is_control), default=0)
    pairs = most * spec.analysis.repetitions
    return pairs or None


def trial_spec(event: VariationGenerated, trial: PlannedTrial, expected: int,
               analysis: AnalysisConfig | None = None) -> TrialSpec:
    """`analysis`: round_analysis(event), worked out once per round by the caller (it walks
    every cell of the round: per trial, a round's plan was quadratic in its size)."""
    spec = event.spec
    return TrialSpec(
        trial_id=trial.trial_id,
        experiment_id=event.experiment_id,
        round=event.round,
        variation=ref(trial.variation),
        test_case=trial.test_case,
        model=call_options(trial.model, trial.test_case),
        repetition=trial.repetition,
        expected_trials=expected,
        cell_size=trial.cell_size,
        cell_position=trial.cell_position,
        analysis=analysis if analysis is not None else round_analysis(event),
        budget=spec.budget,
        domain=spec.domain,
        **event.owner(),
    )


def call_options(model: ModelSpec, test: TestCase) -> ModelSpec:
    """The model as this trial calls it: asked for token log-probabilities when a
    perplexity assertion of its test case needs them (nobody has to remember to)."""
    if not model.logprobs and any(a.base in LOGPROB_TYPES for a in test.every_assertion()):
        return model.model_copy(update={"logprobs": True})
    return model


def request(event: VariationGenerated, trial: PlannedTrial, expected: int,
            analysis: AnalysisConfig | None = None) -> TrialRequested:
    variation = trial.variation
    return TrialRequested(
        trial=trial_spec(event, trial, expected, analysis),
        prompt=variation.prompt,
        system=variation.system if variation.system is not None else event.spec.system,
    )


def skipped(
    event: VariationGenerated, trial: PlannedTrial, expected: int, reason: str,
    analysis: AnalysisConfig | None = None,
) -> TrialCompleted:
    return TrialCompleted(trial=trial_spec(event, trial, expected, analysis), status="skipped",
                          reason=reason, attempts=0)
