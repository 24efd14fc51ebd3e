"""ComBat against neuroCombat 0.2.12 reference outputs (tests/data/combat, to 1e-6)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from imagebio.errors import FitError, InvalidParameterError
from imagebio.stats.harmonize import ComBat

DATA = Path(__file__).parents[1] / "data" / "combat"
FEATURES = [f"f{j}" for j in range(8)]
COV = dict(categorical_cols=["sex"], continuous_cols=["age"])
CASES = {
    "param_cov": dict(COV),
    "nonparam_cov": dict(COV, parametric=False),
    "param_nocov": {},
    "meanonly_cov": dict(COV, mean_only=True),
    "noeb_cov": dict(COV, empirical_bayes=False),
}


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return pd.read_csv(DATA / "train.csv")


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_neurocombat(train, case):
    kw = CASES[case]
    combat = ComBat(batch_col="batch", **kw)
    columns = ["batch", *kw.get("categorical_cols", []), *kw.get("continuous_cols", []), *FEATURES]
    out = combat.fit_transform(train[columns])
    ref = pd.read_csv(DATA / f"ref_{case}.csv")[FEATURES].to_numpy()
    np.testing.assert_allclose(out, ref, atol=1e-6, rtol=0)
    # Harmonisation changes the data: the batch effect was real.
    assert np.abs(out - train[FEATURES].to_numpy()).max() > 0.1


def test_new_data_matches_neurocombat_from_training(train):
    combat = ComBat(batch_col="batch").fit(train[["batch", *FEATURES]])
    new = pd.read_csv(DATA / "new.csv")
    ref = pd.read_csv(DATA / "ref_param_nocov_new.csv")[FEATURES].to_numpy()
    np.testing.assert_allclose(combat.transform(new), ref, atol=1e-6, rtol=0)


def test_transform_of_training_rows_one_at_a_time(train):
    combat = ComBat(batch_col="batch", **COV).fit(train)
    whole = combat.transform(train)
    rows = np.vstack([combat.transform(train.iloc[[i]]) for i in (0, 13, 30)])
    np.testing.assert_allclose(rows, whole[[0, 13, 30]], atol=1e-12)


def test_batch_effect_removed_on_synthetic_data():
    rng = np.random.default_rng(0)
    n = 60
    batch = np.repeat(["a", "b", "c"], n // 3)
    shift = {"a": 0.0, "b": 3.0, "c": -2.0}
    X = rng.normal(0, 1, (n, 20)) + np.array([shift[b] for b in batch])[:, None]
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(20)]).assign(site=batch)
    out = ComBat(batch_col="site").fit_transform(df)
    means = np.array([out[batch == b].mean() for b in "abc"])
    assert np.ptp(means) < 0.3  # was 5


def test_in_pipeline_with_numpy_columns():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(1)
    X = np.column_stack([np.repeat([0, 1], 10), rng.normal(0, 1, (20, 4))])
    pipe = make_pipeline(ComBat(batch_col=0), StandardScaler()).fit(X)
    assert pipe.transform(X).shape == (20, 4)


def test_bad_input(train):
    with pytest.raises(InvalidParameterError, match="not seen in fit"):
        ComBat(batch_col="batch").fit(train[["batch", *FEATURES]]).transform(
            train[["batch", *FEATURES]].assign(batch="scannerZ")
        )
    const = train.assign(f3=1.0)
    with pytest.raises(InvalidParameterError, match="zero residual variance"):
        ComBat(batch_col="batch").fit(const[["batch", *FEATURES]])
    missing = train.copy()
    missing.loc[4, "f2"] = np.nan
    with pytest.raises(InvalidParameterError, match="missing"):
        ComBat(batch_col="batch").fit(missing[["batch", *FEATURES]])
    one = pd.concat([train, train.iloc[[0]].assign(batch="lonely")])
    with pytest.raises(InvalidParameterError, match="one sample"):
        ComBat(batch_col="batch").fit(one[["batch", *FEATURES]])
    confounded = train.assign(site_type=train["batch"].map({"scannerA": "x", "scannerB": "y", "scannerC": "y"}))
    with pytest.raises(FitError, match="confounded"):
        ComBat(batch_col="batch", categorical_cols=["site_type"]).fit(confounded[["batch", "site_type", *FEATURES]])
    with pytest.raises(InvalidParameterError, match="column"):
        ComBat(batch_col="scanner").fit(train)
