"""PRM / fDM fractions on synthetic map pairs with known voxel changes (rule sheet rules 71-75)."""

import numpy as np
import pytest

from imagebio.errors import EmptyMaskError, GeometryMismatchError
from imagebio.response.prm import ADC_THRESHOLD_MM2_PER_S as T
from imagebio.response.prm import lung_prm, parametric_response_map, prm_per_lesion

SPACING = (2.0, 1.0, 1.0)


def maps():
    rng = np.random.default_rng(1)
    base = rng.uniform(0.8e-3, 1.2e-3, (4, 10, 10))
    roi = np.zeros(base.shape, bool)
    roi[1:3, 2:8, 2:8] = True  # 72 voxels
    return base, roi


def test_identical_maps_all_unchanged():
    # Rule 75: identical inputs give V0 = 100 %.
    base, roi = maps()
    r = parametric_response_map(base, base.copy(), SPACING, roi)
    assert (r.fraction_unchanged, r.fraction_increased, r.fraction_decreased) == (1.0, 0.0, 0.0)
    assert r.n_analysed == 72


def test_uniform_shift_of_2t_all_increased():
    # Rule 75: a uniform +2T shift inside the ROI gives VI = 100 %.
    base, roi = maps()
    r = parametric_response_map(base, base + 2 * T, SPACING, roi)
    assert r.fraction_increased == 1.0


def test_known_voxel_changes_exact_fractions():
    # 72 ROI voxels: 9 raised by 1e-3 (> T), 18 lowered by 1e-3 (< -T), 6 raised by 0.5e-3 (< T: unchanged)
    # -> VI = 9/72, VD = 18/72, V0 = 45/72 exactly; volumes = counts x 2 uL.
    base, roi = maps()
    follow = base.copy()
    idx = np.argwhere(roi)
    up, down, small = idx[:9], idx[9:27], idx[27:33]
    follow[tuple(up.T)] += 1e-3
    follow[tuple(down.T)] -= 1e-3
    follow[tuple(small.T)] += 0.5e-3
    follow[0, 0, 0] += 1.0  # outside the ROI: never counted (rule 75)
    r = parametric_response_map(base, follow, SPACING, roi)
    assert (r.n_increased, r.n_decreased, r.n_unchanged) == (9, 18, 45)
    assert r.fraction_increased == 9 / 72 and r.fraction_decreased == 18 / 72 and r.fraction_unchanged == 45 / 72
    assert r.volume_increased_ml == pytest.approx(9 * 2.0 / 1000.0)
    assert r.labels[0, 0, 0] == -128


def test_roi_rules_and_per_lesion():
    # Rule 71: intersection of the two ROIs by default; union optional. Two lesions, each its own fractions.
    base, roi = maps()
    later = np.zeros_like(roi)
    later[1:3, 2:8, 2:5] = True  # 36 voxels, all inside roi
    assert parametric_response_map(base, base, SPACING, roi, later).n_analysed == 36
    assert parametric_response_map(base, base, SPACING, roi, later, roi_rule="union").n_analysed == 72
    labels = np.zeros(base.shape, np.int16)
    labels[1:3, 2:8, 2:5] = 1
    labels[1:3, 2:8, 5:8] = 2
    follow = base.copy()
    follow[labels == 2] -= 2 * T
    per = prm_per_lesion(base, follow, SPACING, labels)
    assert per[1].fraction_unchanged == 1.0 and per[2].fraction_decreased == 1.0


def test_bad_inputs():
    base, roi = maps()
    with pytest.raises(GeometryMismatchError):
        parametric_response_map(base, base[:, :5], SPACING, roi)
    with pytest.raises(EmptyMaskError):
        parametric_response_map(base, base, SPACING, np.zeros_like(roi))


def test_lung_prm_classes():
    # Rule 74: -950 HU inspiration, -856 HU expiration thresholds.
    ins = np.array([[[-900.0, -900.0, -960.0, -960.0]]])
    exp = np.array([[[-800.0, -870.0, -870.0, -800.0]]])
    r = lung_prm(ins, exp, np.ones(ins.shape, bool))
    assert list(r.labels.ravel()) == [1, 2, 3, 4]
    assert (r.fraction_normal, r.fraction_fsad, r.fraction_emphysema) == (0.25, 0.25, 0.25)
