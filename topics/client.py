"""The typed client for programs outside the fleet: publish prompts, follow analyses.

    async with PromptOptClient("127.0.0.1:19092") as client:
        await client.submit(PromptSubmitted(experiment_id="exp-1", spec=spec))
        final = await client.final_analysis("exp-1", timeout=120)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaProducer

from schemas.events import AnalysisReady, Event, PromptSubmitted
from topics.catalogue import ANALYSIS_READY, PROMPT_SUBMITTED, Topic
from topics.codec import DecodeError, decode, encode
from topics.reader import open_reader


class PromptOptClient:
    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._producer: AIOKafkaProducer | None = None

    async def __aenter__(self) -> PromptOptClient:
        self._producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, acks="all",
                                          enable_idempotence=True)
        try:
            await self._producer.start()
        except BaseException:
            # A producer that never started still holds a client: close it, or Python
            # warns "Unclosed AIOKafkaProducer" under the caller's error message.
            await self._producer.stop()
            self._producer = None
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def publish(self, topic: Topic, event: Event) -> None:
        assert self._producer is not None, "use `async with PromptOptClient(...)`"
        await self._producer.send_and_wait(
            topic.name, key=topic.key_of(event).encode(), value=encode(event))

    async def submit(self, event: PromptSubmitted) -> None:
        await self.publish(PROMPT_SUBMITTED, event)

    async def analyses(self, experiment_id: str | None = None) -> AsyncIterator[AnalysisReady]:
        """Every analysis-ready event from the start of the (compacted) topic, then live."""
        consumer = await open_reader(self._bootstrap, ANALYSIS_READY.name)
        try:
            async for record in consumer:
                if experiment_id is not None and record.key != experiment_id.encode():
                    continue
                try:
                    event = decode(ANALYSIS_READY, record.value)
                except DecodeError:
                    continue
                yield event
        finally:
            await consumer.stop()

    async def final_analysis(self, experiment_id: str, round_: int = 1,
                             timeout: float = 300) -> AnalysisReady:
        async def first_final() -> AnalysisReady:
            async for analysis in self.analyses(experiment_id):
                if analysis.final and analysis.round == round_:
                    return analysis
            raise RuntimeError("analysis stream ended")

        return await asyncio.wait_for(first_final(), timeout)
