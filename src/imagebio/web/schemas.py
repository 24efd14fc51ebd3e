"""Pydantic models of the dashboard API (they document the OpenAPI schema and validate request bodies)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field, field_validator

T = TypeVar("T")


def _utf8(value: str | None) -> str | None:
    if value is not None:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError("text must be valid Unicode (no lone surrogates)") from exc
        if "\x00" in value:
            raise ValueError("text must not contain NUL characters")
    return value


class Page(BaseModel, Generic[T]):
    """One page of a list: ``items`` from ``offset``, at most ``limit``, of ``total``."""

    items: list[T]
    total: int
    limit: int
    offset: int


class ErrorOut(BaseModel):
    detail: str


class Me(BaseModel):
    username: str
    role: str
    projects: list[str]


class SubjectOut(BaseModel):
    id: int
    patient_id: str = Field(description="PatientID (shown in pages, never used in URLs)")
    project: str
    n_timepoints: int
    n_lesions: int
    best_response: str | None = Field(None, description="Live volumetric best overall response")
    best_change_percent: float | None = Field(None, description="Best % change of the target volume sum")


class TimepointOut(BaseModel):
    id: int
    subject_id: int
    label: str | None
    days_since_baseline: int | None
    study_date: str | None
    description: str | None
    n_series: int


class SeriesOut(BaseModel):
    id: int
    timepoint_id: int
    subject_id: int
    modality: str | None
    description: str | None
    kind: str
    n_files: int


class SeriesGeometry(BaseModel):
    id: int
    n_slices: int
    rows: int
    columns: int
    spacing_mm: list[float] = Field(description="(z, y, x) mm")
    slice_positions_mm: list[float] = Field(description="patient z of each slice, mm")
    unit: str
    default_window: str
    overlays: list[str]
    has_contours: bool


class LesionOut(BaseModel):
    id: int
    subject_id: int
    timepoint_id: int | None
    timepoint: str | None
    name: str
    lesion_id: str | None = Field(description="Tracking id as stored")
    matched_lesion_id: str = Field(description="Tracking id in force (after a reader's match)")
    match_overridden_by: str | None
    organ: str | None
    volume_ml: float | None


class MeasurementOut(BaseModel):
    id: int
    roi_id: int
    roi: str
    series_id: int
    timepoint_id: int | None
    name: str
    value: float | None
    unit: str | None
    method: str
    parameters: dict[str, Any] | None
    run_id: int | None


class ResponseOut(BaseModel):
    subject_id: int
    live: dict[str, Any] = Field(description="criteria → live assessment with overrides applied")
    stored: list[dict[str, Any]] = Field(description="categories recorded by response runs")
    overrides: list[dict[str, Any]]


class RunOut(BaseModel):
    id: int
    command: str
    status: str
    software_version: str
    started_at: str | None
    finished_at: str | None
    n_subjects: int
    n_failed: int


class OverrideOut(BaseModel):
    id: int
    kind: str
    subject_id: int
    roi_id: int | None
    lesion_id: str | None
    timepoint_id: int | None
    criteria: str | None
    category: str | None
    reason: str
    user: str
    created_at: str


class AuditOut(BaseModel):
    id: int
    at: str
    user: str | None
    action: str
    method: str | None
    path: str | None
    status: int | None


class MatchIn(BaseModel):
    lesion_id: str | None = Field(None, max_length=64, description="Tracked lesion this ROI is; null = new lesion")
    reason: str = Field(min_length=1, max_length=2000)

    _check = field_validator("lesion_id", "reason")(classmethod(lambda cls, v: _utf8(v)))


class CategoryIn(BaseModel):
    criteria: str = Field(min_length=1, max_length=32)
    category: str | None = Field(None, max_length=32, description="null withdraws the override")
    reason: str = Field(min_length=1, max_length=2000)

    _check = field_validator("criteria", "category", "reason")(classmethod(lambda cls, v: _utf8(v)))
