"""NGTDM: s_i and n_i against a loop oracle, the valid-neighbourhood rule, and features of hand-worked matrices."""

from __future__ import annotations

import numpy as np
import pytest

from imagebio.radiomics.texture import ngtdm

from . import _oracle


def _matrix(levels, mask, n_levels, planar):
    s, n = ngtdm.ngtdm(np.pad(np.where(mask, levels, 0), 1), n_levels, planar)
    return s.sum(axis=0), n.sum(axis=0)


def test_hand_worked_row():
    levels = np.array([[[1, 2, 3, 1]]])
    mask = np.array([[[True, True, True, False]]])
    s, n = _matrix(levels, mask, 3, planar=True)
    # voxel 1: neighbour mean 2 -> 1; voxel 2: mean 2 -> 0; voxel 3: only ROI neighbour is 2 -> 1
    np.testing.assert_allclose(s, [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(n, [1, 1, 1])


def test_voxel_without_roi_neighbour_is_left_out():
    levels = np.array([[[2, 0, 0, 1, 1]]])
    mask = levels > 0
    _, n = _matrix(levels, mask, 2, planar=False)
    np.testing.assert_array_equal(n, [2, 0])


@pytest.mark.parametrize("planar", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_matrix_equals_the_loop_oracle(planar, seed):
    rng = np.random.default_rng(seed)
    levels, mask = _oracle.random_roi(rng, shape=(4, 5, 6), n_levels=4, fill=0.6)
    s, n = _matrix(levels, mask, 4, planar)
    s_ref, n_ref = _oracle.ngtdm(levels, mask, 4, planar)
    np.testing.assert_allclose(s, s_ref, atol=1e-12)
    np.testing.assert_array_equal(n, n_ref)


def test_slices_are_kept_apart_in_2d():
    rng = np.random.default_rng(9)
    levels, mask = _oracle.random_roi(rng, shape=(3, 4, 5), n_levels=3)
    s, n = ngtdm.ngtdm(np.pad(np.where(mask, levels, 0), 1), 3, planar=True)
    for z in range(3):
        only = np.zeros_like(mask)
        only[z] = mask[z]
        s_ref, n_ref = _oracle.ngtdm(levels, only, 3, planar=True)
        np.testing.assert_allclose(s[z + 1], s_ref, atol=1e-12)
        np.testing.assert_array_equal(n[z + 1], n_ref)


def test_features_of_a_hand_worked_matrix():
    # s = (1, 0, 1), n = (1, 1, 1): p_i = 1/3, N_vc = 3, N_gp = 3
    f = {k: v[0] for k, v in ngtdm.ngtdm_features(np.array([[1.0, 0.0, 1.0]]), np.array([[1.0, 1.0, 1.0]])).items()}
    assert f["coarseness"] == pytest.approx(1.5)
    # sum_i1 sum_i2 p p (i1 - i2)^2 = (2 * (1 + 4 + 1)) / 9 = 4/3
    assert f["contrast"] == pytest.approx((4 / 3) / 6 * (2 / 3))
    # sum |i1 p1 - i2 p2| over ordered pairs = 2 * (1 + 2 + 1) / 3 = 8/3
    assert f["busyness"] == pytest.approx((2 / 3) / (8 / 3))
    # pairs (1,2),(2,3): |1| * (1/3) / (2/3) = 1/2 each; (1,3): 2 * (2/3) / (2/3) = 2; ordered pairs double
    assert f["complexity"] == pytest.approx(2 * (0.5 + 0.5 + 2) / 3)
    assert f["strength"] == pytest.approx(2 * (2 / 3) * (1 + 1 + 4) / 2)


def test_uniform_roi_has_the_capped_coarseness():
    levels = np.full((2, 3, 3), 4)
    f = ngtdm.compute(levels, np.ones_like(levels, dtype=bool), 4, (1.0, 1.0, 1.0), approaches=("3D",))
    assert f["ngt_coarseness_3D"] == ngtdm.MAX_COARSENESS
    assert f["ngt_contrast_3D"] == 0.0
    assert f["ngt_busyness_3D"] == 0.0
    assert f["ngt_strength_3D"] == 0.0
