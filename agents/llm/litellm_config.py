"""The one place litellm is configured and imported.

litellm fetches its model cost map from the internet at import unless told otherwise; this
machine (and many production networks) have no route out, so it must read its bundled copy.
That is an environment variable read at import, so every use of litellm goes through
`load_litellm()`, which sets it first. litellm takes seconds to import: callers import it
on first use, not with their package, and never on an event loop: the import is seconds of
CPU (7.6 s on a loaded 2-core box), which blocked a worker's loop for ~15 s before its first
LLM call ("Timer woke up too late"; heartbeats and commits stalled). Async code awaits
`load_litellm_off_loop()`.
"""

from __future__ import annotations

import asyncio
import os
from functools import cache
from types import ModuleType


@cache
def load_litellm() -> ModuleType:
    """litellm, configured: local cost map, no debug banners."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    # litellm attached its own handlers at import: hand its loggers to the process's one
    # configuration (promptopt/logging_config.py says why).
    from promptopt.logging_config import adopt_library_loggers

    adopt_library_loggers()
    return litellm


async def load_litellm_off_loop() -> ModuleType:
    """load_litellm() in a thread the first time, so the event loop keeps running."""
    if load_litellm.cache_info().currsize:
        return load_litellm()
    return await asyncio.to_thread(load_litellm)
