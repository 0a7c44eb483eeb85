"""The scorer room: scores trials, runs the experiment statistics, publishes analyses."""

from agents.runtime.contract import Agent, Step
from agents.scorer.handler import fold_trial
from topics.catalogue import TRIAL_COMPLETED


async def _open(settings):
    return settings  # fold_trial reads snapshot_every from it


AGENT = Agent(
    name="scorer",
    steps=(Step("scorer.fold_trial", TRIAL_COMPLETED, fold_trial, state_table="scorer-state"),),
    open_services=_open,
)
