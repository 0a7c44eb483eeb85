"""Server-sent events: the route over a fake feed, and KafkaFeed's catch-up over a fake
consumer (latest analysis per experiment round first, then live events)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from aiokafka import TopicPartition

from api.bus import CaughtUp, KafkaFeed
from schemas.events import AnalysisReady
from topics.codec import encode

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def analysis(experiment_id: str, seq: int, *, final: bool = False, round_: int = 1,
             minutes: int = 0, team: str | None = "team_a") -> AnalysisReady:
    return AnalysisReady(experiment_id=experiment_id, seq=seq, final=final, round=round_,
                         trials_expected=8, trials_done=seq * 4, team_id=team,
                         occurred_at=T0 + timedelta(minutes=minutes or seq))


def sse_events(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines()
                      if ": " in line and not line.startswith(":"))
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


def analysed(text: str) -> set[str]:
    return {data["experiment_id"] for name, data in sse_events(text) if name == "analysis"}


def test_stream_sends_each_analysis_as_an_event_and_closes_the_feed(api):
    api.store.own("exp-a")
    api.bus.analyses = [analysis("exp-a", 1), analysis("exp-b", 1), analysis("exp-a", 2, final=True)]
    response = api.client.get("/api/v1/stream/exp-a", headers=api.auth())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    assert [(name, data.get("seq"), data.get("final")) for name, data in events] == [
        ("analysis", 1, False), ("analysis", 2, True), ("ready", None, None)]
    assert "id: exp-a:1:2" in response.text
    [(followed, feed)] = api.bus.feeds
    assert followed == "exp-a" and feed.closed >= 1


def test_stream_of_all_experiments_is_the_callers_teams(api):
    api.bus.analyses = [analysis("exp-a", 1), analysis("exp-b", 1),
                        analysis("exp-z", 1, team="team_b"), analysis("exp-n", 1, team=None)]
    response = api.client.get("/api/v1/stream", headers=api.auth())
    assert analysed(response.text) == {"exp-a", "exp-b"}
    assert api.bus.feeds[0][0] is None
    bob = api.client.get("/api/v1/stream", params={"key": api.bob_key})
    assert analysed(bob.text) == {"exp-z"}
    # An admin sees every team's, and what nobody owns.
    admin = api.client.get("/api/v1/stream", headers=api.auth(api.admin_key))
    assert analysed(admin.text) == {"exp-a", "exp-b", "exp-z", "exp-n"}


def test_stream_of_another_teams_experiment_is_404_and_opens_no_feed(api):
    api.store.own("exp-a")
    api.bus.analyses = [analysis("exp-a", 1)]
    response = api.client.get("/api/v1/stream/exp-a", params={"key": api.bob_key})
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "unknown experiment 'exp-a'"
    assert api.bus.feeds == []
    assert api.client.get("/api/v1/stream/exp-a", headers=api.auth(api.admin_key)
                          ).status_code == 200


async def test_feed_of_one_team_skips_other_teams_analyses():
    backlog = {0: [analysis("exp-a", 1), analysis("exp-b", 1, team="team_b")],
               1: [analysis("exp-c", 1, team=None)]}
    live = [analysis("exp-d", 1, minutes=9, team="team_b"), analysis("exp-e", 1, minutes=9)]
    got = await collect(KafkaFeed(FakeConsumer(backlog, live), None, "team_a"))
    assert [e.experiment_id for e in got] == ["exp-a", "exp-e"]


def test_stream_when_kafka_is_down_is_a_503_envelope(api):
    api.store.own("exp-a")
    api.bus.down = True
    response = api.client.get("/api/v1/stream/exp-a", headers=api.auth())
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"


class Exhausted(Exception):
    """The fake consumer has nothing more; ends the test's iteration."""


class Record:
    def __init__(self, event: AnalysisReady, offset: int) -> None:
        self.key = event.experiment_id.encode()
        self.value = encode(event)
        self.offset = offset


