"""Idempotent writers: upserts by natural key, measurement upsert on its key, run bookkeeping."""

from __future__ import annotations

import math
from datetime import date, datetime

import pytest
from sqlalchemy import select

from imagebio import __version__
from imagebio.errors import InvalidParameterError, StoreError
from imagebio.store import (
    MeasurementRow,
    finish_run,
    mark_subject,
    record_measurements,
    start_run,
    upsert_roi,
    upsert_series,
    upsert_subject,
    upsert_timepoint,
)
from imagebio.store import open_store, writers
from imagebio.store.models import Measurement, Run, RunSubject, Subject

from .conftest import TEST_DB_URL, _reset, row_counts


@pytest.fixture(params=["on_conflict", "portable"])
def upsert_path(request, monkeypatch):
    """Run a measurement test with the dialect's ON CONFLICT upsert and with the portable fallback."""
    if request.param == "portable":
        monkeypatch.setattr(writers, "_dialect_insert", lambda session: None)
    return request.param


def make_tree(session, patient="P1", study="1.2.3", series_uid="1.2.3.4"):
    subject = upsert_subject(session, patient, sex="F", birth_date=date(1970, 1, 2), project="trial")
    timepoint = upsert_timepoint(session, subject, study, study_datetime=datetime(2024, 1, 1, 9, 30))
    series = upsert_series(session, timepoint, series_uid, modality="CT", n_files=3, path="/data/ct")
    roi = upsert_roi(session, subject, "liver", series=series, organ="liver")
    return subject, timepoint, series, roi


def test_upserts_twice_leave_one_row_each_and_update_given_fields(store):
    with store.session() as session:
        first = make_tree(session)
    with store.session() as session:
        again = make_tree(session)
        upsert_subject(session, "P1", sex="M")  # a given field overwrites
        upsert_subject(session, "P1")  # None leaves fields as they are
    assert [a.id for a in again] == [f.id for f in first]
    counts = row_counts(store)
    assert {k: counts[k] for k in ("subjects", "timepoints", "series", "rois")} == {
        "subjects": 1, "timepoints": 1, "series": 1, "rois": 1,
    }
    with store.session(readonly=True) as session:
        subject = session.scalars(select(Subject)).one()
        assert (subject.sex, subject.birth_date, subject.project) == ("M", date(1970, 1, 2), "trial")
        assert subject.created_at.tzinfo is not None


def test_roi_takes_its_timepoint_from_the_series_and_is_distinct_per_series(store):
    with store.session() as session:
        subject, timepoint, series, roi = make_tree(session)
        other = upsert_series(session, timepoint, "1.2.3.5", modality="PT")
        roi_on_other = upsert_roi(session, subject, "liver", series=other)
        subject_level = upsert_roi(session, subject, "liver")
        assert roi.timepoint_id == timepoint.id
        assert len({roi.id, roi_on_other.id, subject_level.id}) == 3
        assert upsert_roi(session, subject, "liver").id == subject_level.id


def test_conflicting_uids_are_store_errors(store):
    with store.session() as session:
        _, timepoint, _, _ = make_tree(session)
        other_subject = upsert_subject(session, "P2")
        with pytest.raises(StoreError, match=r"study 1\.2\.3 is stored under PatientID 'P1', not 'P2'"):
            upsert_timepoint(session, other_subject, "1.2.3")
        other_timepoint = upsert_timepoint(session, other_subject, "9.9")
        with pytest.raises(StoreError, match=r"series 1\.2\.3\.4 is stored under another study"):
            upsert_series(session, other_timepoint, "1.2.3.4")


def test_invalid_arguments_are_rejected(store):
    with store.session() as session:
        with pytest.raises(InvalidParameterError, match="patient_id"):
            upsert_subject(session, "  ")
        subject, timepoint, series, roi = make_tree(session)
        with pytest.raises(InvalidParameterError, match="kind"):
            upsert_series(session, timepoint, "5.5", kind="movie")
        with pytest.raises(InvalidParameterError, match="only the keys"):
            record_measurements(session, [{"roi_id": roi.id, "series_id": series.id, "name": "x", "value": 1,
                                           "colour": "red"}])


def _measure(roi, series, value, settings_hash="abc", **extra):
    return MeasurementRow(roi_id=roi.id, series_id=series.id, name="volume_ml", value=value, unit="mL",
                          method="voxel count", parameters={"bin": 25}, settings_hash=settings_hash, **extra)


def test_same_measurement_key_twice_keeps_one_row_with_the_new_value(store, upsert_path):
    with store.session() as session:
        _, _, series, roi = make_tree(session)
        first = record_measurements(session, [_measure(roi, series, 12.5)])
    with store.session() as session:
        second = record_measurements(session, [_measure(roi, series, 13.0)])
    assert (first.inserted, first.updated) == (1, 0)
    assert (second.inserted, second.updated) == (0, 1)
    with store.session(readonly=True) as session:
        rows = session.scalars(select(Measurement)).all()
    assert [(m.value, m.unit, m.parameters, m.software_version) for m in rows] == [
        (13.0, "mL", {"bin": 25}, __version__)
    ]


def test_different_settings_hash_adds_a_second_row(store, upsert_path):
    with store.session() as session:
        _, _, series, roi = make_tree(session)
        record_measurements(session, [_measure(roi, series, 12.5, settings_hash="abc")])
        result = record_measurements(session, [_measure(roi, series, 11.0, settings_hash="def")])
    assert (result.inserted, result.updated) == (1, 0)
    with store.session(readonly=True) as session:
        rows = session.execute(select(Measurement.settings_hash, Measurement.value).order_by(Measurement.id)).all()
    assert [tuple(r) for r in rows] == [("abc", 12.5), ("def", 11.0)]


