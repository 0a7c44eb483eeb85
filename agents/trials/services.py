"""What the trials steps share within one process: the LLM client (with its cache) and a
running estimate of what each experiment has spent here."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # litellm is heavy: import it when services open, not with the package
    from agents.llm.client import LLMClient


SPEND_IDLE_S = 3600.0  # an experiment that made no call here for this long is forgotten


@dataclass
class TrialsServices:
    llm: LLMClient
    # This worker's spend per experiment, counting calls when they return. The scorer sees
    # the whole experiment and broadcasts budget-exhausted; this stops a worker sooner. It
    # is a hint, so an experiment idle for an hour is dropped: a worker's memory does not
    # grow with every experiment it ever served.
    spend: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    _last_call: dict[str, float] = field(default_factory=dict)
    _next_prune: float = 0.0

    def spent(self, experiment_id: str) -> float:
        return self.spend.get(experiment_id, 0.0)

    def add_spend(self, experiment_id: str, usd: float, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.spend[experiment_id] += usd
        self._last_call[experiment_id] = now
        if now >= self._next_prune:
            self._next_prune = now + SPEND_IDLE_S / 10
            for idle in [e for e, t in self._last_call.items() if now - t > SPEND_IDLE_S]:
                self.spend.pop(idle, None)
                del self._last_call[idle]


async def open_services(settings: Any = None) -> TrialsServices:
    if settings is None:
        from promptopt.settings import get_settings

        settings = get_settings()
    from agents.llm.cache import open_cache
    from agents.llm.client import LLMClient, LLMResult
    from agents.llm.litellm_config import load_litellm_off_loop

    # Before the first trial: every call is priced by litellm, whose import takes seconds.
    await load_litellm_off_loop()

    # PROMPTOPT_LLM_CACHE: this process only (default), a SQLite file, or Redis shared by
    # every worker.
    return TrialsServices(llm=LLMClient(settings, cache=open_cache(settings, LLMResult)))


async def close_services(services: TrialsServices) -> None:
    await services.llm.aclose()
    if services.llm.cache is not None:
        await services.llm.cache.aclose()
