"""The trials agent: fans each round of variations out into single LLM calls (trial-requested,
keyed by trial id so calls spread over every worker), makes them through the LLM client
(agents/llm), and reports each outcome on trial-completed — completed, failed with a
reason, or skipped by a budget or a stop command. Nothing is silently lost: a round's
trial-completed count is expected_trials.
"""

from agents.runtime.contract import Agent, Step
from agents.trials.handler import control, fan_out, run_trial
from agents.trials.services import close_services, open_services
from promptopt.settings import get_settings
from topics.catalogue import EXPERIMENT_CONTROL, TRIAL_REQUESTED, VARIATION_GENERATED

AGENT = Agent(
    name="trials",
    steps=(
        Step("trials.fan_out", VARIATION_GENERATED, fan_out),  # stateless
        Step(
            "trials.run_trial",
            TRIAL_REQUESTED,
            run_trial,
            concurrency=get_settings().llm_concurrency,
            shared_table="trials-control",
            shared_expires=True,
        ),
        # Stop flags expire after settings.state_window_s: long after the experiment's
        # last trial, and nothing of it stays for good.
        Step("trials.control", EXPERIMENT_CONTROL, control, shared_table="trials-control",
             shared_expires=True),
    ),
    open_services=open_services,
    close_services=close_services,
)

__all__ = ["AGENT", "control", "fan_out", "run_trial"]
