"""The statistics engine of the scorer: streaming A/B analysis that users may watch live.

ExperimentStats folds trials (O(1) each, duplicate-proof, mergeable) and analyzes on demand:
classic tests (paired t / McNemar when trials pair by cell, Welch / z / Fisher otherwise),
Holm or Benjamini-Hochberg adjustment, mSPRT always-valid p-values and confidence sequences,
Bayesian P(best) and expected loss, the sample-ratio check, and a winner decision.
"""

from agents.scorer.stats.experiment import AnalysisSummary, ExperimentStats, Observation

__all__ = ["AnalysisSummary", "ExperimentStats", "Observation"]
