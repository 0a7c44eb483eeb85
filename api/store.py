"""What the API reads and writes in PostgreSQL: who a credential stands for (and its rate
limit), A/B test results scoped to a team, pattern statistics. A small interface, so unit
tests can hand the app an in-memory store.

Every read of a team's work takes the caller's `team` (None: an admin, who sees all) and
puts it in the query itself: a row of another team is never fetched, so "not yours" and
"does not exist" are the same answer (404), and ids do not leak.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from schemas.events import PromptSubmitted

Role = Literal["member", "admin"]
ROLES: tuple[Role, ...] = ("member", "admin")


class StoreUnavailable(Exception):
    """The database cannot be reached (or is not migrated); the API answers 503."""


class StoreRejected(ValueError):
    """The database refused a value (an encoding or range error in the data): no retry can
    help, so the API answers 422. Validation should have caught it first; this is the
    backstop that keeps such a value from being a 500 or a 503."""


@dataclass(frozen=True)
class User:
    id: str
    email: str
    team_id: str
    name: str = ""
    role: Role = "member"
    rate_limit_per_minute: int = 60

    @property
    def scope(self) -> str | None:
        """The team whose work this user may see; None: every team's (an admin)."""
        return None if self.role == "admin" else self.team_id


@dataclass(frozen=True)
class Admission:
    """A credential that stands for `user`, and what its request cost the rate limit:
    wait_s == 0 means go on, else the seconds until the user's next request would pass."""

    user: User
    wait_s: float = 0.0


@dataclass(frozen=True)
class ExperimentRef:
    """An experiment as the caller may see it: its status and its owner."""

    id: str
    status: str  # submitted | running | completed
    team_id: str | None
    user_id: str | None


class Store(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise StoreUnavailable unless a trivial query answers."""

    async def admit_key(self, key_hash: str) -> Admission | None:
        """The owner of an unrevoked API key (by its sha256 hex digest), with one request
        taken from the owner's shared rate limit; None: no such key (nothing is spent)."""

    async def admit_subject(self, user_id: str, issued_at: float) -> Admission | None:
        """The user a verified JWT names, unless its tokens issued at `issued_at` (epoch
        seconds) were revoked; with one request taken from the user's rate limit."""

    async def record_submission(self, event: PromptSubmitted) -> None:
        """Record an accepted experiment with its owner before it is published, so it is
        the team's from the first moment (the sink's later insert of it is a no-op)."""

    async def forget_submission(self, experiment_id: str) -> None:
        """Undo record_submission for an experiment that could not be published."""

    async def experiment(self, experiment_id: str, team: str | None) -> ExperimentRef | None:
        """The experiment, or None when `team` may not see it (or it does not exist)."""

    async def test_results(self, experiment_id: str, team: str | None,
                           round_: int | None = None) -> dict[str, Any] | None:
        """The experiment, its A/B test for `round_` (default: the latest) with one row per
        variation, and the latest analysis of that round; None for an experiment unknown
        to `team`."""

    async def pattern_stats(self) -> dict[str, dict[str, float]]:
        """The pattern-stats table: stats_key(pattern, domain, model) -> {alpha, beta}."""
