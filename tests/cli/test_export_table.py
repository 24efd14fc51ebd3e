"""`imagebio export table`: long and wide tables written as CSV / Parquet read back equal to the store."""

from __future__ import annotations

import importlib.util
import json

import pandas as pd
import pytest

from imagebio.cli.main import main
from imagebio.store import open_store
from imagebio.store.export import LONG_COLUMNS, WIDE_INDEX
from tests.store.export_data import VISITS, build_store, same_value

KEY = ["subject", "timepoint", "roi", "modality", "name", "method", "settings_hash"]


def run(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "store.db"
    store = open_store(path)
    expected = build_store(store)
    store.close()
    return str(path), expected


def test_long_csv_round_trip(db, tmp_path, capsys):
    url, expected = db
    out = tmp_path / "long.csv"
    code, stdout, _ = run(["export", "table", "--db", url, "--out", str(out)], capsys)
    assert code in (0, None)
    assert f"{len(expected)} rows" in stdout
    back = pd.read_csv(out)
    assert list(back.columns) == LONG_COLUMNS and len(back) == len(expected)
    got = {tuple(r[k] for k in KEY): r["value"] for _, r in back.iterrows()}
    assert all(same_value(got[k], v) for k, v in expected.items())


@pytest.mark.skipif(importlib.util.find_spec("pyarrow") is None, reason="pyarrow (the parquet extra) not installed")
def test_wide_parquet_has_one_row_per_subject_timepoint_roi(db, tmp_path, capsys):
    url, expected = db
    out = tmp_path / "wide.parquet"
    code, stdout, _ = run(["export", "table", "--db", url, "--format", "parquet", "--wide", "--out", str(out),
                           "--json"], capsys)
    assert code in (0, None)
    summary = json.loads(stdout)
    back = pd.read_parquet(out)
    assert summary == {"path": str(out), "format": "parquet", "layout": "wide", "rows": len(back),
                       "columns": len(back.columns), "values": len(expected)}
    assert len(back) == sum(len(lesions) for *_, lesions in VISITS)
    assert not back.duplicated(["subject", "timepoint", "roi"]).any()
    assert list(back.columns[: len(WIDE_INDEX)]) == WIDE_INDEX
    cells = back.set_index(["subject", "timepoint", "roi"])
    for (subject, label, roi, modality, name, _, _), value in expected.items():
        column = {"volume": "volume[mL]", "suv_max": "suv_max[SUVbw]", "glcm_contrast": "glcm_contrast"}.get(
            name, f"{name}@{modality}")
        assert same_value(cells.loc[(subject, label, roi), column], value)


def test_filters_and_default_file_name(db, tmp_path, capsys, monkeypatch):
    url, _ = db
    monkeypatch.chdir(tmp_path)
    code, stdout, _ = run(["export", "table", "--db", url, "--wide", "--subject", "S2", "--name-glob", "suv*",
                           "--name-glob", "volume", "--json"], capsys)
    assert code in (0, None)
    assert json.loads(stdout)["path"] == "imagebio_features.csv"
    back = pd.read_csv(tmp_path / "imagebio_features.csv")
    assert set(back["subject"]) == {"S2"} and len(back) == 3
    assert list(back.columns) == WIDE_INDEX + ["suv_max[SUVbw]", "volume[mL]"]
    code, stdout, _ = run(["export", "table", "--db", url, "--subject", "nobody", "--out", "empty.csv"], capsys)
    assert code in (0, None) and "no measurement matches" in stdout


def test_bad_format_and_missing_pyarrow_are_one_line_errors(db, tmp_path, capsys, monkeypatch):
    url, _ = db
    code, _, err = run(["export", "table", "--db", url, "--format", "xlsx"], capsys)
    assert code == 2 and "xlsx" in err and "csv, parquet" in err
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a))
    code, _, err = run(["export", "table", "--db", url, "--format", "parquet", "--out", str(tmp_path / "x.parquet")],
                       capsys)
    assert code == 2 and "pip install pyarrow" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.parquet").exists()


def test_other_export_commands_still_listed(capsys):
    code, stdout, _ = run(["export", "--help"], capsys)
    assert code in (0, None)
    for command in ("sr", "seg", "pm", "table"):
        assert command in stdout
