"""The scorer step: idempotent folding, snapshots then one final, rebuild after a restart."""

from __future__ import annotations

import itertools
import json

import pytest

from agents.scorer.handler import ScorerServices, fold_trial
from schemas.events import (
    AnalysisReady,
    ExperimentControl,
    TrialCompleted,
    TrialScored,
    TrialSpec,
)
from schemas.experiment import AnalysisConfig, Budget, ModelSpec, TestCase, VariationRef

CONTROL = VariationRef(variation_id="c", name="control", is_control=True)
BETTER = VariationRef(variation_id="v", name="v1", patterns=("output-format",))


def trial(i: int, variation: VariationRef, right: bool, *, expected: int = 40,
          cost: float = 0.0, budget: Budget = Budget(), judge_cost: float = 0.0) -> TrialScored:
    completed = TrialCompleted(
        trial=TrialSpec(
            trial_id=f"{variation.variation_id}-{i}", experiment_id="exp", variation=variation,
            test_case=TestCase(id=f"t{i}", expected="positive"), model=ModelSpec(id="sim/small"),
            expected_trials=expected, analysis=AnalysisConfig(design="fixed"), budget=budget),
        response="positive" if right else "negative", cost_usd=cost,
    )
    return TrialScored(trial=completed, score=float(right), passed=right,
                       judge_cost_usd=judge_cost)


def trials_of_a_clear_win(n: int = 20) -> list[TrialScored]:
    return [t for i in range(n) for t in (trial(i, CONTROL, i % 4 == 0), trial(i, BETTER, True))]


async def fold_all(events, state, services):
    out = []
    for event in events:
        out += await fold_trial(event, _ctx(state, services))
    return out


# Each test's state dict has its windowed markers beside it (the state is kept alive here,
# so that its id is never reused by another dict).
_WINDOWS: dict[int, tuple[dict, dict]] = {}


def window_of(state: dict) -> dict:
    return _WINDOWS.setdefault(id(state), (state, {}))[1]


def _ctx(state, services):
    from agents.runtime.contract import StepContext

    return StepContext(state=state, shared={}, services=services, window=window_of(state))


def analyses(emits) -> list[AnalysisReady]:
    return [e.event for e in emits if isinstance(e.event, AnalysisReady)]


async def test_snapshots_every_n_then_exactly_one_final():
    emits = await fold_all(trials_of_a_clear_win(), {}, ScorerServices(snapshot_every=10))
    published = analyses(emits)
    assert [a.trials_done for a in published] == [10, 20, 30, 40]
    assert [a.final for a in published] == [False, False, False, True]
    assert [a.seq for a in published] == [1, 2, 3, 4]
    final = published[-1]
    assert final.decision == "winner" and final.winner_id == "v"
    assert {v.variation_id: v.n for v in final.variations} == {"c": 20, "v": 20}


async def test_redelivered_trials_are_folded_once():
    events = trials_of_a_clear_win()
    redelivered = [e for pair in zip(events, events, strict=True) for e in pair]
    once = analyses(await fold_all(events, {}, ScorerServices()))[-1]
    twice = analyses(await fold_all(redelivered, {}, ScorerServices()))[-1]
    assert twice.trials_done == 40
    assert twice.model_dump(exclude={"occurred_at"}) == once.model_dump(exclude={"occurred_at"})


async def test_a_restarted_worker_rebuilds_the_statistics_from_its_state():
    """Half the trials on one process, the rest on a fresh one with the state as a
    changelog would restore it (JSON round trip): the same final as a single process."""
    events = trials_of_a_clear_win()
    state: dict = {}
    await fold_all(events[:25], state, ScorerServices())
    restored = json.loads(json.dumps(state))
    resumed = analyses(await fold_all(events[25:], restored, ScorerServices()))[-1]
    single = analyses(await fold_all(events, {}, ScorerServices()))[-1]
    assert resumed.model_dump(exclude={"occurred_at"}) == single.model_dump(
        exclude={"occurred_at"})


def sequential(events: list[TrialScored], expected: int) -> list[TrialScored]:
    config = AnalysisConfig(design="sequential")
    return [t.model_copy(update={"trial": t.trial.model_copy(update={
        "trial": t.trial.trial.model_copy(update={"analysis": config,
                                                  "expected_trials": expected})})})
            for t in events]


async def test_trial_entries_are_dropped_once_final_and_late_trials_only_count_their_cost():
    state: dict = {}
    events = sequential(trials_of_a_clear_win(15), expected=200)  # decided at 20 of 200
    emits = await fold_all(events, state, ScorerServices())
    final = analyses(emits)[-1]
    assert final.final and final.trials_done == 20
    late_markers = [k for k in state if k != "exp#r1"]
    assert len(late_markers) == 10 and all(state[k] == {"late": True} for k in late_markers)
    late = sequential([trial(99, BETTER, True, cost=0.002, judge_cost=0.001)], 200)[0]
    assert await fold_all([late, late], state, ScorerServices()) == []  # redelivered too
    record = state["exp#r1"]
    assert record["done"] == 20 and record["late"] == 11
    assert record["late_cost_usd"] == pytest.approx(0.003)


