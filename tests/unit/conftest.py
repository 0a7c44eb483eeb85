"""Fixtures shared by the unit tests of every room that calls an LLM (llm, trials, ...)."""

from __future__ import annotations

import pytest

from agents.trials.simulator import SimConfig, run_simulator
from promptopt.settings import Settings


@pytest.fixture
def make_sim():
    """Factory: `async with make_sim(**SimConfig fields) as sim:`."""
    return lambda **fields: run_simulator(SimConfig(**fields))


@pytest.fixture
def settings_for():
    def build(sim, **overrides) -> Settings:
        values = {"sim_base_url": sim.base_url, "llm_timeout_s": 0.5, "llm_max_retries": 3}
        return Settings(**{**values, **overrides})

    return build
