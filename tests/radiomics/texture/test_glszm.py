"""GLSZM: zone linkage (26-connected in 3D, 8-connected per slice in 2D) and hand-worked matrices."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from imagebio.radiomics.texture import glszm

from . import _oracle


def _zone_list(levels, mask, planar):
    level, size, z, _ = glszm.zones(np.pad(np.where(mask, levels, 0), 1), planar)
    return sorted(zip(level.tolist(), size.tolist(), z.tolist()))


def test_voxels_touching_at_a_corner_form_one_zone():
    levels = np.array([[[3, 1], [1, 3]]])
    mask = np.ones_like(levels, dtype=bool)
    # (level, size, padded slice index)
    assert _zone_list(levels, mask, planar=True) == [(1, 2, 1), (3, 2, 1)]
    assert _zone_list(levels, mask, planar=False) == [(1, 2, 1), (3, 2, 1)]


def test_zones_cross_slices_in_3d_only():
    levels = np.ones((2, 1, 2), dtype=int)
    levels[1, 0, 0] = 2
    mask = np.ones_like(levels, dtype=bool)
    # slice 0: one zone of two 1s; slice 1: a 1 and a 2. The 1s link diagonally across slices in 3D.
    assert _zone_list(levels, mask, planar=True) == [(1, 1, 2), (1, 2, 1), (2, 1, 2)]
    assert sorted((lv, sz) for lv, sz, _ in _zone_list(levels, mask, planar=False)) == [(1, 3), (2, 1)]


@pytest.mark.parametrize("planar", [True, False])
def test_zones_equal_per_level_labelling(planar):
    rng = np.random.default_rng(2)
    levels, mask = _oracle.random_roi(rng, shape=(5, 6, 7), n_levels=3)
    structure = np.ones((3, 3, 3), dtype=bool)
    if planar:
        structure[0] = structure[2] = False
    expected = []
    for level in (1, 2, 3):
        labels, _ = ndimage.label(mask & (levels == level), structure=structure)
        expected += [(level, int(size)) for size in np.bincount(labels.ravel())[1:]]
    found = [(lv, sz) for lv, sz, _ in _zone_list(levels, mask, planar)]
    assert sorted(found) == sorted(expected)


def test_features_of_a_hand_worked_roi():
    # 3D: zones (level 1, size 3) and (level 2, size 1); N_v = 4.
    levels = np.array([[[1, 1, 1, 2]]])
    f = glszm.compute(levels, np.ones_like(levels, dtype=bool), 2, (1.0, 1.0, 1.0), approaches=("3D",))
    assert f["szm_sze_3D"] == pytest.approx((1 / 9 + 1) / 2)
    assert f["szm_lze_3D"] == pytest.approx((9 + 1) / 2)
    assert f["szm_lgze_3D"] == pytest.approx((1 + 1 / 4) / 2)
    assert f["szm_z_perc_3D"] == pytest.approx(2 / 4)
    assert f["szm_glnu_3D"] == pytest.approx(1.0)
    assert f["szm_zs_var_3D"] == pytest.approx(1.0)
    assert f["szm_zs_entr_3D"] == pytest.approx(1.0)


def test_2d_features_average_slices_and_2_5d_merges_them():
    levels = np.array([[[1, 1]], [[1, 2]]])
    mask = np.ones_like(levels, dtype=bool)
    f = glszm.compute(levels, mask, 2, (1.0, 1.0, 1.0), approaches=("2D", "2_5D"))
    # slice 0: one zone of size 2 -> sze 1/4; slice 1: two zones of size 1 -> sze 1
    assert f["szm_sze_2D"] == pytest.approx((0.25 + 1.0) / 2)
    assert f["szm_sze_2_5D"] == pytest.approx((0.25 + 1 + 1) / 3)
    assert f["szm_z_perc_2_5D"] == pytest.approx(3 / 4)
