"""GLDZM: Manhattan edge distance (IBSI 3.9), morphological-mask distance map, zone minimum distance."""

from __future__ import annotations

import numpy as np
import pytest

from imagebio.radiomics.texture import gldzm


def _distance(mask, planar):
    return gldzm.edge_distance(np.pad(mask, 1), planar)[1:-1, 1:-1, 1:-1]


def test_edge_voxels_are_at_distance_one_and_the_cube_centre_at_two():
    d = _distance(np.ones((3, 3, 3), dtype=bool), planar=False)
    assert d[1, 1, 1] == 2
    assert (d == 1).sum() == 26


def test_a_single_slice_is_all_edge_in_3d_but_not_in_2d():
    mask = np.ones((1, 5, 5), dtype=bool)
    assert np.all(_distance(mask, planar=False) == 1)
    assert _distance(mask, planar=True)[0, 2, 2] == 3


def test_distance_counts_face_steps_not_diagonal_steps():
    """The only nearby way out of the centre is diagonal: Manhattan distance 2 where Chebyshev would give 1."""
    mask = np.zeros((1, 5, 5), dtype=bool)
    mask[0, 1:4, 1:4] = True
    mask[0, 1, 1] = False  # punch out one corner of the 3x3 block
    d = _distance(mask, planar=True)
    assert d[0, 2, 2] == 2
    assert d[0, 1, 2] == 1


def test_distance_map_equals_iterative_erosion():
    """IBSI 3.9 defines the distance by repeated 6-connected erosion of the ROI mask."""
    from scipy import ndimage

    rng = np.random.default_rng(4)
    mask = ndimage.binary_opening(rng.random((8, 9, 10)) < 0.8)
    expected = np.zeros(mask.shape, dtype=int)
    current = mask.copy()
    structure = ndimage.generate_binary_structure(3, 1)
    while current.any():
        expected += current
        current = ndimage.binary_erosion(current, structure, border_value=0)
    np.testing.assert_array_equal(_distance(mask, planar=False), expected)


def test_zone_distance_uses_the_morphological_mask():
    # A 1x5x5 slice; the intensity mask keeps only the centre voxel. With the morphological mask as the distance
    # map, the centre zone lies 3 steps (in-plane) from the edge; with the intensity mask it would be at 1.
    levels = np.ones((1, 5, 5), dtype=int)
    morph = np.ones((1, 5, 5), dtype=bool)
    intensity = np.zeros_like(morph)
    intensity[0, 2, 2] = True
    with_morph = gldzm.compute(levels, intensity, 1, (1.0, 1.0, 1.0), approaches=("2D",), morph_mask=morph)
    without = gldzm.compute(levels, intensity, 1, (1.0, 1.0, 1.0), approaches=("2D",))
    assert with_morph["dzm_lde_2D"] == pytest.approx(9.0)
    assert without["dzm_lde_2D"] == pytest.approx(1.0)


def test_zone_distance_is_the_minimum_over_its_voxels():
    # 3x3 slice, one level: a single zone touching the edge -> distance 1 even though its centre is at 2.
    levels = np.ones((1, 3, 3), dtype=int)
    levels[0, 1, 1] = 2
    f = gldzm.compute(levels, np.ones_like(levels, dtype=bool), 2, (1.0, 1.0, 1.0), approaches=("2D",))
    # zones: level 1 ring (distance 1), level 2 centre (distance 2)
    assert f["dzm_sde_2D"] == pytest.approx((1 + 1 / 4) / 2)
    assert f["dzm_lde_2D"] == pytest.approx((1 + 4) / 2)
    assert f["dzm_zd_var_2D"] == pytest.approx(0.25)
