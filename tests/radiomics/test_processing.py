"""Tests of the IBSI processing chain (imagebio.radiomics.processing)."""

from __future__ import annotations

import numpy as np
import pytest

from imagebio.errors import EmptyMaskError, InvalidParameterError
from imagebio.radiomics import processing


def test_grid_size_and_centring_ct_phantom_geometry():
    # IBSI CT phantom: 60 x 201 x 204 voxels of 3.0 x 0.977 x 0.977 mm -> 2 mm grid of 90 x 99 x 100 (IBSI tables).
    shape, start, step = processing.interpolation_grid((60, 201, 204), (3.0, 0.977, 0.977), (2.0, 2.0, 2.0))
    assert shape == (90, 99, 100)
    np.testing.assert_allclose(step, [2 / 3.0, 2 / 0.977, 2 / 0.977])
    # The new grid is centred on the original grid centre.
    np.testing.assert_allclose(start + step * (np.array(shape) - 1) / 2, (np.array([60, 201, 204]) - 1) / 2)


def test_in_plane_grid_keeps_slices():
    shape, start, step = processing.interpolation_grid((60, 201, 204), (3.0, 0.977, 0.977), (None, 2.0, 2.0))
    assert shape == (60, 99, 100)
    assert start[0] == 0.0 and step[0] == 1.0


def test_linear_interpolation_reproduces_a_ramp_and_extrapolates_nearest():
    z, y, x = np.meshgrid(np.arange(6), np.arange(7), np.arange(8), indexing="ij")
    ramp = 1.0 * z + 2.0 * y + 3.0 * x
    spacing = (2.0, 1.0, 1.0)
    out, new_spacing = processing.interpolate_image(ramp, spacing, (1.5, 0.7, 0.7), "linear")
    assert new_spacing == (1.5, 0.7, 0.7)
    shape, start, step = processing.interpolation_grid(ramp.shape, spacing, (1.5, 0.7, 0.7))
    pos = [np.clip(start[a] + step[a] * np.arange(shape[a]), 0, ramp.shape[a] - 1) for a in range(3)]
    pz, py, px = np.meshgrid(*pos, indexing="ij")
    np.testing.assert_allclose(out, pz + 2 * py + 3 * px, atol=1e-9)


@pytest.mark.parametrize("interpolator", ["nearest", "linear", "cubic"])
def test_constant_image_stays_constant(interpolator):
    image = np.full((5, 6, 7), -123.0)
    out, _ = processing.interpolate_image(image, (3.0, 0.8, 0.8), (2.0, 2.0, 2.0), interpolator)
    np.testing.assert_allclose(out, -123.0, atol=1e-9)


def test_unknown_interpolator_raises():
    with pytest.raises(InvalidParameterError):
        processing.interpolate_image(np.zeros((2, 2, 2)), (1, 1, 1), (2, 2, 2), "sinc")


def test_mask_interpolation_keeps_volume_of_a_block():
    mask = np.zeros((20, 40, 40), dtype=bool)
    mask[5:15, 10:30, 10:30] = True  # 10 x 20 x 20 voxels of 3 x 1 x 1 mm = 12000 mm3
    out = processing.interpolate_mask(mask, (3.0, 1.0, 1.0), (2.0, 2.0, 2.0), "linear", 0.5)
    assert out.dtype == bool
    assert abs(out.sum() * 8.0 - 12000.0) / 12000.0 < 0.1


def test_round_intensities():
    np.testing.assert_array_equal(processing.round_intensities(np.array([-1.6, -0.4, 0.4, 2.6])), [-2, -0, 0, 3])


