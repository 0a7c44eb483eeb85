from __future__ import annotations

import pytest

from agents.runtime.contract import StepContext
from agents.trials.services import close_services, open_services
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


@pytest.fixture
async def trials_ctx():
    """Factory of a StepContext with real trials services, closed after the test."""
    opened = []

    async def build(settings: Settings, shared: dict | None = None) -> StepContext:
        services = await open_services(settings)
        opened.append(services)
        return StepContext(state={}, shared=shared if shared is not None else {}, services=services)

    yield build
    for services in opened:
        await close_services(services)
