"""The simulator as an OpenAI-compatible HTTP server (aiohttp).

POST /v1/chat/completions (and /chat/completions), POST /v1/embeddings,
POST /v1/moderations (judge.moderation_result: lexical categories), GET /v1/models,
GET /health.
Every random choice is a pure function of the config seed and the request, plus a per-request
attempt counter for injected faults, so a rerun against a fresh server replays exactly.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from agents.trials.simulator.config import Latency, SimConfig
from agents.trials.simulator.content import (
    answer,
    count_tokens,
    draw,
    embedding,
    token_logprobs,
)
from agents.trials.simulator.judge import moderation_result

SIMULATOR_KEY: web.AppKey[Simulator] = web.AppKey("simulator")


@dataclass(frozen=True)
class CallRecord:
    """One request as the simulator saw it (times from time.monotonic())."""

    key: str  # identifies the request: model, messages, temperature, seed
    attempt: int  # 0 for the first time this request was seen, then 1, 2, ...
    model: str
    outcome: str  # ok | 429 | 500 | timeout | bad-request | 401 | a reject_status
    received_at: float
    answered_at: float


@dataclass
class Simulator:
    """State of one simulator: its config, counters and call log. Tests may swap `config`."""

    config: SimConfig
    calls: list[CallRecord] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    _attempts: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    _draws: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def requests(self) -> int:
        return sum(self.outcomes.values())

    def reset(self) -> None:
        """Forget counters and attempts, as a freshly started simulator would."""
        self.calls.clear()
        self.outcomes.clear()
        self._attempts.clear()
        self._draws.clear()

    async def complete(self, body: dict[str, Any]) -> web.Response:
        received = time.monotonic()
        model = str(body.get("model") or "default")
        messages = body.get("messages")
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            self._record("", 0, model, "bad-request", received)
            return _error(400, "invalid_request_error", "'messages' must be a list of objects")
        temperature = body.get("temperature")
        request_seed = body.get("seed")
        key = _request_key(model, messages, temperature, request_seed)
        attempt = self._attempts[key]
        self._attempts[key] += 1
        cfg = self.config

        await asyncio.sleep(_latency_s(cfg.latency_for(model), cfg.seed, key, attempt))

        fault = draw(cfg.seed, "fault", key, attempt)
        if fault < cfg.rate_429:
            self._record(key, attempt, model, "429", received)
            return _error(
                429,
                "rate_limit_error",
                "simulated rate limit",
                headers={"Retry-After": str(cfg.retry_after_s)},
            )
        if fault < cfg.rate_429 + cfg.rate_500:
            self._record(key, attempt, model, "500", received)
            return _error(500, "server_error", "simulated server error")
        if fault < cfg.error_rate:
            self._record(key, attempt, model, "timeout", received)
            await asyncio.sleep(cfg.hang_s)  # longer than any client timeout
            return _error(504, "timeout", "simulated timeout")

        deterministic = not temperature or request_seed is not None
        if deterministic:
            u = draw(cfg.seed, "answer", key)
        else:  # sampling: each call for the same request is a new draw, replayable in order
            u = draw(cfg.seed, "answer", key, self._draws[key])
            self._draws[key] += 1
        reply = answer(cfg, model, messages, u)
        prompt_tokens = sum(count_tokens(str(m.get("content") or "")) + 3 for m in messages)
        completion_tokens = count_tokens(reply.text)
        logprobs = token_logprobs(cfg.seed, key, reply) if body.get("logprobs") else None
        self._record(key, attempt, model, "ok", received)
        return web.json_response(
            {
                "id": f"chatcmpl-sim-{key[:16]}-{attempt}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "system_fingerprint": f"sim-{cfg.seed}",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply.text},
                        "finish_reason": "stop",
                        "logprobs": logprobs,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        )

    async def embed(self, body: dict[str, Any]) -> web.Response:
        """Hashed bag-of-words vectors (content.embedding), after the configured latency."""
        model = str(body.get("model") or "default")
        answered = await self._texts(body, model)
        if isinstance(answered, web.Response):
            return answered
        texts, _ = answered
        tokens = sum(count_tokens(t) for t in texts)
        return web.json_response({
            "object": "list",
            "model": model,
            "data": [{"object": "embedding", "index": i, "embedding": embedding(t)}
                     for i, t in enumerate(texts)],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        })

    async def moderate(self, body: dict[str, Any]) -> web.Response:
        """OpenAI's moderation answer (judge.moderation_result), after the latency."""
        model = str(body.get("model") or "moderation")
        answered = await self._texts(body, model)
        if isinstance(answered, web.Response):
            return answered
        texts, key = answered
        return web.json_response({"id": f"modr-{key[:16]}", "model": model,
                                  "results": [moderation_result(t) for t in texts]})

    async def _texts(self, body: dict[str, Any], model: str
                     ) -> tuple[list[str], str] | web.Response:
        """The `input` of an embeddings or moderations request (a string or strings) and
        its request key, after the configured latency; or the 400 to answer."""
        received = time.monotonic()
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            self._record("", 0, model, "bad-request", received)
            return _error(400, "invalid_request_error", "'input' must be a string or strings")
        key = _request_key(model, texts, None, None)
        await asyncio.sleep(_latency_s(self.config.latency_for(model), self.config.seed, key, 0))
        self._record(key, 0, model, "ok", received)
        return texts, key

    def _record(self, key: str, attempt: int, model: str, outcome: str, received: float) -> None:
        self.outcomes[outcome] += 1
        self.calls.append(CallRecord(key, attempt, model, outcome, received, time.monotonic()))


