"""Tests of recovery coefficients and GTM (imagebio.pet.partial_volume)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from imagebio.errors import EmptyMaskError, InvalidParameterError
from imagebio.pet.partial_volume import (
    blurred_sphere_profile,
    equivalent_sphere_radius_mm,
    fwhm_to_sigma,
    gtm_correction,
    pv_corrected_suv_max,
    recovery_coefficient_max,
    recovery_coefficient_mean,
)


def _blurred_voxel_sphere(radius_mm, fwhm_mm, voxel_mm=0.5):
    n = int(2 * (radius_mm + 4 * fwhm_mm) / voxel_mm) | 1
    axis = (np.arange(n) - n // 2) * voxel_mm
    z, y, x = np.meshgrid(axis, axis, axis, indexing="ij", sparse=True)
    distance = np.sqrt(z**2 + y**2 + x**2)
    sphere = distance <= radius_mm
    blurred = gaussian_filter(sphere.astype(float), fwhm_to_sigma(fwhm_mm) / voxel_mm, mode="constant", truncate=5)
    return blurred, sphere, distance


@pytest.mark.parametrize("radius_mm", [3.0, 5.0, 10.0])
def test_recovery_coefficients_match_a_numerically_blurred_sphere(radius_mm):
    fwhm = 6.0
    blurred, sphere, distance = _blurred_voxel_sphere(radius_mm, fwhm)
    centre = tuple(s // 2 for s in blurred.shape)
    # compare with the sphere of the voxelised sphere's volume (0.5 mm voxels; the two radii differ by < 1 %)
    radius_eff = (3 * sphere.sum() * 0.125 / (4 * math.pi)) ** (1 / 3)
    assert radius_eff == pytest.approx(radius_mm, rel=0.01)
    assert recovery_coefficient_max(radius_eff, fwhm) == pytest.approx(blurred[centre], rel=0.01)
    assert recovery_coefficient_mean(radius_eff, fwhm) == pytest.approx(blurred[sphere].mean(), rel=0.01)
    shell = np.abs(distance - radius_mm * 1.3) < 0.1
    assert blurred_sphere_profile(np.array(radius_mm * 1.3), radius_eff, fwhm) == pytest.approx(
        blurred[shell].mean(), rel=0.02)


def test_recovery_limits():
    assert recovery_coefficient_max(100.0, 5.0) == pytest.approx(1.0, abs=1e-12)
    assert recovery_coefficient_mean(100.0, 5.0) == pytest.approx(1.0, abs=0.03)
    assert recovery_coefficient_max(0.5, 10.0) < 0.01
    # a = R/(√2σ) = 1: RC_max = erf(1) − 2/√π·e^(−1)
    sigma = 3.0
    assert recovery_coefficient_max(math.sqrt(2) * sigma, sigma * 2 * math.sqrt(2 * math.log(2))) == pytest.approx(
        math.erf(1.0) - 2 / math.sqrt(math.pi) * math.exp(-1.0))
    with pytest.raises(InvalidParameterError, match="fwhm_mm"):
        recovery_coefficient_max(5.0, 0.0)


def test_pv_corrected_suv_max_inverts_the_blur():
    radius, fwhm, true_uptake, background = 6.0, 7.0, 8.0, 1.0
    volume_ml = 4 / 3 * math.pi * (radius / 10) ** 3
    assert equivalent_sphere_radius_mm(volume_ml) == pytest.approx(radius)
    observed = background + (true_uptake - background) * recovery_coefficient_max(radius, fwhm)
    assert pv_corrected_suv_max(observed, volume_ml, fwhm, background) == pytest.approx(true_uptake)


def test_gtm_recovers_regional_means_of_a_blurred_phantom():
    spacing = (2.0, 2.0, 2.0)
    fwhm = 8.0
    shape = (40, 40, 40)
    z, y, x = np.meshgrid(*[np.arange(n) * 2.0 for n in shape], indexing="ij")
    labels = np.ones(shape, dtype=np.int16)  # background = 1
    labels[(z - 40) ** 2 + (y - 40) ** 2 + (x - 30) ** 2 <= 8.0**2] = 2
    labels[(z - 40) ** 2 + (y - 40) ** 2 + (x - 55) ** 2 <= 5.0**2] = 3
    truth = {1: 1.0, 2: 6.0, 3: 10.0}
    activity = np.zeros(shape)
    for label, value in truth.items():
        activity[labels == label] = value
    # blur with the same PSF, zero outside the field of view as the GTM assumes
    sigma = [fwhm_to_sigma(fwhm) / s for s in spacing]
    measured = gaussian_filter(activity, sigma, mode="constant", truncate=4.0)
    result = gtm_correction(measured, labels, spacing, fwhm)
    assert result.observed_means[3] < 0.8 * truth[3]  # partial-volume loss of the small sphere
    for label, value in truth.items():
        assert result.corrected_means[label] == pytest.approx(value, rel=1e-6)
    assert result.transfer_matrix.shape == (3, 3)
    with pytest.raises(EmptyMaskError):
        gtm_correction(measured, {1: labels == 1, 9: labels == 9}, spacing, fwhm)
