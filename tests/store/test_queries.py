"""Read helpers used by the command line."""

from __future__ import annotations

import math

from imagebio.store import MeasurementRow, ingest_folder, record_measurements, upsert_roi
from imagebio.store.models import Series, Subject
from imagebio.store.queries import (
    MEASUREMENT_COLUMNS,
    latest_run,
    list_series,
    list_subjects,
    measurements_frame,
    run_subjects,
)
from imagebio.store.writers import finish_run, mark_subject, start_run

from .dicom_cohort import uid


def _measure_ct_series(store):
    from sqlalchemy import select

    with store.session() as session:
        for series in session.scalars(select(Series).where(Series.modality == "CT")):
            subject = series.timepoint.subject
            roi = upsert_roi(session, subject, "lesion 1", series=series, lesion_id="L1")
            record_measurements(session, [
                MeasurementRow(roi.id, series.id, "volume_ml", 10.0 + series.id, "mL", method="voxel count"),
                MeasurementRow(roi.id, series.id, "mean_hu", math.nan, "HU", method="mean"),
            ])


def test_list_subjects_counts(store, cohort):
    ingest_folder(cohort.root, store, project="demo")
    _measure_ct_series(store)
    with store.session(readonly=True) as session:
        rows = list_subjects(session)
        assert list_subjects(session, project="other") == []
    assert [(r.patient_id, r.project, r.n_timepoints, r.n_series, r.n_measurements) for r in rows] == [
        ("SUBJ-A", "demo", 2, 4, 4),
        ("SUBJ-B", "demo", 2, 4, 4),
    ]


def test_list_series_filters(store, cohort):
    ingest_folder(cohort.root, store)
    with store.session(readonly=True) as session:
        assert len(list_series(session)) == 8
        mr_of_b = list_series(session, subject="SUBJ-B", modality="mr")
        assert list_series(session, kind="seg") == []
    assert [(s.patient_id, s.timepoint, s.series_instance_uid, s.n_files) for s in mr_of_b] == [
        ("SUBJ-B", "baseline", uid(1, 0, 1), 3),
        ("SUBJ-B", "follow-up 1", uid(1, 1, 1), 3),
    ]


def test_measurements_frame_is_long_format(store, cohort):
    ingest_folder(cohort.root, store)
    _measure_ct_series(store)
    with store.session(readonly=True) as session:
        frame = measurements_frame(session)
        volumes = measurements_frame(session, subject="SUBJ-A", name="volume_ml")
    assert list(frame.columns) == MEASUREMENT_COLUMNS
    assert len(frame) == 8
    assert frame["value"].isna().sum() == 4  # NaN stored as NULL comes back as NaN
    assert list(volumes["timepoint"]) == ["baseline", "follow-up 1"]
    assert list(volumes["days_since_baseline"]) == [0, 42]
    assert list(volumes["series"]) == [uid(0, 0, 0), uid(0, 1, 0)]
    assert set(volumes["roi"]) == {"lesion 1"} and set(volumes["unit"]) == {"mL"}
    assert (volumes["value"] > 10).all()


def test_run_queries(store):
    from imagebio.store import upsert_subject

    with store.session() as session:
        a, b = upsert_subject(session, "A"), upsert_subject(session, "B")
        run = start_run(session, "imagebio radiomics")
        mark_subject(session, run, a, "done")
        mark_subject(session, run, b, "failed", error="empty mask")
        finish_run(session, run)
    with store.session(readonly=True) as session:
        assert latest_run(session).id == run.id
        assert latest_run(session, command="other") is None
        assert run_subjects(session, run.id) == [("A", "done", None), ("B", "failed", "empty mask")]
        assert run_subjects(session, run.id, status="failed") == [("B", "failed", "empty mask")]
        assert session.get(Subject, a.id).patient_id == "A"
