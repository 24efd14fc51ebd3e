"""Small read helpers over the study store, used by the command line and reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from imagebio.store.models import Measurement, Roi, Run, RunSubject, Series, Subject, Timepoint

if TYPE_CHECKING:  # pandas is imported only when a frame is asked for
    import pandas as pd

__all__ = [
    "SubjectSummary",
    "SeriesSummary",
    "list_subjects",
    "list_series",
    "measurements_frame",
    "run_subjects",
    "latest_run",
    "MEASUREMENT_COLUMNS",
]

MEASUREMENT_COLUMNS = [
    "subject",
    "timepoint",
    "days_since_baseline",
    "series",
    "modality",
    "roi",
    "lesion_id",
    "name",
    "value",
    "unit",
    "method",
    "settings_hash",
    "software_version",
    "created_at",
]


@dataclass(frozen=True)
class SubjectSummary:
    """A subject with how many timepoints, series and measurements the store holds for it."""

    patient_id: str
    project: str | None
    n_timepoints: int
    n_series: int
    n_measurements: int


@dataclass(frozen=True)
class SeriesSummary:
    """A series with the subject and timepoint it belongs to."""

    patient_id: str
    timepoint: str | None
    study_datetime: object
    series_instance_uid: str
    modality: str | None
    description: str | None
    kind: str
    n_files: int
    path: str | None


def list_subjects(session: Session, project: str | None = None) -> list[SubjectSummary]:
    """Every subject (optionally of one ``project``) with its counts, ordered by PatientID."""
    n_timepoints = (
        select(func.count(Timepoint.id)).where(Timepoint.subject_id == Subject.id).correlate(Subject).scalar_subquery()
    )
    n_series = (
        select(func.count(Series.id))
        .join(Timepoint, Series.timepoint_id == Timepoint.id)
        .where(Timepoint.subject_id == Subject.id)
        .correlate(Subject)
        .scalar_subquery()
    )
    n_measurements = (
        select(func.count(Measurement.id))
        .join(Roi, Measurement.roi_id == Roi.id)
        .where(Roi.subject_id == Subject.id)
        .correlate(Subject)
        .scalar_subquery()
    )
    stmt = select(Subject.patient_id, Subject.project, n_timepoints, n_series, n_measurements).order_by(
        Subject.patient_id
    )
    if project is not None:
        stmt = stmt.where(Subject.project == project)
    return [SubjectSummary(*row) for row in session.execute(stmt)]


def list_series(
    session: Session, subject: str | None = None, modality: str | None = None, kind: str | None = None
) -> list[SeriesSummary]:
    """Series, optionally of one subject (PatientID), modality or kind, ordered by subject and study date."""
    stmt = (
        select(
            Subject.patient_id,
            Timepoint.label,
            Timepoint.study_datetime,
            Series.series_instance_uid,
            Series.modality,
            Series.description,
            Series.kind,
            Series.n_files,
            Series.path,
        )
        .join(Timepoint, Series.timepoint_id == Timepoint.id)
        .join(Subject, Timepoint.subject_id == Subject.id)
        .order_by(Subject.patient_id, Timepoint.study_datetime, Series.id)
    )
    if subject is not None:
        stmt = stmt.where(Subject.patient_id == subject)
    if modality is not None:
        stmt = stmt.where(func.upper(Series.modality) == modality.upper())
    if kind is not None:
        stmt = stmt.where(Series.kind == kind)
    return [SeriesSummary(*row) for row in session.execute(stmt)]


def measurements_frame(
    session: Session,
    subject: str | None = None,
    name: str | None = None,
    method: str | None = None,
) -> pd.DataFrame:
    """Measurements in long format, one row per value.

    Columns are :data:`MEASUREMENT_COLUMNS`: ``subject`` (PatientID), ``timepoint`` (label), ``series``
    (SeriesInstanceUID), ``roi`` (name), ``name`` (biomarker), ``value``, ``unit``, ``method``, and provenance.
    """
    import pandas as pd

    measured = aliased(Series)
    stmt = (
        select(
            Subject.patient_id,
            Timepoint.label,
            Timepoint.days_since_baseline,
            measured.series_instance_uid,
            measured.modality,
            Roi.name,
            Roi.lesion_id,
            Measurement.name,
            Measurement.value,
            Measurement.unit,
            Measurement.method,
            Measurement.settings_hash,
            Measurement.software_version,
            Measurement.created_at,
        )
        .join(measured, Measurement.series_id == measured.id)
        .join(Timepoint, measured.timepoint_id == Timepoint.id)
        .join(Roi, Measurement.roi_id == Roi.id)
        .join(Subject, Roi.subject_id == Subject.id)
        .order_by(Subject.patient_id, Timepoint.study_datetime, measured.id, Roi.name, Measurement.name)
    )
    if subject is not None:
        stmt = stmt.where(Subject.patient_id == subject)
    if name is not None:
        stmt = stmt.where(Measurement.name == name)
    if method is not None:
        stmt = stmt.where(Measurement.method == method)
    rows = session.execute(stmt).all()
    frame = pd.DataFrame([tuple(row) for row in rows], columns=MEASUREMENT_COLUMNS)
    frame["value"] = frame["value"].astype(float)
    return frame


def run_subjects(session: Session, run_id: int, status: str | None = None) -> list[tuple[str, str, str | None]]:
    """``(patient_id, status, error)`` of every subject of run ``run_id``, optionally only those in ``status``."""
    stmt = (
        select(Subject.patient_id, RunSubject.status, RunSubject.error)
        .join(Subject, RunSubject.subject_id == Subject.id)
        .where(RunSubject.run_id == run_id)
        .order_by(Subject.patient_id)
    )
    if status is not None:
        stmt = stmt.where(RunSubject.status == status)
    return [tuple(row) for row in session.execute(stmt)]


def latest_run(session: Session, command: str | None = None) -> Run | None:
    """The most recently started run, optionally of one ``command``."""
    stmt = select(Run).order_by(Run.started_at.desc(), Run.id.desc()).limit(1)
    if command is not None:
        stmt = stmt.where(Run.command == command)
    return session.scalars(stmt).first()

