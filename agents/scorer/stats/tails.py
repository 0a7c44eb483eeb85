"""Tail probabilities and quantiles of the normal, Student t and chi-square laws.

The same functions scipy.stats computes, called through scipy.special's ufuncs: a
scipy.stats distribution method checks and broadcasts its arguments first, ~50-500 us a
call, and an analysis — which the scorer repeats at every snapshot — makes dozens of them;
the ufunc is ~1 us. Values are identical (scipy.stats calls these same ufuncs). Symmetry
gives the upper tails without the cancellation of 1 - cdf.
"""

from __future__ import annotations

from scipy.special import chdtrc, ndtr, ndtri, stdtr, stdtrit


def norm_sf(x: float) -> float:
    return float(ndtr(-x))


def norm_isf(q: float) -> float:
    return float(-ndtri(q))


def t_sf(x: float, df: float) -> float:
    return float(stdtr(df, -x))


def t_isf(q: float, df: float) -> float:
    return float(-stdtrit(df, q))


def chi2_sf(x: float, df: float) -> float:
    return float(chdtrc(df, x))
