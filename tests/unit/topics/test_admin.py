"""topics.admin's partition check, against an admin client that answers as Kafka did when
several role workers started at once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import SimpleNamespace

from topics.admin import TopicsReport, _verify_partitions


class CreatingElsewhere:
    """describe_topics lists a topic another worker is creating with no partitions the
    first `empty` times, then with its real count; create_partitions fails as Kafka does
    for a topic that already has them."""

    def __init__(self, partitions: int, empty: int) -> None:
        self.partitions = partitions
        self.empty = empty
        self.grown: list[dict] = []

    async def describe_topics(self, names: list[str]) -> list[dict]:
        count = 0 if self.empty > 0 else self.partitions
        self.empty -= 1
        return [{"topic": n, "partitions": [{"partition": p} for p in range(count)]}
                for n in names]

    async def create_partitions(self, grow: dict) -> None:
        self.grown.append(grow)
        raise AssertionError("InvalidPartitionsError: Topic already has 1 partition(s)")


@dataclass(frozen=True)
class spec:  # what ensure_topics needs of a topic (topics.admin.TopicSpec)
    name: str
    partitions: int

    def config(self) -> dict[str, str]:
        return {}


def test_role_workers_started_at_once_do_not_grow_a_changelog_being_created() -> None:
    admin = CreatingElsewhere(partitions=1, empty=3)
    report = TopicsReport()
    topic = spec("deployment-pattern-stats-changelog", 1)
    asyncio.run(_verify_partitions(admin, [topic], report))  # type: ignore[arg-type]
    assert admin.grown == []
    assert report.partitions_added == {}


def test_a_topic_with_too_few_partitions_is_still_grown() -> None:
    class TooFew(CreatingElsewhere):
        async def create_partitions(self, grow: dict):
            self.grown.append(grow)

            return SimpleNamespace(topic_errors=[])

    admin = TooFew(partitions=4, empty=0)
    report = TopicsReport()
    asyncio.run(_verify_partitions(admin, [spec("trial-requested-like", 8)],  # type: ignore[arg-type]
                                   report))
    assert [list(g) for g in admin.grown] == [["trial-requested-like"]]
    assert report.partitions_added == {"trial-requested-like": (4, 8)}
