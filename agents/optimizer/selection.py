"""Which patterns to try: Thompson sampling on each pattern's Beta posterior of success.

Each variation draws a fresh sample from every candidate's posterior and takes the best
draws (at most one pattern per group), so proven patterns are tried most while unproven
ones still get explored. The generator is seeded from the experiment id and round, so a
replayed event picks the same patterns.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agents.patterns.learning import pooled_posterior
from agents.patterns.library import Pattern, load_library


@dataclass(frozen=True)
class Pick:
    """The patterns chosen for one variation, with the posterior draws that chose them."""

    patterns: tuple[Pattern, ...]
    draws: tuple[float, ...]


def seeded_rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def candidate_patterns(
    goals: Iterable[str],
    domain: str,
    model_ids: Sequence[str],
    *,
    present: Iterable[str] = (),
    extra: Iterable[str] = (),
) -> list[Pattern]:
    """Patterns serving one of the goals (or named in `extra`, e.g. fixes for detected
    issues), written for at least one target model, not already in the prompt."""
    goals, skip, wanted = set(goals), set(present), set(extra)
    return [
        p for p in load_library()
        if p.id not in skip
        and (wanted & {p.id} or goals & set(p.goals))
        and (not p.models or any(p.fits_model(m) for m in model_ids))
        and (p.serves_domain(domain) or p.id in wanted or "general" in p.domains)
    ]


def thompson_picks(
    candidates: Sequence[Pattern],
    shared: Mapping[str, Any],
    *,
    domain: str,
    models: Sequence[str],
    rng: random.Random,
    n: int,
    per_variation: int = 2,
    bonus: Mapping[str, float] | None = None,
    tried: Iterable[frozenset[str]] = (),
) -> list[Pick]:
    """Up to n distinct pattern sets, each from a fresh round of posterior draws.

    bonus: added to a pattern's draw (the optimizer favours fixes for detected issues).
    tried: pattern sets not to propose again (earlier rounds).
    """
    bonus = bonus or {}
    seen = set(tried)
    picks: list[Pick] = []
    posts = {p.id: pooled_posterior(shared, p.id, domain, models) for p in candidates}
    for _ in range(n * 4):  # a few extra draws to get past sets already taken
        if len(picks) == n:
            break
        draws = {p.id: rng.betavariate(posts[p.id].alpha, posts[p.id].beta) for p in candidates}
        ranked = sorted(candidates, key=lambda p: (-(draws[p.id] + bonus.get(p.id, 0.0)), p.id))
        chosen: list[Pattern] = []
        groups: set[str] = set()
        for p in ranked:
            if p.group and p.group in groups:
                continue
            chosen.append(p)
            groups.add(p.group)
            if len(chosen) == per_variation:
                break
        key = frozenset(p.id for p in chosen)
        if not chosen or key in seen:
            continue
        seen.add(key)
        picks.append(Pick(tuple(chosen), tuple(round(draws[p.id], 4) for p in chosen)))
    return picks