async def test_regression_a_rounds_state_is_kept_forever():
    """Every RoundRecord (and every late trial's marker) used to stay in the scorer's
    state for good. Once every expected trial has arrived, nothing of the round is left
    there; a windowed marker makes a later redelivery a no-op."""
    state: dict = {}
    events = trials_of_a_clear_win(20)  # 40 expected, a fixed design: final at the 40th
    emits = await fold_all(events, state, ScorerServices())
    assert analyses(emits)[-1].final and state == {}
    assert window_of(state) == {"exp#r1": True}
    assert await fold_all(events[:5], state, ScorerServices()) == [] and state == {}

    state = {}  # decided early (at 20): the record waits for the trials in flight
    events = sequential(trials_of_a_clear_win(100), expected=200)
    await fold_all(events[:199], state, ScorerServices())
    assert state["exp#r1"]["late"] == 179
    await fold_all(events[199:], state, ScorerServices())  # the last one: the round is over
    assert state == {} and "exp#r1" in window_of(state)


async def test_judge_cost_counts_in_the_trial_cost_and_the_budget():
    cap = Budget(max_cost_usd=0.05)
    events = [trial(i, CONTROL, True, cost=0.004, judge_cost=0.006, budget=cap, expected=10)
              for i in range(6)]
    emits = await fold_all(events, {}, ScorerServices(snapshot_every=100))
    [exhausted] = [e.event for e in emits if isinstance(e.event, ExperimentControl)]
    assert exhausted.command == "budget-exhausted"  # 5 trials x $0.010 reach $0.05
    assert analyses(emits)[0].cost_usd == pytest.approx(0.05)


async def test_money_budget_reached_publishes_budget_exhausted_once():
    cap = Budget(max_cost_usd=0.05)
    events = [trial(i, CONTROL, True, cost=0.01, budget=cap, expected=10) for i in range(8)]
    emits = await fold_all(events, {}, ScorerServices(snapshot_every=100))
    controls = [e.event for e in emits if isinstance(e.event, ExperimentControl)]
    assert len(controls) == 1 and controls[0].command == "budget-exhausted"
    assert "0.05" in controls[0].reason
    assert analyses(emits)[0].budget_exhausted


async def test_a_sequential_winner_stops_only_its_own_round():
    events = sequential(trials_of_a_clear_win(100), expected=200)
    emits = await fold_all(events, {}, ScorerServices(snapshot_every=10))
    [stop] = [e.event for e in emits if isinstance(e.event, ExperimentControl)]
    final = analyses(emits)[-1]
    assert final.final and final.decision == "winner" and final.trials_done < 200
    assert stop.command == "stop" and stop.round == 1


def test_snapshots_thin_out_as_a_round_grows():
    """Every 10 trials up to 400, then never more than 5 % apart: O(log n) analyses."""
    from agents.scorer.handler import snapshot_due

    due = [d for d in range(1, 10_001) if snapshot_due(d, 10)]
    assert due[:40] == list(range(10, 401, 10))
    assert all(b - a <= max(10, b // 20) for a, b in itertools.pairwise(due))
    assert len(due) < 150  # instead of 1,000


async def test_regression_a_kill_between_a_trials_entry_and_its_count_stopped_the_round():
    """test_worker_crash failed in a fresh-clone CI run: the kill -9 fell between the two
    changelog writes of the round's 11th trial (its entry, then the record counting it). The
    restarted worker took the redelivered trial for a copy already counted, and the round
    stopped at 59 of 60 with no final analysis."""
    events = trials_of_a_clear_win()  # 40 trials
    state: dict = {}
    services = ScorerServices(snapshot_every=10)
    await fold_all(events[:11], state, services)
    key = "exp#r1"
    assert state[key]["done"] == 11
    state[key] = {**state[key], "done": 10, "cost_usd": 0.0}  # the record's write was lost
    state[key]["models"] = list(state[key]["models"])
    restarted = ScorerServices(snapshot_every=10)
    published = analyses(await fold_all(events[10:], state, restarted))  # 11th redelivered
    assert [a.trials_done for a in published] == [20, 30, 40]
    assert published[-1].final and {v.variation_id: v.n for v in published[-1].variations} \
        == {"c": 20, "v": 20}


async def test_a_redelivered_trial_after_a_clean_restart_is_still_folded_once():
    events = trials_of_a_clear_win()
    state: dict = {}
    await fold_all(events[:11], state, ScorerServices(snapshot_every=10))
    published = analyses(await fold_all(events[5:], state, ScorerServices(snapshot_every=10)))
    assert [a.trials_done for a in published] == [20, 30, 40]


async def test_the_trial_a_lost_count_left_behind_is_counted_even_if_new_trials_come_first():
    """The full fault run's kill-9-other-worker: 300 entries, two of them with order 169,
    the record at 299. The first trial after the restart rebuilds the statistics from the
    entries and counts the one the record had missed."""
    events = trials_of_a_clear_win()
    state: dict = {}
    await fold_all(events[:11], state, ScorerServices(snapshot_every=10))
    state["exp#r1"] = {**state["exp#r1"], "done": 10}
    published = analyses(await fold_all([*events[11:], events[10]], state,
                                        ScorerServices(snapshot_every=10)))
    assert [a.trials_done for a in published] == [20, 30, 40] and published[-1].final
