"""TID 1500 Measurement Report: store → SR → read back gives the same values, units (UCUM) and tracking UIDs."""

from __future__ import annotations

import math
import shutil
from datetime import datetime

import numpy as np
import pydicom
import pytest

from tests.dicom_validation import dciodvfy_errors

from imagebio.errors import DicomReadError, InvalidParameterError, StoreError, UnsupportedDataError
from imagebio.io.sr import (
    LesionMeasurements,
    measurement_concept,
    read_measurement_report,
    tracking_uid,
    ucum_unit,
    write_measurement_report,
)
from tests.report._demo_store import build_demo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """The 1-patient demo store shared with tests/report (built once per test process)."""
    return build_demo(tmp_path_factory)


@pytest.fixture(scope="session")
def demo_subject(demo) -> str:
    return demo.run.done[0]
WHEN = datetime(2024, 1, 2, 3, 4, 5)


@pytest.fixture(scope="module")
def exported(demo, demo_subject, tmp_path_factory):
    from imagebio.report.export import export_sr
    from imagebio.store import open_store

    store = open_store(demo.store_url)
    try:
        result = export_sr(store, demo_subject, tmp_path_factory.mktemp("sr"), content_datetime=WHEN)
    finally:
        store.close()
    return result


def test_ucum_units_of_the_brief():
    assert ucum_unit("mL").value == "ml"
    assert ucum_unit("mm").value == "mm"
    assert ucum_unit("HU").value == "[hnsf'U]"
    assert ucum_unit("SUVbw").value == "g/ml{SUVbw}"  # CID 85 as in the DICOM release shipped with pydicom
    assert ucum_unit("mm2/s").value == "mm2/s"
    assert ucum_unit("1/min").value == "/min"
    with pytest.raises(UnsupportedDataError, match="furlong"):
        ucum_unit("furlong")


def test_measurement_concepts():
    concept, derivation = measurement_concept("suvbw_max")
    assert (concept.value, concept.scheme_designator, derivation.meaning) == ("126401", "DCM", "Maximum")
    concept, derivation = measurement_concept("volume")
    assert (concept.value, derivation) == ("118565006", None)
    concept, _ = measurement_concept("glcm_foo")
    assert concept.scheme_designator == "99IMAGEBIO" and concept.value == "glcm_foo"


def test_tracking_uid_is_deterministic_and_distinct():
    assert tracking_uid("P1", "lesion_1") == tracking_uid("P1", "lesion_1")
    assert tracking_uid("P1", "lesion_1") != tracking_uid("P1", "lesion_2")
    assert tracking_uid("P1", "lesion_1") != tracking_uid("P2", "lesion_1")
    assert tracking_uid("P1", "lesion_1").startswith("2.25.")


def _store_frame(demo, subject):
    from imagebio.store import open_store
    from imagebio.store.queries import measurements_frame

    store = open_store(demo.store_url)
    try:
        with store.session(readonly=True) as session:
            return measurements_frame(session, subject=subject)
    finally:
        store.close()


def test_sr_round_trip_equals_the_store(demo, demo_subject, exported):
    frame = _store_frame(demo, demo_subject)
    frame = frame[~frame.name.str.contains("response_")]
    assert not frame.duplicated(["timepoint", "lesion_id", "name"]).any()
    assert {"longest_diameter", "volume", "suvbw_max", "ktrans", "adc_mean", "sul_peak"} <= set(frame.name)
    assert set(exported.files) == set(frame.timepoint)
    n_checked = 0
    for label, paths in exported.files.items():
        (path,) = paths
        read = read_measurement_report(path)
        stored = frame[(frame.timepoint == label) & frame.value.notna()]
        assert len(read) == len(stored)
        by_key = {(m.lesion_id, m.name): m for m in read}
        for row in stored.itertuples():
            m = by_key[(row.lesion_id, row.name)]
            assert m.value == row.value  # float64 in FD, exact
            assert m.unit == row.unit
            assert m.tracking_uid == tracking_uid(demo_subject, row.lesion_id)
            assert m.segment_number is not None
            n_checked += 1
    assert n_checked == frame.value.notna().sum()


