"""Tests of the 1TCM / 2TCM simulation and fits (imagebio.pet.kinetics.compartment).

Reference curves are the closed-form convolutions of the Feng (1993) input (``_feng_reference``; λ2 = −0.0104 /min
goes with A2), frame-averaged by Gauss-Legendre quadrature, not imagebio's grid numerics.
"""

from __future__ import annotations

import numpy as np
import pytest

from imagebio.errors import FitError, InvalidParameterError
from imagebio.pet.kinetics.compartment import (
    fit_one_tissue,
    fit_two_tissue,
    simulate_one_tissue,
    simulate_two_tissue,
    two_tissue_rates,
)
from imagebio.pet.kinetics.frames import FrameTimes
from imagebio.pet.kinetics.graphical import patlak
from imagebio.pet.kinetics.input_function import FengInputFunction, InputFunction

from . import _feng_reference as ref

FRAMES = FrameTimes.from_durations(np.array(ref.DURATIONS_S) / 60.0)
FENG = FengInputFunction()
# Huang/Phelps grey-matter FDG constants (k4 from Phelps 1979), with 5 % blood volume
PHELPS = {"K1": 0.102, "k2": 0.130, "k3": 0.062, "k4": 0.0068, "vB": 0.05}


def _reference_tac(**p):
    return ref.frame_average(lambda t: ref.two_tissue_pet(t, p["K1"], p["k2"], p["k3"], p.get("k4", 0.0),
                                                          p.get("vB", 0.0)), FRAMES.start_min, FRAMES.duration_min)


def test_simulation_matches_the_closed_form():
    expected = _reference_tac(**PHELPS)
    simulated = simulate_two_tissue(FRAMES, FENG, **PHELPS)
    np.testing.assert_allclose(simulated, expected, rtol=1e-3)
    one = simulate_one_tissue(FRAMES, FENG, K1=0.3, k2=0.1, vB=0.02)
    expected_one = ref.frame_average(lambda t: ref.one_tissue_pet(t, 0.3, 0.1, 0.02), FRAMES.start_min,
                                     FRAMES.duration_min)
    np.testing.assert_allclose(one, expected_one, rtol=1e-3)


def test_noiseless_reversible_2tcm_fit_within_1_percent():
    fit = fit_two_tissue(_reference_tac(**PHELPS), FRAMES, FENG)
    for name, value in PHELPS.items():
        assert fit.parameters[name] == pytest.approx(value, rel=0.01), name
    assert fit.derived["Vt"] == pytest.approx(0.102 / 0.130 * (1 + 0.062 / 0.0068), rel=0.01)
    assert fit.model == "2TCM" and set(fit.standard_errors) == set(PHELPS)


def test_noiseless_irreversible_2tcm_gives_the_analytic_ki():
    truth = {"K1": 0.102, "k2": 0.130, "k3": 0.062, "vB": 0.03}
    fit = fit_two_tissue(_reference_tac(**truth), FRAMES, FENG, k4=0.0)
    for name, value in truth.items():
        assert fit.parameters[name] == pytest.approx(value, rel=0.01), name
    assert fit.parameters["k4"] == 0.0
    assert fit.derived["Ki"] == pytest.approx(0.032938, rel=0.01)


def test_noiseless_1tcm_fit():
    tac = ref.frame_average(lambda t: ref.one_tissue_pet(t, 0.3, 0.1, 0.02), FRAMES.start_min, FRAMES.duration_min)
    fit = fit_one_tissue(tac, FRAMES, FENG)
    assert fit.parameters["K1"] == pytest.approx(0.3, rel=0.01)
    assert fit.parameters["k2"] == pytest.approx(0.1, rel=0.01)
    assert fit.parameters["vB"] == pytest.approx(0.02, rel=0.01)
    assert fit.derived["Vt"] == pytest.approx(3.0, rel=0.01)


def test_sampled_input_gives_the_same_fit():
    # a densely sampled arterial input (every 2 s up to 2 min, then every minute) instead of the formula
    times = np.concatenate([np.arange(0, 2, 1 / 30), np.arange(2, 66, 1.0)])
    sampled = InputFunction(times, ref.feng(times))
    truth = {"K1": 0.102, "k2": 0.130, "k3": 0.062}
    fit = fit_two_tissue(_reference_tac(**truth), FRAMES, sampled, k4=0.0, vB=0.0)
    assert fit.derived["Ki"] == pytest.approx(0.032938, rel=0.01)


def test_noise_bias_is_small(capsys):
    # ROI-level noise: SD ∝ √(C/Δt), 2 % on the last 10 min frame (about 170 % on the first 10 s frame).
    truth = {"K1": 0.102, "k2": 0.130, "k3": 0.062}
    clean = _reference_tac(**truth)
    scale = 0.02 * clean[-1] / np.sqrt(clean[-1] / FRAMES.duration_min[-1])
    sd = scale * np.sqrt(clean / FRAMES.duration_min)
    rng = np.random.default_rng(2024)
    estimates = []
    for _ in range(30):
        tac = clean + rng.normal(0.0, sd)
        fit = fit_two_tissue(tac, FRAMES, FENG, k4=0.0)
        estimates.append([fit.parameters["K1"], fit.parameters["k2"], fit.parameters["k3"], fit.derived["Ki"],
                          patlak(tac, FRAMES, FENG, t_star_min=10.0).slope])
    estimates = np.array(estimates)
    bias = estimates.mean(axis=0) / np.array([0.102, 0.130, 0.062, 0.032938, 0.032938]) - 1.0
    cv = estimates.std(axis=0) / np.array([0.102, 0.130, 0.062, 0.032938, 0.032938])
    with capsys.disabled():
        print(f"\n2TCM (k4=0) bias (CV) over 30 noisy TACs: K1 {bias[0]:+.1%} ({cv[0]:.0%}), k2 {bias[1]:+.1%} "
              f"({cv[1]:.0%}), k3 {bias[2]:+.1%} ({cv[2]:.0%}), Ki {bias[3]:+.1%} ({cv[3]:.1%}); "
              f"Patlak Ki (t* 10 min) {bias[4]:+.1%} ({cv[4]:.1%})")
    # Ki is the robust macro-parameter: its bias stays within the 2 % Patlak tolerance
    assert abs(bias[3]) < 0.02 and abs(bias[4]) < 0.02
    assert np.all(np.abs(bias[:3]) < 0.15)


def test_rates_and_bad_input():
    a1, a2 = two_tissue_rates(0.13, 0.062, 0.0068)
    assert a1 * a2 == pytest.approx(0.13 * 0.0068) and a1 + a2 == pytest.approx(0.13 + 0.062 + 0.0068)
    with pytest.raises(InvalidParameterError, match="k3"):
        simulate_two_tissue(FRAMES, FENG, 0.1, 0.1, -0.1)
    with pytest.raises(InvalidParameterError, match="tac"):
        fit_two_tissue(np.ones(3), FRAMES, FENG)
    short = FrameTimes.from_durations([1.0, 1.0, 1.0])
    with pytest.raises(FitError):
        fit_two_tissue(np.ones(3), short, FENG)
