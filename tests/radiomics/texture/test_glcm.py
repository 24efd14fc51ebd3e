"""GLCM: matrix construction against a loop oracle and hand-worked cases; features on hand-made matrices."""

from __future__ import annotations

import numpy as np
import pytest

from imagebio.radiomics.texture import glcm
from imagebio.radiomics.texture._neighbours import DIRECTIONS_2D, DIRECTIONS_3D

from . import _oracle


def _padded(levels, mask):
    return np.pad(np.where(mask, levels, 0), 1)


def _dense(levels, mask, n_levels, direction, by_slice=False):
    """Co-occurrence entries of one direction as dense (n_matrices, N_g, N_g) counts."""
    padded = _padded(levels, mask)
    m, i, j, count = glcm.cooccurrence_entries(padded, n_levels, direction, by_slice)
    out = np.zeros((padded.shape[0] if by_slice else 1, n_levels, n_levels))
    np.add.at(out, (m, i - 1, j - 1), count)
    return out if by_slice else out[0]


def test_there_are_13_unique_3d_and_4_unique_2d_directions():
    assert len(set(DIRECTIONS_3D)) == 13
    assert set(DIRECTIONS_2D) == {(0, 0, 1), (0, 1, 1), (0, 1, 0), (0, 1, -1)}
    # no direction is the opposite of another
    assert not {tuple(-c for c in d) for d in DIRECTIONS_3D} & set(DIRECTIONS_3D)


def test_three_voxel_row_has_the_hand_worked_matrix():
    levels = np.array([[[1, 2, 2]]])
    # pairs (1,2) and (2,2) along x, counted in both directions
    np.testing.assert_array_equal(_dense(levels, levels > 0, 2, (0, 0, 1)), [[0, 1], [1, 2]])
    np.testing.assert_array_equal(_dense(levels, levels > 0, 2, (0, 1, 0)), np.zeros((2, 2)))


@pytest.mark.parametrize("seed", range(3))
def test_matrices_equal_the_loop_oracle_in_every_direction(seed):
    rng = np.random.default_rng(seed)
    levels, mask = _oracle.random_roi(rng, n_levels=4)
    for offset in DIRECTIONS_3D:
        np.testing.assert_array_equal(_dense(levels, mask, 4, offset), _oracle.cooccurrence(levels, mask, 4, offset))


def test_slice_matrices_sum_to_the_volume_matrix_and_stay_in_their_slice():
    rng = np.random.default_rng(7)
    levels, mask = _oracle.random_roi(rng, n_levels=3)
    for offset in DIRECTIONS_2D:
        by_slice = _dense(levels, mask, 3, offset, by_slice=True)
        np.testing.assert_array_equal(by_slice.sum(axis=0), _dense(levels, mask, 3, offset))
        for z in range(levels.shape[0]):
            one_slice = np.zeros_like(mask)
            one_slice[z] = mask[z]
            np.testing.assert_array_equal(by_slice[z + 1], _oracle.cooccurrence(levels, one_slice, 3, offset))


def test_features_of_a_hand_made_matrix():
    # p = [[0.5, 0.25], [0.25, 0]] with N_g = 2
    f = {k: v[0] for k, v in glcm.glcm_features(np.array([[[2.0, 1.0], [1.0, 0.0]]])).items()}
    assert f["joint_max"] == pytest.approx(0.5)
    assert f["joint_avg"] == pytest.approx(1.25)  # p_1. = 0.75, p_2. = 0.25
    assert f["joint_var"] == pytest.approx(0.1875)
    assert f["joint_entr"] == pytest.approx(1.5)
    assert f["contrast"] == pytest.approx(0.5)
    assert f["inv_diff_norm"] == pytest.approx(0.5 + 0.5 / 1.5)
    assert f["inv_var"] == pytest.approx(0.5)
    assert f["auto_corr"] == pytest.approx(0.5 + 2 * 0.5)
    assert f["corr"] == pytest.approx((1.5 - 1.25**2) / 0.1875)
    assert f["sum_avg"] == pytest.approx(2 * f["joint_avg"])
    assert f["clust_tend"] == pytest.approx(f["sum_var"])
    hx = -(0.75 * np.log2(0.75) + 0.25 * np.log2(0.25))
    assert f["info_corr1"] == pytest.approx((1.5 - 2 * hx) / hx)


def test_empty_matrices_are_left_out_of_the_average():
    # A single voxel in one slice has no pair in any 2D direction; only the other slice contributes to 2D_avg.
    levels = np.ones((2, 3, 3), dtype=int)
    levels[0] = 2
    mask = np.zeros((2, 3, 3), dtype=bool)
    mask[0, 1, 1] = True
    mask[1] = True
    both = glcm.compute(levels, mask, 2, (1.0, 1.0, 1.0), approaches=("2D",))
    only_second = glcm.compute(levels[1:], mask[1:], 2, (1.0, 1.0, 1.0), approaches=("2D",))
    assert both == pytest.approx(only_second)


def test_flat_roi_has_finite_features():
    levels = np.full((3, 4, 4), 2)
    f = glcm.compute(levels, np.ones_like(levels, dtype=bool), 3, (1.0, 1.0, 1.0), approaches=("3D",))
    assert f["cm_joint_max_3D_comb"] == 1.0
    assert f["cm_corr_3D_comb"] == 1.0
    assert all(np.isfinite(v) for v in f.values())