class FakeConsumer:
    """Two partitions with a backlog; then `live` records arrive one batch per poll."""

    def __init__(self, backlog: dict[int, list[AnalysisReady]], live: list[AnalysisReady]):
        self.parts = [TopicPartition("analysis-ready", p) for p in backlog]
        self.batches = [{tp: [Record(e, i) for i, e in enumerate(backlog[tp.partition])]}
                        for tp in self.parts]
        self.batches += [{self.parts[0]: [Record(e, 100 + i)]} for i, e in enumerate(live)]
        self.ends = {tp: len(backlog[tp.partition]) for tp in self.parts}
        self.read = dict.fromkeys(self.parts, 0)
        self.stopped = False

    async def getmany(self, timeout_ms: int, max_records: int):
        if not self.batches:
            raise Exhausted
        batch = self.batches.pop(0)
        for tp, records in batch.items():
            self.read[tp] = max(self.read[tp], records[-1].offset + 1)
        return batch

    def assignment(self):
        return set(self.parts)

    async def end_offsets(self, parts):
        return {tp: self.ends[tp] for tp in parts}

    async def position(self, tp):
        return self.read[tp]

    async def stop(self):
        self.stopped = True


async def collect(feed: KafkaFeed, *, marker: bool = False) -> list:
    """The feed's analyses (and, with `marker`, its CaughtUp) until the consumer is dry."""
    got = []
    try:
        async for event in feed:
            if marker or not isinstance(event, CaughtUp):
                got.append(event)
    except Exhausted:
        pass
    return got


async def test_regression_the_page_said_live_before_it_had_the_current_state():
    # The dashboard said "live" when the response started, while the backlog was still to
    # come (up to CATCH_UP_S): a page that waited for "live" and then looked saw nothing
    # yet, or a finished experiment's final only. The feed now says when it has caught up:
    # once, after the backlog, before the first live analysis.
    backlog = {0: [analysis("exp-a", 1), analysis("exp-a", 2)], 1: [analysis("exp-b", 1)]}
    live = [analysis("exp-c", 1, minutes=50)]
    got = await collect(KafkaFeed(FakeConsumer(backlog, live), None, None), marker=True)
    assert [e if isinstance(e, CaughtUp) else (e.experiment_id, e.seq) for e in got] == [
        ("exp-b", 1), ("exp-a", 2), CaughtUp(backlog=2), ("exp-c", 1)]


async def test_feed_sends_the_current_state_first_then_live_events():
    backlog = {
        0: [analysis("exp-a", 1), analysis("exp-a", 2), analysis("exp-a", 3, final=True)],
        1: [analysis("exp-b", 1, minutes=30), analysis("exp-b", 1, round_=2, minutes=40)],
    }
    live = [analysis("exp-c", 1, minutes=50), analysis("exp-c", 2, minutes=51)]
    feed = KafkaFeed(FakeConsumer(backlog, live), None, None)
    got = [(e.experiment_id, e.round, e.seq) for e in await collect(feed)]
    # Backlog collapsed to the latest per (experiment, round), oldest first; then every
    # live snapshot as it comes.
    assert got == [("exp-a", 1, 3), ("exp-b", 1, 1), ("exp-b", 2, 1), ("exp-c", 1, 1),
                   ("exp-c", 1, 2)]


async def test_feed_for_one_experiment_skips_the_others():
    backlog = {0: [analysis("exp-a", 1), analysis("exp-b", 1)], 1: [analysis("exp-a", 2)]}
    live = [analysis("exp-b", 2), analysis("exp-a", 3, final=True)]
    feed = KafkaFeed(FakeConsumer(backlog, live), "exp-a", None)
    got = [(e.experiment_id, e.seq) for e in await collect(feed)]
    assert got == [("exp-a", 2), ("exp-a", 3)]


async def test_feed_ignores_undecodable_records():
    consumer = FakeConsumer({0: [analysis("exp-a", 1)]}, [])
    bad = Record(analysis("exp-a", 9), 1)
    bad.value = b"{not json"
    consumer.batches[0][consumer.parts[0]].append(bad)
    consumer.ends[consumer.parts[0]] = 2
    got = await collect(KafkaFeed(consumer, None, None))
    assert [e.seq for e in got] == [1]
    await KafkaFeed(consumer, None, None).close()
    assert consumer.stopped


async def test_feed_keeps_a_rounds_final_analysis_over_a_replays_later_snapshots():
    # A scorer replaying trial-completed from the start publishes seq 1, 2, ... again after
    # the round's final; a late viewer must still see the decision.
    backlog = {0: [analysis("exp-a", 1), analysis("exp-a", 2, final=True),
                   analysis("exp-a", 1, minutes=10)]}
    got = await collect(KafkaFeed(FakeConsumer(backlog, []), None, None))
    assert [(e.seq, e.final) for e in got] == [(2, True)]
