"""Tests of the intensity-histogram features (imagebio.radiomics.histogram)."""

from __future__ import annotations

import numpy as np
import pytest

from imagebio.radiomics.histogram import histogram_features


def test_mode_ties_go_to_the_level_closest_to_the_mean():
    levels = np.array([1, 1, 1, 5, 5, 5, 4, 4, 3])  # levels 1 and 5 tie (three voxels each)
    f = histogram_features(levels)
    assert f["ih_mean"] == pytest.approx(29 / 9)
    assert f["ih_mode"] == 5.0  # |5 - 3.22| = 1.78 < |1 - 3.22| = 2.22


def test_entropy_uniformity_and_gradient():
    levels = np.repeat([1, 2, 3, 4], [2, 6, 4, 4])
    f = histogram_features(levels)
    p = np.array([2, 6, 4, 4]) / 16
    assert f["ih_entropy"] == pytest.approx(-(p * np.log2(p)).sum())
    assert f["ih_uniformity"] == pytest.approx((p**2).sum())
    # H' = [6-2, (4-2)/2, (4-6)/2, 4-4] = [4, 1, -1, 0]
    assert (f["ih_max_grad"], f["ih_max_grad_g"]) == (4.0, 1.0)
    assert (f["ih_min_grad"], f["ih_min_grad_g"]) == (-1.0, 3.0)


def test_empty_leading_bins_count_in_the_histogram():
    # FBS can leave the first bins empty (IBSI config C: minimum level 3).
    f = histogram_features(np.array([3, 3, 4]))  # H = [0, 0, 2, 1] -> H' = [0, 1, 0.5, -1]
    assert f["ih_min"] == 3.0
    assert (f["ih_max_grad"], f["ih_max_grad_g"]) == (1.0, 2.0)
    assert (f["ih_min_grad"], f["ih_min_grad_g"]) == (-1.0, 4.0)
