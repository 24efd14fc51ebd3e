"""Nested cross-validation is honest (leakage test), and the validation figures behave as defined."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from imagebio.errors import InvalidParameterError
from imagebio.stats.models import (
    auc,
    bootstrap_auc_ci,
    build_pipeline,
    calibration,
    check_binary_outcome,
    decision_curve,
    nested_cross_validate,
    permutation_test_auc,
)


@pytest.mark.slow
def test_leakage_nested_cv_is_chance_while_naive_selection_is_not():
    """Pure noise (500 features) and a random outcome: nested CV ~ 0.5; select-then-CV is optimistic."""
    from sklearn.feature_selection import SelectKBest, f_classif
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    nested, naive = [], []
    for repeat in range(10):  # each repeat: a fresh noise data set
        rng = np.random.default_rng(repeat)
        X = rng.normal(size=(120, 500))
        y = rng.permutation(np.r_[np.zeros(60), np.ones(60)])
        res = nested_cross_validate(
            build_pipeline(correlation_threshold=None),
            {"select__k": [5, 20]},
            X,
            y,
            outer_splits=4,
            outer_repeats=1,
            inner_splits=3,
            random_state=repeat,
        )
        nested.append(res.auc_mean)
        # The classic mistake, kept here only: features chosen on all samples, then cross-validated.
        selected = SelectKBest(f_classif, k=20).fit_transform(X, y)
        cv = StratifiedKFold(4, shuffle=True, random_state=repeat)
        naive.append(cross_val_score(LogisticRegression(max_iter=1000), selected, y, cv=cv, scoring="roc_auc").mean())
    assert abs(np.mean(nested) - 0.5) <= 0.05
    assert np.mean(naive) > 0.7
    assert np.mean(naive) - np.mean(nested) > 0.2


def test_nested_cv_finds_real_signal_and_reports_shapes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 30))
    y = (X[:, 0] + X[:, 1] + rng.normal(0, 1, 80) > 0).astype(int)
    res = nested_cross_validate(
        build_pipeline(correlation_threshold=0.95, k_best=5),
        {"classifier__C": [0.1, 1.0]},
        X,
        y,
        outer_splits=4,
        outer_repeats=2,
        inner_splits=3,
    )
    assert res.fold_auc.shape == (2, 4) and res.oof_probability.shape == (2, 80)
    assert np.all(np.isfinite(res.oof_probability)) and len(res.best_params) == 8
    assert res.auc_mean > 0.75


def test_nested_cv_with_combat_and_repeatability_steps():
    from imagebio.stats.harmonize import ComBat
    from imagebio.stats.selection import RepeatabilityFilter

    rng = np.random.default_rng(1)
    n = 60
    feats = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"f{i}" for i in range(6)])
    y = (feats["f0"] + rng.normal(0, 0.7, n) > 0).astype(int).to_numpy()
    site = rng.choice(["a", "b"], n)
    feats.loc[site == "b"] += 2.0
    X = feats.assign(site=site)
    icc = {f"f{i}": v for i, v in enumerate([0.95, 0.9, 0.5, 0.85, 0.3, 0.8])}
    pipe = build_pipeline(
        combat=ComBat(batch_col="site"), repeatability=RepeatabilityFilter(icc, 0.75), k_best=2
    ).set_output(transform="pandas")
    res = nested_cross_validate(pipe, {}, X, y, outer_splits=3, outer_repeats=1, inner_splits=2)
    assert res.auc_mean > 0.7


def test_bad_outcome_and_features():
    X = np.random.default_rng(2).normal(size=(20, 3))
    with pytest.raises(InvalidParameterError, match="class"):
        nested_cross_validate(build_pipeline(), {}, X, np.ones(20))
    with pytest.raises(InvalidParameterError, match="at least 5"):
        nested_cross_validate(build_pipeline(), {}, X, np.r_[np.ones(3), np.zeros(17)])
    Xm = X.copy()
    Xm[0, 0] = np.nan
    with pytest.raises(InvalidParameterError, match="missing"):
        nested_cross_validate(build_pipeline(), {}, Xm, np.r_[np.ones(10), np.zeros(10)])
    with pytest.raises(InvalidParameterError, match="missing outcome"):
        check_binary_outcome(np.r_[1.0, 0.0, np.nan])


def test_constant_feature_is_dropped_not_nan():
    rng = np.random.default_rng(3)
    X = np.column_stack([rng.normal(size=(40, 4)), np.ones(40)])
    y = (X[:, 0] > 0).astype(int)
    res = nested_cross_validate(build_pipeline(k_best=2), {}, X, y, outer_splits=4, outer_repeats=1)
    assert np.all(np.isfinite(res.fold_auc)) and res.auc_mean > 0.8


def test_auc_and_bootstrap_ci():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 200)
    score = y + rng.normal(0, 1.2, 200)
    score[:10] = np.round(score[:10])  # some ties
    assert auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    point, (lo, hi) = bootstrap_auc_ci(y, score, n_boot=1000)
    assert lo < point < hi
    # Percentile CI width close to the Hanley-McNeil normal approximation (2 * 1.96 * SE).
    a, n1, n0 = point, y.sum(), len(y) - y.sum()
    q1, q2 = a / (2 - a), 2 * a**2 / (1 + a)
    se = np.sqrt((a * (1 - a) + (n1 - 1) * (q1 - a**2) + (n0 - 1) * (q2 - a**2)) / (n1 * n0))
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.15)


def test_calibration_slope_and_intercept():
    rng = np.random.default_rng(5)
    lp = rng.normal(0, 1.5, 20000)
    p_true = 1 / (1 + np.exp(-lp))
    y = rng.random(20000) < p_true
    good = calibration(y, p_true)
    assert good.slope == pytest.approx(1.0, abs=0.05) and good.intercept == pytest.approx(0.0, abs=0.05)
    # Over-confident model: logits doubled -> slope 1/2.
    over = calibration(y, 1 / (1 + np.exp(-2 * lp)))
    assert over.slope == pytest.approx(0.5, abs=0.05)
    # Systematic over-prediction shifts calibration-in-the-large below 0.
    high = calibration(y, 1 / (1 + np.exp(-(lp + 1.0))))
    assert high.intercept == pytest.approx(-1.0, abs=0.05)
    assert np.all(np.abs(good.prob_true - good.prob_pred) < 0.03)
    with pytest.raises(InvalidParameterError):
        calibration(y, p_true * 2)


def test_decision_curve_net_benefit():
    y = np.array([1, 1, 0, 0, 0, 1, 0, 0, 0, 0])
    p = np.array([0.9, 0.6, 0.55, 0.2, 0.1, 0.3, 0.05, 0.4, 0.15, 0.25])
    dca = decision_curve(y, p, thresholds=[0.25, 0.5])
    # pt = 0.5: treated {0.9, 0.6, 0.55} -> TP 2, FP 1; NB = 2/10 - 1/10 * 1.
    assert dca.loc[1, "net_benefit"] == pytest.approx(0.2 - 0.1)
    # pt = 0.25: treated p >= .25 -> {.9,.6,.55,.3,.4,.25}: TP 3, FP 3; NB = .3 - .3 * 1/3.
    assert dca.loc[0, "net_benefit"] == pytest.approx(0.3 - 0.3 / 3)
    assert dca.loc[0, "treat_all"] == pytest.approx(0.3 - 0.7 / 3)
    assert (dca["treat_none"] == 0).all()


def test_permutation_test():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(6)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] + rng.normal(0, 0.5, 60) > 0).astype(int)
    score, null, p = permutation_test_auc(LogisticRegression(), X, y, n_permutations=19)
    assert score > 0.8 and p == pytest.approx(1 / 20) and abs(null.mean() - 0.5) < 0.1


def test_fit_with_validation_summary():
    from imagebio.stats.models import fit_with_validation

    rng = np.random.default_rng(7)
    X = pd.DataFrame(rng.normal(size=(70, 12)), columns=[f"f{i}" for i in range(12)])
    y = (X["f0"] - X["f1"] + rng.normal(0, 1, 70) > 0).astype(int)
    model, summary = fit_with_validation(
        build_pipeline(k_best=3), {"classifier__C": [0.1, 1.0]}, X, y, outer_splits=3, outer_repeats=1, n_boot=200
    )
    assert summary["auc_oof_ci"][0] < summary["auc_oof"] < summary["auc_oof_ci"][1]
    assert summary["auc_nested_cv"] > 0.7 and summary["n_events"] == int(y.sum())
    assert np.isfinite(summary["calibration_slope"]) and summary["best_params"]["classifier__C"] in (0.1, 1.0)
    assert model.predict_proba(X).shape == (70, 2)
    import json

    json.dumps(summary)
