"""Idempotent writers of the study store.

Every writer works inside the caller's transaction (``with store.session() as s: ...``) and never commits, so a
unit of work (one series, one subject's measurements) is saved whole or not at all. Calling a writer again with
the same natural key finds and updates the existing row instead of adding another: rerunning an ingest or a
computation never duplicates rows.

Upsert rule for keyword fields: a value given overwrites the stored one; ``None`` (the default) leaves it as is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import PurePath
from typing import Any

from sqlalchemy import and_, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from imagebio import __version__
from imagebio.errors import InvalidParameterError, StoreError
from imagebio.store.models import (
    RUN_STATUSES,
    RUN_SUBJECT_STATUSES,
    SERIES_KINDS,
    Measurement,
    Roi,
    Run,
    RunSubject,
    Series,
    Subject,
    Timepoint,
    utcnow,
)

__all__ = [
    "MeasurementRow",
    "MeasurementWrite",
    "hash_settings",
    "upsert_subject",
    "upsert_timepoint",
    "upsert_series",
    "upsert_roi",
    "record_measurements",
    "start_run",
    "mark_subject",
    "finish_run",
]

# SQLite allows 32766 bound parameters per statement; 5 key columns per row.
_KEY_CHUNK = 500


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _jsonable(parameters: Mapping[str, Any] | None, what: str) -> dict[str, Any] | None:
    """Parameters as plain JSON types (numpy numbers, paths, dataclasses converted), or a clear error."""
    if parameters is None:
        return None
    try:
        return json.loads(json.dumps(dict(parameters), default=_json_default, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(what, parameters, f"a JSON-serialisable mapping ({exc})") from None


def hash_settings(parameters: Mapping[str, Any]) -> str:
    """A stable 16-hex-digit hash of settings, for ``MeasurementRow.settings_hash``.

    Keys are sorted and numpy values converted first, so equal settings always give the same hash.
    """
    canonical = json.dumps(_jsonable(parameters, "parameters"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _set_given(row: object, **values: Any) -> None:
    for name, value in values.items():
        if value is not None:
            setattr(row, name, value)


def _insert_or_get(session: Session, row: Any, lookup) -> Any:
    """Insert ``row`` under a savepoint; when a concurrent writer inserted the same key first, return theirs."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        existing = lookup()
        if existing is None:
            raise
        return existing
    return row


def upsert_subject(
    session: Session,
    patient_id: str,
    *,
    sex: str | None = None,
    birth_date: date | None = None,
    project: str | None = None,
) -> Subject:
    """Find or create the subject with this ``PatientID`` and update the given fields.

    Parameters
    ----------
    session : Session
        An open session inside a transaction.
    patient_id : str
        DICOM PatientID (0010,0020); must not be empty.
    sex : str, optional
        DICOM PatientSex (``"M"``, ``"F"``, ``"O"``).
    birth_date : date, optional
    project : str, optional
        Cohort or project name.
    """
    if not patient_id or not str(patient_id).strip():
        raise InvalidParameterError("patient_id", patient_id, "a non-empty PatientID")

    def lookup() -> Subject | None:
        return session.scalars(select(Subject).where(Subject.patient_id == patient_id)).one_or_none()

    subject = lookup()
    if subject is None:
        subject = _insert_or_get(session, Subject(patient_id=patient_id), lookup)
    _set_given(subject, sex=sex, birth_date=birth_date, project=project)
    session.flush()
    return subject


def upsert_timepoint(
    session: Session,
    subject: Subject,
    study_instance_uid: str,
    *,
    study_datetime: datetime | None = None,
    description: str | None = None,
    label: str | None = None,
    days_since_baseline: int | None = None,
) -> Timepoint:
    """Find or create the timepoint (DICOM study) with this ``StudyInstanceUID`` for ``subject``.

    Raises
    ------
    StoreError
        When the study is already stored under another subject.
    """
    if not study_instance_uid:
        raise InvalidParameterError("study_instance_uid", study_instance_uid, "a non-empty StudyInstanceUID")

    def lookup() -> Timepoint | None:
        stmt = select(Timepoint).where(Timepoint.study_instance_uid == study_instance_uid)
        return session.scalars(stmt).one_or_none()

    timepoint = lookup()
    if timepoint is None:
        timepoint = _insert_or_get(
            session, Timepoint(study_instance_uid=study_instance_uid, subject_id=subject.id), lookup
        )
    if timepoint.subject_id != subject.id:
        owner = session.get(Subject, timepoint.subject_id)
        raise StoreError(
            f"study {study_instance_uid} is stored under PatientID {owner.patient_id if owner else '?'!r}, "
            f"not {subject.patient_id!r}; one StudyInstanceUID cannot belong to two patients"
        )
    _set_given(
        timepoint,
        study_datetime=study_datetime,
        description=description,
        label=label,
        days_since_baseline=days_since_baseline,
    )
    session.flush()
    return timepoint


