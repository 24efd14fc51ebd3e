"""Ingesting a DICOM folder: rows written, idempotent reruns, interrupted ingests completed, junk reported."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import datetime

from sqlalchemy import select

from imagebio.store import ingest_folder, open_store
from imagebio.store.models import Series, Subject, Timepoint

from .conftest import row_counts
from .dicom_cohort import SLICES_PER_SERIES, uid, write_cohort


def test_ingest_writes_subjects_timepoints_and_series(store, cohort):
    calls = []
    report = ingest_folder(cohort.root, store, progress=lambda done, total: calls.append((done, total)))
    assert (report.subjects_new, report.timepoints_new, report.series_new) == (2, 4, 8)
    assert (report.files_new, report.files_existing, report.series_existing) == (cohort.n_files, 0, 0)
    assert sorted(s.path.name for s in report.skipped) == ["notes.txt", "truncated.dcm"]
    assert calls == [(i, cohort.n_series) for i in range(1, cohort.n_series + 1)]
    assert "8 new series (24 files)" in report.summary() and "2 files skipped" in report.summary()
    counts = row_counts(store)
    assert (counts["subjects"], counts["timepoints"], counts["series"]) == (2, 4, 8)
    with store.session(readonly=True) as session:
        subject = session.scalars(select(Subject).where(Subject.patient_id == "SUBJ-A")).one()
        assert (subject.sex, str(subject.birth_date)) == ("F", "1960-03-15")
        series = session.scalars(select(Series).where(Series.series_instance_uid == uid(0, 1, 1))).one()
        assert (series.modality, series.description, series.kind, series.n_files) == (
            "MR", "T1w", "image", SLICES_PER_SERIES
        )
        assert series.frame_of_reference_uid == uid(0, 1, 0, 0)
        assert series.path == str(cohort.root / "SUBJ-A" / "study1" / "series1")


def test_timepoints_are_labelled_in_date_order(store, cohort):
    ingest_folder(cohort.root, store)
    with store.session(readonly=True) as session:
        rows = session.execute(
            select(Subject.patient_id, Timepoint.study_instance_uid, Timepoint.study_datetime, Timepoint.label,
                   Timepoint.days_since_baseline)
            .join(Subject).order_by(Subject.patient_id, Timepoint.study_datetime)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("SUBJ-A", uid(0, 0), datetime(2024, 1, 10, 9, 30), "baseline", 0),
        ("SUBJ-A", uid(0, 1), datetime(2024, 2, 21, 14, 0), "follow-up 1", 42),
        ("SUBJ-B", uid(1, 0), datetime(2024, 1, 10, 9, 30), "baseline", 0),
        ("SUBJ-B", uid(1, 1), datetime(2024, 2, 21, 14, 0), "follow-up 1", 42),
    ]


def test_an_earlier_study_ingested_later_becomes_the_baseline(store, tmp_path):
    cohort = write_cohort(tmp_path / "dicom", subjects=("SUBJ-A",), junk=False)
    ingest_folder(cohort.root / "SUBJ-A" / "study1", store)
    with store.session(readonly=True) as session:
        assert session.execute(select(Timepoint.label, Timepoint.days_since_baseline)).one() == ("baseline", 0)
    ingest_folder(cohort.root, store)
    with store.session(readonly=True) as session:
        labels = session.execute(
            select(Timepoint.study_instance_uid, Timepoint.label, Timepoint.days_since_baseline)
            .order_by(Timepoint.study_instance_uid)
        ).all()
    assert [tuple(r) for r in labels] == [(uid(0, 0), "baseline", 0), (uid(0, 1), "follow-up 1", 42)]


def test_study_without_time_is_dated_and_without_date_is_unlabelled(store, tmp_path):
    import pydicom

    cohort = write_cohort(tmp_path / "dicom", subjects=("SUBJ-A",), junk=False)
    for study, drop in (("study0", ("StudyTime",)), ("study1", ("StudyDate", "StudyTime"))):
        for file in (cohort.root / "SUBJ-A" / study).rglob("*.dcm"):
            ds = pydicom.dcmread(file)
            for keyword in drop:
                delattr(ds, keyword)
            ds.save_as(file)
    ingest_folder(cohort.root, store)
    with store.session(readonly=True) as session:
        rows = session.execute(
            select(Timepoint.study_instance_uid, Timepoint.study_datetime, Timepoint.label,
                   Timepoint.days_since_baseline).order_by(Timepoint.study_instance_uid)
        ).all()
    assert [tuple(r) for r in rows] == [
        (uid(0, 0), datetime(2024, 1, 10), "baseline", 0),
        (uid(0, 1), None, None, None),
    ]


def test_reingesting_the_same_folder_changes_no_row_count(store, cohort):
    ingest_folder(cohort.root, store)
    before = row_counts(store)
    report = ingest_folder(cohort.root, store)
    assert row_counts(store) == before
    assert (report.series_new, report.series_existing) == (0, cohort.n_series)
    assert (report.files_new, report.files_existing, report.files_skipped) == (0, cohort.n_files, 2)
    assert (report.subjects_new, report.timepoints_new) == (0, 0)


def test_series_without_patient_id_is_reported_not_stored(store, tmp_path):
    import pydicom

    cohort = write_cohort(tmp_path / "dicom", subjects=("SUBJ-A",), junk=False)
    for file in (cohort.root / "SUBJ-A" / "study0" / "series0").iterdir():
        ds = pydicom.dcmread(file)
        ds.PatientID = ""
        ds.save_as(file)
    report = ingest_folder(cohort.root, store)
    assert report.series_new == cohort.n_series - 1
    assert len(report.skipped) == SLICES_PER_SERIES
    assert all("no PatientID" in s.reason for s in report.skipped)


_INTERRUPTED_INGEST = textwrap.dedent(
    """
    import sys, time
    import imagebio.store.ingest as ingest
    from imagebio.store import open_store

    real_upsert_series = ingest.upsert_series
    calls = 0

    def slow_upsert_series(*args, **kwargs):
        # Write the third series, then stall before its transaction commits: the kill lands mid-transaction.
        global calls
        calls += 1
        row = real_upsert_series(*args, **kwargs)
        if calls == 3:
            print("in-flight", flush=True)
            time.sleep(120)
        return row

    ingest.upsert_series = slow_upsert_series
    ingest.ingest_folder(sys.argv[2], open_store(sys.argv[1]))
    """
)


def test_killed_ingest_loses_only_the_series_in_flight_and_a_rerun_completes_it(tmp_path, cohort):
    clean = open_store(tmp_path / "clean.db")
    ingest_folder(cohort.root, clean)
    expected = row_counts(clean)
    clean.close()

    db = tmp_path / "killed.db"
    child = subprocess.Popen(
        [sys.executable, "-c", _INTERRUPTED_INGEST, str(db), str(cohort.root)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = child.stdout.readline()
        assert line.strip() == "in-flight", child.stderr.read()
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL

    store = open_store(db)
    try:
        interrupted = row_counts(store)
        # Two series committed; the third, and the new timepoint written with it, rolled back together.
        assert (interrupted["subjects"], interrupted["timepoints"], interrupted["series"]) == (1, 1, 2)
        with store.session(readonly=True) as session:
            # Nothing half-written: every stored timepoint has its series.
            assert all(tp.series for tp in session.scalars(select(Timepoint)))
        report = ingest_folder(cohort.root, store)
        assert (report.series_existing, report.series_new) == (2, cohort.n_series - 2)
        assert row_counts(store) == expected
    finally:
        store.close()
