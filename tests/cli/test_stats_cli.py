"""`imagebio stats agreement` against pingouin 0.7.0 (tests/data/pingouin, to 1e-6) and `imagebio model fit/predict`
on synthetic feature tables (CSV and store)."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from imagebio.cli.main import main

DATA = Path(__file__).resolve().parents[1] / "data" / "pingouin"
REF = json.loads((DATA / "reference_values.json").read_text())
KEYS = ["icc2_1", "icc2_1_ci", "icc3_1", "icc3_1_ci", "wsd", "wcv", "rc", "ccc", "ba_bias", "ba_loa"]


def run(args, capsys):
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    captured = capsys.readouterr()
    return info.value.code or 0, captured.out, captured.err


def agreement_json(table, capsys, subject, rater, value):
    code, out, _ = run(["stats", "agreement", table, "--subject", subject, "--rater", rater, "--value", value,
                        "--json"], capsys)
    assert code == 0
    return json.loads(out)


def test_wine_icc_matches_pingouin(capsys):
    result = agreement_json(DATA / "icc_wine.csv", capsys, "Wine", "Judge", "Scores")
    assert list(result) == KEYS
    ref = REF["wine"]
    for key in ("icc2_1", "icc3_1"):
        assert result[key] == pytest.approx(ref[key], abs=1e-6)
        assert result[f"{key}_ci"] == pytest.approx(ref[f"{key}_ci"], abs=1e-6)
    # 4 judges: no Bland–Altman
    assert result["ba_bias"] is None and result["ba_loa"] is None
    # wSD by hand: root mean of the per-wine variances (ddof 1); RC = 2.77 wSD (Raunig 2015)
    wide = pd.read_csv(DATA / "icc_wine.csv").pivot(index="Wine", columns="Judge", values="Scores").to_numpy(float)
    wsd = np.sqrt(np.mean(np.var(wide, axis=1, ddof=1)))
    assert result["wsd"] == pytest.approx(wsd, rel=1e-12)
    assert result["rc"] == pytest.approx(2.77 * wsd, rel=1e-12)


def test_two_methods_bland_altman_and_ccc(tmp_path, capsys):
    paired = pd.read_csv(DATA / "blandaltman_giavarina.csv", encoding="utf-8-sig")
    long = pd.concat([pd.DataFrame({"case": paired.index, "method": m, "value": paired[m]}) for m in ("A", "B")])
    table = tmp_path / "long.csv"
    long.to_csv(table, index=False)
    result = agreement_json(table, capsys, "case", "method", "value")
    low, bias, high = REF["blandaltman"]["horizontal_lines_sorted"]
    assert result["ba_bias"] == pytest.approx(bias, abs=1e-6)
    assert result["ba_loa"] == pytest.approx([low, high], abs=1e-6)
    # Lin (1989): 2·s_xy / (s_x² + s_y² + (m_x − m_y)²), moments divided by n
    a, b = paired["A"].to_numpy(float), paired["B"].to_numpy(float)
    ccc = 2 * np.mean((a - a.mean()) * (b - b.mean())) / (a.var() + b.var() + (a.mean() - b.mean()) ** 2)
    assert result["ccc"] == pytest.approx(ccc, rel=1e-12)


def test_agreement_table_printed(capsys):
    code, out, _ = run(["stats", "agreement", DATA / "icc_wine.csv", "--subject", "Wine", "--rater", "Judge",
                        "--value", "Scores"], capsys)
    assert code == 0 and "ICC(2,1)" in out and "0.727689" in out


@pytest.mark.parametrize("column", ["--subject", "--value"])
def test_agreement_unknown_column_exit_2(column, capsys):
    args = {"--subject": "Wine", "--rater": "Judge", "--value": "Scores", column: "nope"}
    code, _, err = run(["stats", "agreement", DATA / "icc_wine.csv", *sum(map(list, args.items()), [])], capsys)
    assert code == 2 and "nope" in err


# --------------------------------------------------------------------------------------------- model
N_SUBJECTS = 48
FAST = ["--outer-splits", "3", "--outer-repeats", "1", "--inner-splits", "2", "--n-boot", "200"]


def _synthetic(seed=0, n=N_SUBJECTS):
    """Six features, two informative, and a logistic outcome (true AUC ≈ 0.9)."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, 6))
    risk = 2.5 * features[:, 0] - 2.0 * features[:, 1]
    outcome = (rng.random(n) < 1.0 / (1.0 + np.exp(-risk))).astype(int)
    subjects = [f"S{i:03d}" for i in range(n)]
    return subjects, features, outcome


