"""Voxel-wise feature maps equal the whole-ROI implementation applied to each voxel's neighbourhood.

The non-windowed references are ``statistics_features`` (IBSI 3.3) and ``texture.glcm.compute`` (IBSI 3.6), the
code validated against every IBSI 1 reference value in ``test_ibsi_reference.py``. Agreement is to floating-point
rounding (the maps reorder sums), checked at rtol 1e-9.
"""

from __future__ import annotations

import numpy as np
import pytest

from imagebio.errors import EmptyMaskError, GeometryMismatchError, InvalidParameterError
from imagebio.radiomics.extractor import extract_features
from imagebio.radiomics.featuremaps import STAT_FEATURES, feature_maps, first_order_maps, glcm_maps, window_radius
from imagebio.radiomics.statistics import statistics_features
from imagebio.radiomics.texture import glcm

from ._ibsi_tables import ibsi_match, read_reference_rows

RTOL = 1e-9


def _window(voxel, radius, shape):
    return tuple(slice(max(0, c - r), min(n, c + r + 1)) for c, r, n in zip(voxel, radius, shape))


def _assert_close(got: float, expected: float, what) -> None:
    if np.isnan(expected):
        assert np.isnan(got), what
    else:
        assert got == pytest.approx(expected, rel=RTOL, abs=1e-12 * max(1.0, abs(expected))), what


@pytest.fixture
def crop(rng):
    shape = (7, 9, 8)
    image = np.round(rng.normal(20.0, 40.0, shape))
    mask = rng.random(shape) > 0.3
    levels = rng.integers(1, 7, shape)
    return image, mask, levels


@pytest.mark.parametrize("radius", [(1, 1, 1), (1, 2, 3), (0, 2, 1)])
def test_first_order_maps_equal_statistics_of_each_window(crop, radius):
    image, mask, _ = crop
    maps = first_order_maps(image, mask, radius)
    assert set(maps) == set(STAT_FEATURES)
    for voxel in zip(*np.nonzero(mask)):
        window = _window(voxel, radius, image.shape)
        expected = statistics_features(image[window][mask[window]])
        for tag, value in expected.items():
            _assert_close(maps[tag][voxel], value, (tag, voxel))
    for values in maps.values():
        assert np.isnan(values[~mask]).all()


@pytest.mark.parametrize("radius", [(1, 1, 1), (1, 2, 2), (2, 1, 0)])
def test_glcm_maps_equal_glcm_of_each_window(crop, radius):
    _, mask, levels = crop
    comb = glcm_maps(levels, mask, 6, radius, "3D_comb")
    avg = glcm_maps(levels, mask, 6, radius, "3D_avg")
    assert len(comb) == len(avg) == len(glcm.FEATURE_NAMES)
    for voxel in zip(*np.nonzero(mask)):
        window = _window(voxel, radius, mask.shape)
        expected = glcm.compute(levels[window], mask[window], 6, (1.0, 1.0, 1.0), approaches=("3D",))
        for tag, value in expected.items():
            got = (comb if tag.endswith("_comb") else avg)[tag][voxel]
            _assert_close(got, value, (tag, voxel))
    assert np.isnan(comb["cm_joint_avg_3D_comb"][~mask]).all()


def test_small_chunks_give_the_same_maps(crop):
    image, mask, levels = crop
    big = glcm_maps(levels, mask, 6, (1, 1, 1), "3D_avg")
    small = glcm_maps(levels, mask, 6, (1, 1, 1), "3D_avg", max_chunk_mb=0.05)
    stat_big = first_order_maps(image, mask, (1, 1, 1))
    stat_small = first_order_maps(image, mask, (1, 1, 1), max_chunk_mb=0.01)
    for tag in big:  # chunking only changes the summation order
        np.testing.assert_allclose(big[tag], small[tag], rtol=1e-12, err_msg=tag)
    for tag in stat_big:
        np.testing.assert_allclose(stat_big[tag], stat_small[tag], rtol=1e-12, err_msg=tag)


def test_whole_roi_window_reproduces_ibsi_digital_phantom(digital_phantom):
    # A window larger than the phantom holds the whole ROI: every map value is the whole-ROI feature, which must
    # match the IBSI 1 reference value (IBSI rule: 3 significant digits, reference tolerance).
    image, mask = digital_phantom
    maps = feature_maps(image, mask, radius_voxels=(4, 5, 5), settings="ibsi-dig", glcm_aggregation="3D_avg")
    whole = extract_features(image, mask, settings="ibsi-dig", families=("stat", "cm"))
    roi = np.asarray(mask.array) != 0
    reference = {row["tag"]: row for row in read_reference_rows("digital_phantom")}
    matched = 0
    for tag, values in maps.items():
        inside = values[roi]
        np.testing.assert_allclose(inside, whole[tag], rtol=RTOL, err_msg=tag)
        row = reference[tag]
        assert ibsi_match(float(inside[0]), row["reference value"], float(row["tolerance"] or 0)), tag
        matched += 1
    assert matched == len(STAT_FEATURES) + len(glcm.FEATURE_NAMES)


def test_feature_maps_discretise_the_whole_roi_first(rng):
    image = rng.normal(0.0, 100.0, (6, 7, 7))
    mask = np.ones(image.shape, bool)
    maps = feature_maps(image, mask, (2.0, 1.0, 1.0), radius_mm=2.0, settings="pyradiomics-default")
    lower = np.floor(image.min() / 25.0) * 25.0
    levels = np.floor((image - lower) / 25.0).astype(int) + 1
    direct = glcm_maps(levels, mask, int(levels.max()), (1, 2, 2))
    for tag, values in direct.items():
        np.testing.assert_array_equal(maps[tag], values)
    assert "stat_mean" in maps and maps["stat_mean"].shape == image.shape


def test_window_radius_from_mm_and_voxels():
    assert window_radius((3.0, 0.8, 0.8), radius_mm=2.5) == (0, 3, 3)
    assert window_radius((1.0, 1.0, 1.0), radius_voxels=2) == (2, 2, 2)
    assert window_radius((1.0, 1.0, 1.0), radius_voxels=(1, 0, 2)) == (1, 0, 2)
    with pytest.raises(InvalidParameterError):
        window_radius((1.0, 1.0, 1.0))
    with pytest.raises(InvalidParameterError):
        window_radius((1.0, 1.0, 1.0), radius_voxels=1, radius_mm=1.0)
    with pytest.raises(InvalidParameterError):
        window_radius((2.0, 2.0, 2.0), radius_mm=1.0)  # below one voxel on every axis


def test_feature_maps_bad_input(rng):
    image = rng.normal(size=(5, 5, 5))
    mask = np.ones((5, 5, 5))
    with pytest.raises(GeometryMismatchError):
        feature_maps(image, mask[:4], (1, 1, 1), radius_voxels=1)
    with pytest.raises(InvalidParameterError, match="binary"):
        feature_maps(image, mask * 2, (1, 1, 1), radius_voxels=1)
    with pytest.raises(EmptyMaskError):
        feature_maps(image, mask * 0, (1, 1, 1), radius_voxels=1)
    with pytest.raises(InvalidParameterError, match="spacing"):
        feature_maps(image, mask, radius_voxels=1)
    nan_image = image.copy()
    nan_image[2, 2, 2] = np.nan
    with pytest.raises(InvalidParameterError, match="non-finite"):
        feature_maps(nan_image, mask, (1, 1, 1), radius_voxels=1, families=("stat",))
    with pytest.raises(InvalidParameterError, match="grey levels"):
        glcm_maps(np.full((5, 5, 5), 9), mask.astype(bool), 6, (1, 1, 1))
