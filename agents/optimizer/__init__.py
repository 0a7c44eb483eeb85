"""The optimizer room: prompt analysis, variation generation and rounds."""

from agents.optimizer.handler import generate, next_round
from agents.optimizer.services import close_services, open_services
from agents.patterns.learning import SHARED_TABLE
from agents.runtime.contract import Agent, Step
from topics.catalogue import ANALYSIS_READY, PROMPT_SUBMITTED

AGENT = Agent(
    name="optimizer",
    steps=(
        # One table for both steps: prompt-submitted and analysis-ready are keyed by
        # experiment id with one partition count, so it is co-partitioned with both.
        Step(
            name="optimizer.generate",
            consumes=PROMPT_SUBMITTED,
            handle=generate,
            state_table="optimizer-rounds",
            window_table="optimizer-ended",
            shared_table=SHARED_TABLE,  # pattern statistics, read
        ),
        Step(
            name="optimizer.next_round",
            consumes=ANALYSIS_READY,
            handle=next_round,
            state_table="optimizer-rounds",
            window_table="optimizer-ended",
            shared_table=SHARED_TABLE,
        ),
    ),
    open_services=open_services,
    close_services=close_services,
)

__all__ = ["AGENT"]