def test_batch_with_mappings_nan_and_duplicate_keys(store, upsert_path):
    with store.session() as session:
        _, _, series, roi = make_tree(session)
        rows = [
            {"roi_id": roi.id, "series_id": series.id, "name": f"f{i}", "value": float(i), "unit": "HU"}
            for i in range(600)  # more than one key chunk
        ]
        rows.append({"roi_id": roi.id, "series_id": series.id, "name": "f0", "value": math.nan})  # last one wins
        result = record_measurements(session, rows)
        assert (result.inserted, result.updated) == (600, 0)
        again = record_measurements(session, rows)
        assert (again.inserted, again.updated) == (0, 600)
    with store.session(readonly=True) as session:
        assert session.scalar(select(Measurement.value).where(Measurement.name == "f0")) is None
        assert session.scalar(select(Measurement.value).where(Measurement.name == "f599")) == 599.0
    assert row_counts(store)["measurements"] == 600


def test_failing_subject_is_recorded_and_the_others_continue(store):
    with store.session() as session:
        patients = [upsert_subject(session, p) for p in ("P1", "P2", "P3")]
        run = start_run(session, "imagebio radiomics", {"preset": "ibsi"})
    for subject in patients:
        with store.session() as session:
            mark_subject(session, run, subject, "running")
        try:
            with store.session() as session:  # the subject's work: all or nothing
                _, _, series, roi = make_tree(session, subject.patient_id, f"9.{subject.id}", f"9.{subject.id}.1")
                record_measurements(session, [_measure(roi, series, 1.0)])
                if subject.patient_id == "P2":
                    raise ValueError("mask is empty in series 9.2.1")
        except ValueError as exc:
            with store.session() as session:
                mark_subject(session, run, subject, "failed", error=str(exc))
        else:
            with store.session() as session:
                mark_subject(session, run, subject, "done")
    with store.session() as session:
        finished = finish_run(session, run)
    assert finished.status == "partial"
    assert finished.finished_at is not None and finished.finished_at >= finished.started_at
    with store.session(readonly=True) as session:
        items = session.execute(
            select(Subject.patient_id, RunSubject.status, RunSubject.error)
            .join(Subject, RunSubject.subject_id == Subject.id)
            .order_by(Subject.patient_id)
        ).all()
        stored_run = session.get(Run, run.id)
        assert stored_run.parameters == {"preset": "ibsi"}
        assert stored_run.software_version == __version__
    assert [tuple(i) for i in items] == [
        ("P1", "done", None),
        ("P2", "failed", "mask is empty in series 9.2.1"),
        ("P3", "done", None),
    ]
    # The failed subject's measurement was rolled back with its transaction; the others are stored.
    assert row_counts(store)["measurements"] == 2


def test_rerun_of_a_failed_subject_clears_its_error_and_finishes_done(store):
    with store.session() as session:
        subject = upsert_subject(session, "P1")
        run = start_run(session, "imagebio pet")
        mark_subject(session, run, subject, "failed", error="no PatientWeight")
        assert finish_run(session, run).status == "failed"
    with store.session() as session:
        item = mark_subject(session, run.id, subject.id, "done")
        assert (item.error, item.status) == (None, "done")
        assert finish_run(session, run.id).status == "done"
    assert row_counts(store)["run_subjects"] == 1
    with store.session() as session, pytest.raises(InvalidParameterError, match="status"):
        mark_subject(session, run, subject, "finished")


def test_concurrent_writers_of_the_same_keys_neither_fail_nor_duplicate(tmp_path):
    import threading

    if TEST_DB_URL:
        _reset(TEST_DB_URL)
    path = TEST_DB_URL or tmp_path / "shared.db"
    open_store(path).close()
    errors: list[BaseException] = []

    def worker(offset: float) -> None:
        store = open_store(path)  # its own engine and connections, like a second process
        try:
            for i in range(15):
                with store.session() as session:
                    _, _, series, roi = make_tree(session)
                    record_measurements(session, [_measure(roi, series, offset + i)])
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=worker, args=(100.0 * k,)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    check = open_store(path)
    counts = row_counts(check)
    check.close()
    assert {k: counts[k] for k in ("subjects", "timepoints", "series", "rois", "measurements")} == {
        "subjects": 1, "timepoints": 1, "series": 1, "rois": 1, "measurements": 1,
    }


def test_parameters_are_stored_as_plain_json_and_hashed_stably(store):
    import numpy as np

    settings = {"bin_width": np.float64(25.0), "spacing_mm": np.array([1.0, 1.0, 1.0]), "n": np.int64(3)}
    same_in_other_order = {"n": 3, "spacing_mm": [1.0, 1.0, 1.0], "bin_width": 25.0}
    assert writers.hash_settings(settings) == writers.hash_settings(same_in_other_order)
    assert writers.hash_settings(settings) != writers.hash_settings({**same_in_other_order, "n": 4})
    with store.session() as session:
        _, _, series, roi = make_tree(session)
        record_measurements(session, [MeasurementRow(roi.id, series.id, "energy", 1.0, parameters=settings,
                                                     settings_hash=writers.hash_settings(settings))])
        with pytest.raises(InvalidParameterError, match="JSON-serialisable"):
            start_run(session, "x", {"callback": object()})
    with store.session(readonly=True) as session:
        stored = session.scalars(select(Measurement)).one()
    assert stored.parameters == same_in_other_order
    assert stored.settings_hash == writers.hash_settings(same_in_other_order)
