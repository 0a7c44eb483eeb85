"""Agreement with published reference values (R, G*Power, textbook examples).

Each test names where its numbers come from. Tolerance: 1e-4 relative where the source
prints five or more significant digits, otherwise half a unit of the last printed digit.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from scipy.stats import multivariate_t

from agents.scorer.stats import classic
from agents.scorer.stats.bayes import (
    MONTE_CARLO_DRAWS,
    PRIOR_PAIRS,
    PRIOR_SD,
    Posterior,
    best_and_loss,
    compare_binary,
    paired_best_and_loss,
    paired_draws,
)
from agents.scorer.stats.multiple import adjust_p_values
from agents.scorer.stats.power import (
    prop_test_power,
    prop_test_sample_size,
    t_test_power,
    t_test_sample_size,
)
from agents.scorer.stats.srm import srm_p_value

REL = 1e-4

# R's `sleep` data set (Cushny & Peebles 1905), extra hours of sleep, groups 1 and 2.
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]

# R's `mtcars` mpg, split by transmission (am = 0 automatic, am = 1 manual).
MPG_AUTOMATIC = [21.4, 18.7, 18.1, 14.3, 24.4, 22.8, 19.2, 17.8, 16.4, 17.3, 15.2, 10.4, 10.4,
                 14.7, 21.5, 15.5, 15.2, 13.3, 19.2]
MPG_MANUAL = [21.0, 21.0, 22.8, 32.4, 30.4, 33.9, 27.3, 26.0, 30.4, 15.8, 19.7, 15.0, 21.4]


def close(value: float, reference: float, rel: float = REL) -> bool:
    return math.isclose(value, reference, rel_tol=rel)


def within(value: float, reference: float, last_digit: float) -> bool:
    return abs(value - reference) <= last_digit / 2


# -- power and sample size ----------------------------------------------------------------


def test_power_t_two_sample_matches_r_example_power():
    # R ?power.t.test example `power.t.test(n = 20, delta = 1)`: power = 0.8689528.
    assert close(t_test_power(20, 1.0), 0.8689528)


def test_sample_size_t_two_sample_matches_r_example_n():
    # R ?power.t.test example `power.t.test(power = .90, delta = 1)`: n = 22.02110.
    assert close(t_test_sample_size(1.0, 0.05, 0.90), 22.02110)


def test_power_t_with_sd_matches_published_r_output():
    # `power.t.test(n=100, delta=1.0, sd=2.5)` printed power = 0.8036466 (R run published at
    # ideone.com/L2w5V3B3); effect size = delta / sd = 0.4.
    assert close(t_test_power(100, 1.0 / 2.5), 0.8036466)


def test_sample_size_medium_effect_matches_r_and_gpower():
    # R `power.t.test(delta = 0.5, power = 0.8)`: n = 63.76576; G*Power 3.1 "t tests - Means:
    # difference between two independent means", d = 0.5, two tails: 64 per group.
    n = t_test_sample_size(0.5, 0.05, 0.8)
    assert close(n, 63.76576)
    assert math.ceil(n) == 64


def test_paired_sample_size_matches_gpower():
    # G*Power 3.1 "t tests - Means: difference between two dependent means (matched pairs)",
    # dz = 0.5, alpha 0.05 two tails, power 0.80: total sample size 34 (Faul et al. 2007).
    assert math.ceil(t_test_sample_size(0.5, 0.05, 0.8, paired=True)) == 34


def test_power_prop_test_matches_r_examples():
    # R ?power.prop.test examples: power.prop.test(n = 50, p1 = .50, p2 = .75) => power = 0.740;
    # power.prop.test(p1 = .50, p2 = .75, power = .90) => n = 76.7.
    assert within(prop_test_power(50, 0.50, 0.75), 0.740, 0.001)
    assert within(prop_test_sample_size(0.50, 0.75, 0.05, 0.90), 76.7, 0.1)


def test_sample_size_is_the_root_of_the_power_curve():
    # The defining equation of R's uniroot solution: power(n) = target at the returned n.
    for d, paired in ((0.2, False), (0.8, True), (0.35, True)):
        n = t_test_sample_size(d, 0.01, 0.9, paired)
        assert close(t_test_power(n, d, 0.01, paired), 0.9, 1e-9)
    n = prop_test_sample_size(0.1, 0.15, 0.05, 0.8)
    assert close(prop_test_power(n, 0.1, 0.15, 0.05), 0.8, 1e-9)


# -- t-tests --------------------------------------------------------------------------------


def test_welch_matches_r_sleep_example():
    # R `t.test(extra ~ group, data = sleep)`: t = -1.8608, df = 17.776, p-value = 0.07939,
    # 95 percent CI -3.3654832 0.2054832 (R ?t.test example output).
    r = classic.compare(SLEEP_1, SLEEP_2, "welch")
    assert within(r.statistic, -1.8608, 1e-4)
    assert within(r.df, 17.776, 1e-3)
    assert within(r.p_value, 0.07939, 1e-5)
    assert close(r.ci_low, -3.3654832) and close(r.ci_high, 0.2054832)


def test_student_matches_r_sleep_example():
    # R `t.test(extra ~ group, data = sleep, var.equal = TRUE)`: t = -1.8608, df = 18,
    # p-value = 0.07919, 95 percent CI -3.363874 0.203874.
    r = classic.compare(SLEEP_1, SLEEP_2, "student")
    assert r.df == 18
    assert within(r.p_value, 0.07919, 1e-5)
    assert close(r.ci_low, -3.363874) and close(r.ci_high, 0.203874)


def test_paired_t_matches_r_sleep_example():
    # R `t.test(sleep$extra[1:10], sleep$extra[11:20], paired = TRUE)`: t = -4.0621, df = 9,
    # p-value = 0.002833, 95 percent CI -2.4598858 -0.7001142.
    r = classic.compare(SLEEP_1, SLEEP_2, "paired-t")
    assert within(r.statistic, -4.0621, 1e-4)
    assert r.df == 9
    assert within(r.p_value, 0.002833, 1e-6)
    assert close(r.ci_low, -2.4598858) and close(r.ci_high, -0.7001142)


def test_welch_matches_r_mtcars_example():
    # R `t.test(mpg ~ am, data = mtcars)`: t = -3.7671, df = 18.332, p-value = 0.001374,
    # 95 percent CI -11.280194 -3.209684.
    r = classic.compare(MPG_AUTOMATIC, MPG_MANUAL, "welch")
    assert within(r.statistic, -3.7671, 1e-4)
    assert within(r.df, 18.332, 1e-3)
    assert within(r.p_value, 0.001374, 1e-6)
    assert close(r.ci_low, -11.280194) and close(r.ci_high, -3.209684)


# -- rank tests, R's default convention ------------------------------------------------------


def test_signed_rank_exact_matches_r_depression_example():
    # R ?wilcox.test example (Hollander & Wolfe 1973, p. 29): wilcox.test(x, y, paired = TRUE,
    # alternative = "greater") gives V = 40, p-value = 0.01953; exact, so two-sided = 2 x.
    x = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
    y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]
    r = classic.compare(x, y, "wilcoxon")
    assert r.statistic == 40
    assert close(r.p_value, 2 * 0.01953125)  # psignrank: 10/512 one-sided


def test_rank_sum_exact_matches_r_example():
    # R ?wilcox.test example (Hollander & Wolfe 1973, p. 69): wilcox.test(x, y, alternative =
    # "g") gives W = 35, p-value = 0.1272; two-sided exact p = 2 x 0.1272 = 0.2544.
    x = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]
    y = [1.15, 0.88, 0.90, 0.74, 1.21]
    r = classic.compare(x, y, "mann-whitney")
    assert r.statistic == 35
    assert within(r.p_value, 0.2544, 1e-4)


@pytest.mark.parametrize(
    ("a", "b", "v", "p"),
    [
        # R `wilcox.test(extra ~ group, data = sleep, paired = TRUE)`: V = 0, p = 0.009091
        # (ties and zeros: normal approximation with continuity correction).
        (SLEEP_1, SLEEP_2, 0.0, 0.009091),
        # stats.stackexchange.com/q/514618: wilcox.test(d) on 19 differences with four zeros
        # and many ties: V = 99.5, p-value = 0.01842.
        ([1, 1, 0, 1, 2, 1, 1, -2, 0, 1, 2, 1, 1, 1, -1, 0, 1, 0, 1], [0] * 19, 99.5, 0.01842),
        # imathworks.com "Wilcoxon test in R will not calculate exact distribution due to ties":
        # wilcox.test(before, after, paired = TRUE) on 12 pairs: V = 70.5, p-value = 0.01494.
        ([18, 23, 24, 27, 9, 40, 17, 33, 6, 8, 9, 26], [26, 4, 3, 26, 0, 3, 10, 9, 7, 1, 4, 9],
         70.5, 0.01494),
    ],
)
def test_signed_rank_with_ties_matches_r(a, b, v, p):
    r = classic.compare(a, b, "wilcoxon")
    assert r.statistic == v
    assert within(r.p_value, p, 10 ** math.floor(math.log10(p) - 3))


@pytest.mark.parametrize(
    ("a", "b", "w", "p"),
    [
        # R `wilcox.test(extra ~ group, data = sleep)`: W = 25.5, p-value = 0.06933.
        (SLEEP_1, SLEEP_2, 25.5, 0.06933),
        # R `wilcox.test(mpg ~ am, data = mtcars)`: W = 42, p-value = 0.001871.
        (MPG_AUTOMATIC, MPG_MANUAL, 42.0, 0.001871),
        # endmemo.com/r/wilcoxon.php: W = 51.5, p-value = 0.5966 and W = 0, p-value = 0.001364.
        ([1, 5, 9, 24, 56, 21, 3, 7, 21, 4], [12, 15, 5, 9, 9, 14, 56, 22, 3, 7, 32, 5],
         51.5, 0.5966),
        ([1, 5, 9, 24, 56, 21, 3, 7, 21, 4], [1233, 4356, 987, 39999, 1111, 200000],
         0.0, 0.001364),
    ],
)
def test_rank_sum_with_ties_matches_r(a, b, w, p):
    r = classic.compare(a, b, "mann-whitney")
    assert r.statistic == w
    assert within(r.p_value, p, 10 ** math.floor(math.log10(p) - 3))


# -- proportions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "n", "low", "high"),
    [
        # Newcombe (1998), Stat Med 17:857-872, Table I, method 3 (Wilson score, no correction).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_newcombe_1998(x, n, low, high):
    lo, hi = classic.wilson_interval(x, n)
    assert within(lo, low, 1e-4) and within(hi, high, 1e-4)


def test_fisher_matches_r_tea_tasting_example():
    # R ?fisher.test TeaTasting example (Agresti 1990, p. 61): two-sided p-value = 0.4857.
    assert within(classic.fisher_exact(3, 4, 1, 4).p_value, 0.4857, 1e-4)


def test_mcnemar_exact_is_the_two_sided_sign_test():
    # b = 1, c = 9 discordant pairs: 2 * P(X <= 1), X ~ Bin(10, 1/2) = 2 * 11 / 1024.
    assert close(classic.mcnemar_exact(1, 9).p_value, 22 / 1024, 1e-12)


def test_two_proportion_z_squared_is_the_uncorrected_chi_square():
    # prop.test(correct = FALSE) reports X-squared = z^2 of the pooled two-proportion z-test;
    # checked against scipy's independent 2x2 chi-square without Yates' correction.
    from scipy.stats import chi2_contingency

    r = classic.two_proportion_z(83, 186, 90, 153)
    chi2 = chi2_contingency([[83, 103], [90, 63]], correction=False)
    assert close(r.statistic**2, chi2.statistic, 1e-10)
    assert close(r.p_value, chi2.pvalue, 1e-10)


# -- multiplicity, SRM, Bayes ------------------------------------------------------------------


def test_holm_and_bh_match_their_definitions():
    # Holm (1979): sorted p_(i) * (m - i + 1), running max; BH (1995): p_(i) * m / i, running
    # min from the top. By hand for (0.01, 0.02, 0.03, 0.04, 0.05): R's p.adjust agrees.
    p = [0.01, 0.02, 0.03, 0.04, 0.05]
    assert adjust_p_values(p, "holm") == pytest.approx([0.05, 0.08, 0.09, 0.09, 0.09])
    assert adjust_p_values(p, "bh") == pytest.approx([0.05] * 5)
    # Input order is kept: R p.adjust(c(0.04, 0.01, 0.03), "holm") = 0.06 0.03 0.06.
    assert adjust_p_values([0.04, 0.01, 0.03], "holm") == pytest.approx([0.06, 0.03, 0.06])


def test_srm_matches_r_chisq_test_examples():
    # R ?chisq.test examples: x <- c(89,37,30,28,2); chisq.test(x, p = c(40,20,20,15,5),
    # rescale.p = TRUE): X-squared = 9.9901, p-value = 0.04059; p = c(0.40,0.20,0.20,0.19,0.01):
    # X-squared = 5.7947, p-value = 0.215.
    counts = [89, 37, 30, 28, 2]
    assert within(srm_p_value(counts, [40, 20, 20, 15, 5]), 0.04059, 1e-5)
    assert within(srm_p_value(counts, [0.40, 0.20, 0.20, 0.19, 0.01]), 0.215, 1e-3)


def test_bayes_matches_closed_form_for_one_trial_each():
    # p_a ~ Beta(2, 1), p_b ~ Beta(1, 2): P(p_b > p_a) = int 2(1-y) y^2 dy = 1/6;
    # E[(p_b - p_a)+] = int_0^1 (y^3 / 3) 2 (1 - y) dy = 1/30; E[(p_a - p_b)+] = 1/30 + 1/3.
    r = compare_binary(1, 1, 0, 1)
    assert close(r.p_b_beats_a, 1 / 6, 1e-10)
    assert close(r.expected_loss_a, 1 / 30, 1e-10)
    assert close(r.expected_loss_b, 11 / 30, 1e-10)


# -- the paired posterior (agents/scorer/stats/bayes.py) against closed forms and scipy --------


def _paired_scale(scatter: np.ndarray, n: int) -> tuple[np.ndarray, float]:
    """The multivariate t's shape matrix and df, with bayes.py's weak prior (Box & Tiao 8.2)."""
    k = scatter.shape[0]
    df = n - k + PRIOR_PAIRS
    return (scatter + PRIOR_PAIRS * PRIOR_SD**2 * np.eye(k)) / (n * df), df


def test_paired_p_best_and_loss_match_the_student_t_closed_form():
    # One variation: D ~ m + s T_df. P(best) = F(m / s); the expected loss of shipping the
    # variation is E[(-D)+] and of keeping the control E[D+], where for X = m + s T_df:
    # E[X+] = m F(m/s) + s (df + (m/s)^2) / (df - 1) f(m/s). scipy's t is the reference; the
    # Monte-Carlo form (used for more variations) must agree with it within its error.
    for n, m, m2 in ((8, 0.04, 0.09), (40, 0.01, 0.36), (200, -0.02, 4.0), (3, 0.5, 0.0)):
        shape, df = _paired_scale(np.array([[m2]]), n)
        s = math.sqrt(shape[0, 0])
        (p_control, loss_control), (p_variant, loss_variant) = paired_best_and_loss(
            np.array([m]), np.array([[m2]]), n)
        assert p_variant == pytest.approx(sps.t.cdf(m / s, df), abs=1e-12)
        assert p_control + p_variant == pytest.approx(1.0)
        assert loss_variant == pytest.approx(_t_positive_part(-m, s, df), rel=1e-9)
        assert loss_control == pytest.approx(_t_positive_part(m, s, df), rel=1e-9)
        (mc_control, mc_loss_control), (mc_variant, mc_loss_variant) = paired_draws(
            np.array([m]), shape, df, MONTE_CARLO_DRAWS)
        mc = 4 * math.sqrt(0.25 / MONTE_CARLO_DRAWS)  # 4 Monte-Carlo SE at worst
        assert mc_variant == pytest.approx(p_variant, abs=mc)
        assert mc_control == pytest.approx(p_control, abs=mc)
        spread = 4 * s * math.sqrt(df / (df - 2)) / math.sqrt(MONTE_CARLO_DRAWS)
        assert mc_loss_variant == pytest.approx(loss_variant, abs=spread)
        assert mc_loss_control == pytest.approx(loss_control, abs=spread)


def _t_positive_part(mu: float, s: float, df: float) -> float:
    """E[X+] for X = mu + s T_df (the partial expectation of a location-scale t), by scipy."""
    r = mu / s
    return mu * sps.t.cdf(r, df) + s * (df + r * r) / (df - 1) * sps.t.pdf(r, df)


def test_two_pass_rates_get_the_exact_p_best_and_loss():
    # Unpaired pass/fail arms: Evan Miller's exact sum, not draws; the draws agree within MC.
    posteriors = [Posterior("beta", 1 + 41, 1 + 9), Posterior("beta", 1 + 45, 1 + 5)]
    exact = best_and_loss(posteriors)
    reference = compare_binary(41, 50, 45, 50)
    assert exact[1][0] == pytest.approx(reference.p_b_beats_a, abs=1e-12)
    assert exact[0][1] == pytest.approx(reference.expected_loss_a, abs=1e-12)
    assert exact[1][1] == pytest.approx(reference.expected_loss_b, abs=1e-12)
    rng = np.random.default_rng(5)
    a, b = rng.beta(42, 10, 400_000), rng.beta(46, 6, 400_000)
    assert exact[1][0] == pytest.approx(float((b > a).mean()), abs=0.003)
    assert exact[0][1] == pytest.approx(float(np.maximum(b - a, 0).mean()), abs=0.001)


def test_paired_p_best_of_two_variations_matches_scipys_multivariate_t():
    # P(control best) = P(D1 < 0, D2 < 0); P(v1 best) = P(-D1 < 0, D2 - D1 < 0): the
    # multivariate t's CDF (scipy, Genz's algorithm) at linear maps of the differences.
    n, mean = 30, np.array([0.03, 0.02])
    scatter = n * np.array([[0.04, 0.03], [0.03, 0.05]])  # correlated differences
    shape, df = _paired_scale(scatter, n)
    got = [p for p, _ in paired_best_and_loss(mean, scatter, n)]
    maps = {0: np.eye(2), 1: np.array([[-1.0, 0.0], [-1.0, 1.0]]),
            2: np.array([[0.0, -1.0], [1.0, -1.0]])}
    for arm, a in maps.items():
        dist = multivariate_t(loc=a @ mean, shape=a @ shape @ a.T, df=df, seed=1)
        assert got[arm] == pytest.approx(float(dist.cdf(np.zeros(2))), abs=0.01), arm


def test_the_normal_approximation_of_two_pass_rates_meets_the_exact_sum_at_its_threshold() -> None:
    """Beyond 2M terms the exact sum gives way to the normal approximation (through
    tails.norm_sf); at counts where both exist they agree."""
    from agents.scorer.stats.bayes import _normal_prob_greater, prob_beta_greater

    a, b, c, d = 900_000.0, 100_000.0, 1_800_000.0, 199_900.0
    exact = prob_beta_greater(a, b, c, d)
    assert 0.4 < exact < 0.7
    assert abs(_normal_prob_greater(a, b, c, d) - exact) < 1e-3
