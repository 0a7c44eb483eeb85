"""LLM calls in child processes: the embedded runtime's way past one core.

One process runs one event loop on one core. When the HTTP side of the fan-out is what
saturates it, `LLMProcessPool` (settings.llm_processes > 1) makes the calls in N child
processes (agents/llm/pool_worker.py) fed over pipes, one JSON line per call, and answers
`complete` and `embed` exactly as LLMClient does. The deterministic-call cache stays in
this process, so identical calls are still made once; each child holds 1/N of every
model's concurrency and rpm limits, and calls go to the child with the fewest in flight.

Failure story: a child that dies fails the calls it had in flight (failed results with the
reason, as any provider error) and is started again on the next call.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import sys
from dataclasses import dataclass, field
from typing import Any

import orjson

from agents.llm.cache import ResponseCache
from agents.llm.client import EmbedResult, LLMResult, through_cache
from schemas.experiment import ModelSpec

log = logging.getLogger("promptopt.llm.pool")


@dataclass
class _Child:
    proc: asyncio.subprocess.Process
    pending: dict[int, tuple[asyncio.Future[dict[str, Any]], str]] = field(default_factory=dict)
    specs_sent: set[int] = field(default_factory=set)
    reader: asyncio.Task[None] | None = None
    answered: int = 0


class LLMProcessPool:
    """Same interface as LLMClient: complete, embed, aclose, cache, calls."""

    def __init__(self, settings: Any, processes: int, *,
                 cache: ResponseCache | None = None) -> None:
        self._settings = settings
        self._n = processes
        self.cache = cache
        self.calls = 0
        self._children: list[_Child | None] = [None] * processes
        self._ids = itertools.count()
        self._model_keys: dict[ModelSpec, tuple[int, dict[str, Any]]] = {}
        self._lock = asyncio.Lock()

    @property
    def pids(self) -> list[int]:
        return [c.proc.pid for c in self._children if c is not None]

    @property
    def answered(self) -> list[int]:
        """Calls each living child has answered (how the load spread)."""
        return [c.answered for c in self._children if c is not None]

    async def complete(self, model: ModelSpec, messages: list[dict[str, Any]]) -> LLMResult:
        return await through_cache(self.cache, model, messages, self._complete)

    async def embed(self, model: ModelSpec, texts: list[str]) -> EmbedResult:
        data = await self._ask(model, "embed", {"texts": list(texts)})
        return EmbedResult(**data)

    async def aclose(self) -> None:
        for i, child in enumerate(self._children):
            if child is None:
                continue
            self._children[i] = None
            if child.proc.stdin is not None:
                child.proc.stdin.close()
            try:
                await asyncio.wait_for(child.proc.wait(), 5)
            except TimeoutError:
                child.proc.kill()
                await child.proc.wait()
            if child.reader is not None:
                child.reader.cancel()

    async def _complete(self, model: ModelSpec, messages: list[dict[str, Any]]) -> LLMResult:
        data = await self._ask(model, "complete", {"messages": messages})
        result = LLMResult(**data)
        self.calls += result.attempts
        return result

    async def _ask(self, model: ModelSpec, op: str, body: dict[str, Any]) -> dict[str, Any]:
        child = await self._least_busy()
        key, spec = self._model_key(model)
        request_id = next(self._ids)
        request: dict[str, Any] = {"id": request_id, "op": op, "m": key, **body}
        if key not in child.specs_sent:
            request["spec"] = spec
            child.specs_sent.add(key)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        child.pending[request_id] = (future, op)
        assert child.proc.stdin is not None
        child.proc.stdin.write(orjson.dumps(request) + b"\n")
        return await future

    def _model_key(self, model: ModelSpec) -> tuple[int, dict[str, Any]]:
        known = self._model_keys.get(model)
        if known is None:
            # The key itself travels to our own child over a pipe, never onto a topic.
            spec = {**model.model_dump(mode="json"), "api_key": model.api_key}
            known = self._model_keys[model] = (len(self._model_keys), spec)
        return known

    async def _least_busy(self) -> _Child:
        async with self._lock:  # two callers must not both start the same child
            for i, child in enumerate(self._children):
                if child is None or child.proc.returncode is not None:
                    self._children[i] = await self._start()
        children = [c for c in self._children if c is not None]
        return min(children, key=lambda c: len(c.pending))

    async def _start(self) -> _Child:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "agents.llm.pool_worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            limit=64 * 1024 * 1024)
        hello = {"settings": self._settings.model_dump(mode="json"), "share": 1 / self._n}
        assert proc.stdin is not None
        proc.stdin.write(orjson.dumps(hello) + b"\n")
        child = _Child(proc)
        child.reader = asyncio.create_task(self._read(child))
        return child

    async def _read(self, child: _Child) -> None:
        assert child.proc.stdout is not None
        try:
            while line := await child.proc.stdout.readline():
                answer = orjson.loads(line)
                future, _ = child.pending.pop(answer["id"], (None, ""))
                if future is not None and not future.done():
                    child.answered += 1
                    future.set_result(answer["result"])
        finally:
            code = await child.proc.wait()
            reason = f"llm worker process exited ({code})"
            if child.pending:
                log.warning("%s with %d calls in flight", reason, len(child.pending))
            for future, op in child.pending.values():
                if not future.done():
                    future.set_result(_failed(op, reason))
            child.pending.clear()


def _failed(op: str, reason: str) -> dict[str, Any]:
    if op == "embed":
        return {"vectors": None, "status": "failed", "reason": reason, "attempts": 0}
    return {"text": None, "status": "failed", "reason": reason, "attempts": 0}
