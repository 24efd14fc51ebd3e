"""Ingest a DICOM folder into the study store: Subject, Timepoint and Series rows.

Each series is written in its own transaction, so an interrupted ingest loses at most the series in flight and
running it again completes the rest without duplicating anything (rows are found by their DICOM UIDs).
Files that are not DICOM or are truncated are listed in the report, never raised.

A subject's timepoints are labelled in study-date order ``"baseline"``, ``"follow-up 1"``, ``"follow-up 2"``...
with ``days_since_baseline`` counted in calendar days between study dates; the labels are recomputed whenever a
study of that subject is ingested, so an earlier study found later becomes the baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from imagebio.errors import ImagebioError, StoreError
from imagebio.io.dicom import DicomSeries, SkippedFile, dicom_datetime, scan_folder
from imagebio.store.models import SERIES_KINDS, Series, Subject, Timepoint
from imagebio.store.session import Store
from imagebio.store.writers import upsert_series, upsert_subject, upsert_timepoint

__all__ = ["IngestReport", "ingest_folder", "label_timepoints", "BASELINE_LABEL"]

BASELINE_LABEL = "baseline"

_KIND_BY_MODALITY = {"RTDOSE": "rtdose", "RTPLAN": "rtplan", "SR": "sr", "REG": "reg", "SEG": "seg"}


@dataclass
class IngestReport:
    """What :func:`ingest_folder` found and wrote.

    File counts are per series: ``files_new`` are the files of series that were not stored before (or the extra
    files of a stored series that grew), ``files_existing`` those of series already stored; ``skipped`` lists
    files that are not usable DICOM or whose series could not be stored, with the reason.
    """

    folder: Path
    subjects_new: int = 0
    timepoints_new: int = 0
    series_new: int = 0
    series_existing: int = 0
    files_new: int = 0
    files_existing: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)

    @property
    def files_skipped(self) -> int:
        return len(self.skipped)

    def summary(self) -> str:
        """One line for the command line."""
        return (
            f"{self.folder}: {self.series_new} new series ({self.files_new} files), "
            f"{self.series_existing} already stored ({self.files_existing} files), "
            f"{self.files_skipped} files skipped; "
            f"{self.subjects_new} new subjects, {self.timepoints_new} new timepoints"
        )


def ingest_folder(
    path: str | Path,
    store: Store,
    progress: Callable[[int, int], None] | None = None,
    *,
    project: str | None = None,
) -> IngestReport:
    """Scan ``path`` for DICOM series and record their subjects, studies and series in ``store``.

    Parameters
    ----------
    path : str or Path
        Folder (scanned recursively) or a single DICOM file.
    store : Store
        An opened store (:func:`imagebio.store.open_store`).
    progress : callable, optional
        Called as ``progress(done, total)`` after each series is committed.
    project : str, optional
        Cohort or project name set on the subjects found.

    Returns
    -------
    IngestReport

    Raises
    ------
    StoreError
        When the database itself fails (locked, disk full, connection lost); series committed before remain.
    """
    folder = Path(path).expanduser().resolve()
    scan = scan_folder(folder)
    report = IngestReport(folder=folder, skipped=list(scan.skipped))
    total = len(scan.series)
    for done, series in enumerate(scan.series, start=1):
        problem = _problem_of(series)
        if problem is not None:
            report.skipped.extend(SkippedFile(f, problem) for f in series.files)
        else:
            try:
                with store.session() as session:
                    _write_series(session, series, report, project)
            except ImagebioError as exc:
                # A conflict in the data (e.g. one study UID under two patients) skips that series only.
                report.skipped.extend(SkippedFile(f, f"series {series.series_uid}: {exc}") for f in series.files)
            except SQLAlchemyError as exc:
                raise StoreError(
                    f"store {store.display_url}: writing series {series.series_uid} from {series.folder} failed: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
        if progress is not None:
            progress(done, total)
    return report


def _problem_of(series: DicomSeries) -> str | None:
    if not series.patient_id.strip():
        return "no PatientID (0010,0020); cannot assign the series to a subject"
    if not series.study_uid:
        return "no StudyInstanceUID (0020,000D); cannot assign the series to a timepoint"
    return None


def _kind_of(series: DicomSeries) -> str:
    kind = series.kind
    if kind == "other":
        kind = _KIND_BY_MODALITY.get(series.modality.upper(), "other")
    return kind if kind in SERIES_KINDS else "other"


def _study_datetime(series: DicomSeries) -> datetime | None:
    when = series.study_datetime
    if when is None:
        # A study date without a time still orders the timepoints.
        when = dicom_datetime(series.first.get("StudyDate"), "000000")
    return when


def _birth_date(value: object) -> date | None:
    when = dicom_datetime(value, "000000")
    return None if when is None else when.date()


def _exists(session: Session, column, value: str) -> bool:
    return session.scalar(select(column).where(column == value)) is not None


def _write_series(session: Session, series: DicomSeries, report: IngestReport, project: str | None) -> None:
    first = series.first
    n_files = len(series.files)
    subject_new = not _exists(session, Subject.patient_id, series.patient_id)
    timepoint_new = not _exists(session, Timepoint.study_instance_uid, series.study_uid)
    stored = session.scalars(select(Series).where(Series.series_instance_uid == series.series_uid)).one_or_none()
    n_before = 0 if stored is None else stored.n_files

    subject = upsert_subject(
        session,
        series.patient_id,
        sex=str(first.get("PatientSex", "") or "") or None,
        birth_date=_birth_date(first.get("PatientBirthDate")),
        project=project,
    )
    timepoint = upsert_timepoint(
        session,
        subject,
        series.study_uid,
        study_datetime=_study_datetime(series),
        description=str(first.get("StudyDescription", "") or "") or None,
    )
    upsert_series(
        session,
        timepoint,
        series.series_uid,
        modality=series.modality or None,
        description=series.description or None,
        frame_of_reference_uid=series.frame_of_reference_uid or None,
        sop_class_uid=series.sop_class_uid or None,
        n_files=max(n_files, n_before),
        path=str(series.folder),
        kind=_kind_of(series),
    )
    label_timepoints(session, subject)

    report.subjects_new += subject_new
    report.timepoints_new += timepoint_new
    if stored is None:
        report.series_new += 1
        report.files_new += n_files
    else:
        report.series_existing += 1
        report.files_existing += min(n_files, n_before)
        report.files_new += max(n_files - n_before, 0)


def label_timepoints(session: Session, subject: Subject) -> None:
    """Label ``subject``'s timepoints by study date: ``baseline``, ``follow-up 1``, ... and days since baseline.

    Timepoints without a study date get no label and no day count.
    """
    timepoints = session.scalars(select(Timepoint).where(Timepoint.subject_id == subject.id)).all()
    dated = sorted(
        (tp for tp in timepoints if tp.study_datetime is not None),
        key=lambda tp: (tp.study_datetime, tp.study_instance_uid),
    )
    for tp in timepoints:
        if tp.study_datetime is None:
            tp.label = None
            tp.days_since_baseline = None
    if not dated:
        return
    baseline_day = dated[0].study_datetime.date()
    for index, tp in enumerate(dated):
        tp.label = BASELINE_LABEL if index == 0 else f"follow-up {index}"
        tp.days_since_baseline = (tp.study_datetime.date() - baseline_day).days
    session.flush()
