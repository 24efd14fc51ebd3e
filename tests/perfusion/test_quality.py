"""Fit quality: goodness of fit, failure reason codes (NaN, never silent zeros) and per-ROI success summaries."""

import numpy as np
import pytest

from imagebio.diffusion.adc import adc_signal, fit_adc
from imagebio.diffusion.ivim import fit_ivim, ivim_signal
from imagebio.diffusion.kurtosis import fit_kurtosis, kurtosis_signal
from imagebio.errors import InvalidParameterError
from imagebio.perfusion.aif import parker_aif
from imagebio.perfusion.concentration import spgr_signal
from imagebio.perfusion.dce import fit_dce, fit_roi_curve
from imagebio.perfusion.models import tofts_concentration
from imagebio.perfusion.quality import (
    FAILED_CODES,
    FIT_STATUS_CODES,
    at_bound,
    fit_status,
    fit_success_summary,
    goodness_of_fit,
)
from imagebio.perfusion.t1 import fit_vfa_t1


def test_codes_are_documented_and_stable():
    assert FIT_STATUS_CODES == {0: "ok", 1: "not_converged", 2: "hit_bound", 3: "invalid_input",
                                4: "too_few_points", 5: "invalid_result"}
    assert 0 not in FAILED_CODES and 2 not in FAILED_CODES


def test_goodness_of_fit_against_hand_computation():
    y = np.array([[1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 2.0, 2.0]])
    pred = np.array([[1.1, 1.9, 3.2, 3.9], [2.0, 2.0, 2.0, 2.0]])
    sse = ((y - pred) ** 2).sum(axis=1)
    gof = goodness_of_fit(y, sse)
    assert gof["r_squared"][0] == pytest.approx(1 - 0.07 / 5.0)
    assert gof["nrmse"][0] == pytest.approx(np.sqrt(0.07 / 4) / 3.0)
    assert np.isnan(gof["r_squared"][1]) and np.isnan(gof["nrmse"][1])  # constant data: undefined


def test_status_precedence_and_bounds():
    status = fit_status(
        5,
        invalid_input=np.array([1, 0, 0, 0, 0], bool),
        too_few_points=np.array([1, 1, 0, 0, 0], bool),
        converged=np.array([0, 0, 0, 1, 1], bool),
        hit_bound=np.array([1, 1, 1, 1, 0], bool),
    )
    assert status.tolist() == [3, 4, 1, 2, 0]
    # a physical zero lower bound (vp = 0) is not a hit; an upper bound or a non-zero lower bound is
    params = np.array([[0.0, 0.5], [1.0, 0.5], [0.2, 0.005]])
    assert at_bound(params, [0.0, 0.005], [1.0, 1.0]).tolist() == [False, True, True]


def test_fit_success_summary_per_roi():
    status = np.array([[0, 0, 1], [2, 3, 0]], dtype=np.int8)
    rois = {"a": np.array([[1, 1, 1], [0, 0, 0]], bool), "b": np.array([[0, 0, 0], [1, 1, 1]], bool)}
    summary = fit_success_summary(status, rois)
    assert summary["a"]["n_voxels"] == 3 and summary["a"]["fraction_ok"] == pytest.approx(2 / 3)
    assert summary["a"]["not_converged"] == 1 and summary["a"]["fraction_failed"] == pytest.approx(1 / 3)
    assert summary["b"]["hit_bound"] == 1 and summary["b"]["invalid_input"] == 1
    assert summary["b"]["fraction_failed"] == pytest.approx(1 / 3)
    with pytest.raises(InvalidParameterError, match="rois"):
        fit_success_summary(status, {"c": np.ones(3, bool)})


def test_dce_quality_maps_and_nan_for_bad_input():
    t = np.arange(40) * 5.0
    cp = parker_aif(t, delay_s=20.0, hct=0.42)
    conc = tofts_concentration(t, cp, np.array([0.1, 0.3, 0.2]), np.array([0.2, 0.4, 0.3]))
    conc[2, 5] = np.nan
    fit = fit_dce(t, conc, cp, model="tofts")
    assert fit["fit_status"].tolist() == [0, 0, 3]
    assert fit["r_squared"][:2] == pytest.approx([1.0, 1.0], abs=1e-9)
    assert np.all(fit["nrmse"][:2] < 1e-5)
    assert np.isnan(fit["ktrans_per_min"][2]) and np.isnan(fit["ve"][2])  # not a silent zero
    roi = fit_roi_curve(t, conc[0], cp, model="tofts")
    assert roi["fit_status"] == 0 and roi["r_squared"] == pytest.approx(1.0, abs=1e-9)


def test_dce_mask_outside_is_minus_one_and_short_series_is_named():
    t = np.arange(40) * 5.0
    cp = parker_aif(t, delay_s=20.0)
    conc = tofts_concentration(t, cp, np.array([0.1, 0.3]), np.array([0.2, 0.4]))
    fit = fit_dce(t, conc, cp, mask=np.array([True, False]))
    assert fit["fit_status"].tolist() == [0, -1]
    with pytest.raises(InvalidParameterError, match=r"3 time points.*at least 4 for the extended_tofts"):
        fit_dce(t[:3], conc[:, :3], cp[:3], model="extended_tofts")


def test_adc_codes():
    b = np.array([0.0, 500.0, 1000.0])
    signals = adc_signal(np.array([1000.0, 1000.0, 1000.0, 1000.0]), 1e-3, b)
    signals[1, 1:] = 0.0  # only one usable b-value
    signals[2, 0] = np.inf
    signals[3] = [100.0, 200.0, 400.0]  # rising signal: negative ADC
    fit = fit_adc(signals, b)
    assert fit["fit_status"].tolist() == [0, 4, 3, 5]
    assert fit["adc_mm2_per_s"][0] == pytest.approx(1e-3)
    assert np.all(np.isnan(fit["adc_mm2_per_s"][1:]))
    assert fit["r_squared"][0] == pytest.approx(1.0)


def test_ivim_kurtosis_t1_report_quality():
    b = np.array([0, 10, 20, 50, 100, 200, 400, 600, 800, 1000.0])
    ivim = np.stack([ivim_signal(1.0, 0.1, 0.05, 1e-3, b), np.full(b.size, np.nan)])
    fit = fit_ivim(ivim, b)
    assert fit["fit_status"].tolist() == [0, 3]
    assert fit["r_squared"][0] > 0.999999 and np.isnan(fit["f"][1])

    bk = np.array([0, 500, 1000, 1500, 2000.0])
    kurt = np.stack([kurtosis_signal(1.0, 1e-3, 1.0, bk), [1.0, 0.0, 0.0, 0.0, 0.0]])
    fit = fit_kurtosis(kurt, bk)
    assert fit["fit_status"].tolist() == [0, 4]
    assert fit["k"][0] == pytest.approx(1.0) and np.isnan(fit["k"][1])

    angles = np.array([2.0, 5.0, 10.0, 15.0])
    s = spgr_signal(1000.0, np.array([[1.0], [0.5]]), angles, 0.004)
    s[1, 2] = np.nan
    fit = fit_vfa_t1(s, angles, 0.004)
    assert fit["fit_status"].tolist() == [0, 3]
    assert fit["r1_per_s"][0] == pytest.approx(1.0, rel=1e-6) and np.isnan(fit["t1_s"][1])