def upsert_series(
    session: Session,
    timepoint: Timepoint,
    series_instance_uid: str,
    *,
    modality: str | None = None,
    description: str | None = None,
    frame_of_reference_uid: str | None = None,
    sop_class_uid: str | None = None,
    n_files: int | None = None,
    path: str | None = None,
    kind: str | None = None,
) -> Series:
    """Find or create the series with this ``SeriesInstanceUID`` in ``timepoint``.

    Parameters
    ----------
    kind : str, optional
        One of ``"image"``, ``"seg"``, ``"rtstruct"``, ``"rtdose"``, ``"rtplan"``, ``"sr"``, ``"reg"``,
        ``"other"``; a new series without one is ``"image"``.
    n_files : int, optional
        Number of files (slices of a single-frame series).
    path : str, optional
        Folder holding the series files.

    Raises
    ------
    StoreError
        When the series is already stored under another study.
    """
    if not series_instance_uid:
        raise InvalidParameterError("series_instance_uid", series_instance_uid, "a non-empty SeriesInstanceUID")
    if kind is not None and kind not in SERIES_KINDS:
        raise InvalidParameterError("kind", kind, f"one of {', '.join(SERIES_KINDS)}")

    def lookup() -> Series | None:
        return session.scalars(select(Series).where(Series.series_instance_uid == series_instance_uid)).one_or_none()

    series = lookup()
    if series is None:
        series = _insert_or_get(
            session,
            Series(series_instance_uid=series_instance_uid, timepoint_id=timepoint.id, kind=kind or "image"),
            lookup,
        )
    if series.timepoint_id != timepoint.id:
        raise StoreError(
            f"series {series_instance_uid} is stored under another study (timepoint id {series.timepoint_id}), "
            f"not {timepoint.study_instance_uid}"
        )
    _set_given(
        series,
        modality=modality,
        description=description,
        frame_of_reference_uid=frame_of_reference_uid,
        sop_class_uid=sop_class_uid,
        n_files=n_files,
        path=None if path is None else str(path),
        kind=kind,
    )
    session.flush()
    return series


def upsert_roi(
    session: Session,
    subject: Subject,
    name: str,
    *,
    timepoint: Timepoint | None = None,
    series: Series | None = None,
    label: int | None = None,
    lesion_id: str | None = None,
    organ: str | None = None,
    source_series: Series | None = None,
    source_path: str | None = None,
) -> Roi:
    """Find or create the ROI named ``name`` of ``subject`` on ``timepoint`` / ``series``.

    The identity of a ROI is (subject, timepoint, series, name); when ``series`` is given without
    ``timepoint``, the series' timepoint is used.

    Parameters
    ----------
    name : str
        ROI name as in the mask (segment label, RTSTRUCT ROIName, or a label-map name).
    label : int, optional
        Segment number or label value in the source mask.
    lesion_id : str, optional
        Tracking identifier linking the same lesion across timepoints.
    source_series, source_path : optional
        The SEG/RTSTRUCT series or mask file the ROI was read from.
    """
    if not name:
        raise InvalidParameterError("name", name, "a non-empty ROI name")
    if series is not None and timepoint is None:
        timepoint = session.get(Timepoint, series.timepoint_id)
    if timepoint is not None and timepoint.subject_id != subject.id:
        raise StoreError(
            f"ROI {name!r}: timepoint {timepoint.study_instance_uid} belongs to another subject than "
            f"{subject.patient_id!r}"
        )
    timepoint_id = None if timepoint is None else timepoint.id
    series_id = None if series is None else series.id

    def lookup() -> Roi | None:
        # Nullable columns in the identity: matched here with IS NULL since SQL UNIQUE treats NULLs as distinct.
        stmt = select(Roi).where(
            Roi.subject_id == subject.id,
            Roi.name == name,
            Roi.timepoint_id.is_(None) if timepoint_id is None else Roi.timepoint_id == timepoint_id,
            Roi.series_id.is_(None) if series_id is None else Roi.series_id == series_id,
        )
        return session.scalars(stmt.order_by(Roi.id)).first()

    roi = lookup()
    if roi is None:
        # No UNIQUE constraint can cover the nullable identity on every backend, so concurrent creators are
        # serialised on the subject row instead (SELECT ... FOR UPDATE; SQLite already holds the write lock).
        session.execute(select(Subject.id).where(Subject.id == subject.id).with_for_update())
        roi = lookup()
    if roi is None:
        roi = Roi(subject_id=subject.id, timepoint_id=timepoint_id, series_id=series_id, name=name)
        session.add(roi)
    _set_given(
        roi,
        label=label,
        lesion_id=lesion_id,
        organ=organ,
        source_series_id=None if source_series is None else source_series.id,
        source_path=None if source_path is None else str(source_path),
    )
    session.flush()
    return roi