def _write_csvs(folder, seed=0):
    subjects, features, outcome = _synthetic(seed)
    wide = pd.DataFrame(features, columns=[f"f{i}" for i in range(6)])
    wide.insert(0, "subject", subjects)
    wide.to_csv(folder / "features.csv", index=False)
    labels = np.where(outcome == 1, "responder", "non_responder")
    pd.DataFrame({"subject": subjects, "outcome": labels}).to_csv(folder / "outcomes.csv", index=False)
    return folder / "features.csv", folder / "outcomes.csv", outcome


@pytest.fixture(scope="module")
def csv_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("csv_model")
    features, outcomes, outcome = _write_csvs(folder)
    model_dir = folder / "model"
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in ["model", "fit", "--features", features, "--outcomes", outcomes, "--positive",
                               "responder", "--settings-hash", "abc123", "--out", model_dir, *FAST]])
    assert (info.value.code or 0) == 0
    return model_dir, features, outcome


@pytest.mark.slow
def test_model_fit_from_csv_writes_model_card_and_figures(csv_model):
    model_dir, _, outcome = csv_model
    for name in ("model.joblib", "model_card.md", "roc.png", "calibration.png", "decision_curve.png"):
        assert (model_dir / name).stat().st_size > 0, name
    assert (model_dir / "roc.png").read_bytes()[:4] == b"\x89PNG"
    validation = json.loads((model_dir / "validation.json").read_text())
    assert validation["auc_nested_cv"] > 0.75  # informative features
    assert validation["n_samples"] == N_SUBJECTS and validation["n_events"] == int(outcome.sum())
    card = (model_dir / "model_card.md").read_text()
    assert "abc123" in card and "TRIPOD" in card and "responder" in card


@pytest.mark.slow
def test_model_predict_from_csv(csv_model, tmp_path, capsys):
    model_dir, features, outcome = csv_model
    predictions = tmp_path / "pred.csv"
    code, _, err = run(["model", "predict", model_dir, "--features", features, "--settings-hash", "abc123",
                        "--out", predictions], capsys)
    assert code == 0, err
    scored = pd.read_csv(predictions)
    assert list(scored.columns) == ["subject", "probability", "predicted"] and len(scored) == N_SUBJECTS
    assert scored["probability"].between(0, 1).all()
    assert (scored["predicted"] == (scored["probability"] >= 0.5)).all()
    # the final model separates the classes it was fitted on
    from imagebio.stats.models import auc

    assert auc(outcome, scored["probability"].to_numpy()) > 0.8


@pytest.mark.slow
def test_predict_refuses_other_settings_hash(csv_model, capsys):
    model_dir, features, _ = csv_model
    code, _, err = run(["model", "predict", model_dir, "--features", features, "--settings-hash", "zzz999"], capsys)
    assert code == 2
    assert "settings_hash" in err and "abc123" in err and "zzz999" in err


@pytest.mark.slow
def test_validation_summary_equals_fit_with_validation():
    # the CLI runs the room's steps itself to keep the out-of-fold probabilities; the figures must not drift
    from imagebio.cli.model import _validate_and_fit
    from imagebio.stats.models import build_pipeline, fit_with_validation

    subjects, features, outcome = _synthetic(seed=3, n=30)
    X = pd.DataFrame(features, index=subjects, columns=[f"f{i}" for i in range(6)])
    grid = {"classifier__C": [0.1, 1.0]}
    args = dict(outer_splits=3, outer_repeats=1, inner_splits=2, n_boot=100)
    _, expected = fit_with_validation(build_pipeline(k_best=6), grid, X, outcome, random_state=5, **args)
    _, summary, oof = _validate_and_fit(build_pipeline(k_best=6), grid, X, outcome, seed=5, **args)
    assert summary == expected
    assert oof.shape == (30,) and np.all((oof >= 0) & (oof <= 1))


