"""Tests of the shared filter machinery (imagebio.radiomics.filters._core): rotations, pooling, FFT convolution."""

from __future__ import annotations

import numpy as np
import pytest

from imagebio.errors import InvalidParameterError
from imagebio.radiomics.filters._core import convolve_fft, pool, right_angle_rotations, unique_rotations


@pytest.mark.parametrize(("ndim", "count"), [(2, 4), (3, 24)])
def test_right_angle_rotations_are_the_proper_rotation_group(ndim, count):
    rotations = right_angle_rotations(ndim)
    assert len(rotations) == count
    kernel = np.arange(float(3**ndim)).reshape((3,) * ndim)
    rotated = set()
    for perm, flips in rotations:
        out = np.transpose(kernel, perm)
        out = np.flip(out, [a for a, f in enumerate(flips) if f]) if any(flips) else out
        rotated.add(out.tobytes())
    assert len(rotated) == count  # all distinct
    # np.rot90 compositions generate exactly the same set
    assert np.rot90(kernel, axes=(0, 1)).tobytes() in rotated


def test_unique_rotations_drop_symmetric_duplicates():
    symmetric = [np.array([1.0, 2.0, 1.0])] * 3
    assert len(unique_rotations([symmetric], 3)) == 1
    odd = [np.array([-1.0, 0.0, 1.0]), np.array([1.0, 2.0, 1.0]), np.array([1.0, 2.0, 1.0])]
    assert len(unique_rotations([odd], 3)) == 6  # derivative along one of 3 axes, 2 signs


def test_pooling():
    maps = [np.array([1.0, 5.0]), np.array([3.0, 2.0])]
    np.testing.assert_array_equal(pool(iter(maps), "max"), [3, 5])
    np.testing.assert_array_equal(pool(iter(maps), "mean"), [2, 3.5])
    np.testing.assert_array_equal(pool(iter(maps), "min"), [1, 2])
    with pytest.raises(InvalidParameterError):
        pool(iter(maps), "median")


def test_fft_convolution_matches_direct_convolution(rng):
    from scipy import ndimage

    image = rng.normal(size=(4, 9, 10))
    kernel = rng.normal(size=(3, 5))
    expected = ndimage.convolve(image, kernel[None], mode="reflect")
    np.testing.assert_allclose(convolve_fft(image, kernel, "mirror", (1, 2)), expected, atol=1e-12)
    with pytest.raises(InvalidParameterError):
        convolve_fft(image, np.ones((2, 3)), "zero", (1, 2))
