"""Tests of SUVpeak / SULpeak (imagebio.pet.peak)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from imagebio.errors import EmptyMaskError, GeometryMismatchError, InvalidParameterError
from imagebio.io.body_size import lbm_janmahasatian_kg
from imagebio.io.nifti import read_image
from imagebio.pet.peak import partial_sphere_kernel, sphere_radius_mm, sul_peak, suv_peak

IBSI = Path(__file__).resolve().parents[1] / "data" / "ibsi"


@pytest.mark.parametrize("spacing", [(4.0, 4.0, 4.0), (1.0, 1.0, 1.0), (3.27, 0.977, 0.977), (5.0, 2.0, 2.0)])
def test_partial_kernel_holds_one_cm3(spacing):
    kernel = partial_sphere_kernel(spacing)
    assert kernel.sum() * np.prod(spacing) / 1000.0 == pytest.approx(1.0, rel=1e-3)
    assert kernel.max() == 1.0 and kernel.min() >= 0.0
    assert all(n % 2 == 1 for n in kernel.shape)
    # the weights are symmetric about the centre voxel
    np.testing.assert_allclose(kernel, kernel[::-1, ::-1, ::-1])


def test_partial_kernel_weight_of_a_cut_voxel():
    # 20 mm voxels: the sphere (r = 6.2 mm) sits inside the centre voxel, so its weight is V_sphere / V_voxel.
    kernel = partial_sphere_kernel((20.0, 20.0, 20.0), samples_per_voxel=200)
    assert kernel.shape == (1, 1, 1)
    assert kernel[0, 0, 0] == pytest.approx(1000.0 / 8000.0, rel=2e-3)


def _sphere_with_hot_voxel(spacing, background=1.0, hot=11.0, radius_mm=30.0, offset_voxels=(0, 0, 0)):
    shape = tuple(int(2 * math.ceil(radius_mm / s) + 5) for s in spacing)
    grids = np.meshgrid(*[(np.arange(n) - n // 2) * s for n, s in zip(shape, spacing, strict=True)], indexing="ij")
    sphere = sum(g**2 for g in grids) <= radius_mm**2
    image = np.where(sphere, background, 0.0)
    hot_index = tuple(n // 2 + o for n, o in zip(shape, offset_voxels, strict=True))
    image[hot_index] = hot
    return image, sphere, hot_index


@pytest.mark.parametrize("spacing", [(4.0, 4.0, 4.0), (2.0, 2.0, 2.0), (3.0, 2.5, 2.5)])
def test_peak_of_uniform_sphere_with_hot_voxel_is_analytic(spacing):
    # A 1 cm³ sphere holding the whole hot voxel and otherwise background has mean
    # B + (H − B)·V_voxel / 1 cm³: the analytic SUVpeak (no sphere position does better).
    background, hot = 1.0, 11.0
    image, sphere, hot_index = _sphere_with_hot_voxel(spacing, background, hot)
    voxel_mm3 = float(np.prod(spacing))
    expected = background + (hot - background) * voxel_mm3 / 1000.0
    result = suv_peak(image, sphere, spacing)
    assert result.value == pytest.approx(expected, rel=0.005)
    # The winning sphere contains the whole hot voxel (several centres tie when voxels are small).
    distance = np.linalg.norm((np.array(result.centre_index) - hot_index) * np.array(spacing))
    assert distance + 0.5 * np.linalg.norm(spacing) <= sphere_radius_mm(1.0)
    assert result.value_at_max == pytest.approx(result.value)


def test_ibsi_centre_in_sphere_counts_19_voxels_at_4mm():
    # With 4 mm voxels the centre-in sphere (r = 6.2 mm) holds the voxels with i²+j²+k² ≤ 2: 19 voxels = 1.216 cm³,
    # so the IBSI peak dilutes the hot voxel more than the 1 cm³ sphere does.
    image, sphere, _ = _sphere_with_hot_voxel((4.0, 4.0, 4.0))
    result = suv_peak(image, sphere, (4.0, 4.0, 4.0), method="ibsi")
    assert result.value == pytest.approx(1.0 + 10.0 / 19.0, rel=1e-9)


def test_peak_need_not_contain_the_hottest_voxel():
    spacing = (2.0, 2.0, 2.0)
    image = np.zeros((30, 30, 30))
    image[5, 5, 5] = 20.0  # isolated hottest voxel
    image[15:25, 15:25, 15:25] = 5.0  # large uniform region: its peak is 5
    mask = image > 0
    result = suv_peak(image, mask, spacing)
    assert result.value == pytest.approx(5.0, rel=1e-9)
    assert result.value_at_max == pytest.approx(20.0 * 8.0 / 1000.0, rel=0.005)


def test_sphere_outside_the_image_is_not_averaged():
    image = np.full((3, 20, 20), 2.0)
    mask = np.zeros_like(image, dtype=bool)
    mask[0, 10, 10] = True
    assert suv_peak(image, mask, (4.0, 2.0, 2.0)).value == pytest.approx(2.0)


def test_ibsi_digital_phantom_local_intensity_peaks():
    # IBSI 1 digital phantom, reference table: loc_peak_loc 2.6, loc_peak_glob 3.1, tolerance 0 at the
    # IBSI rounding (3 significant digits).
    image = read_image(next((IBSI / "ibsi_1_digital_phantom" / "image").glob("*.nii.gz")))
    mask = read_image(next((IBSI / "ibsi_1_digital_phantom" / "mask").glob("*.nii.gz")))
    result = suv_peak(image.array, mask.array > 0.5, image.spacing, method="ibsi")
    assert float(f"{result.value_at_max:.3g}") == 2.6
    assert float(f"{result.value:.3g}") == 3.1


def test_sul_peak_scales_by_lean_body_mass():
    image, sphere, _ = _sphere_with_hot_voxel((4.0, 4.0, 4.0))
    suv = suv_peak(image, sphere, (4.0, 4.0, 4.0)).value
    sul = sul_peak(image, sphere, (4.0, 4.0, 4.0), weight_kg=80.0, height_m=1.8, sex="M").value
    assert sul == pytest.approx(suv * lbm_janmahasatian_kg(80.0, 1.8, "M") / 80.0)


def test_radius_and_bad_input():
    assert sphere_radius_mm(1.0) == pytest.approx(6.2035, abs=1e-4)
    with pytest.raises(InvalidParameterError, match="method"):
        suv_peak(np.ones((3, 3, 3)), np.ones((3, 3, 3), bool), (1, 1, 1), method="max")
    with pytest.raises(InvalidParameterError, match="spacing"):
        suv_peak(np.ones((3, 3, 3)), np.ones((3, 3, 3), bool), (1, 0, 1))
    with pytest.raises(EmptyMaskError):
        suv_peak(np.ones((3, 3, 3)), np.zeros((3, 3, 3), bool), (1, 1, 1))
    with pytest.raises(GeometryMismatchError):
        suv_peak(np.ones((3, 3, 3)), np.ones((3, 3, 4), bool), (1, 1, 1))
