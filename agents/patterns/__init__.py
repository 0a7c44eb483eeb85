"""The patterns room: the pattern library and the success statistics learned per pattern."""

from agents.patterns.handler import learn, tally
from agents.patterns.learning import SHARED_TABLE
from agents.runtime.contract import Agent, Step
from topics.catalogue import ANALYSIS_READY, PATTERN_OUTCOME

AGENT = Agent(
    name="patterns",
    steps=(
        # Only markers (windowed): what was learned lives in the pattern statistics.
        Step(name="patterns.learn", consumes=ANALYSIS_READY, handle=learn,
             window_table="patterns-learned"),
        Step(name="patterns.tally", consumes=PATTERN_OUTCOME, handle=tally,
             window_table="patterns-counted", shared_table=SHARED_TABLE),
    ),
)

__all__ = ["AGENT"]
