"""The running statistics of one experiment's arms: fold trials in, O(1)-ish per trial.

Per variation: running moments (overall and per model), the first value of each cell
("test case|model|repetition"; the same cell across variations is a pair), the moments of
its paired differences against the control, and the anytime-valid betting sequence over
those differences (one update per completed pair, in the order pairs complete). Across
variations: the moments of the difference vectors of cells every arm has run, for the paired
Bayesian posterior. Analysis reads these; it never refolds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from agents.scorer.stats.betting import BettingSequence, m_grid
from agents.scorer.stats.moments import RunningMoments
from agents.scorer.stats.planned_looks import LookMonitor, LookPlan
from schemas.experiment import AnalysisConfig


@dataclass(frozen=True)
class Observation:
    """One trial's outcome as the statistics see it."""

    trial_id: str
    variation_id: str
    variation_name: str
    is_control: bool
    patterns: tuple[str, ...]
    cell: str  # "test_case_id|model|repetition": the same cell across variations is a pair
    model: str
    value: float | None  # score in [0, 1] (0/1 for metric "pass"); None = failed trial
    cost_usd: float = 0.0


@dataclass
class Arm:
    """One variation's running statistics."""

    variation_id: str
    name: str
    is_control: bool
    patterns: tuple[str, ...]
    sequence: BettingSequence
    assigned: int = 0  # trials folded, failed ones included (what the SRM check counts)
    failed: int = 0
    cost: float = 0.0
    moments: RunningMoments = field(default_factory=RunningMoments)
    by_model: dict[str, RunningMoments] = field(default_factory=dict)
    cells: dict[str, float] = field(default_factory=dict)  # first value per cell
    pairs: RunningMoments = field(default_factory=RunningMoments)  # self - control per cell
    monitor: LookMonitor | None = None  # the planned looks (design: group-sequential)


@dataclass
class CellVectors:
    """Moments of the vectors (v_1 - c, ..., v_k - c) over cells every arm has run.

    `order` fixes the variations' coordinates; a new variation (rare, and only early)
    marks the moments stale and they are rebuilt from the cells once, at the next analysis.
    """

    order: list[str] = field(default_factory=list)
    n: int = 0
    mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    scatter: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    stale: bool = False

    def reset(self, order: list[str]) -> None:
        self.order, self.n, self.stale = list(order), 0, False
        self.mean, self.scatter = np.zeros(len(order)), np.zeros((len(order), len(order)))

    def add(self, vector: np.ndarray) -> None:
        self.n += 1
        delta = vector - self.mean
        self.mean = self.mean + delta / self.n
        self.scatter = self.scatter + np.outer(delta, vector - self.mean)