@dataclass(frozen=True)
class MeasurementRow:
    """One biomarker value to record.

    ``(roi_id, series_id, name, method, settings_hash)`` is its key: recording the same key again replaces the
    value and provenance. ``value`` is in ``unit`` (an :mod:`imagebio.units` constant); NaN is stored as ``None``
    (undefined). ``settings_hash`` is normally :func:`hash_settings` of the settings that produced the value.
    """

    roi_id: int
    series_id: int
    name: str
    value: float | None
    unit: str | None = None
    method: str = ""
    parameters: dict[str, Any] | None = None
    settings_hash: str = ""
    software_version: str = field(default=__version__)
    run_id: int | None = None


@dataclass(frozen=True)
class MeasurementWrite:
    """How many measurement rows :func:`record_measurements` inserted and how many it updated."""

    inserted: int
    updated: int


_MEASUREMENT_FIELDS = set(MeasurementRow.__dataclass_fields__)


def _as_row(row: MeasurementRow | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(row, MeasurementRow):
        values = asdict(row)
    else:
        unknown = set(row) - _MEASUREMENT_FIELDS
        if unknown:
            raise InvalidParameterError(
                "measurement row", dict(row), f"only the keys {', '.join(sorted(_MEASUREMENT_FIELDS))}"
            )
        try:
            values = asdict(MeasurementRow(**row))
        except TypeError as exc:  # a required key is missing
            raise InvalidParameterError("measurement row", dict(row), f"every required key ({exc})") from None
    for key in ("roi_id", "series_id", "name"):
        if values[key] is None or values[key] == "":
            raise InvalidParameterError(key, values[key], "a value in every measurement row")
    for key in ("roi_id", "series_id", "run_id"):
        if values[key] is not None:
            values[key] = int(values[key])  # numpy integers do not bind as SQL integers
    value = values["value"]
    if value is not None:
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise InvalidParameterError("value", value, f"a number for measurement {values['name']!r}") from None
        values["value"] = None if math.isnan(value) else value
    values["parameters"] = _jsonable(values["parameters"], "parameters")
    values["method"] = values["method"] or ""
    values["settings_hash"] = values["settings_hash"] or ""
    return values


_KEY_FIELDS = ("roi_id", "series_id", "name", "method", "settings_hash")


def _key(values: Mapping[str, Any]) -> tuple:
    return tuple(values[name] for name in _KEY_FIELDS)


def record_measurements(
    session: Session, rows: Iterable[MeasurementRow | Mapping[str, Any]]
) -> MeasurementWrite:
    """Insert or update measurements on their key ``(roi_id, series_id, name, method, settings_hash)``.

    Parameters
    ----------
    session : Session
        An open session inside a transaction; all rows are written in it.
    rows : iterable of MeasurementRow or mapping
        Mappings take the :class:`MeasurementRow` field names. When two rows share a key, the last one wins.

    Returns
    -------
    MeasurementWrite
        Counts of inserted and updated rows.
    """
    by_key: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        values = _as_row(row)
        by_key[_key(values)] = values
    if not by_key:
        return MeasurementWrite(0, 0)
    session.flush()
    key_columns = [getattr(Measurement, name) for name in _KEY_FIELDS]
    keys = list(by_key)
    existing: set[tuple] = set()
    for start in range(0, len(keys), _KEY_CHUNK):
        chunk = keys[start : start + _KEY_CHUNK]
        stmt = select(*key_columns).where(tuple_(*key_columns).in_(chunk))
        existing.update(tuple(row) for row in session.execute(stmt))
    now = utcnow()
    records = [{**values, "created_at": now} for values in by_key.values()]
    insert = _dialect_insert(session)
    if insert is not None:
        # One INSERT ... ON CONFLICT DO UPDATE: safe against a concurrent writer of the same key.
        stmt = insert(Measurement.__table__)
        changing = [name for name in records[0] if name not in _KEY_FIELDS]
        stmt = stmt.on_conflict_do_update(
            index_elements=list(_KEY_FIELDS), set_={name: stmt.excluded[name] for name in changing}
        )
        session.execute(stmt, records)
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Measurement):
                session.expire(obj)  # loaded copies are stale after the Core statement
    else:
        for values in records:
            key = _key(values)
            if key in existing:
                session.execute(
                    update(Measurement)
                    .where(*(column == value for column, value in zip(key_columns, key, strict=True)))
                    .values(**values)
                )
            else:
                session.add(Measurement(**values))
        session.flush()
    inserted = sum(key not in existing for key in by_key)
    return MeasurementWrite(inserted, len(by_key) - inserted)


