"""The optimizer room: prompt analysis, variation generation and rounds."""

from agents.optimizer.handler import generate, next_round
from agents.optimizer.services import close_services, open_services
from agents.patterns.learning import SHARED_TABLE
from agents.runtime.contract import Agent, Step
from topics.catalogue import ANALYSIS_READY, PROMPT_SUBMITTED

AGENT = Agent(
    name="optimizer",
    steps=(
        Step(
            name="optimizer.generate",
            consumes=PROMPT_SUBMITTED,
            handle=generate,
            state_table="optimizer-generated",
            shared_table=SHARED_TABLE,
        ),
        Step(
            name="optimizer.next_round",
            consumes=ANALYSIS_READY,
            handle=next_round,
            state_table="optimizer-rounds",
            shared_table=SHARED_TABLE,
        ),
    ),
    open_services=open_services,
    close_services=close_services,
)

__all__ = ["AGENT"]