def test_resegment_range_and_outliers():
    image = np.arange(10, dtype=float).reshape(1, 2, 5)
    mask = np.ones_like(image, dtype=bool)
    kept = processing.resegment_range(image, mask, 2, 6)
    np.testing.assert_array_equal(image[kept], [2, 3, 4, 5, 6])
    assert processing.resegment_range(image, mask, None, 3).sum() == 4
    values = np.r_[np.zeros(99), 1000.0].reshape(1, 10, 10)
    kept = processing.resegment_outliers(values, np.ones_like(values, dtype=bool), 3.0)
    assert kept.sum() == 99 and not kept.flat[-1]


def test_fixed_bin_number():
    image = np.array([0.0, 1.0, 5.0, 9.99, 10.0]).reshape(1, 1, 5)
    levels = processing.discretise_fixed_bin_number(image, np.ones_like(image, dtype=bool), 5)
    np.testing.assert_array_equal(levels.ravel(), [1, 1, 3, 5, 5])


def test_fixed_bin_size_from_resegmentation_bound_and_roi_minimum():
    image = np.array([-500.0, -476.0, -475.0, 0.0, 400.0]).reshape(1, 1, 5)
    mask = np.ones_like(image, dtype=bool)
    levels = processing.discretise_fixed_bin_size(image, mask, 25.0, lower_bound=-500.0)
    np.testing.assert_array_equal(levels.ravel(), [1, 1, 2, 21, 37])
    levels = processing.discretise_fixed_bin_size(image + 10, mask, 25.0)  # starts at the ROI minimum (-490)
    np.testing.assert_array_equal(levels.ravel(), [1, 1, 2, 21, 37])


def test_discretisation_leaves_outside_zero_and_rejects_empty_mask():
    image = np.arange(8, dtype=float).reshape(2, 2, 2)
    mask = image > 3
    levels = processing.discretise_fixed_bin_number(image, mask, 4)
    assert (levels[~mask] == 0).all() and levels[mask].min() == 1
    with pytest.raises(EmptyMaskError):
        processing.discretise_fixed_bin_size(image, np.zeros_like(mask), 1.0)


def test_ivh_discretisation_modes():
    values = np.array([-1000.0, -998.0, 0.0, 399.0])
    out, g_min, g_max, w = processing.ivh_discretise(values, "fbs", bin_width=2.5, resegmentation_range=(-1000, 400))
    np.testing.assert_allclose(out, [-998.75, -998.75, 1.25, 398.75])
    assert (g_min, g_max, w) == (-998.75, 398.75, 2.5)
    out, g_min, g_max, w = processing.ivh_discretise(values, "none", resegmentation_range=(-500, None))
    assert (g_min, g_max, w) == (-500.0, 399.0, 1.0)
    out, g_min, g_max, w = processing.ivh_discretise(values, "fbn", n_bins=1000)
    assert out.min() == 1 and out.max() == 1000 and (g_min, g_max) == (1.0, 1000.0)


def test_diagnostics_tags_and_values():
    image = np.zeros((4, 5, 6))
    image[1:3, 1:4, 2:5] = 10.0
    mask = image > 0
    out = processing.diagnostic_features(image, (3.0, 1.0, 0.5), mask, mask, "init")
    assert out["img_dim_x_init_img"] == 6 and out["vox_dim_z_init_img"] == 3.0
    assert (out["int_mask_bb_dim_x_init_roi"], out["int_mask_bb_dim_y_init_roi"],
            out["int_mask_bb_dim_z_init_roi"]) == (3, 3, 2)
    assert out["int_mask_vox_count_init_roi"] == 18 and out["int_mask_mean_int_init_roi"] == 10.0
    reseg = processing.diagnostic_features(image, (3.0, 1.0, 0.5), mask & False, mask, "reseg")
    assert "img_dim_x_reseg_img" not in reseg
    assert reseg["int_mask_vox_count_reseg_roi"] == 0 and reseg["morph_mask_vox_count_reseg_roi"] == 18


def test_bounding_box_of_empty_mask_raises():
    with pytest.raises(EmptyMaskError):
        processing.bounding_box(np.zeros((2, 2, 2), dtype=bool))
