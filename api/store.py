"""What the API reads and writes in PostgreSQL: users and their keys, A/B test results,
pattern statistics. A small interface, so unit tests can hand the app an in-memory store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class StoreUnavailable(Exception):
    """The database cannot be reached (or is not migrated); the API answers 503."""


@dataclass(frozen=True)
class User:
    id: str
    email: str
    name: str = ""
    team_id: str | None = None
    rate_limit_per_minute: int = 60


class Store(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise StoreUnavailable unless a trivial query answers."""

    async def user_by_key_hash(self, key_hash: str) -> User | None:
        """The owner of an unrevoked API key, by the key's sha256 hex digest."""

    async def user_by_id(self, user_id: str) -> User | None: ...

    async def create_key(self, email: str, key_hash: str, *, name: str = "",
                         rate_limit_per_minute: int | None = None) -> tuple[User, str]:
        """Store a key for the user with this email (created if new); returns (user, key id)."""

    async def experiment_status(self, experiment_id: str) -> str | None:
        """submitted | running | completed, or None for an unknown experiment."""

    async def test_results(self, experiment_id: str, round_: int | None = None
                           ) -> dict[str, Any] | None:
        """The experiment, its A/B test for `round_` (default: the latest) with one row per
        variation, and the latest analysis of that round; None for an unknown experiment."""

    async def pattern_stats(self) -> dict[str, dict[str, float]]:
        """The pattern-stats table: stats_key(pattern, domain, model) -> {alpha, beta}."""
