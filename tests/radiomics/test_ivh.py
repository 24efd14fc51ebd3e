"""Tests of the intensity-volume histogram (imagebio.radiomics.ivh)."""

from __future__ import annotations

import numpy as np
import pytest

from imagebio.radiomics.ivh import ivh_features


def test_ibsi_manual_example_table():
    # Digital-phantom IVH of the IBSI manual: G = [1, 6], nu = 1, .324, .324, .311, .095, .095 for i = 1..6 (74 voxels).
    values = np.repeat([1, 3, 4, 6], [50, 1, 16, 7])
    f = ivh_features(values, 1.0, 6.0, 1.0)
    assert f["ivh_v10"] == pytest.approx(24 / 74)
    assert f["ivh_v90"] == pytest.approx(7 / 74)
    assert f["ivh_i10"] == 5.0  # nu_5 = 7/74 <= 0.10 and i = 5 is the lowest such intensity
    assert f["ivh_i90"] == 2.0
    assert f["ivh_diff_v10_v90"] == pytest.approx(17 / 74)
    assert f["ivh_diff_i10_i90"] == 3.0
    nu = np.array([74, 24, 24, 23, 7, 7]) / 74
    assert f["ivh_auc"] == pytest.approx(np.trapezoid(nu, np.linspace(0, 1, 6)))


def test_calibrated_bin_centres_use_the_bin_width_interval():
    # FBS 2.5 HU bin centres in G = [-998.75, 398.75]
    values = np.array([-998.75, 1.25, 1.25, 88.75, 398.75])
    f = ivh_features(values, -998.75, 398.75, 2.5)
    assert f["ivh_i10"] == pytest.approx(398.75)
    assert f["ivh_i90"] == pytest.approx(-996.25)  # nu(-996.25) = 4/5 <= 0.9, the first bin above the minimum
    assert f["ivh_v10"] == pytest.approx(0.8)  # gamma >= 0.1 first at -858.75 -> four voxels above
