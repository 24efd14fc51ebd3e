"""Tests of the local intensity features (imagebio.radiomics.local_intensity)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imagebio.errors import EmptyMaskError
from imagebio.radiomics.local_intensity import local_intensity_features, sphere_kernel


def test_sphere_kernel_holds_voxels_within_the_1cm3_radius():
    spacing = (3.0, 0.977, 0.977)
    kernel = sphere_kernel(spacing)
    radius = 10.0 * (3 / (4 * math.pi)) ** (1 / 3)
    assert radius == pytest.approx(6.2035, abs=1e-4)
    centre = np.array(kernel.shape) // 2
    offsets = (np.argwhere(np.ones_like(kernel)) - centre) * np.array(spacing)
    inside = np.sqrt((offsets**2).sum(axis=1)) <= radius
    np.testing.assert_array_equal(kernel.ravel(), inside)
    assert kernel[tuple(centre)] and kernel.shape == (5, 13, 13)
    # The voxel count approximates 1 cm³.
    assert kernel.sum() * np.prod(spacing) == pytest.approx(1000.0, rel=0.1)


def test_single_hot_voxel_and_image_edge():
    image = np.zeros((25, 25, 25))
    image[12, 12, 12] = 100.0
    mask = np.zeros_like(image, dtype=bool)
    mask[10:15, 10:15, 10:15] = True  # every sphere centred in the ROI lies inside the image
    n_sphere = sphere_kernel((1.0, 1.0, 1.0)).sum()
    f = local_intensity_features(image, mask, (1.0, 1.0, 1.0))
    assert f["loc_peak_loc"] == pytest.approx(100.0 / n_sphere)
    assert f["loc_peak_glob"] == pytest.approx(100.0 / n_sphere)
    # In a corner, only the part of the sphere inside the image is averaged.
    corner = np.zeros_like(image)
    corner[0, 0, 0] = 100.0
    corner_mask = np.zeros_like(mask)
    corner_mask[0, 0, 0] = True
    kernel = sphere_kernel((1.0, 1.0, 1.0))
    n_inside = kernel[kernel.shape[0] // 2:, kernel.shape[1] // 2:, kernel.shape[2] // 2:].sum()
    assert local_intensity_features(corner, corner_mask, (1.0, 1.0, 1.0))["loc_peak_loc"] == pytest.approx(
        100.0 / n_inside)


def test_local_peak_uses_the_brightest_roi_voxel_and_global_peak_any_voxel():
    image = np.zeros((30, 30, 30))
    image[7, 7, 7] = 50.0  # brightest voxel, isolated
    image[15:20, 15:20, 15:20] = 40.0  # a dimmer but larger blob
    mask = image > 0
    f = local_intensity_features(image, mask, (1.0, 1.0, 1.0))
    n_sphere = sphere_kernel((1.0, 1.0, 1.0)).sum()
    assert f["loc_peak_loc"] == pytest.approx(50.0 / n_sphere)
    assert f["loc_peak_glob"] > f["loc_peak_loc"]


def test_empty_mask_raises():
    with pytest.raises(EmptyMaskError):
        local_intensity_features(np.zeros((3, 3, 3)), np.zeros((3, 3, 3), bool), (1, 1, 1))
