"""GLRLM: runs against a loop oracle in all 13 directions, a hand-worked row, and the merged-N_v rule."""

from __future__ import annotations

import numpy as np
import pytest

from imagebio.radiomics.texture import glrlm
from imagebio.radiomics.texture._neighbours import DIRECTIONS_3D

from . import _oracle


def _runs(levels, mask, direction):
    level, length, _ = glrlm.runs_along(np.pad(np.where(mask, levels, 0), 1), direction)
    return sorted(zip(level.tolist(), length.tolist()))


def test_hand_worked_row():
    levels = np.array([[[1, 1, 2, 1, 3, 3, 3]]])
    mask = np.ones_like(levels, dtype=bool)
    mask[0, 0, 3] = False  # a hole splits the row
    assert _runs(levels, mask, (0, 0, 1)) == [(1, 2), (2, 1), (3, 3)]
    assert _runs(levels, mask, (0, 1, 0)) == [(1, 1), (1, 1), (2, 1), (3, 1), (3, 1), (3, 1)]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("direction", DIRECTIONS_3D + ((0, -1, 1), (-1, 1, 1)))
def test_runs_equal_the_loop_oracle(seed, direction):
    rng = np.random.default_rng(seed)
    levels, mask = _oracle.random_roi(rng, shape=(4, 5, 7), n_levels=2, fill=0.8)
    assert _runs(levels, mask, direction) == _oracle.runs(levels, mask, direction)


def test_in_plane_runs_report_their_slice():
    rng = np.random.default_rng(3)
    levels, mask = _oracle.random_roi(rng, shape=(3, 4, 5), n_levels=2)
    padded = np.pad(np.where(mask, levels, 0), 1)
    for direction in ((0, 0, 1), (0, 1, 0), (0, 1, 1), (0, 1, -1)):
        level, length, z = glrlm.runs_along(padded, direction)
        for s in range(levels.shape[0]):
            in_slice = z == s + 1
            only = np.zeros_like(mask)
            only[s] = mask[s]
            assert sorted(zip(level[in_slice].tolist(), length[in_slice].tolist())) == _oracle.runs(
                levels, only, direction
            )


def test_run_lengths_add_up_to_the_roi_volume():
    rng = np.random.default_rng(11)
    levels, mask = _oracle.random_roi(rng, shape=(6, 7, 8), n_levels=3)
    padded = np.pad(np.where(mask, levels, 0), 1)
    for direction in DIRECTIONS_3D:
        assert glrlm.runs_along(padded, direction)[1].sum() == mask.sum()


def test_merged_run_percentage_uses_summed_voxel_counts():
    # With N_v summed over the merged matrices (IBSI 3.7), the run percentage of a merged matrix is the mean of the
    # per-direction run percentages; with N_v counted once it would be 4 (2D) or 13 (3D) times larger.
    rng = np.random.default_rng(5)
    levels, mask = _oracle.random_roi(rng, shape=(4, 6, 6), n_levels=3)
    f = glrlm.compute(levels, mask, 3, (1.0, 1.0, 1.0))
    for approach in ("2D", "2_5D", "3D"):
        assert f[f"rlm_r_perc_{approach}_comb"] == pytest.approx(f[f"rlm_r_perc_{approach}_avg"])
    assert 0 < f["rlm_r_perc_3D_comb"] <= 1
