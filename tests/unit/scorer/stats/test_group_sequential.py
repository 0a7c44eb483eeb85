"""The group-sequential design against published bounds and by simulation.

References (documented values, reproduced by our code; nothing copied):
- ldbounds / gsDesign sfLDOF: Lan-DeMets O'Brien-Fleming-type bounds for K equally spaced
  looks at one-sided alpha 0.025 (Reboussin, DeMets, Kim & Lan 2000, the ld98 program).
- gsDesign's documented designs (its print.gsDesign snapshots): k = 5, HSD(-4) alpha
  spending, one-sided (test.type = 1) and with non-binding HSD(-2) beta spending
  (test.type = 4, n.fix = 800): bounds, maximum N, crossing probabilities and E{N}.
- Jennison & Turnbull (2000), Table 2.3: Pocock's C_P(K, 0.05) and O'Brien & Fleming's
  C_B(K, 0.05) constants for two-sided tests.
- gsDesign's unit test after Anderson (2008): repeated two-sided testing at 1.96 without
  adjustment has one-sided type I error 0.042, 0.063, 0.097, 0.124 at K = 2, 4, 10, 20.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize

from agents.scorer.stats import group_sequential as gs


@pytest.mark.parametrize(("looks", "published"), [
    (3, (3.7103, 2.5114, 1.9930)),
    (4, (4.3326, 2.9631, 2.3590, 2.0141)),
    (5, (4.8769, 3.3569, 2.6803, 2.2898, 2.0310)),
])
def test_lan_demets_obrien_fleming_bounds_match_ldbounds(looks, published):
    bounds = gs.efficacy_bounds(gs.equal_timing(looks), 0.025)
    np.testing.assert_allclose(bounds, published, atol=1.5e-4)


def test_gsdesign_one_sided_hsd_design_matches_its_documented_output():
    # gsDesign(k = 5, test.type = 1): bounds 3.25 2.99 2.69 2.37 2.03, sample size ratio
    # 1.023, E{N} 0.7366 under the alternative (90 % power, alpha 0.025).
    hsd4 = gs.hwang_shih_decani(-4)
    bounds = gs.efficacy_bounds(gs.equal_timing(5), 0.025, hsd4)
    assert np.round(bounds, 2).tolist() == [3.25, 2.99, 2.69, 2.37, 2.03]
    fixed = 1.959964 + 1.281552
    ratio = 1.023
    info = np.asarray(gs.equal_timing(5))
    # Find the drift with 90 % power, as gsDesign does for its sample size.
    drift = optimize.brentq(lambda th: gs.crossing_probabilities(
        th, info, np.full(5, -np.inf), bounds)[0].sum() - 0.9, fixed, 2 * fixed)
    assert round((drift / fixed) ** 2, 3) == ratio
    up, _ = gs.crossing_probabilities(drift, info, np.full(5, -np.inf), bounds)
    expected = float(np.sum(up[:-1] * info[:-1]) + (1 - up[:-1].sum())) * (drift / fixed) ** 2
    assert round(expected, 4) == 0.7366


def test_gsdesign_nonbinding_futility_design_matches_its_documented_output():
    # gsDesign(k = 5, test.type = 4, n.fix = 800): HSD(-4) alpha, HSD(-2) beta spending,
    # alpha 0.025, beta 0.1.
    design = gs.design(gs.equal_timing(5), 0.025, 0.1, gs.hwang_shih_decani(-4),
                       gs.hwang_shih_decani(-2))
    assert np.round(design.upper, 2).tolist() == [3.25, 2.99, 2.69, 2.37, 2.03]
    assert np.round(design.lower, 2).tolist() == [-0.90, -0.04, 0.69, 1.36, 2.03]
    assert math.ceil(800 * design.inflation) == 882  # N at the last analysis
    assert [math.ceil(800 * design.inflation * t) for t in design.timing] == [
        177, 353, 529, 705, 882]
    assert round(design.drift / math.sqrt(800 * design.inflation), 4) == 0.1146  # theta
    alt, null = design.stopping(design.drift), design.stopping(0.0)
    assert np.round(alt["upper"], 4).tolist() == [0.0417, 0.1679, 0.2806, 0.2654, 0.1444]
    assert np.round(alt["lower"], 4).tolist() == [0.0077, 0.0115, 0.0171, 0.0256, 0.0381]
    assert np.round(null["upper"], 4).tolist() == [0.0006, 0.0013, 0.0028, 0.0062, 0.0117]
    assert np.round(null["lower"], 4).tolist() == [0.1836, 0.3201, 0.2700, 0.1477, 0.0559]
    n_max = 800 * design.inflation
    assert round(alt["expected_fraction"] * n_max, 1) == 595.2
    assert round(null["expected_fraction"] * n_max, 1) == 458.0
    # Non-binding: with the futility stops obeyed, the type I error is below alpha.
    assert round(null["power"], 4) == 0.0226


@pytest.mark.parametrize(("looks", "pocock", "obrien_fleming"), [
    (2, 2.178, 1.977), (3, 2.289, 2.004), (4, 2.361, 2.024), (5, 2.413, 2.040),
])
def test_crossing_probabilities_reproduce_jennison_turnbull_table_2_3(
        looks, pocock, obrien_fleming):
    info = np.asarray(gs.equal_timing(looks))
    shape = {"pocock": np.ones(looks), "obf": np.sqrt(looks / np.arange(1, looks + 1))}

    def constant(kind: str) -> float:
        def excess(c: float) -> float:
            up, low = gs.crossing_probabilities(0.0, info, -c * shape[kind], c * shape[kind])
            return float(up.sum() + low.sum()) - 0.05
        return optimize.brentq(excess, 1.5, 3.5, xtol=1e-8)

    assert round(constant("pocock"), 3) == pocock
    assert round(constant("obf"), 3) == obrien_fleming


@pytest.mark.parametrize(("looks", "published"), [(2, 0.042), (4, 0.063), (10, 0.097),
                                                   (20, 0.124)])
def test_unadjusted_repeated_testing_inflates_alpha_as_gsdesign_documents(looks, published):
    info = np.arange(1, looks + 1, dtype=float)
    z = np.full(looks, 1.959964)
    up, _ = gs.crossing_probabilities(0.0, info, -z, z)
    assert round(float(up.sum()), 3) == published


def test_design_bounds_hold_alpha_and_power_by_simulating_the_z_process():
    design = gs.design(gs.equal_timing(5), 0.025, 0.2)
    rng = np.random.default_rng(5)
    info = np.asarray(design.timing)
    steps = np.sqrt(np.diff(np.concatenate([[0.0], info])))
    upper, lower = np.asarray(design.upper), np.asarray(design.lower)
    for theta, check in ((0.0, "alpha"), (design.drift, "power")):
        increments = rng.standard_normal((200_000, 5)) * steps + theta * np.diff(
            np.concatenate([[0.0], info]))
        z = np.cumsum(increments, axis=1) / np.sqrt(info)
        if check == "alpha":
            # Non-binding: ignoring every futility stop, the error stays at alpha.
            rejected = (z >= upper).any(axis=1).mean()
            assert abs(rejected - 0.025) < 4 * math.sqrt(0.025 * 0.975 / 200_000)
        else:
            crossed_up = z >= upper
            crossed_low = z < lower
            first_up = np.where(crossed_up.any(1), crossed_up.argmax(1), 99)
            first_low = np.where(crossed_low.any(1), crossed_low.argmax(1), 99)
            power = ((first_up < 99) & (first_up <= first_low)).mean()
            assert abs(power - 0.8) < 4 * math.sqrt(0.16 / 200_000)


def test_design_refuses_timings_that_are_not_increasing_fractions_ending_at_one():
    for timing in ((0.5, 0.5, 1.0), (0.3, 0.6), (0.0, 1.0), (0.5, 1.2)):
        with pytest.raises(ValueError, match="information fractions"):
            gs.design(timing, 0.025, 0.2)
