"""The LLM simulator: an OpenAI-compatible server for demos, tests and load/fault runs.

It is a simulator, not a language model: see content.py for what it answers and why.
"""

from agents.trials.simulator.config import DEFAULT_RULES, Latency, QualityRule, SimConfig
from agents.trials.simulator.server import (
    CallRecord,
    RunningSimulator,
    Simulator,
    create_app,
    run_simulator,
    serve,
)

__all__ = [
    "DEFAULT_RULES",
    "CallRecord",
    "Latency",
    "QualityRule",
    "RunningSimulator",
    "SimConfig",
    "Simulator",
    "create_app",
    "run_simulator",
    "serve",
]