def test_fit_needs_a_positive_value_for_labels(tmp_path, capsys):
    features, outcomes, _ = _write_csvs(tmp_path)
    code, _, err = run(["model", "fit", "--features", features, "--outcomes", outcomes, "--out", tmp_path / "m"],
                       capsys)
    assert code == 2 and "--positive" in err and "responder" in err


def _store_with_features(db, settings_hash, seed=0, with_response=True):
    from imagebio.store import (
        MeasurementRow,
        open_store,
        record_measurements,
        upsert_roi,
        upsert_series,
        upsert_subject,
        upsert_timepoint,
    )

    subjects, features, outcome = _synthetic(seed)
    store = open_store(db)
    with store.session() as session:
        for i, patient_id in enumerate(subjects):
            subject = upsert_subject(session, patient_id)
            rows = []
            for label, day in (("baseline", 0), ("follow-up 1", 60)):
                timepoint = upsert_timepoint(session, subject, f"1.2.3.{seed}.{i}.{day}",
                                             study_datetime=datetime(2024, 1, 1 + day // 30, 9, 0),
                                             label=label, days_since_baseline=day)
                series = upsert_series(session, timepoint, f"1.2.4.{seed}.{i}.{day}", modality="PT")
                if label == "baseline":
                    # two lesions whose mean is the subject's feature value
                    for lesion, shift in (("lesion_1", -0.5), ("lesion_2", 0.5)):
                        roi = upsert_roi(session, subject, lesion, timepoint=timepoint)
                        rows += [MeasurementRow(roi.id, series.id, f"f{k}", features[i, k] + shift, "a.u.",
                                                "synthetic", settings_hash=settings_hash) for k in range(6)]
                elif with_response:
                    roi = upsert_roi(session, subject, "patient")
                    code = 2.0 if outcome[i] else 6.0  # PR / PD codes of imagebio.pipeline.response_run
                    rows.append(MeasurementRow(roi.id, series.id, "best_response_recist11", code, "", "recist11",
                                               settings_hash="r"))
            record_measurements(session, rows)
    return outcome


@pytest.mark.slow
def test_model_fit_and_predict_from_the_store(tmp_path, capsys):
    db = tmp_path / "study.db"
    outcome = _store_with_features(db, "hash-A")
    model_dir = tmp_path / "model"
    code, _, err = run(["model", "fit", "--outcome", "response", "--db", db, "--out", model_dir, *FAST], capsys)
    assert code == 0, err
    validation = json.loads((model_dir / "validation.json").read_text())
    assert validation["n_samples"] == N_SUBJECTS and validation["n_events"] == int(outcome.sum())
    assert validation["auc_nested_cv"] > 0.75
    card = (model_dir / "model_card.md").read_text()
    assert "best_response_recist11" in card and "hash-A" in card
    assert "best_response" not in card.split("- features (")[1].split("\n")[0]  # the outcome is no feature

    out = tmp_path / "pred.csv"
    assert run(["model", "predict", model_dir, "--db", db, "--out", out], capsys)[0] == 0
    with open(out) as handle:
        assert len(list(csv.DictReader(handle))) == N_SUBJECTS

    # the same measurements exported as a long CSV give the same predictions
    from imagebio.store import open_store
    from imagebio.store.queries import measurements_frame

    with open_store(db).session(readonly=True) as session:
        measurements_frame(session).to_csv(tmp_path / "long.csv", index=False)
    out_csv = tmp_path / "pred_csv.csv"
    assert run(["model", "predict", model_dir, "--features", tmp_path / "long.csv", "--out", out_csv], capsys)[0] == 0
    pd.testing.assert_frame_equal(pd.read_csv(out), pd.read_csv(out_csv))

    # features of another study computed with other extraction settings are refused
    other = tmp_path / "other.db"
    _store_with_features(other, "hash-B", seed=1, with_response=False)
    code, _, err = run(["model", "predict", model_dir, "--db", other], capsys)
    assert code == 2 and "hash-A" in err and "hash-B" in err
