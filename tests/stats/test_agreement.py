"""Agreement statistics against pingouin 0.7.0 (to 1e-6) and Shrout & Fleiss (1979) Table 2 (2 decimals)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from imagebio.errors import InvalidParameterError
from imagebio.stats import agreement
from imagebio.stats.agreement import (
    agreement_table,
    bland_altman,
    concordance_correlation,
    feature_icc,
    icc,
    within_subject_cv,
    within_subject_sd,
)

DATA = Path(__file__).parents[1] / "data" / "pingouin"
REF = json.loads((DATA / "reference_values.json").read_text())

# Shrout & Fleiss 1979, Table 2: 6 targets (rows) rated by 4 judges (columns).
SHROUT_FLEISS = np.array(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], dtype=float
)


def _long(wide: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        [(f"s{i}", f"r{j}", wide[i, j]) for i in range(wide.shape[0]) for j in range(wide.shape[1])],
        columns=["subject", "rater", "value"],
    )


def test_wine_table_matches_pingouin():
    wine = pd.read_csv(DATA / "icc_wine.csv")
    out = agreement_table(wine, "Wine", "Judge", "Scores")
    ref = REF["wine"]
    for key in ("icc2_1", "icc3_1"):
        assert out[key] == pytest.approx(ref[key], abs=1e-6)
        np.testing.assert_allclose(out[f"{key}_ci"], ref[f"{key}_ci"], atol=1e-6)
    assert out["n_subjects"] == 8 and out["n_raters"] == 4
    assert out["ba_bias"] is None and out["ba_loa"] is None  # four judges: no pairwise Bland-Altman


def test_shrout_fleiss_published_and_pingouin():
    res = icc(SHROUT_FLEISS)
    assert round(res.icc2_1, 2) == 0.29
    assert round(res.icc3_1, 2) == 0.71
    ref = REF["shrout_fleiss"]
    assert res.icc2_1 == pytest.approx(ref["icc2_1"], abs=1e-6)
    assert res.icc3_1 == pytest.approx(ref["icc3_1"], abs=1e-6)
    np.testing.assert_allclose(res.icc2_1_ci, ref["icc2_1_ci"], atol=1e-6)
    np.testing.assert_allclose(res.icc3_1_ci, ref["icc3_1_ci"], atol=1e-6)
    assert res.f_value == pytest.approx(ref["f_value"], rel=1e-9)
    assert res.p_value == pytest.approx(ref["p_value"], rel=1e-6)


def test_bland_altman_matches_pingouin_giavarina():
    ba = pd.read_csv(DATA / "blandaltman_giavarina.csv", encoding="utf-8-sig")
    res = bland_altman(ba["A"], ba["B"])
    low, bias, high = REF["blandaltman"]["horizontal_lines_sorted"]
    assert res.bias == pytest.approx(bias, abs=1e-6)
    np.testing.assert_allclose(res.loa, (low, high), atol=1e-6)
    long = pd.concat([pd.DataFrame({"id": ba.index, "method": m, "v": ba[m]}) for m in ("A", "B")], ignore_index=True)
    out = agreement_table(long, "id", "method", "v")
    assert out["ba_bias"] == pytest.approx(bias, abs=1e-6)
    np.testing.assert_allclose(out["ba_loa"], (low, high), atol=1e-6)


def test_ccc_closed_forms():
    rng = np.random.default_rng(1)
    x = rng.normal(5, 2, 200)
    assert concordance_correlation(np.column_stack([x, x])) == pytest.approx(1.0)
    # y = x + c: rho_c = 2 s^2 / (2 s^2 + c^2) with population moments (Lin 1989 eq. 3).
    s2 = x.var()
    assert concordance_correlation(np.column_stack([x, x + 1.5])) == pytest.approx(2 * s2 / (2 * s2 + 2.25))
    # y = 2x: rho_c = 2 * 2 s^2 / (s^2 + 4 s^2 + m^2) with m the mean difference.
    m = x.mean()
    assert concordance_correlation(np.column_stack([x, 2 * x])) == pytest.approx(4 * s2 / (5 * s2 + m**2))
    # Overall CCC of 3 raters is below the CCC of the concordant pair when one rater is biased.
    three = np.column_stack([x, x + rng.normal(0, 0.1, 200), x + 3])
    assert concordance_correlation(three) < concordance_correlation(three[:, :2])


def test_wsd_rc_wcv_closed_form():
    # Two repeats differing by d_i: per-subject variance is d_i^2 / 2.
    first = np.array([10.0, 20.0, 30.0, 40.0])
    diffs = np.array([1.0, -2.0, 0.5, 1.5])
    table = np.column_stack([first, first + diffs])
    wsd = np.sqrt(np.mean(diffs**2 / 2))
    assert within_subject_sd(table) == pytest.approx(wsd)
    assert agreement.repeatability_coefficient(table) == pytest.approx(2.77 * wsd)
    means = table.mean(axis=1)
    assert within_subject_cv(table) == pytest.approx(np.sqrt(np.mean(diffs**2 / 2 / means**2)))
    out = agreement_table(_long(table), "subject", "rater", "value")
    assert out["wsd"] == pytest.approx(wsd) and out["rc"] == pytest.approx(2.77 * wsd)
    json.dumps(out)  # plain JSON-able values


def test_wcv_undefined_for_non_positive_values():
    table = np.array([[-100.0, -98.0], [20.0, 22.0], [40.0, 41.0]])
    assert within_subject_cv(table) is None
    assert agreement_table(_long(table), "subject", "rater", "value")["wcv"] is None


@pytest.mark.parametrize(
    "table",
    [
        np.array([[1.0, 2.0], [np.nan, 3.0], [2.0, 2.5]]),  # missing value
        np.array([[1.0, 2.0]]),  # one subject
        np.array([[1.0], [2.0]]),  # one rater
        np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]),  # zero residual variance
    ],
)
def test_bad_tables_raise(table):
    with pytest.raises(InvalidParameterError):
        icc(table)


def test_long_table_errors():
    df = _long(SHROUT_FLEISS)
    with pytest.raises(InvalidParameterError, match="column"):
        agreement_table(df, "subject", "reader", "value")
    with pytest.raises(InvalidParameterError, match="every rater"):
        agreement_table(df.iloc[1:], "subject", "rater", "value")
    with pytest.raises(InvalidParameterError, match="more than one row"):
        agreement_table(pd.concat([df, df.iloc[:1]]), "subject", "rater", "value")
    bad = df.astype({"value": object})
    bad.loc[3, "value"] = "n/a"
    with pytest.raises(InvalidParameterError, match="non-numeric"):
        agreement_table(bad, "subject", "rater", "value")


def test_feature_icc_and_repeatability_filter():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from imagebio.stats.selection import RepeatabilityFilter

    rng = np.random.default_rng(3)
    truth = rng.normal(0, 1, (30, 3))
    noise_sd = np.array([0.1, 0.5, 3.0])  # ICC about 0.99, 0.8, 0.1
    test = pd.DataFrame(truth + rng.normal(0, 1, (30, 3)) * noise_sd, columns=["a", "b", "c"])
    retest = pd.DataFrame(truth + rng.normal(0, 1, (30, 3)) * noise_sd, columns=["a", "b", "c"])
    iccs = feature_icc(test, retest.sample(frac=1.0, random_state=0))  # row order must not matter
    for name in iccs.index:
        assert iccs[name] == pytest.approx(icc(np.column_stack([test[name], retest[name]])).icc2_1)
    assert iccs["a"] > 0.9 and iccs["c"] < 0.5
    pipe = make_pipeline(RepeatabilityFilter(iccs, threshold=0.75), StandardScaler()).set_output(transform="pandas")
    out = pipe.fit_transform(test)
    assert list(out.columns) == [n for n in ["a", "b", "c"] if iccs[n] >= 0.75]
    assert "c" not in out.columns
    with pytest.raises(InvalidParameterError, match="no ICC"):
        RepeatabilityFilter({"a": 0.9}).fit(test)
    with pytest.raises(InvalidParameterError, match="no feature kept"):
        RepeatabilityFilter(iccs, threshold=0.999).fit(test)
    arr_filter = RepeatabilityFilter(iccs.to_numpy(), threshold=0.75).fit(test.to_numpy())
    assert arr_filter.transform(test.to_numpy()).shape[1] == int((iccs >= 0.75).sum())


def test_agreement_module_is_light():
    import subprocess
    import sys

    code = (
        "import sys, imagebio.stats.agreement; "
        "print(any(m.split('.')[0] in ('sklearn', 'lifelines') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
