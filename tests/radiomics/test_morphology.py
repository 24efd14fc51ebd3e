"""Tests of the morphological features (imagebio.radiomics.morphology)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imagebio.errors import EmptyMaskError
from imagebio.radiomics.morphology import _ellipsoid_area, moran_geary, morphology_features


def _brute_force_moran_geary(image, mask, spacing):
    pts = np.argwhere(mask) * np.asarray(spacing)
    x = image[mask]
    d = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1))
    w = np.where(d > 0, 1.0 / np.where(d > 0, d, 1.0), 0.0)
    dev = x - x.mean()
    n = x.size
    moran = n / w.sum() * (w * np.outer(dev, dev)).sum() / (dev**2).sum()
    geary = (n - 1) * (w * (x[:, None] - x[None, :]) ** 2).sum() / (2 * w.sum() * (dev**2).sum())
    return moran, geary


def test_fft_moran_geary_equal_the_pairwise_definition(rng):
    image = rng.normal(size=(6, 9, 8)).cumsum(axis=2)
    mask = rng.random(image.shape) > 0.4
    spacing = (3.0, 0.8, 1.1)
    np.testing.assert_allclose(moran_geary(image, mask, spacing), _brute_force_moran_geary(image, mask, spacing),
                               rtol=1e-9)


def test_box_geometry():
    mask = np.zeros((12, 14, 16), dtype=bool)
    mask[2:8, 3:11, 2:14] = True  # 6 x 8 x 12 voxels
    spacing = (2.0, 1.0, 0.5)
    image = np.where(mask, 5.0, 0.0)
    f = morphology_features(image, mask, mask, spacing)
    assert f["morph_vol_approx"] == pytest.approx(6 * 8 * 12 * 1.0)
    # Marching cubes chamfers the box edges: smaller than the voxel volume, but not by much.
    assert 0.85 * f["morph_vol_approx"] < f["morph_volume"] < f["morph_vol_approx"]
    # The mesh of a box is convex.
    assert f["morph_vol_dens_conv_hull"] == pytest.approx(1.0, abs=1e-9)
    assert f["morph_area_dens_conv_hull"] == pytest.approx(1.0, abs=1e-9)
    # PCA of a full voxel grid: variance along an axis = s^2 (n^2 - 1) / 12 (times N / (N - 1), sample covariance).
    n_vox = 6 * 8 * 12
    variances = sorted([(s**2) * (n**2 - 1) / 12 * n_vox / (n_vox - 1) for n, s in ((6, 2.0), (8, 1.0), (12, 0.5))],
                       reverse=True)
    assert f["morph_pca_maj_axis"] == pytest.approx(4 * math.sqrt(variances[0]))
    assert f["morph_pca_least_axis"] == pytest.approx(4 * math.sqrt(variances[2]))
    assert f["morph_pca_elongation"] == pytest.approx(math.sqrt(variances[1] / variances[0]))
    assert f["morph_com"] == pytest.approx(0.0, abs=1e-9)  # uniform intensity: both centres coincide
    assert f["morph_integ_int"] == pytest.approx(5.0 * f["morph_volume"])
    assert f["morph_moran_i"] != f["morph_moran_i"]  # constant intensity: undefined (NaN)
    # The mesh diameter spans the box diagonal between outermost mesh vertices (half a voxel inside the faces).
    ext = np.array([6 * 2.0, 8 * 1.0, 12 * 0.5]) - np.array(spacing)
    assert f["morph_diam"] <= math.sqrt(((ext + np.array(spacing)) ** 2).sum())
    assert f["morph_diam"] >= math.sqrt((ext**2).sum())


def test_sphere_shape_descriptors():
    r = 12
    z, y, x = np.mgrid[-r - 2:r + 3, -r - 2:r + 3, -r - 2:r + 3]
    mask = x**2 + y**2 + z**2 <= r**2
    f = morphology_features(mask.astype(float), mask, mask, (1.0, 1.0, 1.0))
    assert f["morph_volume"] == pytest.approx(4 / 3 * math.pi * r**3, rel=0.03)
    assert 0.85 < f["morph_sphericity"] <= 1.0
    assert f["morph_sph_dispr"] == pytest.approx(1 / f["morph_sphericity"])
    assert f["morph_asphericity"] == pytest.approx(1 / f["morph_sphericity"] - 1)
    assert f["morph_comp_2"] == pytest.approx(f["morph_sphericity"] ** 3)
    assert f["morph_pca_elongation"] == pytest.approx(1.0, abs=1e-9)
    assert f["morph_diam"] == pytest.approx(2 * r, rel=0.05)


def _exact_ellipsoid_area(a, b, c):
    from scipy.special import ellipeinc, ellipkinc

    phi = math.acos(c / a)
    m = a**2 * (b**2 - c**2) / (b**2 * (a**2 - c**2))
    return 2 * math.pi * c**2 + 2 * math.pi * a * b / math.sin(phi) * (
        ellipeinc(phi, m) * math.sin(phi) ** 2 + ellipkinc(phi, m) * math.cos(phi) ** 2)


def test_ellipsoid_area_series_is_close_to_the_exact_area():
    # The IBSI series (stopped at nu = 20, as the standard prescribes) is an approximation: within 0.1 % near a
    # sphere, a few % for eccentric ellipsoids. IBSI reference values are computed with it.
    assert _ellipsoid_area(5.0, 4.8, 4.6) == pytest.approx(_exact_ellipsoid_area(5.0, 4.8, 4.6), rel=1e-3)
    assert _ellipsoid_area(5.0, 3.0, 2.0) == pytest.approx(_exact_ellipsoid_area(5.0, 3.0, 2.0), rel=0.05)
    assert _ellipsoid_area(2.0, 2.0, 2.0) == pytest.approx(4 * math.pi * 4.0)


def test_ellipsoid_area_is_continuous_at_equal_major_axes():
    # a == b hits the alpha -> 0 limit of the series; it must join the general branch smoothly.
    assert _ellipsoid_area(5.0, 5.0, 3.0) == pytest.approx(_ellipsoid_area(5.0, 5.0 - 1e-6, 3.0), rel=1e-6)
    assert _ellipsoid_area(5.0, 5.0, 5.0 - 1e-9) == pytest.approx(4 * math.pi * 25.0)


def test_empty_morphological_mask_raises():
    with pytest.raises(EmptyMaskError):
        morphology_features(np.zeros((3, 3, 3)), np.zeros((3, 3, 3), bool), np.zeros((3, 3, 3), bool), (1, 1, 1))