def create_app(config: SimConfig | None = None) -> web.Application:
    app = web.Application(client_max_size=8 * 1024 * 1024)
    app[SIMULATOR_KEY] = Simulator(config or SimConfig())
    app.router.add_post("/v1/chat/completions", _chat)
    app.router.add_post("/chat/completions", _chat)
    app.router.add_post("/v1/embeddings", _embeddings)
    app.router.add_post("/embeddings", _embeddings)
    app.router.add_post("/v1/moderations", _moderations)
    app.router.add_post("/moderations", _moderations)
    app.router.add_get("/v1/models", _models)
    app.router.add_get("/models", _models)
    app.router.add_get("/health", _health)
    return app


@dataclass
class RunningSimulator:
    simulator: Simulator
    host: str
    port: int

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def config(self) -> SimConfig:
        return self.simulator.config

    @config.setter
    def config(self, value: SimConfig) -> None:
        self.simulator.config = value


@asynccontextmanager
async def run_simulator(
    config: SimConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningSimulator]:
    """Serve a simulator in this event loop: `async with run_simulator(cfg) as sim: sim.base_url`.

    port=0 picks a free port. Hanging "timeout" requests are cancelled when the client goes.
    """
    app = create_app(config)
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]
    try:
        yield RunningSimulator(app[SIMULATOR_KEY], host, bound)
    finally:
        await runner.cleanup()


def serve(config: SimConfig, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve until interrupted (the `promptopt sim-llm` command)."""
    web.run_app(
        create_app(config),
        host=host,
        port=port,
        access_log=None,
        handler_cancellation=True,
        shutdown_timeout=0.5,
        print=None,
    )


async def _chat(request: web.Request) -> web.Response:
    body = await _request_body(request)
    if isinstance(body, web.Response):
        return body
    if body.get("stream"):
        return _error(400, "invalid_request_error", "the simulator does not stream")
    return await request.app[SIMULATOR_KEY].complete(body)


async def _embeddings(request: web.Request) -> web.Response:
    body = await _request_body(request)
    if isinstance(body, web.Response):
        return body
    return await request.app[SIMULATOR_KEY].embed(body)


async def _moderations(request: web.Request) -> web.Response:
    body = await _request_body(request)
    if isinstance(body, web.Response):
        return body
    return await request.app[SIMULATOR_KEY].moderate(body)


async def _request_body(request: web.Request) -> dict[str, Any] | web.Response:
    """The request's JSON object, or the 401 or 400 to answer instead."""
    refused = _unauthorized(request) or _rejected(request)
    if refused is not None:
        return refused
    return await _json_object(request)


def _unauthorized(request: web.Request) -> web.Response | None:
    simulator = request.app[SIMULATOR_KEY]
    wanted = simulator.config.api_key
    if wanted is None or request.headers.get("Authorization") == f"Bearer {wanted}":
        return None
    simulator._record("", 0, "", "401", time.monotonic())
    return _error(401, "invalid_api_key", "Incorrect API key provided")


# The OpenAI error each rejected status comes with.
_REJECTIONS = {
    400: ("invalid_request_error", "simulated: this request is invalid"),
    403: ("permission_denied", "simulated: this key may not use this model"),
    404: ("model_not_found", "simulated: the model does not exist"),
    422: ("unprocessable_entity", "simulated: the request's content is refused"),
}


def _rejected(request: web.Request) -> web.Response | None:
    simulator = request.app[SIMULATOR_KEY]
    status = simulator.config.reject_status
    if status is None:
        return None
    simulator._record("", 0, "", str(status), time.monotonic())
    return _error(status, *_REJECTIONS[status])


async def _json_object(request: web.Request) -> dict[str, Any] | web.Response:
    """The request's JSON object, or the 400 to answer instead."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error(400, "invalid_request_error", "body is not JSON")
    if not isinstance(body, dict):
        return _error(400, "invalid_request_error", "body must be a JSON object")
    return body


async def _models(request: web.Request) -> web.Response:
    names = sorted(request.app[SIMULATOR_KEY].config.model_quality)
    return web.json_response(
        {
            "object": "list",
            "data": [{"id": n, "object": "model", "created": 0, "owned_by": "sim"} for n in names],
        }
    )


async def _health(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR_KEY]
    return web.json_response({"status": "ok", "requests": sim.requests, **sim.outcomes})


def _error(
    status: int, kind: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = {"error": {"message": message, "type": kind, "code": kind, "param": None}}
    return web.json_response(body, status=status, headers=headers)


def _request_key(model: str, messages: list[Any], temperature: Any, seed: Any) -> str:
    payload = json.dumps([model, messages, temperature, seed], sort_keys=True, default=str)
    return hashlib.blake2b(payload.encode(), digest_size=16).hexdigest()


def _latency_s(latency: Latency, seed: int, key: str, attempt: int) -> float:
    if latency.mean_ms <= 0:
        return 0.0
    if latency.distribution == "fixed" or latency.std_ms <= 0:
        ms = latency.mean_ms
    else:
        rng = random.Random(int(draw(seed, "latency", key, attempt) * 2**53))
        if latency.distribution == "normal":
            ms = rng.gauss(latency.mean_ms, latency.std_ms)
        else:  # lognormal with the requested mean and standard deviation
            sigma2 = math.log(1 + (latency.std_ms / latency.mean_ms) ** 2)
            ms = rng.lognormvariate(math.log(latency.mean_ms) - sigma2 / 2, math.sqrt(sigma2))
    return max(latency.min_ms, ms) / 1000.0
