"""Tests of imagebio.radiomics.filters.laws: IBSI 2 phase-1 tests 3.a-3.c, kernels, rotation invariance."""

from __future__ import annotations

import numpy as np
import pytest

from imagebio.errors import InvalidParameterError
from imagebio.radiomics.filters.laws import laws_filter, laws_kernels, laws_support_radius

from ._ibsi2 import check_phase1, phase1_ids


@pytest.mark.parametrize("test_id", phase1_ids(("3_",)))
def test_ibsi2_phase1_response_map(test_id):
    deviation = check_phase1(test_id)
    assert deviation <= 1.0, f"{test_id}: max deviation {deviation:.3f} % of the reference range (limit 1 %)"


def test_kernels_are_normalised_and_ordered_x_first():
    e5, l5, s5 = laws_kernels("E5L5S5")
    for kernel in (e5, l5, s5):
        assert np.isclose(np.sum(kernel**2), 1.0)
    np.testing.assert_allclose(e5 * np.sqrt(10), [-1, -2, 0, 2, 1])
    assert laws_support_radius("L5S5", 7) == (0, 9, 9)


@pytest.mark.parametrize("name", ["E5", "E5L5S5W5", "X5L5", "E5L"])
def test_invalid_kernel_names_are_rejected(name):
    with pytest.raises(InvalidParameterError):
        laws_kernels(name)


def test_kernel_along_x_differentiates_along_x():
    image = np.tile(np.arange(9.0), (9, 9, 1))  # ramp along x only
    out = laws_filter(image, "E3L3L3", padding="nearest")
    assert np.all(out[2:-2, 2:-2, 2:-2] != 0)
    assert np.allclose(laws_filter(image, "L3E3L3", padding="nearest"), 0.0)


@pytest.mark.parametrize("energy", [None, 2])
def test_rotation_invariant_response_commutes_with_right_angle_rotations(rng, energy):
    image = rng.normal(size=(9, 9, 9))
    kwargs = {"rotation_invariant": True, "pooling": "max", "energy_delta_voxels": energy, "padding": "periodic"}
    rotated = np.rot90(image, k=1, axes=(0, 2))
    np.testing.assert_allclose(laws_filter(rotated, "E5W5L3", **kwargs),
                               np.rot90(laws_filter(image, "E5W5L3", **kwargs), k=1, axes=(0, 2)), atol=1e-12)
