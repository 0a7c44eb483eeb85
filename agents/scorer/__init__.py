"""The scorer room: scores trials, runs the experiment statistics, publishes analyses."""

from agents.runtime.contract import Agent, Step
from agents.scorer.handler import ScorerServices, fold_trial
from topics.catalogue import TRIAL_COMPLETED


async def _open(settings) -> ScorerServices:
    return ScorerServices(snapshot_every=settings.snapshot_every if settings else 10)


AGENT = Agent(
    name="scorer",
    steps=(Step("scorer.fold_trial", TRIAL_COMPLETED, fold_trial, state_table="scorer-state"),),
    open_services=_open,
)
