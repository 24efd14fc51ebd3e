"""Tests of imagebio.radiomics.filters.log: IBSI 2 phase-1 tests 2.a-2.c, dense-kernel equivalence, spacing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imagebio.errors import InvalidParameterError
from imagebio.radiomics.filters.log import laplacian_of_gaussian, log_support_radius

from ._ibsi2 import check_phase1, phase1_ids


@pytest.mark.parametrize("test_id", phase1_ids(("2_",)))
def test_ibsi2_phase1_response_map(test_id):
    deviation = check_phase1(test_id)
    assert deviation <= 1.0, f"{test_id}: max deviation {deviation:.3f} % of the reference range (limit 1 %)"


def test_separable_evaluation_equals_the_dense_ibsi_kernel(rng):
    from scipy import ndimage

    sigma_vox, truncate = 1.2, 4.0
    half = int(math.floor(truncate * sigma_vox + 0.5))
    grid = np.arange(-half, half + 1, dtype=float)
    z, y, x = np.meshgrid(grid, grid, grid, indexing="ij")
    r2 = x**2 + y**2 + z**2
    # IBSI 2 manual: h = -1/s^2 (1/(sqrt(2 pi) s))^D (D - |x|^2/s^2) exp(-|x|^2/(2 s^2)), D = 3.
    dense = (-1.0 / sigma_vox**2 * (1.0 / (math.sqrt(2 * math.pi) * sigma_vox)) ** 3 * (3 - r2 / sigma_vox**2)
             * np.exp(-r2 / (2 * sigma_vox**2)))
    image = rng.normal(size=(12, 13, 14))
    expected = ndimage.convolve(image, dense, mode="constant", cval=0.0)
    spacing = (2.0, 2.0, 2.0)
    ours = laplacian_of_gaussian(image, spacing, sigma_vox * 2.0, truncate=truncate, padding="zero")
    np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-12)


def test_sigma_is_converted_to_voxels_per_axis():
    assert log_support_radius((4.0, 2.0, 1.0), 2.0, 4.0) == (2, 4, 8)
    assert log_support_radius((4.0, 2.0, 1.0), 2.0, 4.0, dimensions=2) == (0, 4, 8)


def test_two_dimensional_filter_keeps_slices_independent():
    image = np.zeros((5, 21, 21))
    image[2, 10, 10] = 1.0
    out = laplacian_of_gaussian(image, (2.0, 1.0, 1.0), 2.0, dimensions=2, padding="zero")
    assert np.all(out[[0, 1, 3, 4]] == 0.0)
    assert out[2, 10, 10] < 0  # centre of the LoG is negative


def test_invalid_sigma_is_rejected():
    with pytest.raises(InvalidParameterError):
        laplacian_of_gaussian(np.zeros((3, 3, 3)), (1.0, 1.0, 1.0), 0.0)
