"""A child process of LLMProcessPool: makes the LLM calls the parent sends it.

Protocol, one JSON object a line (orjson) on stdin and stdout:
  first line in: {"settings": {...}, "share": 0.5}
  in:  {"id": 7, "op": "complete" | "embed", "m": 3, "spec": {...} (first use of m only),
        "messages": [...] | "texts": [...]}
  out: {"id": 7, "result": {...LLMResult or EmbedResult fields}}
Every request runs as its own task, so one child keeps many calls in flight; the limits
of each model are this child's share of them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from typing import Any

import orjson


async def serve() -> None:
    from agents.llm.client import LLMClient
    from promptopt.settings import Settings
    from schemas.experiment import ModelSpec

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin,
                                                        sys.stdout)
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    hello = orjson.loads(await reader.readline())
    client = LLMClient(Settings.model_validate(hello["settings"]), cache=None,
                       limit_share=float(hello["share"]))
    specs: dict[int, ModelSpec] = {}
    tasks: set[asyncio.Task[None]] = set()

    async def handle(request: dict[str, Any]) -> None:
        spec = specs.get(request["m"])
        if spec is None:
            spec = specs[request["m"]] = ModelSpec.model_validate(request["spec"])
        if request["op"] == "embed":
            result: Any = await client.embed(spec, request["texts"])
        else:
            result = await client.complete(spec, request["messages"])
        writer.write(orjson.dumps({"id": request["id"], "result": dataclasses.asdict(result)})
                     + b"\n")

    try:
        while line := await reader.readline():
            task = asyncio.create_task(handle(orjson.loads(line)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    finally:
        for task in tasks:
            task.cancel()
        await client.aclose()


if __name__ == "__main__":
    asyncio.run(serve())
