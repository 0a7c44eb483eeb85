"""Every topic, declared once: name, event type, key, partitions, retention, compaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from schemas.events import (
    AnalysisReady,
    CellMessage,
    CellReady,
    DeadLetter,
    Event,
    ExperimentControl,
    PatternOutcomeRecorded,
    PromptSubmitted,
    TrialCompleted,
    TrialRequested,
    TrialScored,
    VariationGenerated,
)

DAY_MS = 24 * 3600 * 1000

# The largest encoded event any topic takes (topics.codec.encode enforces it before every
# produce). Kafka's limits sit above it with room for the key and the record batch around
# it: every topic's max.message.bytes is MAX_MESSAGE_BYTES (Kafka's default, stated so that
# a broker configured otherwise is corrected), and producers keep their default 1 MiB
# max_request_size.
MAX_EVENT_BYTES = 1_000_000
MAX_MESSAGE_BYTES = 1_048_588


# Covariant: a Topic[TrialCompleted] is a Topic[Event] (sinks list the topics they read).
E = TypeVar("E", bound=Event, covariant=True)


@dataclass(frozen=True)
class Topic(Generic[E]):
    """A topic and the event type it carries: decode(topic, raw) is typed as that event."""

    name: str
    event: type[E]
    key: str  # the event field whose value is the Kafka key; dotted for a nested field
    partitions: int = 4
    retention_ms: int = 7 * DAY_MS
    compacted: bool = False
    public: bool = True
    description: str = ""

    def key_of(self, event: Event) -> str:
        value: object = event
        for name in self.key.split("."):
            value = getattr(value, name)
        return str(value)

    def config(self) -> dict[str, str]:
        """The topic configs the catalogue owns (created and verified by topics.admin)."""
        limits = {"max.message.bytes": str(MAX_MESSAGE_BYTES)}
        if self.compacted:
            return {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000", **limits}
        return {"cleanup.policy": "delete", "retention.ms": str(self.retention_ms), **limits}


PROMPT_SUBMITTED = Topic(
    "prompt-submitted", PromptSubmitted, key="experiment_id",
    description="A prompt to optimize, with test cases, models, goals and budget.",
)
VARIATION_GENERATED = Topic(
    "variation-generated", VariationGenerated, key="experiment_id",
    description="One round of candidate prompts (control included) for an experiment.",
)
TRIAL_REQUESTED = Topic(
    "trial-requested", TrialRequested, key="trial.trial_id", partitions=8, public=False,
    description="One LLM call to make; keyed by trial id so calls spread over all workers.",
)
TRIAL_COMPLETED = Topic(
    "trial-completed", TrialCompleted, key="trial.experiment_id",
    description="The outcome of one trial; keyed by experiment so one worker owns its stats.",
)
TRIAL_SCORED = Topic(
    "trial-scored", TrialScored, key="trial.trial.experiment_id", public=False,
    description="A completed trial graded against its test case (per-assertion results, "
                "judge cost); keyed by experiment so one worker owns its statistics.",
)
CELL_COMPARE = Topic(
    "cell-compare", CellMessage, key="experiment_id", public=False,
    description="Trials of tests with select-best / max-score, graded on their own, and the "
                "comparisons' verdicts on their cells; keyed by experiment so one worker "
                "gathers each cell.",
)
CELL_READY = Topic(
    "cell-ready", CellReady, key="experiment_id", public=False,
    description="A cell whose trials are all graded, to compare (select-best, max-score).",
)
ANALYSIS_READY = Topic(
    "analysis-ready", AnalysisReady, key="experiment_id", compacted=True,
    description="Latest analysis of an experiment (compacted: last value = current state).",
)
EXPERIMENT_CONTROL = Topic(
    "experiment-control", ExperimentControl, key="experiment_id", partitions=1, public=False,
    description="Stop commands and budget exhaustion, read by every trials worker.",
)
PATTERN_OUTCOME = Topic(
    "pattern-outcome", PatternOutcomeRecorded, key="posterior_key", public=False,
    description="What a final analysis taught about one pattern; keyed by the posterior it "
                "updates, so each posterior has a single writer.",
)
DEAD_LETTER = Topic(
    "dead-letter", DeadLetter, key="source_topic", partitions=1, retention_ms=30 * DAY_MS,
    public=False, description="Events that failed to parse or validate, with the reason.",
)

TOPICS: tuple[Topic, ...] = (
    PROMPT_SUBMITTED,
    VARIATION_GENERATED,
    TRIAL_REQUESTED,
    TRIAL_COMPLETED,
    TRIAL_SCORED,
    CELL_COMPARE,
    CELL_READY,
    ANALYSIS_READY,
    EXPERIMENT_CONTROL,
    PATTERN_OUTCOME,
    DEAD_LETTER,
)
BY_NAME: dict[str, Topic] = {t.name: t for t in TOPICS}


def topic(name: str) -> Topic:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown topic {name!r}; known: {sorted(BY_NAME)}") from None
