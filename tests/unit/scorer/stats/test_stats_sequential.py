"""The mSPRT always-valid p-value and its confidence sequence."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from agents.scorer.stats.sequential import (
    always_valid_p,
    cs_t2_threshold,
    log_mixture_ratio,
    paired_look,
    two_sample_look,
)


def johari_normal_mixture(n: int, mean: float, sigma: float, tau: float) -> float:
    """Johari, Koomen, Pekelis & Walsh (2017), eq. for Lambda_n with known variance sigma^2."""
    s2, t2 = sigma**2, tau**2
    return math.sqrt(s2 / (s2 + n * t2)) * math.exp(
        n**2 * t2 * mean**2 / (2 * s2 * (s2 + n * t2)))


@pytest.mark.parametrize(("n", "mean", "sigma", "tau"),
                         [(10, 0.3, 1.0, 0.5), (200, 0.05, 0.4, 0.1), (1000, -0.02, 0.2, 0.06)])
def test_t_mixture_tends_to_johari_normal_mixture(n, mean, sigma, tau):
    # With nu -> infinity the variance is known: our formula must equal Johari et al.'s.
    z2 = n * mean**2 / sigma**2
    r = n * tau**2 / sigma**2
    ours = log_mixture_ratio(z2, 1e12, r)
    assert math.isclose(ours, math.log(johari_normal_mixture(n, mean, sigma, tau)), rel_tol=1e-6)


def test_t_mixture_equals_the_bayes_factor_integrated_numerically():
    # Independent check of the closed form: integrate the mixture over delta ~ N(0, phi^2)
    # and sigma with the 1/sigma prior (u = log sigma, so d sigma / sigma = du) on a fine
    # grid with Simpson's rule, numerator over denominator.
    x = np.array([0.3, -0.1, 0.8, 0.5, 0.2])
    phi = 0.3
    u = np.linspace(-7.0, 4.0, 2201)[:, None]
    delta = np.linspace(-8 * phi, 8 * phi, 1601)[None, :]
    sigma = np.exp(u)
    resid = ((x[None, None, :] - (sigma * delta)[:, :, None]) ** 2).sum(axis=2)
    log_lik = -x.size * u - resid / (2 * sigma**2)
    shift = log_lik.max()
    inner = integrate.simpson(np.exp(log_lik - shift) * stats.norm.pdf(delta, 0, phi),
                              x=delta[0], axis=1)
    numerator = integrate.simpson(inner, x=u[:, 0])
    null = -x.size * u[:, 0] - (x**2).sum() / (2 * sigma[:, 0] ** 2)
    denominator = integrate.simpson(np.exp(null - shift), x=u[:, 0])
    n = x.size
    t2, nu, r, _ = paired_look(float(n), float(x.mean()), float(x.var(ddof=1)), phi)
    assert math.isclose(math.exp(log_mixture_ratio(t2, nu, r)), numerator / denominator,
                        rel_tol=1e-6)


def test_first_observation_carries_no_evidence():
    # With one value the t-mixture ratio is exactly 1 whatever the value (scale invariance).
    for x in (0.1, 5.0, -3.0):
        t2, nu, r, _ = paired_look(1.0, x, 0.0, 0.3)
        assert nu == 0.0
        assert math.isclose(log_mixture_ratio(t2, nu, r), 0.0, abs_tol=1e-12)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(2, 5000), t=st.floats(0, 20), phi=st.floats(0.05, 2.0),
       alpha=st.floats(0.001, 0.2))
def test_confidence_sequence_is_the_inverted_test(n, t, phi, alpha):
    # theta0 is outside the sequence exactly when its always-valid p-value is <= alpha.
    nu, r = float(n - 1), n * phi**2
    c = cs_t2_threshold(nu, r, alpha)
    p = always_valid_p(t * t, nu, r)
    if math.isinf(c):
        assert p > alpha
    elif t * t < c * (1 - 1e-9):
        assert p > alpha * (1 - 1e-9)
    elif t * t > c * (1 + 1e-9):
        assert p < alpha * (1 + 1e-9)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(2, 10_000), t2=st.floats(0, 400), phi=st.floats(0.05, 2.0))
def test_float_and_array_paths_agree(n, t2, phi):
    nu, r = float(n - 1), n * phi**2
    scalar = log_mixture_ratio(t2, nu, r)
    array = log_mixture_ratio(np.array([t2]), np.array([nu]), np.array([r]))[0]
    assert math.isclose(scalar, array, rel_tol=1e-12, abs_tol=1e-12)
    c_scalar = cs_t2_threshold(nu, r, 0.05)
    c_array = cs_t2_threshold(np.array([nu]), np.array([r]), 0.05)[0]
    assert c_scalar == c_array or math.isclose(c_scalar, c_array, rel_tol=1e-12)


def test_two_sample_look_float_and_array_agree():
    args = (12.0, 0.4, 2.5, 15.0, 0.55, 3.1)
    scalar = two_sample_look(*args)
    array = two_sample_look(*(np.array([a]) for a in args))
    for s, a in zip(scalar, array, strict=True):
        assert math.isclose(float(s), float(np.asarray(a).ravel()[0]), rel_tol=1e-12)


def test_evidence_grows_with_the_effect_and_shrinks_without_it():
    # Monotone in |t| at fixed n; and a zero effect never rejects.
    values = [always_valid_p(t2, 49.0, 50 * 0.09) for t2 in (0.0, 4.0, 9.0, 16.0, 25.0)]
    assert values == sorted(values, reverse=True)
    assert always_valid_p(0.0, 49.0, 4.5) == 1.0


def test_aa_false_positive_rate_with_a_look_after_every_pair_is_below_alpha():
    # Seeded small simulation (the full one is benchmarks/sequential.py): 2,000 A/A paired
    # experiments, 200 looks each. The naive t-test under the same peeking is far above alpha.
    rng = np.random.default_rng(11)
    d = rng.standard_normal((2000, 200))
    n = np.arange(1, 201, dtype=float)
    mean = d.cumsum(1) / n
    var = np.divide(np.maximum((d * d).cumsum(1) - n * mean**2, 0), n - 1,
                    out=np.zeros_like(mean), where=n > 1)
    t2, nu, r, _ = paired_look(n, mean, var)
    p = np.where(n >= 2, always_valid_p(t2, nu, r), 1.0)
    fpr = (np.minimum.accumulate(p, axis=1)[:, -1] <= 0.05).mean()
    naive = (np.where(n >= 2, 2 * stats.t.sf(np.sqrt(t2), np.maximum(nu, 1)), 1) <= 0.05)
    assert fpr <= 0.05
    assert naive.any(axis=1).mean() > 0.2
