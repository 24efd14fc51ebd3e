"""Tests of imagebio.radiomics.filters.gabor: IBSI 2 phase-1 tests 4.a.1, 4.a.2, kernel and pooling properties."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imagebio.errors import InvalidParameterError
from imagebio.radiomics.filters._core import convolve_fft
from imagebio.radiomics.filters.gabor import gabor_angles, gabor_filter, gabor_kernel

from ._ibsi2 import check_phase1, phase1_ids


@pytest.mark.parametrize("test_id", phase1_ids(("4_",)))
def test_ibsi2_phase1_response_map(test_id):
    deviation = check_phase1(test_id)
    assert deviation <= 1.0, f"{test_id}: max deviation {deviation:.3f} % of the reference range (limit 1 %)"


def test_angles_cover_a_full_turn():
    assert len(gabor_angles(0.0, math.pi / 8)) == 16
    assert gabor_angles(0.3, None) == [0.3]
    with pytest.raises(InvalidParameterError):
        gabor_angles(0.0, 0.7)


def test_kernel_at_theta_plus_pi_is_the_complex_conjugate():
    k0 = gabor_kernel(4.0, 3.0, 0.7, 0.4, (1.0, 1.0))
    k1 = gabor_kernel(4.0, 3.0, 0.7, 0.4 + math.pi, (1.0, 1.0))
    np.testing.assert_allclose(k1, np.conj(k0), atol=1e-12)
    assert k0.shape == (2 * 23 + 1, 2 * 23 + 1)  # 4 sigma / gamma = 22.9 mm on a 1 mm grid


def test_half_turn_shortcut_equals_pooling_every_orientation(rng):
    image = rng.normal(size=(3, 20, 22))
    angles = gabor_angles(0.1, math.pi / 4)
    full = np.mean([np.abs(convolve_fft(image, gabor_kernel(3.0, 4.0, 1.5, t, (1.0, 1.0)), "mirror", (1, 2)))
                    for t in angles], axis=0)
    ours = gabor_filter(image, (1.0, 1.0, 1.0), 3.0, 4.0, 1.5, 0.1, theta_step_rad=math.pi / 4, padding="mirror")
    np.testing.assert_allclose(ours, full, rtol=1e-10, atol=1e-10)


def test_orthogonal_planes_make_the_response_rotation_invariant(rng):
    image = rng.normal(size=(12, 12, 12))
    kwargs = {"theta_step_rad": math.pi / 2, "planes": "orthogonal", "padding": "periodic"}
    spacing = (1.0, 1.0, 1.0)
    out = gabor_filter(np.rot90(image, axes=(0, 1)), spacing, 2.0, 3.0, 1.0, **kwargs)
    np.testing.assert_allclose(out, np.rot90(gabor_filter(image, spacing, 2.0, 3.0, 1.0, **kwargs), axes=(0, 1)),
                               atol=1e-9)


def test_bad_response_type_is_rejected():
    with pytest.raises(InvalidParameterError):
        gabor_filter(np.zeros((2, 5, 5)), (1.0, 1.0, 1.0), 1.0, 2.0, 1.0, response="energy")