def test_sr_links_lesions_across_time_points_and_references_seg_and_images(exported):
    uids = {}
    for paths in exported.files.values():
        ds = pydicom.dcmread(paths[0])
        assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"
        evidence = ds.CurrentRequestedProcedureEvidenceSequence
        referenced = {s.SeriesInstanceUID: s for study in evidence for s in study.ReferencedSeriesSequence}
        measured = read_measurement_report(paths[0])
        seg_uids = {m.segmentation_uid for m in measured}
        assert len(seg_uids) == 1
        seg_instances = {
            i.ReferencedSOPInstanceUID for s in referenced.values() for i in s.ReferencedSOPSequence
        }
        assert seg_uids <= seg_instances  # the SEG is part of the evidence, so the reference resolves
        assert len(referenced) >= 5  # CT, PET, DWI, DCE/VFA and the SEG
        for m in measured:
            uids.setdefault(m.lesion_id, set()).add(m.tracking_uid)
    assert all(len(v) == 1 for v in uids.values())
    assert "lesion_1" in uids


def test_sr_passes_dciodvfy(exported):
    for path in exported.paths:
        errors = dciodvfy_errors(path)
        assert errors == [], errors


def test_sr_export_is_reproducible(demo, demo_subject, exported, tmp_path):
    from imagebio.report.export import export_sr
    from imagebio.store import open_store

    store = open_store(demo.store_url)
    try:
        again = export_sr(store, demo_subject, tmp_path, timepoint="baseline", content_datetime=WHEN)
    finally:
        store.close()
    first = pydicom.dcmread(exported.files["baseline"][0])
    second = pydicom.dcmread(again.files["baseline"][0])
    assert first.SOPInstanceUID == second.SOPInstanceUID
    assert first.SeriesInstanceUID == second.SeriesInstanceUID


def test_export_sr_bad_input(demo, demo_subject, tmp_path):
    from imagebio.report.export import export_sr
    from imagebio.store import open_store

    store = open_store(demo.store_url)
    try:
        with pytest.raises(StoreError, match="NOBODY"):
            export_sr(store, "NOBODY", tmp_path)
        with pytest.raises(StoreError, match="no time point 'week 99'"):
            export_sr(store, demo_subject, tmp_path, timepoint="week 99")
    finally:
        store.close()


def test_export_sr_with_a_missing_seg_file_is_a_clear_error(demo, demo_subject, tmp_path):
    """Copy the store, point the SEG series at a folder that does not exist: the export names it."""
    from sqlalchemy import update

    from imagebio.report.export import export_sr
    from imagebio.store import Series, open_store

    db = tmp_path / "copy.db"
    shutil.copy(demo.out_dir / "imagebio.db", db)
    store = open_store(db)
    try:
        with store.session() as session:
            session.execute(update(Series).where(Series.modality == "SEG").values(path=str(tmp_path / "gone")))
        with pytest.raises(DicomReadError, match="gone"):
            export_sr(store, demo_subject, tmp_path / "out")
    finally:
        store.close()


def test_write_measurement_report_checks_inputs(demo, tmp_path):
    ct = sorted((demo.cohort_dir / "dicom").rglob("CT/*.dcm"))[:1]
    evidence = [pydicom.dcmread(ct[0], stop_before_pixels=True)]
    with pytest.raises(InvalidParameterError, match="lesions"):
        write_measurement_report([], evidence, tmp_path / "x.dcm")
    lesion = LesionMeasurements("L1", tracking_uid("P", "L1"), [("volume", 1.5, "mL")], segment_number=1)
    with pytest.raises(InvalidParameterError, match="segmentation"):
        write_measurement_report([lesion], evidence, tmp_path / "x.dcm")
    # without a segment reference the report is valid and reads back
    plain = LesionMeasurements("L1", tracking_uid("P", "L1"), [("volume", 1.5, "mL"), ("ve", 0.25, "fraction")])
    write_measurement_report([plain], evidence, tmp_path / "ok.dcm", time_point="baseline")
    read = read_measurement_report(tmp_path / "ok.dcm")
    assert [(m.name, m.value, m.unit, m.segment_number) for m in read] == [
        ("volume", 1.5, "mL", None), ("ve", 0.25, "fraction", None)
    ]
    assert not math.isnan(read[0].value) and np.isfinite([m.value for m in read]).all()


def test_read_measurement_report_refuses_other_objects(demo, tmp_path):
    ct = min((demo.cohort_dir / "dicom").rglob("CT/*.dcm"))
    with pytest.raises(UnsupportedDataError, match="Comprehensive 3D SR"):
        read_measurement_report(ct)
    (tmp_path / "junk.dcm").write_bytes(b"not dicom")
    with pytest.raises(DicomReadError):
        read_measurement_report(tmp_path / "junk.dcm")
