"""What the optimizer steps share in a process: the performance predictor (if one was
trained and saved) and the meta-optimizer's LLM access (the product's LLM client, opened
on first use: most experiments never call it)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents.optimizer.meta import Complete, MetaOptimizer, client_complete
from agents.optimizer.predictor import DEFAULT_PATH, Predictor, features
from schemas.experiment import ExperimentSpec, ModelSpec, Variation

if TYPE_CHECKING:
    from agents.llm.client import LLMClient

log = logging.getLogger("promptopt.optimizer")


@dataclass
class OptimizerServices:
    settings: Any = None
    predictor: Predictor | None = None
    default_meta_model: ModelSpec | None = None
    complete: Complete | None = field(default=None, repr=False)
    llm: LLMClient | None = field(default=None, repr=False)

    def meta_for(self, spec: ExperimentSpec) -> MetaOptimizer | None:
        """The meta-optimizer for this experiment: its own optimizer_model, else the
        process default; None when neither is set."""
        model = spec.optimizer_model or self.default_meta_model
        if model is None:
            return None
        if self.complete is None:
            self.complete = client_complete(self.client())
        return MetaOptimizer(model, self.complete)

    def client(self) -> LLMClient:
        if self.llm is None:
            from agents.llm.cache import open_cache
            from agents.llm.client import LLMClient, LLMResult

            if self.settings is None:
                from promptopt.settings import get_settings

                self.settings = get_settings()
            self.llm = LLMClient(self.settings, cache=open_cache(self.settings, LLMResult))
        return self.llm


def load_predictor(path: str | Path | None) -> Predictor | None:
    path = Path(path) if path else DEFAULT_PATH
    if not path.exists():
        return None
    try:
        return Predictor.load(path)
    except Exception as err:  # a stale or foreign file must not stop the optimizer
        log.warning("ignoring predictor %s: %r", path, err)
        return None


async def open_services(settings: Any = None) -> OptimizerServices:
    if settings is None:
        from promptopt.settings import get_settings

        settings = get_settings()
    model_id = settings.optimizer_model
    return OptimizerServices(
        settings=settings,
        predictor=load_predictor(settings.predictor_path),
        default_meta_model=ModelSpec(id=model_id) if model_id else None,
    )


async def close_services(services: OptimizerServices) -> None:
    if services.llm is not None:
        await services.llm.aclose()
        if services.llm.cache is not None:
            await services.llm.cache.aclose()


def with_predictions(variations: Sequence[Variation], spec: ExperimentSpec,
                     predictor: Predictor | None) -> list[Variation]:
    """Each variation with predicted_score: the mean prediction over the spec's models."""
    if predictor is None:
        return list(variations)
    models = [m.id for m in spec.models]
    rows = [features(v.prompt, v.system, v.patterns, m, spec.domain)
            for v in variations for m in models]
    predicted = predictor.predict_many(rows)
    out = []
    for i, v in enumerate(variations):
        mine = predicted[i * len(models):(i + 1) * len(models)]
        score = round(sum(p.score for p in mine) / len(mine), 4)
        out.append(v.model_copy(update={"predicted_score": score}))
    return out
