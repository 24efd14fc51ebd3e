"""Tests of the intensity statistics (imagebio.radiomics.statistics)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from imagebio.errors import EmptyMaskError
from imagebio.radiomics.statistics import statistics_features


def test_against_scipy_and_numpy(rng):
    x = rng.gamma(2.0, 30.0, size=5000) - 20.0
    f = statistics_features(x)
    assert len([k for k in f if k.startswith("stat_")]) == 18
    assert f["stat_mean"] == pytest.approx(x.mean())
    assert f["stat_var"] == pytest.approx(x.var())
    assert f["stat_skew"] == pytest.approx(stats.skew(x))
    assert f["stat_kurt"] == pytest.approx(stats.kurtosis(x))
    assert f["stat_median"] == pytest.approx(np.median(x))
    assert f["stat_iqr"] == pytest.approx(stats.iqr(x))
    assert f["stat_mad"] == pytest.approx(np.mean(np.abs(x - x.mean())))
    assert f["stat_medad"] == pytest.approx(np.mean(np.abs(x - np.median(x))))
    p10, p90 = np.percentile(x, [10, 90])
    inner = x[(x >= p10) & (x <= p90)]
    assert f["stat_rmad"] == pytest.approx(np.mean(np.abs(inner - inner.mean())))
    assert f["stat_energy"] == pytest.approx(np.sum(x**2))
    assert f["stat_rms"] == pytest.approx(np.sqrt(np.mean(x**2)))
    assert f["stat_cov"] == pytest.approx(x.std() / x.mean())
    assert f["stat_range"] == pytest.approx(np.ptp(x))


def test_constant_values_have_zero_skewness_and_kurtosis():
    f = statistics_features(np.full(10, 3.0))
    assert f["stat_skew"] == 0.0 and f["stat_kurt"] == 0.0 and f["stat_var"] == 0.0


def test_empty_raises():
    with pytest.raises(EmptyMaskError):
        statistics_features(np.array([]))
