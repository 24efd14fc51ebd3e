"""NGLDM: dependence counts against a loop oracle and hand-worked cases (δ = 1, α = 0)."""

from __future__ import annotations

import numpy as np
import pytest

from imagebio.radiomics.texture import ngldm

from . import _oracle


def test_uniform_cube_dependence_counts():
    levels = np.pad(np.ones((3, 3, 3), dtype=int), 1)
    counts = ngldm.dependence_counts(levels, planar=False)[1:-1, 1:-1, 1:-1]
    assert counts[1, 1, 1] == 27
    assert counts[0, 0, 0] == 8
    planar = ngldm.dependence_counts(levels, planar=True)[1:-1, 1:-1, 1:-1]
    assert planar[1, 1, 1] == 9
    assert planar[0, 0, 0] == 4


@pytest.mark.parametrize("planar", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_dependence_equals_the_loop_oracle(planar, seed):
    rng = np.random.default_rng(seed)
    levels, mask = _oracle.random_roi(rng, shape=(4, 5, 6), n_levels=2, fill=0.7)
    counts = ngldm.dependence_counts(np.pad(np.where(mask, levels, 0), 1), planar)[1:-1, 1:-1, 1:-1]
    np.testing.assert_array_equal(counts, _oracle.dependence(levels, mask, planar))


def test_features_of_a_hand_worked_roi():
    # Row 1 1 2: dependence counts 2, 2, 1 -> entries (1, 2) x2 and (2, 1) x1; N_s = N_v = 3
    levels = np.array([[[1, 1, 2]]])
    f = ngldm.compute(levels, np.ones_like(levels, dtype=bool), 2, (1.0, 1.0, 1.0), approaches=("3D",))
    assert f["ngl_lde_3D"] == pytest.approx((2 / 4 + 1) / 3)
    assert f["ngl_hde_3D"] == pytest.approx((2 * 4 + 1) / 3)
    assert f["ngl_dc_perc_3D"] == 1.0
    assert f["ngl_dc_energy_3D"] == pytest.approx((2 / 3) ** 2 + (1 / 3) ** 2)
    assert f["ngl_glnu_norm_3D"] == pytest.approx(5 / 9)
