"""Survival: Cox recovers a known hazard ratio; log-rank equals the textbook chi-square; IPCW time-dependent AUC."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from imagebio.errors import FitError, InvalidParameterError
from imagebio.stats.survival import (
    CoxElasticNet,
    concordance_index,
    cross_validated_risk_groups,
    fit_cox,
    km_logrank,
    time_dependent_auc,
)

TRUE_LOG_HR = {"x": np.log(2.0), "z": 0.5}


def _simulate(n: int, seed: int, censor_max: float = 20.0, extra: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, n).astype(float)
    z = rng.normal(size=n)
    hazard = 0.1 * np.exp(TRUE_LOG_HR["x"] * x + TRUE_LOG_HR["z"] * z)
    event_time = rng.exponential(1.0 / hazard)
    censor_time = rng.uniform(0, censor_max, n) if censor_max else np.full(n, np.inf)
    time = np.minimum(event_time, censor_time)
    event = (event_time <= censor_time).astype(int)
    X = pd.DataFrame({"x": x, "z": z})
    for j in range(extra):
        X[f"noise{j}"] = rng.normal(size=n)
    return X, time, event


def _logrank_chi2(time, event, group):
    """Mantel-Haenszel log-rank statistic: (sum O1 - E1)^2 / sum V1 over distinct event times (Peto & Peto 1972)."""
    o_minus_e = 0.0
    var = 0.0
    for t in np.unique(time[event == 1]):
        at_risk = time >= t
        n = at_risk.sum()
        n1 = (at_risk & (group == 1)).sum()
        d = ((time == t) & (event == 1)).sum()
        d1 = ((time == t) & (event == 1) & (group == 1)).sum()
        o_minus_e += d1 - d * n1 / n
        if n > 1:
            var += d * (n1 / n) * (1 - n1 / n) * (n - d) / (n - 1)
    chi2 = o_minus_e**2 / var
    return chi2, stats.chi2.sf(chi2, 1)


def test_cox_recovers_known_hazard_ratio():
    X, time, event = _simulate(400, seed=0)
    cph = fit_cox(X, time, event)
    ci = cph.confidence_intervals_
    for name, beta in TRUE_LOG_HR.items():
        low, high = ci.loc[name].to_numpy()
        assert low < beta < high, (name, low, beta, high)
    # The elastic-net penalty shrinks the coefficients towards 0.
    pen = fit_cox(X, time, event, penalizer=0.1, l1_ratio=0.5)
    assert np.all(np.abs(pen.params_.to_numpy()) < np.abs(cph.params_.to_numpy()))


def test_logrank_equals_textbook_chi_square():
    X, time, event = _simulate(300, seed=1)
    time = np.round(time, 1) + 0.1  # create tied times
    group = X["x"].to_numpy().astype(int)
    res = km_logrank(time, event, group)
    chi2, p = _logrank_chi2(time, event, group)
    assert res.logrank_statistic == pytest.approx(chi2, abs=1e-6)
    assert res.logrank_p == pytest.approx(p, abs=1e-6)
    assert res.hr_ci[0] < 2.0 < res.hr_ci[1] and res.hazard_ratio > 1
    curve = res.curves[1]
    assert curve["survival"].is_monotonic_decreasing and curve["survival"].iloc[0] == 1.0


def test_concordance_index_matches_pair_count():
    rng = np.random.default_rng(2)
    time = rng.uniform(1, 10, 40)
    event = rng.integers(0, 2, 40)
    event[0] = 1
    risk = rng.normal(size=40)
    conc = ties = pairs = 0
    for i in range(40):
        for j in range(40):
            if event[i] == 1 and time[i] < time[j]:
                pairs += 1
                conc += risk[i] > risk[j]
                ties += risk[i] == risk[j]
    assert concordance_index(time, risk, event) == pytest.approx((conc + 0.5 * ties) / pairs, abs=1e-12)


def test_time_dependent_auc_without_censoring_is_plain_auc():
    from sklearn.metrics import roc_auc_score

    X, time, event = _simulate(300, seed=3, censor_max=0)
    risk = X["x"].to_numpy() * 0.7 + X["z"].to_numpy() * 0.5
    times = np.quantile(time, [0.25, 0.5, 0.75])
    got = time_dependent_auc(time, event, time, event, risk, times)
    for t, value in zip(times, got):
        assert value == pytest.approx(roc_auc_score(time <= t, risk), abs=1e-12)


def test_time_dependent_auc_ipcw_corrects_censoring():
    X, time_full, _ = _simulate(3000, seed=4, censor_max=0)
    rng = np.random.default_rng(5)
    censor = rng.uniform(0, 25, len(time_full))
    time = np.minimum(time_full, censor)
    event = (time_full <= censor).astype(int)
    risk = X["x"].to_numpy() * 0.7 + X["z"].to_numpy() * 0.5
    times = np.array([3.0, 6.0])
    truth = time_dependent_auc(time_full, np.ones_like(event), time_full, np.ones_like(event), risk, times)
    ipcw = time_dependent_auc(time, event, time, event, risk, times)
    np.testing.assert_allclose(ipcw, truth, atol=0.03)
    with pytest.raises(InvalidParameterError, match="case"):
        time_dependent_auc(time, event, time, event, risk, [1e-6])


def test_cross_validated_risk_groups_separate_prognosis():
    X, time, event = _simulate(300, seed=6, extra=3)
    res = cross_validated_risk_groups(X, time, event, penalizer=0.05, n_splits=4)
    assert len(res.cutoffs) == 4
    assert set(res.group) == {"high", "low"} and res.km.groups == ("low", "high")
    assert res.km.hazard_ratio > 1.5 and res.km.hr_ci[0] > 1.0 and res.km.logrank_p < 1e-3
    assert 0.6 < res.c_index < 0.8


def test_cox_elastic_net_grid_search():
    from sklearn.model_selection import GridSearchCV, KFold

    X, time, event = _simulate(200, seed=7, extra=2)
    y = np.column_stack([time, event])
    search = GridSearchCV(CoxElasticNet(), {"penalizer": [0.01, 1.0]}, cv=KFold(3, shuffle=True, random_state=0))
    search.fit(X, y)
    assert search.best_params_["penalizer"] in (0.01, 1.0)
    assert 0.6 < search.score(X, y) < 0.85


def test_bad_survival_input():
    X, time, event = _simulate(60, seed=8)
    few = np.zeros_like(event)
    few[:3] = 1
    with pytest.raises(FitError, match="3 observed event"):
        fit_cox(X, time, few)
    with pytest.raises(InvalidParameterError, match="zero-variance"):
        fit_cox(X.assign(const=1.0), time, event)
    Xm = X.copy()
    Xm.iloc[2, 1] = np.nan
    with pytest.raises(InvalidParameterError, match="missing"):
        fit_cox(Xm, time, event)
    with pytest.raises(InvalidParameterError, match="time"):
        fit_cox(X, -time, event)
    with pytest.raises(InvalidParameterError, match="0/1"):
        fit_cox(X, time, event * 2)
    with pytest.raises(InvalidParameterError, match="two risk groups"):
        km_logrank(time, event, np.zeros(len(time)))


def test_patient_survival_interval_covers_truth():
    from imagebio.stats.survival import patient_survival_interval

    X, time, event = _simulate(300, seed=9)
    new = pd.DataFrame({"x": [1.0, 1.0, 1.0], "z": [-1.0, 0.0, 1.0]})  # x constant among new patients: fine
    horizon = 5.0
    truth = np.exp(-0.1 * np.exp(TRUE_LOG_HR["x"] * new["x"] + TRUE_LOG_HR["z"] * new["z"]) * horizon)
    res = patient_survival_interval(X, time, event, new, horizon, n_boot=60)
    assert np.all((res["lower"] <= res["survival"]) & (res["survival"] <= res["upper"]))
    assert np.all(res["upper"] - res["lower"] < 0.25)
    np.testing.assert_allclose(res["survival"], truth, atol=0.06)
    assert np.all((res["lower"] <= truth) & (truth <= res["upper"]))
    assert res["survival"].is_monotonic_decreasing  # higher hazard, lower survival
    with pytest.raises(InvalidParameterError, match="horizon"):
        patient_survival_interval(X, time, event, new, horizon=1e6, n_boot=10)


def test_time_dependent_auc_and_cindex_match_scikit_survival():
    import json
    from pathlib import Path

    data = Path(__file__).parents[1] / "data" / "sksurv"
    ref = json.loads((data / "reference_values.json").read_text())
    train = pd.read_csv(data / "train.csv")
    test = pd.read_csv(data / "test.csv")
    got = time_dependent_auc(train.time, train.event, test.time, test.event, test.risk, ref["times"])
    np.testing.assert_allclose(got, ref["cumulative_dynamic_auc"], atol=1e-6, rtol=0)
    assert concordance_index(test.time, test.risk, test.event) == pytest.approx(
        ref["concordance_index_censored"], abs=1e-6
    )