def _dialect_insert(session: Session):
    """The dialect's ``insert`` construct with ``on_conflict_do_update``, or None where it has none."""
    name = session.get_bind().dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        return None
    return insert


def start_run(session: Session, command: str, parameters: Mapping[str, Any] | None = None) -> Run:
    """Record the start of a run of ``command`` with its ``parameters`` (JSON-serialisable)."""
    run = Run(
        command=command,
        parameters=_jsonable(parameters, "parameters"),
        software_version=__version__,
        status="running",
        started_at=utcnow(),
    )
    session.add(run)
    session.flush()
    return run


def mark_subject(
    session: Session, run: Run | int, subject: Subject | int, status: str, error: str | None = None
) -> RunSubject:
    """Record the state of ``subject`` in ``run``: ``pending``, ``running``, ``done`` or ``failed``.

    Call it in its own transaction after the subject's work committed (``done``) or rolled back (``failed``,
    with the error message), so one failing subject is recorded while the others go on.
    """
    if status not in RUN_SUBJECT_STATUSES:
        raise InvalidParameterError("status", status, f"one of {', '.join(RUN_SUBJECT_STATUSES)}")
    run_id = run if isinstance(run, int) else run.id
    subject_id = subject if isinstance(subject, int) else subject.id

    def lookup() -> RunSubject | None:
        stmt = select(RunSubject).where(and_(RunSubject.run_id == run_id, RunSubject.subject_id == subject_id))
        return session.scalars(stmt).one_or_none()

    item = lookup()
    if item is None:
        item = _insert_or_get(session, RunSubject(run_id=run_id, subject_id=subject_id, status=status), lookup)
    now = utcnow()
    item.status = status
    item.error = error if status == "failed" else None
    if status == "running":
        item.started_at = now
        item.finished_at = None
    elif status in ("done", "failed"):
        item.finished_at = now
    session.flush()
    return item


def finish_run(session: Session, run: Run | int, status: str | None = None) -> Run:
    """Close ``run``: set its end time and status.

    Parameters
    ----------
    status : str, optional
        One of ``running``, ``done``, ``partial``, ``failed``. By default it follows the subjects: ``done`` when
        none failed, ``failed`` when all that finished failed, else ``partial``.
    """
    if status is not None and status not in RUN_STATUSES:
        raise InvalidParameterError("status", status, f"one of {', '.join(RUN_STATUSES)}")
    run_obj = session.get(Run, run if isinstance(run, int) else run.id)
    if run_obj is None:
        raise StoreError(f"no run with id {run}")
    if status is None:
        statuses = list(session.scalars(select(RunSubject.status).where(RunSubject.run_id == run_obj.id)))
        n_failed = statuses.count("failed")
        n_done = statuses.count("done")
        status = "done" if n_failed == 0 else ("failed" if n_done == 0 else "partial")
    run_obj.status = status
    run_obj.finished_at = utcnow()
    session.flush()
    return run_obj
