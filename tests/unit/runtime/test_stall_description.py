"""A stalled worker logs where each task waits: the whole await chain, not only its top."""
import asyncio

from agents.runtime.faust_app import awaiting


async def test_the_await_chain_is_named_outermost_first() -> None:
    gate = asyncio.Event()

    async def write_batch() -> None:
        await gate.wait()

    async def process() -> None:
        await write_batch()

    task = asyncio.create_task(process())
    await asyncio.sleep(0)
    try:
        chain = awaiting(task.get_coro())
        names = [hop.split(":")[0] for hop in chain.split(" -> ")]
        assert names[:3] == [
            "test_the_await_chain_is_named_outermost_first.<locals>.process",
            "test_the_await_chain_is_named_outermost_first.<locals>.write_batch",
            "Event.wait"]
    finally:
        gate.set()
        await task
    assert awaiting(task.get_coro()) == "coroutine"  # finished: no frame left
