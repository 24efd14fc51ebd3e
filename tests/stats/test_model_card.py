"""Saved models carry their feature definition and refuse features computed with other settings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from imagebio.errors import InvalidParameterError, StoreError
from imagebio.stats.model_card import FeatureDefinition, load_model, render_model_card, save_model
from imagebio.stats.models import build_pipeline


@pytest.fixture()
def fitted():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(50, 4)), columns=["glcm_contrast", "shape_volume", "suv_max", "adc_mean"])
    y = (X["suv_max"] + rng.normal(0, 0.5, 50) > 0).astype(int)
    return build_pipeline(k_best=2).fit(X, y), X


def test_round_trip_and_scoring(tmp_path, fitted):
    model, X = fitted
    path = tmp_path / "model.joblib"
    save_model(
        path,
        model,
        list(X.columns),
        "a1b2c3d4e5f60718",
        "response",
        validation={"auc_nested_cv": 0.81, "calibration_slope": 0.93},
    )
    saved = load_model(path)
    shuffled = X[X.columns[::-1]].assign(extra=1.0)  # column order and extra columns do not matter
    np.testing.assert_allclose(saved.predict_proba(shuffled, "a1b2c3d4e5f60718"), model.predict_proba(X)[:, 1])
    card = render_model_card(saved, "50 synthetic patients")
    assert "a1b2c3d4e5f60718" in card and "suv_max" in card and "TRIPOD" in card and "calibration" in card


def test_refuses_other_settings_or_missing_features(tmp_path, fitted):
    model, X = fitted
    hashes = {c: "aaaa" for c in X.columns}
    save_model(tmp_path / "m.joblib", model, list(X.columns), hashes, "response")
    saved = load_model(tmp_path / "m.joblib")
    with pytest.raises(InvalidParameterError, match="settings_hash"):
        saved.predict_proba(X, {**hashes, "suv_max": "bbbb"})
    with pytest.raises(InvalidParameterError, match="settings_hash"):
        saved.predict_proba(X, "bbbb")
    assert saved.predict_proba(X, "aaaa").shape == (50,)  # one hash for all equals the per-feature hashes
    with pytest.raises(InvalidParameterError, match="missing features"):
        saved.predict_proba(X.drop(columns="adc_mean"), hashes)
    with pytest.raises(InvalidParameterError):
        FeatureDefinition(("a", "a"), "h")


def test_not_a_model_file(tmp_path):
    import joblib

    bad = tmp_path / "x.joblib"
    joblib.dump({"something": 1}, bad)
    with pytest.raises(StoreError, match="not an imagebio model"):
        load_model(bad)
    with pytest.raises(StoreError, match="cannot read"):
        load_model(tmp_path / "absent.joblib")
