from __future__ import annotations

import pytest

from agents.runtime.contract import StepContext
from agents.trials.services import close_services, open_services
from promptopt.settings import Settings


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
