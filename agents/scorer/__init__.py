"""The scorer room: grades trials (assertions and LLM judges), runs the experiment
statistics, publishes analyses.

scorer.grade: trial-completed -> trial-scored (concurrent, stateless: judges wait on LLMs).
scorer.fold_trial: trial-scored -> analysis-ready (ordered per experiment, stateful).
scorer.gather_cell / scorer.compare_cell: select-best and max-score, once every answer of a
cell is in (cell-compare <-> cell-ready; agents/scorer/cells.py).
"""

from typing import Any

from agents.runtime.contract import Agent, Step
from agents.scorer.cells import compare_cell, gather_cell
from agents.scorer.grade import GradeServices, grade_trial
from agents.scorer.handler import ScorerServices, fold_trial
from topics.catalogue import CELL_COMPARE, CELL_READY, TRIAL_COMPLETED, TRIAL_SCORED


async def _open(settings: Any) -> ScorerServices:
    if settings is None:
        from promptopt.settings import get_settings

        settings = get_settings()
    return ScorerServices(snapshot_every=settings.snapshot_every, grade=GradeServices(settings))


async def _close(services: ScorerServices) -> None:
    if services.grade is not None:
        await services.grade.aclose()


def _grade_concurrency() -> int:
    from promptopt.settings import get_settings

    return get_settings().grade_concurrency


AGENT = Agent(
    name="scorer",
    steps=(
        Step("scorer.grade", TRIAL_COMPLETED, grade_trial, concurrency=_grade_concurrency(),
             background=True),
        Step("scorer.fold_trial", TRIAL_SCORED, fold_trial, state_table="scorer-state",
             window_table="scorer-rounds-over", background=True),
        Step("scorer.gather_cell", CELL_COMPARE, gather_cell, state_table="scorer-cells",
             window_table="scorer-cells-over", background=True),
        Step("scorer.compare_cell", CELL_READY, compare_cell,
             concurrency=_grade_concurrency(), background=True),
    ),
    open_services=_open,
    close_services=_close,
)
