"""litellm's import (seconds of CPU) never runs on the event loop (litellm_config.py)."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from agents.llm import litellm_config


async def test_regression_worker_loop_blocked_15s_by_the_litellm_import(monkeypatch) -> None:
    threads: list[int] = []

    def fake_load() -> SimpleNamespace:
        threads.append(threading.get_ident())
        return SimpleNamespace(name="litellm")

    fake_load.cache_info = lambda: SimpleNamespace(currsize=0)  # type: ignore[attr-defined]
    monkeypatch.setattr(litellm_config, "load_litellm", fake_load)
    module = await litellm_config.load_litellm_off_loop()
    assert module.name == "litellm"
    assert threads and threads[0] != threading.get_ident()  # imported in a thread


async def test_loaded_litellm_is_returned_without_a_thread(monkeypatch) -> None:
    calls: list[int] = []

    def fake_load() -> str:
        calls.append(threading.get_ident())
        return "litellm"

    fake_load.cache_info = lambda: SimpleNamespace(currsize=1)  # type: ignore[attr-defined]
    monkeypatch.setattr(litellm_config, "load_litellm", fake_load)
    assert await litellm_config.load_litellm_off_loop() == "litellm"
    assert calls == [threading.get_ident()]
