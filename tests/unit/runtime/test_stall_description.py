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


async def test_a_stalled_partition_is_placed_in_each_fetch_gate() -> None:
    # Faust fetches a partition only while it is active (or buffered) and unpaused: the
    # description says which gate holds a stalled one (here: a full stream buffer).
    from faust.types import TP

    from agents.runtime.assembly import all_agents
    from agents.runtime.faust_app import build_app, describe_stall
    from promptopt.settings import Settings

    app = build_app(all_agents(), Settings())
    tp = TP("trial-completed", 3)
    app.consumer._set_active_tps({tp, TP("trial-completed", 4)})
    app.consumer.on_buffer_full(tp)
    text = describe_stall(app, [{"topic": "trial-completed", "partition": 3}])
    assert ("partition trial-completed[3]: active=False paused=False buffered=True "
            "kafka_paused=False read_offset=None committed=None") in text
    assert "active=1" in text.splitlines()[0]
