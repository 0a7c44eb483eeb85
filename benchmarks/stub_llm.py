"""A lean fixed-latency OpenAI-compatible server for the fan-out benchmark.

    python -m benchmarks.stub_llm --port 8799 --latency-ms 100

It answers every chat completion with the same small body after a fixed sleep, so what
the benchmark measures is the client's cost, not the server's: the LLM simulator computes
answers (quality rules, token counts) and at thousands of calls a second would take the
core the measured process needs. Runs in its own process; its own CPU is read from /proc
by the benchmark and reported apart.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from aiohttp import web


def create_app(latency_s: float) -> web.Application:
    body = json.dumps({
        "id": "chatcmpl-stub", "object": "chat.completion", "created": 0, "model": "stub",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "positive"}}],
        "usage": {"prompt_tokens": 24, "completion_tokens": 1, "total_tokens": 25},
    }).encode()

    async def chat(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(latency_s)
        return web.Response(body=body, content_type="application/json")

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/health", health)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    args = parser.parse_args()
    web.run_app(create_app(args.latency_ms / 1000), host="127.0.0.1", port=args.port,
                access_log=None, print=None, backlog=1024)


if __name__ == "__main__":
    main()
