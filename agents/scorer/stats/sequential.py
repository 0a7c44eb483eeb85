"""Always-valid inference: mSPRT p-values and confidence sequences that survive peeking.

Johari, Koomen, Pekelis & Walsh ("Peeking at A/B tests", KDD 2017; Operations Research
2022) test H0: theta = theta0 with the mixture likelihood ratio

    Lambda_n = integral of prod f_theta(x_i) / f_theta0(x_i) dH(theta),  H = N(theta0, tau^2),

a martingale under H0, so by Ville's inequality P(sup_n Lambda_n >= 1/alpha) <= alpha and
p_n = min(1, min_{k<=n} 1/Lambda_k) is a p-value valid at any stopping time.

With a normal estimate of variance V and a z statistic z = (estimate - theta0)/sqrt(V) their
closed form is log Lambda = -1/2 log(1 + r) + z^2 r / (2 (1 + r)), r = tau^2 / V. Plugging in
an estimated variance inflates the false-positive rate at small n (the statistic is t, not
z, distributed: about 17 % instead of 5 % for paired data looked at after every pair). So we
use the same mixture with the variance integrated out under the scale-invariant prior
1/sigma (Lai 1976; Perez-Ortiz, Lardy, de Heide & Grunwald, "E-statistics, group
invariance and anytime-valid testing", 2024), which gives, with nu residual degrees of
freedom and the usual t statistic,

    log Lambda = -1/2 log(1 + r) + (nu + 1)/2 * [log(nu + t^2) - log(nu + t^2 / (1 + r))]

exactly valid for every n >= 2 under normal data, and equal to Johari's normal mixture as
nu grows. The mixture is on the standardized effect: r = n_eff * phi^2 where phi is the
prior standard deviation of the effect in units of the data's standard deviation
(tau = phi * sigma) and n_eff the number of pairs, or nA*nB/(nA+nB) for two samples.

DEFAULT_MIXTURE_SD: phi = 0.3. Johari et al. advise matching tau to the effects one expects;
effects of prompt changes are mostly small to medium (d from 0.1 to 0.5), and phi = 0.3 is
near the best average stopping time for d = 0.3 in benchmarks/sequential.py while keeping
the false-positive rate well under alpha for every phi.

Confidence sequences are the inversion of the same test: {theta0 : Lambda_n(theta0) < 1/alpha}
is estimate +- sqrt(c) * se, and intersecting them over time matches the running minimum of
the p-value (theta0 leaves the sequence exactly when its always-valid p-value hits alpha).

Every function here takes floats or numpy arrays alike, so the benchmark runs the code the
scorer runs. Plain floats take a math-module path (a fold must stay in microseconds); the
array path is the same formula, and the tests hold the two to agree.
"""

from __future__ import annotations

import math

import numpy as np

DEFAULT_MIXTURE_SD = 0.3


