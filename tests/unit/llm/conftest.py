from __future__ import annotations

import pytest

from agents.llm import LLMClient


@pytest.fixture
async def client_for():
    """Factory: `client_for(settings, cache=...)`, every client closed after the test."""
    made: list[LLMClient] = []

    def build(settings, **kwargs) -> LLMClient:
        client = LLMClient(settings, **kwargs)
        made.append(client)
        return client

    yield build
    for client in made:
        await client.aclose()
