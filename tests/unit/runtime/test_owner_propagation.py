"""Owner fields travel on every event (issue 12, item 1): what a team submits comes back
on every topic with the same team_id and user_id, so every sink and reader can scope it."""

from __future__ import annotations

from agents.runtime.assembly import all_agents
from agents.runtime.local import LocalRuntime
from schemas.events import OwnerFields, PromptSubmitted
from schemas.experiment import ExperimentSpec, ModelSpec, TestCase
from topics.catalogue import PROMPT_SUBMITTED, TOPICS


async def test_every_event_of_an_experiment_carries_its_owner(make_sim, settings_for):
    spec = ExperimentSpec(
        prompt="Classify the sentiment of this review: {{review}}",
        test_cases=tuple(TestCase(id=f"t{i}", vars={"review": r}, expected=e) for i, (r, e)
                         in enumerate([("Great!", "positive"), ("Awful.", "negative")] * 3)),
        models=(ModelSpec(id="sim/small"),), n_variations=1, max_rounds=2)
    seen: list[tuple[str, object]] = []
    async with make_sim() as sim:
        runtime = LocalRuntime(all_agents(), settings_for(sim),
                               observers=[(t, lambda t, e: seen.append((t.name, e)))
                                          for t in TOPICS])
        async with runtime:
            await runtime.publish(PROMPT_SUBMITTED, PromptSubmitted(
                experiment_id="exp-owned", spec=spec, team_id="team_a", user_id="usr_a"))
            await runtime.run_until_idle(timeout=60)

    topics = {name for name, _ in seen}
    assert {"variation-generated", "trial-requested", "trial-completed", "trial-scored",
            "analysis-ready"} <= topics, topics
    assert "dead-letter" not in topics
    for name, event in seen:
        carrier = event
        while hasattr(carrier, "trial"):  # trial events: on the nested TrialSpec
            carrier = carrier.trial
        assert isinstance(carrier, OwnerFields), name
        assert (carrier.team_id, carrier.user_id) == ("team_a", "usr_a"), (name, event)