def log_mixture_ratio(t2, nu, r):
    """log Lambda of the t-mixture SPRT; t2 may be inf (no spread, a non-zero estimate)."""
    # gap = log(nu + t2) - log(nu + t2 / (1 + r)), written with log1p so that it stays exact
    # for large nu (where it tends to Johari's t2 r / (nu (1 + r))).
    if _all_floats(t2, nu, r):
        if not math.isfinite(t2):
            gap = math.log1p(r)
        elif nu > 0:
            gap = math.log1p(t2 / nu) - math.log1p(t2 / (nu * (1.0 + r)))
        else:
            gap = math.log1p(r) if t2 > 0 else 0.0
        return -0.5 * math.log1p(r) + 0.5 * (nu + 1.0) * gap
    t2 = np.asarray(t2, dtype=float)
    nu = np.asarray(nu, dtype=float)
    r = np.asarray(r, dtype=float)
    finite = np.isfinite(t2)
    t2f = np.where(finite, t2, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        safe_nu = np.where(nu > 0, nu, 1.0)
        gap = np.log1p(t2f / safe_nu) - np.log1p(t2f / (safe_nu * (1.0 + r)))
        gap = np.where(nu > 0, gap, np.where(t2f > 0, np.log1p(r), 0.0))
        gap = np.where(finite, gap, np.log1p(r))
    return -0.5 * np.log1p(r) + 0.5 * (nu + 1.0) * gap


def always_valid_p(t2, nu, r):
    """1 / Lambda capped at 1 (before the running minimum, which the caller keeps)."""
    if _all_floats(t2, nu, r):
        return min(1.0, math.exp(-log_mixture_ratio(t2, nu, r)))
    return np.minimum(1.0, np.exp(-log_mixture_ratio(t2, nu, r)))


def cs_t2_threshold(nu, r, alpha):
    """The t^2 at which Lambda reaches 1/alpha: the confidence sequence is est +- sqrt(c)*se.

    inf while the sample is too small for any interval (the sequence is the whole line).
    """
    if _all_floats(nu, r, alpha):
        grow = math.exp((2.0 / (nu + 1.0)) * (math.log(1.0 / alpha) + 0.5 * math.log1p(r)))
        room = 1.0 - grow / (1.0 + r)
        return nu * (grow - 1.0) / room if room > 0 else math.inf
    nu = np.asarray(nu, dtype=float)
    r = np.asarray(r, dtype=float)
    level = (2.0 / (nu + 1.0)) * (np.log(1.0 / alpha) + 0.5 * np.log1p(r))
    grow = np.exp(level)
    room = 1.0 - grow / (1.0 + r)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(room > 0, nu * (grow - 1.0) / np.where(room > 0, room, 1.0), np.inf)
    return c


def paired_look(n, mean, var, mixture_sd=DEFAULT_MIXTURE_SD, theta0=0.0):
    """(t2, nu, r, se) for paired differences with n pairs, mean and sample variance var."""
    if _all_floats(n, mean, var):
        return _look(mean - theta0, math.sqrt(var / n), n - 1.0, n * mixture_sd**2)
    n = np.asarray(n, dtype=float)
    se = np.sqrt(np.asarray(var, dtype=float) / n)
    return _look(np.asarray(mean, dtype=float) - theta0, se, n - 1.0, n * mixture_sd**2)


def two_sample_look(n_a, mean_a, m2_a, n_b, mean_b, m2_b, mixture_sd=DEFAULT_MIXTURE_SD,
                    theta0=0.0):
    """(t2, nu, r, se) for mean_b - mean_a with pooled variance (the invariant two-sample t).

    m2_* are sums of squared deviations. Pooling is what makes the mixture exact under equal
    variances; with unequal variances it stays close as long as the group sizes are similar,
    which the planned allocation of an experiment keeps.
    """
    if _all_floats(n_a, mean_a, m2_a, n_b, mean_b, m2_b):
        nu = n_a + n_b - 2.0
        se = math.sqrt((m2_a + m2_b) / nu * (1.0 / n_a + 1.0 / n_b))
        r = n_a * n_b / (n_a + n_b) * mixture_sd**2
        return _look(mean_b - mean_a - theta0, se, nu, r)
    n_a = np.asarray(n_a, dtype=float)
    n_b = np.asarray(n_b, dtype=float)
    nu = n_a + n_b - 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (np.asarray(m2_a, dtype=float) + np.asarray(m2_b, dtype=float)) / nu
        se = np.sqrt(pooled * (1.0 / n_a + 1.0 / n_b))
        n_eff = n_a * n_b / (n_a + n_b)
    estimate = np.asarray(mean_b, dtype=float) - np.asarray(mean_a, dtype=float) - theta0
    return _look(estimate, se, nu, n_eff * mixture_sd**2)


def _look(estimate, se, nu, r):
    if _all_floats(estimate, se):
        if se > 0:
            return (estimate / se) ** 2, nu, r, se
        return (math.inf if estimate != 0 else 0.0), nu, r, se
    with np.errstate(divide="ignore", invalid="ignore"):
        t2 = np.where(se > 0, (estimate / np.where(se > 0, se, 1.0)) ** 2,
                      np.where(estimate != 0, np.inf, 0.0))
    return t2, nu, r, se


def _all_floats(*values) -> bool:
    return all(type(v) in (float, int) for v in values)
