"""Time-activity curves: worked single-time-point number, analytic integrals, AICc choice, uncertainty."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imagebio.dosimetry.nuclides import get_nuclide
from imagebio.dosimetry.tac import (
    aicc,
    fit_mono_exponential_voxels,
    fit_tac,
    fit_tac_best,
    tia_hanscheid,
    tia_single_time_point,
    tia_trapezoid,
)
from imagebio.errors import FitError, InvalidParameterError

H = 3600.0
LU177_HALF_LIFE_S = get_nuclide("Lu-177").half_life_s
# noise-free data: the optimiser (trf, default tolerances 1e-8) recovers the analytic integral to ~1e-7,
# so 1e-6 checks the model algebra and the integral without depending on optimiser details
NOISE_FREE_TOL = 1e-6


def test_hanscheid_worked_example(reference):
    case = reference["tia_hanscheid"]
    tia_mbq_s = tia_hanscheid(case["inputs"]["A_t_MBq"], case["inputs"]["t_h"] * H)
    assert tia_mbq_s / H == pytest.approx(case["expected"]["TIA_MBq_h"], rel=case["tol_rel"])


@pytest.mark.parametrize("teff_h", [30.0, 60.0])
def test_hanscheid_is_exact_at_one_and_two_effective_half_lives(teff_h):
    lam = math.log(2) / (teff_h * H)
    for t in (teff_h * H, 2 * teff_h * H):
        assert tia_hanscheid(100 * math.exp(-lam * t), t) == pytest.approx(100 / lam, rel=1e-12)


def test_single_time_point_prior_half_life_is_exact_for_mono_exponential():
    teff_s = 55 * H
    lam = math.log(2) / teff_s
    t = 96 * H
    est = tia_single_time_point(250.0 * math.exp(-lam * t), t, teff_s, effective_half_life_sd_s=5 * H)
    assert est.tia == pytest.approx(250.0 / lam, rel=1e-12)
    # delta-method SD against a central difference of the TIA in T_eff
    h = 1e-3 * H
    dtia = (tia_single_time_point(250.0 * math.exp(-lam * t), t, teff_s + h).tia
            - tia_single_time_point(250.0 * math.exp(-lam * t), t, teff_s - h).tia) / (2 * h)
    assert est.tia_sd == pytest.approx(abs(dtia) * 5 * H, rel=1e-6)


def test_mono_fit_matches_analytic_integral():
    t = np.array([4, 24, 48, 96, 168]) * H
    lam = math.log(2) / (50 * H)
    fit = fit_tac(t, 120.0 * np.exp(-lam * t), "mono", half_life_s=LU177_HALF_LIFE_S)
    assert fit.tia == pytest.approx(120.0 / lam, rel=NOISE_FREE_TOL)  # ∫A0 e^(−λt) dt = A0/λ
    assert fit.decay_constants_per_s[0] == pytest.approx(lam, rel=NOISE_FREE_TOL)
    np.testing.assert_allclose(fit.predict(t), 120.0 * np.exp(-lam * t), rtol=NOISE_FREE_TOL)


def test_uptake_washout_fit_matches_analytic_integral():
    t = np.array([1, 2, 4, 8, 24, 48, 72, 96, 168]) * H
    lw, lu = math.log(2) / (50 * H), math.log(2) / (3 * H)
    a = 100.0 * (np.exp(-lw * t) - np.exp(-lu * t))
    fit = fit_tac(t, a, "uptake_washout", half_life_s=LU177_HALF_LIFE_S)
    assert fit.tia == pytest.approx(100.0 * (1 / lw - 1 / lu), rel=NOISE_FREE_TOL)
    np.testing.assert_allclose(np.sort(fit.decay_constants_per_s), [lw, lu], rtol=1e-5)


def test_bi_and_tri_exponential_fits_match_analytic_integrals():
    t = np.array([0.5, 1, 2, 4, 8, 16, 24, 48, 72, 120, 168]) * H
    l1, l2, lu = (math.log(2) / (x * H) for x in (100.0, 10.0, 1.0))
    bi = 70 * np.exp(-l1 * t) + 30 * np.exp(-l2 * t)
    fit = fit_tac(t, bi, "bi", half_life_s=LU177_HALF_LIFE_S)
    assert fit.tia == pytest.approx(70 / l1 + 30 / l2, rel=NOISE_FREE_TOL)
    tri = 70 * np.exp(-l1 * t) + 30 * np.exp(-l2 * t) - 100 * np.exp(-lu * t)
    fit = fit_tac(t, tri, "tri", half_life_s=LU177_HALF_LIFE_S)
    assert fit.tia == pytest.approx(70 / l1 + 30 / l2 - 100 / lu, rel=NOISE_FREE_TOL)


def test_clearance_slower_than_physical_decay_is_clipped_to_physical_decay():
    t = np.array([24, 48, 96, 168]) * H
    lam_too_slow = 0.5 * math.log(2) / LU177_HALF_LIFE_S
    fit = fit_tac(t, 50 * np.exp(-lam_too_slow * t), "mono", half_life_s=LU177_HALF_LIFE_S)
    assert fit.decay_constants_per_s[0] == pytest.approx(math.log(2) / LU177_HALF_LIFE_S, rel=1e-9)
    free = fit_tac(t, 50 * np.exp(-lam_too_slow * t), "mono", constrain_to_physical_decay=False)
    assert free.decay_constants_per_s[0] == pytest.approx(lam_too_slow, rel=NOISE_FREE_TOL)


def test_aicc_picks_the_generating_model():
    rng = np.random.default_rng(20240611)
    t = np.array([1, 2, 4, 8, 24, 48, 72, 96, 168]) * H
    lw, lu = math.log(2) / (50 * H), math.log(2) / (3 * H)
    truth = 100.0 * (np.exp(-lw * t) - np.exp(-lu * t))
    best, fits = fit_tac_best(t, truth * (1 + 0.02 * rng.standard_normal(t.size)), half_life_s=LU177_HALF_LIFE_S)
    assert best.model == "uptake_washout"
    assert set(fits) == {"mono", "bi", "uptake_washout", "tri"}
    assert best.aicc == min(f.aicc for f in fits.values())

    t5 = np.array([4, 24, 48, 96, 168]) * H
    mono = 80 * np.exp(-math.log(2) / (60 * H) * t5) * (1 + 0.02 * rng.standard_normal(5))
    best, fits = fit_tac_best(t5, mono, half_life_s=LU177_HALF_LIFE_S)
    assert best.model == "mono"
    assert "tri" not in fits and "bi" not in fits  # n ≤ k + 1: AICc undefined, not ranked


def test_aicc_formula_and_undefined_case():
    assert aicc(2.0, 10, 3) == pytest.approx(10 * math.log(0.2) + 6 + 24 / 6)
    assert math.isnan(aicc(2.0, 4, 3))
    with pytest.raises(FitError, match="AICc"):
        fit_tac_best([1 * H, 2 * H, 3 * H], [3.0, 2.0, 1.0], half_life_s=LU177_HALF_LIFE_S)


def test_tia_uncertainty_matches_monte_carlo_spread():
    """The delta-method SD from the fit covariance should match the spread of TIAs over noise realisations.

    With 300 realisations the sample SD itself scatters by 1/sqrt(2·299) ≈ 4 %; 15 % allows that (3σ) plus the
    small non-linearity of the delta method at 5 % noise.
    """
    rng = np.random.default_rng(7)
    t = np.array([2, 6, 24, 48, 96, 144]) * H
    lam = math.log(2) / (40 * H)
    truth = 200 * np.exp(-lam * t)
    sigma = 0.05 * truth
    predicted_sd = fit_tac(t, truth, "mono", half_life_s=LU177_HALF_LIFE_S, sigma=sigma).tia_sd
    tias = [fit_tac(t, truth + sigma * rng.standard_normal(t.size), "mono", half_life_s=LU177_HALF_LIFE_S,
                    sigma=sigma).tia for _ in range(300)]
    assert np.std(tias, ddof=1) == pytest.approx(predicted_sd, rel=0.15)
    assert np.mean(tias) == pytest.approx(200 / lam, rel=0.02)


def test_trapezoid_hand_computed():
    t = np.array([1.0, 2.0, 4.0]) * H
    a = np.array([2.0, 4.0, 4.0])
    tail = 4.0 * LU177_HALF_LIFE_S / math.log(2)
    # (0,0)→(1h,2): 1 h·1; (1h,2)→(2h,4): 1 h·3; (2h,4)→(4h,4): 2 h·4 → 12 h
    assert tia_trapezoid(t, a, LU177_HALF_LIFE_S) == pytest.approx(12 * H + tail, rel=1e-12)
    assert tia_trapezoid(t, a, LU177_HALF_LIFE_S, start="constant") == pytest.approx(13 * H + tail, rel=1e-12)
    assert tia_trapezoid(t, a, LU177_HALF_LIFE_S, start="first", tail="none") == pytest.approx(11 * H, rel=1e-12)


def test_trapezoid_with_physical_tail_converges_to_analytic_integral():
    lam = math.log(2) / LU177_HALF_LIFE_S
    t = np.linspace(0, 400 * H, 2001)
    a = 30 * np.exp(-lam * t)
    # trapezoid error ≈ h²/12·∫A'' = (h λ)²/12 relative ≈ 2e-8 here
    assert tia_trapezoid(t, a, LU177_HALF_LIFE_S, start="first") == pytest.approx(30 / lam, rel=1e-6)


def test_trapezoid_is_vectorised_over_voxels():
    rng = np.random.default_rng(3)
    t = np.array([4, 24, 72, 168]) * H
    stack = rng.uniform(0, 10, size=(4, 3, 5, 6))
    maps = tia_trapezoid(t, stack, LU177_HALF_LIFE_S)
    assert maps.shape == (3, 5, 6)
    assert maps[2, 3, 4] == pytest.approx(float(tia_trapezoid(t, stack[:, 2, 3, 4], LU177_HALF_LIFE_S)), rel=1e-12)


def test_voxel_mono_fit_recovers_analytic_integrals():
    t = np.array([4, 24, 48, 96, 168]) * H
    lam_phys = math.log(2) / LU177_HALF_LIFE_S
    lams = np.array([lam_phys, 2 * lam_phys, math.log(2) / (30 * H), math.log(2) / (80 * H)])
    a0 = np.array([10.0, 50.0, 200.0, 1.0])
    stack = a0[None, :] * np.exp(-np.outer(t, lams))
    fit = fit_mono_exponential_voxels(t, stack.reshape(5, 2, 2), LU177_HALF_LIFE_S)
    np.testing.assert_allclose(fit.tia.ravel(), a0 / lams, rtol=1e-10)
    np.testing.assert_allclose(fit.decay_constant_per_s.ravel(), lams, rtol=1e-10)


def test_voxel_mono_fit_handles_non_positive_and_rising_voxels():
    t = np.array([4, 24, 48]) * H
    lam_phys = math.log(2) / LU177_HALF_LIFE_S
    stack = np.array([[0.0, -1.0, 1.0], [0.0, 2.0, 2.0], [0.0, 1.0, 3.0]])  # columns: empty, noisy, rising
    fit = fit_mono_exponential_voxels(t, stack, LU177_HALF_LIFE_S)
    assert np.all(np.isfinite(fit.tia))
    assert fit.tia[0] == 0.0
    assert fit.decay_constant_per_s[2] == pytest.approx(lam_phys)  # rising curve: physical decay only


def test_invalid_inputs():
    with pytest.raises(InvalidParameterError, match="t_s"):
        fit_tac([2 * H, 1 * H, 3 * H], [1, 2, 3], half_life_s=LU177_HALF_LIFE_S)
    with pytest.raises(InvalidParameterError, match="half_life_s"):
        fit_tac([1 * H, 2 * H, 3 * H], [3, 2, 1])
    with pytest.raises(InvalidParameterError, match="model"):
        fit_tac([1 * H, 2 * H, 3 * H], [3, 2, 1], "quad", half_life_s=LU177_HALF_LIFE_S)
    with pytest.raises(InvalidParameterError, match="at least 5"):
        fit_tac([1 * H, 2 * H, 3 * H], [3, 2, 1], "tri", half_life_s=LU177_HALF_LIFE_S)


@pytest.mark.parametrize("model", ["mono", "bi", "uptake_washout", "tri"])
def test_tia_gradient_matches_finite_differences(model):
    from imagebio.dosimetry.tac import _split, _tia_gradient

    rng = np.random.default_rng(5)
    p = rng.uniform(0.5, 2.0, size={"mono": 2, "bi": 4, "uptake_washout": 3, "tri": 5}[model])
    floor = 0.1

    def tia(q):
        c, r = _split(model, q, floor)
        return np.sum(c / r)

    h = 1e-6
    numeric = [(tia(p + h * e) - tia(p - h * e)) / (2 * h) for e in np.eye(p.size)]
    np.testing.assert_allclose(_tia_gradient(model, p, floor), numeric, rtol=1e-6)


def test_uptake_washout_tia_uncertainty_matches_monte_carlo_spread():
    """As for the mono-exponential case (15 %: 3σ of the sample SD with 200 draws is 15 %)."""
    rng = np.random.default_rng(8)
    t = np.array([1, 3, 6, 24, 48, 96, 144]) * H
    lw, lu = math.log(2) / (45 * H), math.log(2) / (4 * H)
    truth = 150 * (np.exp(-lw * t) - np.exp(-lu * t))
    sigma = 0.05 * truth + 1.0
    predicted_sd = fit_tac(t, truth, "uptake_washout", half_life_s=LU177_HALF_LIFE_S, sigma=sigma).tia_sd
    tias = [fit_tac(t, truth + sigma * rng.standard_normal(t.size), "uptake_washout",
                    half_life_s=LU177_HALF_LIFE_S, sigma=sigma).tia for _ in range(200)]
    assert np.std(tias, ddof=1) == pytest.approx(predicted_sd, rel=0.15)


def test_biexponential_with_noise_tia_accuracy_and_coverage():
    """Issue 7 must-show: synthetic bi-exponential with 5 % noise at 8 time points, 200 repeats. The mean TIA is
    within 2 % of the truth, and the reported ±1.96 SD interval covers the truth in ~95 % of repeats: with 200
    repeats the binomial SD of the coverage is sqrt(0.95·0.05/200) = 1.5 %, so 3 SD allow [0.904, 0.996]."""
    rng = np.random.default_rng(2024)
    t = np.array([1, 4, 12, 24, 48, 72, 120, 168]) * H
    l1, l2 = math.log(2) / (6 * H), math.log(2) / (60 * H)
    a1, a2 = 80.0, 120.0
    truth_curve = a1 * np.exp(-l1 * t) + a2 * np.exp(-l2 * t)
    truth = a1 / l1 + a2 / l2
    sigma = 0.05 * truth_curve
    tias, covered = [], 0
    for _ in range(200):
        noisy = truth_curve + sigma * rng.standard_normal(t.size)
        fit = fit_tac(t, noisy, "bi", half_life_s=LU177_HALF_LIFE_S, sigma=sigma)
        tias.append(fit.tia)
        covered += abs(fit.tia - truth) <= 1.96 * fit.tia_sd
    assert np.mean(tias) == pytest.approx(truth, rel=0.02)
    assert np.median(np.abs(np.array(tias) / truth - 1)) < 0.02
    assert 0.904 <= covered / 200 <= 0.996
