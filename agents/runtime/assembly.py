"""Which agents make up promptopt; both runtimes start from this list."""

from __future__ import annotations

from agents.runtime.contract import Agent


def all_agents() -> list[Agent]:
    from agents.optimizer import AGENT as optimizer
    from agents.patterns import AGENT as patterns
    from agents.scorer import AGENT as scorer
    from agents.trials import AGENT as trials

    return [optimizer, trials, scorer, patterns]