class ExperimentStats:
    """Streaming, duplicate-proof statistics of one experiment round."""

    def __init__(self, config: AnalysisConfig, planned_trials: int | None = None) -> None:
        self.config = config
        self.planned_trials = planned_trials
        self.arms: dict[str, Arm] = {}
        self.control_id: str | None = None
        self.vectors = CellVectors()
        self._seen: set[str] = set()
        self._grid = m_grid((config.min_effect, -config.min_effect))
        # The strictest level a betting sequence must answer at: the planned family's, or,
        # when the family is not planned, a floor for families of up to 100 variations.
        self._settle_alpha = config.alpha / (config.family_size or 100)
        self.look_plan = self._look_plan()
        self.looks_taken = 0  # looks recorded over all comparisons: a look calls an analysis

    @property
    def n_folded(self) -> int:
        return len(self._seen)

    @property
    def control(self) -> Arm | None:
        return self.arms.get(self.control_id) if self.control_id else None

    @property
    def variations(self) -> list[Arm]:
        """The arms compared with the control, in the order they first reported."""
        return [arm for arm in self.arms.values() if arm.variation_id != self.control_id]

    @property
    def family_size(self) -> int:
        """The multiplicity family: planned at design time, else the variations seen."""
        return self.config.family_size or max(1, len(self.variations))

    @property
    def family_alpha(self) -> float:
        """The level of each comparison's interval: Bonferroni over the planned family."""
        return self.config.alpha / self.family_size

    def analyze(self, *, final: bool):  # -> analysis.AnalysisSummary
        """The analysis now (agents.scorer.stats.analysis.analyze); pure."""
        from agents.scorer.stats.analysis import analyze  # it reads this module's types

        return analyze(self, final=final)

    def fold(self, obs: Observation) -> bool:
        """Fold one trial in; False (and nothing changes) if its trial id was folded before."""
        if obs.trial_id in self._seen:
            return False
        value = _checked_value(obs, self.config.metric)
        arm = self._arm_for(obs)
        self._seen.add(obs.trial_id)
        arm.assigned += 1
        arm.cost += obs.cost_usd
        if value is None:
            arm.failed += 1
            return True
        arm.moments.add(value)
        arm.by_model.setdefault(obs.model, RunningMoments()).add(value)
        if obs.cell in arm.cells:
            return True  # a second trial of one cell: in the moments, never a second pair
        arm.cells[obs.cell] = value
        control = self.control
        if control is None:
            return True
        if arm is control:
            for other in self.variations:  # a control value can complete a pair for each
                if obs.cell in other.cells:
                    self._pair(other, other.cells[obs.cell] - value)
        elif obs.cell in control.cells:
            self._pair(arm, value - control.cells[obs.cell])
        self._complete_cell(obs.cell)
        return True

    def _pair(self, arm: Arm, difference: float) -> None:
        arm.pairs.add(difference)
        arm.sequence.add(difference)
        if arm.monitor is not None and arm.monitor.add(difference, arm.pairs):
            self.looks_taken += 1

    def _look_plan(self) -> LookPlan | None:
        config = self.config
        if config.design != "group-sequential":
            return None
        family = config.family_size or 1
        planned = config.planned_pairs
        if planned is None and self.planned_trials:
            planned = self.planned_trials // (family + 1)  # every arm runs every cell
        if not planned:
            raise ValueError("design group-sequential needs the planned pairs "
                             "(planned_pairs, or the round's planned trials)")
        return LookPlan.make(config.timing(), planned, config.alpha, config.power, family)

    def _complete_cell(self, cell: str) -> None:
        control = self.control
        variations = self.variations
        if control is None or not variations or self.vectors.stale:
            return
        if [arm.variation_id for arm in variations] != self.vectors.order:
            self.vectors.stale = True
            return
        if cell in control.cells and all(cell in arm.cells for arm in variations):
            base = control.cells[cell]
            self.vectors.add(np.array([arm.cells[cell] - base for arm in variations]))

    def cell_vectors(self) -> CellVectors:
        """The complete-cell moments for the current variations (rebuilt if stale)."""
        order = [arm.variation_id for arm in self.variations]
        if self.vectors.stale or order != self.vectors.order:
            self.vectors.reset(order)
            control = self.control
            if control is not None and order:
                arms = self.variations
                for cell, base in control.cells.items():
                    if all(cell in arm.cells for arm in arms):
                        self.vectors.add(np.array([arm.cells[cell] - base for arm in arms]))
        return self.vectors

    def _arm_for(self, obs: Observation) -> Arm:
        arm = self.arms.get(obs.variation_id)
        if arm is None:
            arm = Arm(obs.variation_id, obs.variation_name, obs.is_control, tuple(obs.patterns),
                      BettingSequence(self._grid, self._settle_alpha),
                      monitor=LookMonitor(self.look_plan) if self.look_plan else None)
            self.arms[obs.variation_id] = arm
            if obs.is_control and self.control_id is None:
                # Variations seen before their control pair up as the control's cells arrive.
                self.control_id = arm.variation_id
        return arm


def _checked_value(obs: Observation, metric: str) -> float | None:
    if obs.value is None:
        return None
    value = float(obs.value)
    if not math.isfinite(value):
        raise ValueError(f"trial {obs.trial_id}: value must be finite, got {value}")
    if metric == "pass" and value not in (0.0, 1.0):
        raise ValueError(f"trial {obs.trial_id}: metric 'pass' needs 0 or 1, got {value}")
    if not 0.0 <= value <= 1.0:
        # The confidence sequences rely on the bound: a score outside it is a scorer bug.
        raise ValueError(f"trial {obs.trial_id}: a score must lie in [0, 1], got {value}")
    return value
