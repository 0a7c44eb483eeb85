"""Trial events carry one nested TrialSpec; their topics still key them as before."""

from __future__ import annotations

from schemas.events import TrialCompleted, TrialRequested, TrialSpec
from schemas.experiment import ModelSpec, TestCase, VariationRef
from topics.catalogue import TRIAL_COMPLETED, TRIAL_REQUESTED
from topics.codec import decode, encode


def spec() -> TrialSpec:
    return TrialSpec(
        trial_id="t-1", experiment_id="exp-1",
        variation=VariationRef(variation_id="v0", name="control", is_control=True),
        test_case=TestCase(id="c1"), expected_trials=2,
        model=ModelSpec(id="sim/small", api_key="sk-secret", temperature=0.3),
    )


def test_trial_requested_is_keyed_by_trial_id_and_completed_by_experiment_id():
    requested = TrialRequested(trial=spec(), prompt="Hi")
    completed = TrialCompleted(trial=spec(), response="ok")
    assert TRIAL_REQUESTED.key_of(requested) == "t-1"
    assert TRIAL_COMPLETED.key_of(completed) == "exp-1"


def test_the_model_travels_without_its_secret():
    raw = encode(TrialRequested(trial=spec(), prompt="Hi"))
    assert b"sk-secret" not in raw
    back = decode(TRIAL_REQUESTED, raw)
    assert back.trial.model.temperature == 0.3 and back.trial.model.api_key is None
