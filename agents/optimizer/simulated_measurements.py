"""Measured scores from the LLM simulator's quality model, without a server: training and
evaluation data for the predictor when no real experiment has run yet (demos, the
predictor's held-out figure).

Each row is a prompt (a library example, rewritten by 0-2 library patterns) on a simulator
model, scored as the mean of `cases` Bernoulli trials at the simulator's q for that prompt:
what running that many trials on the simulator would measure.
"""

from __future__ import annotations

import random

from agents.optimizer.generation import Base, apply_patterns
from agents.optimizer.predictor import Measured
from agents.patterns.library import load_library

MODELS = ("sim/small", "sim/medium", "sim/large")


def simulated_rows(n_prompts: int = 40, *, variants: int = 4, cases: int = 20,
                   seed: int = 0) -> list[Measured]:
    from agents.trials.simulator import SimConfig
    from agents.trials.simulator.content import quality

    rng = random.Random(seed)
    config = SimConfig(seed=seed)
    library = load_library()
    bases = [e["before"] for p in library for e in p.examples if e.get("before")]
    rng.shuffle(bases)
    rows: list[Measured] = []
    for b, base in enumerate(bases[:n_prompts]):
        for _ in range(variants):
            chosen = rng.sample(library, rng.choice((0, 1, 1, 2)))
            out = apply_patterns(Base(base, None), chosen, domain="general",
                                 values={"examples": "Input: a\nOutput: b"})
            if out is None:
                continue
            prompt, system, _ = out
            for model in MODELS:
                q = quality(config, model, f"{system or ''}\n{prompt}")
                score = sum(rng.random() < q for _ in range(cases)) / cases
                rows.append(Measured(prompt, system, tuple(p.id for p in chosen), model,
                                     "general", score, cases, group=f"base-{b}"))
    return rows
