"""Pattern outcomes from final analyses and the patterns.learn step."""

from __future__ import annotations

from agents.patterns import AGENT
from schemas.events import PatternOutcomeRecorded
from agents.patterns.learning import (
    PatternOutcome,
    outcomes_from_analysis,
    pooled_posterior,
    read_posterior,
    stats_key,
)
from agents.runtime.contract import StepContext
from schemas.events import AnalysisReady, VariationResult


def _analysis(final=True, decision="winner", winner="b", **overrides) -> AnalysisReady:
    variations = (
        VariationResult(variation_id="c", name="control", is_control=True, n=20, mean=0.5),
        VariationResult(variation_id="b", name="v1", patterns=("role", "few-shot"), n=20,
                        mean=0.8, p_adjusted=0.001, lift=0.3),
        VariationResult(variation_id="x", name="v2", patterns=("concise",), n=20, mean=0.45,
                        p_adjusted=0.6, lift=-0.05),
        VariationResult(variation_id="z", name="v3", patterns=("tone",), n=0),
    )
    fields = dict(experiment_id="e1", round=1, final=final, decision=decision,
                  winner_id=winner, variations=variations, domain="support",
                  models=("sim/small", "sim/large"))
    fields.update(overrides)
    return AnalysisReady(**fields)


def test_winner_patterns_succeed_others_fail_control_and_unmeasured_skipped():
    outcomes = outcomes_from_analysis(_analysis())
    by = {(o.variation_id, o.pattern_id, o.model): o.success for o in outcomes}
    assert by == {
        ("b", "role", "sim/small"): True, ("b", "role", "sim/large"): True,
        ("b", "few-shot", "sim/small"): True, ("b", "few-shot", "sim/large"): True,
        ("x", "concise", "sim/small"): False, ("x", "concise", "sim/large"): False,
    }
    assert all(isinstance(o, PatternOutcome) and o.domain == "support" for o in outcomes)


def test_significant_positive_lift_counts_without_a_declared_winner():
    analysis = _analysis(decision="inconclusive", winner=None)
    wins = {o.variation_id for o in outcomes_from_analysis(analysis) if o.success}
    assert wins == {"b"}


def test_significant_negative_lift_is_a_failure():
    variations = (
        VariationResult(variation_id="c", name="control", is_control=True, n=20, mean=0.8),
        VariationResult(variation_id="w", name="v1", patterns=("tone",), n=20, mean=0.2,
                        p_adjusted=0.001, lift=-0.6),
    )
    outcomes = outcomes_from_analysis(_analysis(decision="control-best", winner=None,
                                                variations=variations))
    assert outcomes and not any(o.success for o in outcomes)


def test_snapshots_teach_nothing():
    assert outcomes_from_analysis(_analysis(final=False, decision="running")) == []


async def test_learn_updates_posteriors_once_per_round_even_if_redelivered():
    learn, tally = AGENT.steps
    assert (learn.name, tally.name) == ("patterns.learn", "patterns.tally")
    assert tally.shared_table == "pattern-stats" and tally.consumes.key == "posterior_key"
    learn_ctx = StepContext(state={}, shared={}, window={})
    tally_ctx = StepContext(state={}, shared={}, window={})

    async def deliver(analysis, times=1):
        for _ in range(times):  # at-least-once delivery, at both hops
            for emit in await learn.handle(analysis, learn_ctx):
                for _ in range(times):
                    assert await tally.handle(emit.event, tally_ctx) == []

    await deliver(_analysis(final=False, decision="running"))
    assert tally_ctx.shared == {}
    await deliver(_analysis(), times=3)
    shared = tally_ctx.shared
    assert shared[stats_key("role", "support", "sim/small")] == {"alpha": 2.0, "beta": 1.0}
    assert shared[stats_key("concise", "support", "sim/large")] == {"alpha": 1.0, "beta": 2.0}
    # a second round of the same experiment is new evidence
    await deliver(_analysis(round=2))
    assert read_posterior(shared, "role", "support", "sim/small").alpha == 3.0


async def test_tally_drops_outcomes_published_twice_by_a_crashed_learner():
    _, tally = AGENT.steps
    ctx = StepContext(state={}, shared={}, window={})
    [outcome] = [o for o in outcomes_from_analysis(_analysis())
                 if (o.pattern_id, o.model) == ("role", "sim/small")]
    again = PatternOutcomeRecorded(**outcome.model_dump(exclude={"occurred_at"}))
    assert again.occurred_at != outcome.occurred_at  # a new event, the same outcome
    await tally.handle(outcome, ctx)
    await tally.handle(again, ctx)
    assert read_posterior(ctx.shared, "role", "support", "sim/small").alpha == 2.0


def test_pooled_posterior_adds_evidence_of_each_model_to_one_prior():
    shared = {stats_key("role", "d", "m1"): {"alpha": 3.0, "beta": 1.0},
              stats_key("role", "d", "m2"): {"alpha": 1.0, "beta": 4.0}}
    p = pooled_posterior(shared, "role", "d", ["m1", "m2", "m3"])
    assert (p.alpha, p.beta) == (3.0, 4.0)
    assert read_posterior(shared, "missing", "d", "m1").mean == 0.5
