"""Tests of SRTM and MRTM (imagebio.pet.kinetics.reference_tissue).

Target and reference follow one-tissue kinetics (the SRTM/MRTM assumption): reference K1' = 0.25 mL/cm³/min,
k2' = 0.2 /min; target R1 = 1.2 (K1 = 0.3), k2 = 0.24 /min, BPnd = 1.5 (apparent k2a = 0.096 /min).
"""

from __future__ import annotations

import numpy as np
import pytest

from imagebio.errors import FitError
from imagebio.pet.kinetics.frames import FrameTimes
from imagebio.pet.kinetics.reference_tissue import fit_srtm, mrtm, mrtm_map, simulate_srtm

from . import _feng_reference as ref

FRAMES = FrameTimes.from_durations(np.array(ref.DURATIONS_S) / 60.0)


def _tac(k1, k2):
    return ref.frame_average(lambda t: ref.one_tissue_pet(t, k1, k2), FRAMES.start_min, FRAMES.duration_min)


REFERENCE = _tac(0.25, 0.2)
TARGET = _tac(0.3, 0.096)


def test_srtm_recovers_binding_potential():
    fit = fit_srtm(TARGET, REFERENCE, FRAMES)
    # The convolution uses the piecewise-linear interpolant of the frame-sampled reference: ≈ 0.3 % error on BPnd
    # and R1 and ≈ 1 % on k2 with this schedule.
    assert fit.bp_nd == pytest.approx(1.5, rel=0.01)
    assert fit.r1 == pytest.approx(1.2, rel=0.01)
    assert fit.k2_per_min == pytest.approx(0.24, rel=0.02)
    np.testing.assert_allclose(simulate_srtm(REFERENCE, FRAMES, fit.r1, fit.k2_per_min, fit.bp_nd), fit.fitted)


def test_mrtm_and_mrtm2():
    fit = mrtm(TARGET, REFERENCE, FRAMES)
    assert fit.bp_nd == pytest.approx(1.5, rel=0.01)
    assert fit.r1 == pytest.approx(1.2, rel=0.01)
    assert fit.k2_reference_per_min == pytest.approx(0.2, rel=0.02)
    fixed = mrtm(TARGET, REFERENCE, FRAMES, k2_reference_per_min=0.2)
    assert fixed.method == "MRTM2" and fixed.bp_nd == pytest.approx(1.5, rel=0.01)


def test_mrtm_map_equals_region_fit():
    bp_values = [0.5, 1.5, 3.0]
    dynamic = np.stack([_tac(0.3, 0.24 / (1 + bp)) for bp in bp_values], axis=1).reshape(FRAMES.n_frames, 1, 1, 3)
    maps = mrtm_map(dynamic, REFERENCE, FRAMES)
    for i, bp in enumerate(bp_values):
        region = mrtm(dynamic[:, 0, 0, i], REFERENCE, FRAMES)
        assert maps["bp_nd"][0, 0, i] == pytest.approx(region.bp_nd, rel=1e-6)
        assert maps["bp_nd"][0, 0, i] == pytest.approx(bp, rel=0.02)
    maps2 = mrtm_map(dynamic, REFERENCE, FRAMES, k2_reference_per_min=0.2)
    np.testing.assert_allclose(maps2["bp_nd"][0, 0], bp_values, rtol=0.02)


def test_mrtm_needs_frames_after_t_star():
    with pytest.raises(FitError, match="t\\*"):
        mrtm(TARGET, REFERENCE, FRAMES, t_star_min=60.0)
