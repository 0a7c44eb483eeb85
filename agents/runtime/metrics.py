"""Prometheus metrics every process exposes, fed from the events it sees go by.

Deriving the product metrics from events (rather than sprinkling counters through the
handlers) keeps the rooms free of instrumentation and gives both runtimes the same figures.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from schemas.events import (
    AnalysisReady,
    DeadLetter,
    Event,
    PromptSubmitted,
    TrialCompleted,
    VariationGenerated,
)
from topics.catalogue import Topic

OPTIMIZATION_REQUESTS = Counter(
    "optimization_requests_total", "Prompts submitted for optimization, by status", ["status"]
)
OPTIMIZATION_DURATION = Histogram(
    "optimization_duration_seconds",
    "From prompt submission to the final analysis",
    buckets=(1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
TEST_EXECUTIONS = Counter("test_executions_total", "A/B tests by outcome", ["status"])
ACTIVE_TESTS = Gauge("active_tests_total", "A/B tests with trials still running")
TRIALS = Counter("trials_total", "Trials by status", ["status", "model"])
TRIAL_LATENCY = Histogram(
    "trial_latency_seconds", "LLM call latency per trial", ["model"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
TRIAL_COST = Counter("trial_cost_usd_total", "Money spent on LLM calls", ["model"])
DEAD_LETTERS = Counter("dead_letters_total", "Events sent to dead-letter", ["source_topic"])
STEP_EVENTS = Counter("step_events_total", "Events handled per step", ["step", "outcome"])
STEP_SECONDS = Histogram(
    "step_seconds", "Time to handle one event, retries included", ["step"],
    buckets=(0.001, 0.005, 0.02, 0.1, 0.5, 2, 10, 60),
)
SINK_WRITES = Counter("sink_writes_total", "Sink batch writes by outcome", ["sink", "outcome"])



@cache
def child(metric: Any, *labels: str) -> Any:
    """metric.labels(*labels), looked up once per label set: `labels()` validates and
    hashes its arguments under a lock on every call (~10 us), and the hot path asks for
    the same few children for every event."""
    return metric.labels(*labels)


def step_ok(step: str, seconds: float) -> None:
    """A step handled an event in `seconds`."""
    child(STEP_EVENTS, step, "ok").inc()
    child(STEP_SECONDS, step).observe(seconds)


_active: set[tuple[str, int]] = set()
_submitted_at: dict[str, float] = {}


def observe(topic: Topic, event: Event) -> None:
    """Update the product metrics for one event published on `topic`."""
    match event:
        case PromptSubmitted():
            OPTIMIZATION_REQUESTS.labels(status="submitted").inc()
            _submitted_at.setdefault(event.experiment_id, event.occurred_at.timestamp())
        case VariationGenerated():
            _active.add((event.experiment_id, event.round))
            ACTIVE_TESTS.set(len(_active))
        case TrialCompleted():
            model = event.trial.model.id
            child(TRIALS, event.status, model).inc()
            if event.latency_ms is not None:
                child(TRIAL_LATENCY, model).observe(event.latency_ms / 1000)
            if event.cost_usd:
                child(TRIAL_COST, model).inc(event.cost_usd)
        case AnalysisReady(final=True):
            key = (event.experiment_id, event.round)
            if key in _active:
                _active.discard(key)
                ACTIVE_TESTS.set(len(_active))
                TEST_EXECUTIONS.labels(status=event.decision).inc()
                OPTIMIZATION_REQUESTS.labels(status="completed").inc()
            started = _submitted_at.pop(event.experiment_id, None)
            if started is not None:
                OPTIMIZATION_DURATION.observe(max(0.0, event.occurred_at.timestamp() - started))
        case DeadLetter():
            DEAD_LETTERS.labels(source_topic=event.source_topic).inc()
