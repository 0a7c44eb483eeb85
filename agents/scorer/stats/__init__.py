"""The statistics engine of the scorer: streaming A/B analysis that users may watch live.

arms.ExperimentStats folds trials (duplicate-proof, O(grid) per pair) and analysis.analyze
reads them on demand: classic tests (comparisons: paired t / McNemar when trials pair by
cell, Welch / z / Fisher otherwise), Holm or Benjamini-Hochberg over the planned family,
anytime-valid betting confidence sequences (betting) valid for any bounded scores, the
paired Bayesian P(best) and expected loss (bayes), the sample-ratio check (srm), and the
decision with its wording (decision).
"""

from agents.scorer.stats.analysis import AnalysisSummary
from agents.scorer.stats.arms import ExperimentStats, Observation

__all__ = ["AnalysisSummary", "ExperimentStats", "Observation"]
