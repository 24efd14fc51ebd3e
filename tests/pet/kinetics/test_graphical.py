"""Tests of Patlak and Logan (imagebio.pet.kinetics.graphical), regions and voxel-wise maps."""

from __future__ import annotations

import numpy as np
import pytest

from imagebio.errors import FitError, InvalidParameterError
from imagebio.pet.kinetics.frames import FrameTimes
from imagebio.pet.kinetics.graphical import logan, logan_map, patlak, patlak_map
from imagebio.pet.kinetics.input_function import FengInputFunction

from . import _feng_reference as ref

FRAMES = FrameTimes.from_durations(np.array(ref.DURATIONS_S) / 60.0)
FENG = FengInputFunction()
KI_HUANG_PHELPS = 0.032938  # K1·k3/(k2+k3) with K1 = 0.102, k2 = 0.130, k3 = 0.062 (shared SOURCE.md section 6)


def _tac(function):
    return ref.frame_average(function, FRAMES.start_min, FRAMES.duration_min)


def test_patlak_ki_within_2_percent_of_the_analytic_value():
    tac = _tac(lambda t: ref.two_tissue_pet(t, 0.102, 0.130, 0.062))
    for t_star in ("auto", 10.0, 20.0):
        fit = patlak(tac, FRAMES, FENG, t_star_min=t_star)
        assert fit.slope == pytest.approx(KI_HUANG_PHELPS, rel=0.02), t_star
        assert fit.r_squared > 0.999
    auto = patlak(tac, FRAMES, FENG)
    assert auto.t_star_min >= 5.0 and auto.n_points >= 3
    # the intercept (apparent distribution volume, mL/cm³) is positive; its value depends on the input's shape
    assert auto.intercept > 0


def test_patlak_slope_with_blood_volume_is_scaled():
    # with C_PET = (1 − vB)·C_T + vB·Cp the Patlak slope is (1 − vB)·Ki
    tac = _tac(lambda t: ref.two_tissue_pet(t, 0.102, 0.130, 0.062, 0.0, 0.05))
    assert patlak(tac, FRAMES, FENG, t_star_min=10.0).slope == pytest.approx(0.95 * KI_HUANG_PHELPS, rel=0.02)


def test_logan_vt_of_one_tissue_kinetics():
    # For one-tissue kinetics the Logan relation ∫C/C = Vt·∫Cp/C − 1/k2 is exact at all times: only the
    # frame discretisation of ∫C_T remains.
    tac = _tac(lambda t: ref.one_tissue_pet(t, 0.3, 0.1))
    fit = logan(tac, FRAMES, FENG, t_star_min=5.0)
    assert fit.slope == pytest.approx(3.0, rel=0.01)
    assert fit.intercept == pytest.approx(-1 / 0.1, rel=0.05)


def test_logan_reference_dvr():
    # reference K1' = 0.25, k2' = 0.2 ; target R1 = 1.2, k2 = 0.24, BPnd = 1.5 (one-tissue, k2a = 0.096)
    reference = _tac(lambda t: ref.one_tissue_pet(t, 0.25, 0.2))
    target = _tac(lambda t: ref.one_tissue_pet(t, 0.3, 0.096))
    fit = logan(target, FRAMES, reference_tac=reference, k2_reference_per_min=0.2, t_star_min=10.0)
    assert fit.slope == pytest.approx(2.5, rel=0.01)
    with pytest.raises(InvalidParameterError):
        logan(target, FRAMES, FENG, reference_tac=reference)


def test_maps_equal_the_region_fits_voxel_by_voxel():
    rng = np.random.default_rng(5)
    k3 = rng.uniform(0.02, 0.1, size=(2, 3, 4))
    dynamic = np.stack([_tac(lambda t, k=k: ref.two_tissue_pet(t, 0.102, 0.130, k)) for k in k3.ravel()], axis=1)
    dynamic = dynamic.reshape(FRAMES.n_frames, *k3.shape)
    maps = patlak_map(dynamic, FRAMES, FENG, t_star_min=10.0)
    for index in [(0, 0, 0), (1, 2, 3), (0, 1, 2)]:
        fit = patlak(dynamic[(slice(None), *index)], FRAMES, FENG, t_star_min=10.0)
        assert maps["ki"][index] == pytest.approx(fit.slope, rel=1e-5)
        assert maps["intercept"][index] == pytest.approx(fit.intercept, rel=1e-5)
    assert maps["ki"].dtype == np.float32 and maps["ki"].shape == k3.shape
    mask = np.zeros(k3.shape, bool)
    mask[1] = True
    masked = patlak_map(dynamic, FRAMES, FENG, t_star_min=10.0, mask=mask)
    assert np.isnan(masked["ki"][0]).all() and np.allclose(masked["ki"][1], maps["ki"][1])
    vt = logan_map(dynamic + 1.0, FRAMES, FENG, t_star_min=20.0)["vt"]
    fit = logan(dynamic[:, 1, 2, 3] + 1.0, FRAMES, FENG, t_star_min=20.0)
    assert vt[1, 2, 3] == pytest.approx(fit.slope, rel=1e-5)


def test_graphical_errors():
    tac = _tac(lambda t: ref.two_tissue_pet(t, 0.102, 0.130, 0.062))
    with pytest.raises(FitError, match="t\\*"):
        patlak(tac, FRAMES, FENG, t_star_min=64.0)
    with pytest.raises(InvalidParameterError, match="tac"):
        patlak(tac[:-1], FRAMES, FENG)
    with pytest.raises(FitError, match="frame 0"):
        logan(np.concatenate([[0.0], tac[1:]]), FRAMES, FENG)
    with pytest.raises(InvalidParameterError, match="t_star_min"):
        patlak_map(tac[:, None, None, None], FRAMES, FENG, t_star_min="auto")
