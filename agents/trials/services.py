"""What the trials steps share within one process: the LLM client (with its cache) and a
running estimate of what each experiment has spent here."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # litellm is heavy: import it when services open, not with the package
    from agents.llm.client import LLMClient


@dataclass
class TrialsServices:
    llm: LLMClient
    # This worker's spend per experiment, counting calls when they return. The scorer sees
    # the whole experiment and broadcasts budget-exhausted; this stops a worker sooner.
    spend: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    def spent(self, experiment_id: str) -> float:
        return self.spend.get(experiment_id, 0.0)


async def open_services(settings: Any = None) -> TrialsServices:
    if settings is None:
        from promptopt.settings import get_settings

        settings = get_settings()
    from agents.llm.cache import open_cache
    from agents.llm.client import LLMClient, LLMResult

    # PROMPTOPT_LLM_CACHE: this process only (default), a SQLite file, or Redis shared by
    # every worker.
    return TrialsServices(llm=LLMClient(settings, cache=open_cache(settings, LLMResult)))


async def close_services(services: TrialsServices) -> None:
    await services.llm.aclose()
    if services.llm.cache is not None:
        await services.llm.cache.aclose()
