"""Consumer progress (agents/runtime/progress.py): stalls, and partitions to re-read."""

from __future__ import annotations

from agents.runtime.progress import PartitionHealth, Progress, starved


def health(consumer: str, topic: str, partition: int, lag: int,
           idle_s: float) -> PartitionHealth:
    return PartitionHealth(consumer, topic, partition, lag, idle_s, stalled=False)


def test_a_partition_with_lag_and_no_progress_stalls_after_stall_s() -> None:
    now = [0.0]
    progress = Progress(stall_s=30, clock=lambda: now[0])
    progress.done("step", "t", 0, 4)
    now[0] = 31.0
    [p] = progress.report({"t": ["step"]}, [("t", 0)], {("t", 0): 9}, {("t", 0): 0})
    assert p.lag == 4 and p.stalled
    [caught_up] = progress.report({"t": ["step"]}, [("t", 0)], {("t", 0): 5}, {})
    assert caught_up.lag == 0 and not caught_up.stalled


def test_starved_partitions_are_those_no_consumer_gets_with_nothing_in_flight() -> None:
    partitions = [
        health("optimizer.next_round", "analysis-ready", 0, 2, 40.0),
        health("sink.postgres", "analysis-ready", 0, 2, 40.0),
        # one consumer still moving: the fetcher delivers this partition
        health("optimizer.next_round", "analysis-ready", 1, 3, 40.0),
        health("sink.postgres", "analysis-ready", 1, 3, 1.0),
        # idle but caught up
        health("trials.fan_out", "variation-generated", 1, 0, 500.0),
        # a slow handler holds one of its events
        health("trials.run_trial", "trial-requested", 2, 5, 60.0),
        # not idle long enough yet
        health("optimizer.generate", "prompt-submitted", 1, 1, 5.0),
    ]
    busy = {("trial-requested", 2)}
    assert starved(partitions, busy, after_s=30.0) == [("analysis-ready", 0)]
