"""Long and wide tables of the store (imagebio.store.export): contents, filters, column names, file round trips."""

from __future__ import annotations

import importlib.util

import pandas as pd
import pytest

from imagebio.errors import InvalidParameterError, UnsupportedDataError
from imagebio.store.export import (
    LONG_COLUMNS,
    WIDE_INDEX,
    feature_column,
    long_table,
    wide_from_long,
    wide_table,
    write_table,
)

from .export_data import RADIOMICS_HASH, VISITS, VOLUME_HASH, add_volume_with_new_settings, build_store, same_value

KEY = ["subject", "timepoint", "roi", "modality", "name", "method", "settings_hash"]


@pytest.fixture
def filled(store):
    return store, build_store(store)


def as_dict(frame: pd.DataFrame) -> dict[tuple, float]:
    assert not frame.duplicated(KEY).any()
    return {tuple(row[k] for k in KEY): row["value"] for _, row in frame.iterrows()}


def test_long_table_holds_every_stored_value(filled):
    store, expected = filled
    frame = long_table(store)
    assert list(frame.columns) == LONG_COLUMNS
    got = as_dict(frame)
    assert set(got) == set(expected)
    assert all(same_value(got[k], expected[k]) for k in expected)
    assert frame["value"].isna().sum() == 1  # the undefined texture value stays undefined
    days = dict(zip(frame["timepoint"], frame["days_since_baseline"], strict=True))
    assert days == {"baseline": 0, "follow-up 1": 60}
    assert set(frame.loc[frame["name"] == "suv_max", "unit"]) == {"SUVbw"}
    assert set(frame["lesion_id"]) == {"L1", "L2"}


def test_long_table_filters(filled):
    store, expected = filled
    only_s2 = long_table(store, subjects="S2")
    assert set(only_s2["subject"]) == {"S2"} and len(only_s2) == sum(k[0] == "S2" for k in expected)
    assert len(long_table(store, subjects=["S1", "S2"])) == len(expected)
    suv = long_table(store, name_globs=["suv*", "vol*"])
    assert set(suv["name"]) == {"suv_max", "volume"}
    pet = long_table(store, modalities="pt")
    assert set(pet["modality"]) == {"PT"} and set(pet["name"]) == {"suv_max", "stat_mean"}
    radiomics = long_table(store, methods="radiomics_ibsi_test", settings_hashes=RADIOMICS_HASH[:8])
    assert set(radiomics["name"]) == {"stat_mean", "glcm_contrast"}
    assert long_table(store, subjects="nobody").empty
    with pytest.raises(InvalidParameterError, match="settings_hashes"):
        long_table(store, settings_hashes="abc")


def test_wide_table_has_one_row_per_subject_timepoint_roi(filled):
    store, expected = filled
    wide = wide_table(store)
    n_rois = sum(len(lesions) for *_, lesions in VISITS)
    assert len(wide) == n_rois == 7
    assert not wide.duplicated(["subject", "timepoint", "roi"]).any()
    assert list(wide.columns[: len(WIDE_INDEX)]) == WIDE_INDEX
    features = list(wide.columns[len(WIDE_INDEX):])
    # same name on CT and PET -> qualified by modality only; the others carry their unit
    assert features == sorted(["volume[mL]", "suv_max[SUVbw]", "stat_mean@CT", "stat_mean@PT", "glcm_contrast"])
    assert all(wide[c].dtype == float for c in features)
    column_of = {
        ("CT", "volume"): "volume[mL]", ("PT", "suv_max"): "suv_max[SUVbw]", ("CT", "stat_mean"): "stat_mean@CT",
        ("PT", "stat_mean"): "stat_mean@PT", ("CT", "glcm_contrast"): "glcm_contrast",
    }
    cells = wide.set_index(["subject", "timepoint", "roi"])
    for (subject, label, roi, modality, name, _, _), value in expected.items():
        assert same_value(cells.loc[(subject, label, roi), column_of[(modality, name)]], value)
    assert cells.loc[("S1", "follow-up 1", "lesion_2"), "days_since_baseline"] == 60
    assert cells.loc[("S2", "baseline", "lesion_2"), "lesion_id"] == "L2"


def test_wide_columns_are_qualified_by_settings_hash_when_settings_changed(filled):
    store, _ = filled
    new_hash = add_volume_with_new_settings(store)
    wide = wide_table(store, name_globs="volume")
    assert sorted(wide.columns[len(WIDE_INDEX):]) == sorted(
        [f"volume[mL]@{VOLUME_HASH[:8]}", f"volume[mL]@{new_hash[:8]}"]
    )
    assert wide[f"volume[mL]@{new_hash[:8]}"].notna().sum() == 1
    plain = wide_table(store, name_globs="volume", settings_hashes=VOLUME_HASH)
    assert list(plain.columns[len(WIDE_INDEX):]) == ["volume[mL]"] and len(plain) == 7


def test_wide_refuses_two_values_in_one_cell(filled):
    store, _ = filled
    frame = long_table(store)
    doubled = pd.concat([frame, frame.iloc[[0]].assign(value=-1.0)], ignore_index=True)
    with pytest.raises(InvalidParameterError, match="one value per cell"):
        wide_from_long(doubled)
    with pytest.raises(InvalidParameterError, match="long table"):
        wide_from_long(frame.drop(columns=["unit"]))
    assert list(wide_from_long(frame.iloc[:0]).columns) == WIDE_INDEX


def test_feature_column_names_carry_units():
    assert feature_column("volume", "mL") == "volume[mL]"
    assert feature_column("suvbw_max", "SUVbw") == "suvbw_max[SUVbw]"
    assert feature_column("glcm_contrast", None) == feature_column("glcm_contrast", "") == "glcm_contrast"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_written_tables_read_back_equal(filled, tmp_path, fmt):
    if fmt == "parquet" and importlib.util.find_spec("pyarrow") is None:
        pytest.skip("pyarrow not installed: the missing-package error is tested below")
    store, expected = filled
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    tidy = long_table(store)
    back = read(write_table(tidy, tmp_path / f"long.{fmt}"))
    assert list(back.columns) == LONG_COLUMNS
    got = as_dict(back)
    assert set(got) == set(expected) and all(same_value(got[k], expected[k]) for k in expected)

    wide = wide_from_long(tidy)
    back = read(write_table(wide, tmp_path / "wide.out", fmt))
    assert list(back.columns) == list(wide.columns) and len(back) == len(wide)
    features = list(wide.columns[len(WIDE_INDEX):])
    pd.testing.assert_frame_equal(back[features], wide[features])
    assert list(back["subject"]) == list(wide["subject"]) and list(back["roi"]) == list(wide["roi"])


def test_parquet_without_pyarrow_names_the_package(filled, tmp_path, monkeypatch):
    store, _ = filled
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a))
    with pytest.raises(UnsupportedDataError, match="pip install pyarrow"):
        write_table(long_table(store), tmp_path / "x.parquet")
    with pytest.raises(InvalidParameterError, match="format"):
        write_table(long_table(store), tmp_path / "x.xlsx")
