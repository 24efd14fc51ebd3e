"""Tests of the basis-function voxel-wise maps (imagebio.pet.kinetics.basis)."""

from __future__ import annotations

import numpy as np
import pytest

from imagebio.errors import InvalidParameterError
from imagebio.pet.kinetics.basis import one_tissue_map, srtm_map, theta_grid
from imagebio.pet.kinetics.frames import FrameTimes
from imagebio.pet.kinetics.input_function import FengInputFunction
from imagebio.pet.kinetics.reference_tissue import fit_srtm

from . import _feng_reference as ref

FRAMES = FrameTimes.from_durations(np.array(ref.DURATIONS_S) / 60.0)


def _tac(function):
    return ref.frame_average(function, FRAMES.start_min, FRAMES.duration_min)


def test_one_tissue_k1_map_on_noiseless_voxels():
    # k2 values on the basis grid are recovered exactly; K1, vB and Vt follow from the linear step
    thetas = theta_grid(0.005, 1.0, 100)
    k2_true = thetas[[20, 45, 70]]
    k1_true = np.array([0.1, 0.3, 0.5])
    vb_true = np.array([0.0, 0.03, 0.08])
    dynamic = np.stack([_tac(lambda t, k1=k1, k2=k2, vb=vb: ref.one_tissue_pet(t, k1, k2, vb))
                        for k1, k2, vb in zip(k1_true, k2_true, vb_true, strict=True)], axis=1)
    maps = one_tissue_map(dynamic.reshape(FRAMES.n_frames, 1, 1, 3), FRAMES, FengInputFunction())
    np.testing.assert_allclose(maps["k2"][0, 0], k2_true, rtol=1e-6)
    np.testing.assert_allclose(maps["K1"][0, 0], k1_true, rtol=0.01)
    np.testing.assert_allclose(maps["vB"][0, 0], vb_true, atol=0.002)
    np.testing.assert_allclose(maps["Vt"][0, 0], k1_true / k2_true, rtol=0.01)


def test_srtm_map_matches_the_region_fit():
    reference = _tac(lambda t: ref.one_tissue_pet(t, 0.25, 0.2))
    bp_values = [0.5, 1.5, 3.0]
    dynamic = np.stack([_tac(lambda t, bp=bp: ref.one_tissue_pet(t, 0.3, 0.24 / (1 + bp))) for bp in bp_values],
                       axis=1).reshape(FRAMES.n_frames, 1, 1, 3)
    maps = srtm_map(dynamic, reference, FRAMES, n_basis=300)
    for i, bp in enumerate(bp_values):
        region = fit_srtm(dynamic[:, 0, 0, i], reference, FRAMES)
        # 300 basis functions over 0.005-0.6 /min: θ steps of 1.6 %
        assert maps["bp_nd"][0, 0, i] == pytest.approx(region.bp_nd, rel=0.02)
        assert maps["bp_nd"][0, 0, i] == pytest.approx(bp, rel=0.02)
        assert maps["r1"][0, 0, i] == pytest.approx(1.2, rel=0.02)


def test_theta_grid_validation():
    with pytest.raises(InvalidParameterError):
        theta_grid(0.5, 0.1, 10)
