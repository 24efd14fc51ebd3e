"""SQLAlchemy models of the study store: Subject ─ Timepoint ─ Series ─ ROI ─ Measurement, and Run provenance.

The schema is created and evolved only by the Alembic migrations shipped in ``imagebio/store/migrations``;
``tests/store/test_migrations.py`` checks that these models and the migrations agree.

Conventions
-----------
* Natural DICOM keys (``PatientID``, ``StudyInstanceUID``, ``SeriesInstanceUID``) are unique, so ingesting the
  same files twice finds the existing rows instead of adding new ones.
* ``Measurement`` is unique on ``(roi_id, series_id, name, method, settings_hash)``: recomputing a biomarker with
  the same settings updates the value; changing a setting (hence its hash) adds a new row beside the old one.
* Timestamps of record keeping (``created_at``, ``started_at``...) are timezone-aware UTC; DICOM study date/time
  is kept as the naive local time written in the header (DICOM gives no time zone in general).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

__all__ = [
    "Base",
    "Subject",
    "Timepoint",
    "Series",
    "Roi",
    "Measurement",
    "Run",
    "RunSubject",
    "RunTask",
    "SERIES_KINDS",
    "RUN_STATUSES",
    "RUN_SUBJECT_STATUSES",
    "RUN_TASK_STATUSES",
    "utcnow",
]

# Deterministic constraint names so that later migrations (and SQLite batch mode) can address them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SERIES_KINDS = ("image", "seg", "rtstruct", "rtdose", "rtplan", "sr", "reg", "other")
RUN_STATUSES = ("running", "done", "partial", "failed")
RUN_SUBJECT_STATUSES = ("pending", "running", "done", "failed")
RUN_TASK_STATUSES = ("pending", "running", "done", "failed", "skipped")


def utcnow() -> datetime:
    """The current time as a timezone-aware UTC datetime."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    SQLite keeps no time zone, so values are stored as naive UTC there and given back their ``tzinfo`` on read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given for a UTC timestamp; pass a timezone-aware value")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    """Declarative base of every store table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Subject(Base):
    """A patient (or phantom), identified by its DICOM ``PatientID``."""

    __tablename__ = "subjects"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(64), unique=True)
    sex: Mapped[str | None] = mapped_column(String(16))
    birth_date: Mapped[date | None] = mapped_column(Date)
    project: Mapped[str | None] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    timepoints: Mapped[list[Timepoint]] = relationship(
        back_populates="subject", cascade="all, delete-orphan", passive_deletes=True, order_by="Timepoint.id"
    )
    rois: Mapped[list[Roi]] = relationship(back_populates="subject", cascade="all, delete-orphan", passive_deletes=True)

    def __repr__(self) -> str:
        return f"Subject(id={self.id!r}, patient_id={self.patient_id!r})"


class Timepoint(Base):
    """One imaging visit of a subject: a DICOM study.

    ``label`` is ``"baseline"``, ``"follow-up 1"``, ... in study-date order, and ``days_since_baseline`` the number
    of calendar days from the baseline study date (both ``None`` for a study without a date).
    """

    __tablename__ = "timepoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_instance_uid: Mapped[str] = mapped_column(String(64), unique=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), index=True)
    study_datetime: Mapped[datetime | None] = mapped_column(DateTime(timezone=False))
    description: Mapped[str | None] = mapped_column(String(256))
    label: Mapped[str | None] = mapped_column(String(64))
    days_since_baseline: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    subject: Mapped[Subject] = relationship(back_populates="timepoints")
    series: Mapped[list[Series]] = relationship(
        back_populates="timepoint", cascade="all, delete-orphan", passive_deletes=True, order_by="Series.id"
    )

    def __repr__(self) -> str:
        return f"Timepoint(id={self.id!r}, label={self.label!r}, study_instance_uid={self.study_instance_uid!r})"


class Series(Base):
    """One DICOM series of a timepoint: an image, a segmentation, an RT structure set...

    ``path`` is the folder holding the series files and ``n_files`` how many files it has (slices for a
    single-frame image series).
    """

    __tablename__ = "series"
    __table_args__ = (CheckConstraint(_one_of("kind", SERIES_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    series_instance_uid: Mapped[str] = mapped_column(String(64), unique=True)
    timepoint_id: Mapped[int] = mapped_column(ForeignKey("timepoints.id", ondelete="CASCADE"), index=True)
    modality: Mapped[str | None] = mapped_column(String(16), index=True)
    description: Mapped[str | None] = mapped_column(String(256))
    frame_of_reference_uid: Mapped[str | None] = mapped_column(String(64))
    sop_class_uid: Mapped[str | None] = mapped_column(String(64))
    n_files: Mapped[int] = mapped_column(Integer, default=0)
    path: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default="image")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    timepoint: Mapped[Timepoint] = relationship(back_populates="series")

    def __repr__(self) -> str:
        return f"Series(id={self.id!r}, modality={self.modality!r}, series_instance_uid={self.series_instance_uid!r})"


class Roi(Base):
    """A region of interest (organ, lesion, reference region) of a subject.

    It belongs to the subject and, when known, to the timepoint and image series it was drawn on.
    ``lesion_id`` is the tracking identifier that links the same lesion across timepoints; ``source_series_id``
    / ``source_path`` say which SEG/RTSTRUCT series or mask file it was read from and ``label`` its segment number
    or label value there.
    """

    __tablename__ = "rois"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), index=True)
    timepoint_id: Mapped[int | None] = mapped_column(ForeignKey("timepoints.id", ondelete="CASCADE"), index=True)
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    label: Mapped[int | None] = mapped_column(Integer)
    lesion_id: Mapped[str | None] = mapped_column(String(64), index=True)
    organ: Mapped[str | None] = mapped_column(String(64))
    source_series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id", ondelete="SET NULL"))
    source_path: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    subject: Mapped[Subject] = relationship(back_populates="rois")
    timepoint: Mapped[Timepoint | None] = relationship(foreign_keys=[timepoint_id])
    series: Mapped[Series | None] = relationship(foreign_keys=[series_id])
    source_series: Mapped[Series | None] = relationship(foreign_keys=[source_series_id])

    def __repr__(self) -> str:
        return f"Roi(id={self.id!r}, name={self.name!r}, lesion_id={self.lesion_id!r})"


class Measurement(Base):
    """One biomarker value of one ROI on one series, with the provenance needed to reproduce it.

    ``value`` is ``None`` where the biomarker is undefined (NaN): SQLite cannot store NaN. ``created_at`` is when
    the value was (last) computed: a rerun with the same key replaces value, provenance and time.
    """

    __tablename__ = "measurements"
    __table_args__ = (UniqueConstraint("roi_id", "series_id", "name", "method", "settings_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    roi_id: Mapped[int] = mapped_column(ForeignKey("rois.id", ondelete="CASCADE"))
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(64), default="")
    parameters: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    settings_hash: Mapped[str] = mapped_column(String(64), default="")
    software_version: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    roi: Mapped[Roi] = relationship()
    series: Mapped[Series] = relationship()

    def __repr__(self) -> str:
        return f"Measurement(id={self.id!r}, name={self.name!r}, value={self.value!r}, unit={self.unit!r})"


class Run(Base):
    """One invocation of an imagebio command that writes measurements (its command line and settings)."""

    __tablename__ = "runs"
    __table_args__ = (CheckConstraint(_one_of("status", RUN_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    command: Mapped[str] = mapped_column(Text)
    parameters: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    software_version: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    items: Mapped[list[RunSubject]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True, order_by="RunSubject.id"
    )

    def __repr__(self) -> str:
        return f"Run(id={self.id!r}, command={self.command!r}, status={self.status!r})"


class RunSubject(Base):
    """The state of one subject within a run, so that a failed subject is recorded and a rerun can resume."""

    __tablename__ = "run_subjects"
    __table_args__ = (
        UniqueConstraint("run_id", "subject_id"),
        CheckConstraint(_one_of("status", RUN_SUBJECT_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    run: Mapped[Run] = relationship(back_populates="items")
    subject: Mapped[Subject] = relationship()

    def __repr__(self) -> str:
        return f"RunSubject(run_id={self.run_id!r}, subject_id={self.subject_id!r}, status={self.status!r})"


class RunTask(Base):
    """One task of a cohort pipeline run: one analysis of one subject (and time point) with one settings hash.

    ``task_key`` identifies the work independently of the run (subject, time point, analysis kind and settings
    hash), so a later run finds that a task was already ``done`` with the same ``software_version`` and skips it.
    A task's measurements and its ``done`` status are committed in one transaction.
    """

    __tablename__ = "run_tasks"
    __table_args__ = (
        UniqueConstraint("run_id", "task_key"),
        CheckConstraint(_one_of("status", RUN_TASK_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    task_key: Mapped[str] = mapped_column(String(64), index=True)
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), index=True)
    timepoint_id: Mapped[int | None] = mapped_column(ForeignKey("timepoints.id", ondelete="CASCADE"))
    analysis: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(64))
    settings_hash: Mapped[str] = mapped_column(String(64))
    software_version: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str | None] = mapped_column(Text)
    n_values: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    def __repr__(self) -> str:
        return f"RunTask(run_id={self.run_id!r}, analysis={self.analysis!r}, status={self.status!r})"
