"""Reader overrides (lesion matches, response categories): recording them and reading the ones in force.

Response code calls :func:`response_overrides` before assessing a subject so that a rerun keeps what a reader
decided: a ``lesion_match`` replaces the lesion identifier of one ROI (or marks it as a new lesion), a
``response_category`` replaces the computed category of one time point under one criterion. Only SQLAlchemy is
imported here.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from imagebio.errors import InvalidParameterError, StoreError
from imagebio.store.models import Roi, Subject, Timepoint
from imagebio.store.review import Override, User

__all__ = [
    "CategoryOverride",
    "LesionMatch",
    "ResponseOverrides",
    "record_category_override",
    "record_lesion_match",
    "response_overrides",
]


@dataclasses.dataclass(frozen=True)
class LesionMatch:
    """A reader's match of one ROI: ``lesion_id`` is the tracked lesion it is, ``None`` for a new lesion."""

    roi_id: int
    roi_name: str
    timepoint_id: int | None
    lesion_id: str | None
    reason: str
    user: str
    at: datetime


@dataclasses.dataclass(frozen=True)
class CategoryOverride:
    """A reader's response category of one time point under one criterion."""

    criteria: str
    timepoint_id: int
    timepoint_date: str | None
    category: str
    reason: str
    user: str
    at: datetime


@dataclasses.dataclass(frozen=True)
class ResponseOverrides:
    """The overrides in force for one subject.

    Attributes
    ----------
    lesion_matches : dict
        ROI id → :class:`LesionMatch`.
    categories : dict
        ``(criteria, timepoint_id)`` → :class:`CategoryOverride`.
    """

    lesion_matches: dict[int, LesionMatch]
    categories: dict[tuple[str, int], CategoryOverride]

    def lesion_id_of(self, roi_id: int, default: str | None) -> str | None:
        """The lesion id of ROI ``roi_id`` after a reader's match (``None`` = new lesion), else ``default``."""
        match = self.lesion_matches.get(roi_id)
        return default if match is None else match.lesion_id

    def match_by_name(self, timepoint_id: int, roi_name: str) -> LesionMatch | None:
        """The match of the ROI named ``roi_name`` at ``timepoint_id`` (for code that keys lesions by name)."""
        for match in self.lesion_matches.values():
            if match.timepoint_id == timepoint_id and match.roi_name == roi_name:
                return match
        return None

    def category_for(self, criteria: str, timepoint_id: int) -> CategoryOverride | None:
        return self.categories.get((criteria, timepoint_id))


def _subject_row(session: Session, subject: Subject | int | str) -> Subject:
    if isinstance(subject, Subject):
        return subject
    if isinstance(subject, int):
        row = session.get(Subject, subject)
    else:
        row = session.scalars(select(Subject).where(Subject.patient_id == subject)).first()
    if row is None:
        raise StoreError(f"no subject {subject!r} in the store")
    return row


def response_overrides(session: Session, subject: Subject | int | str) -> ResponseOverrides:
    """The reader overrides in force for ``subject`` (a Subject, its store id, or its PatientID).

    The newest override per ROI (lesion match) and per (criteria, time point) (category) wins; a category
    override whose category is ``None`` withdraws the earlier ones.
    """
    row = _subject_row(session, subject)
    stmt = (
        select(Override, Roi.name, Roi.timepoint_id, Timepoint.study_datetime)
        .outerjoin(Roi, Override.roi_id == Roi.id)
        .outerjoin(Timepoint, Override.timepoint_id == Timepoint.id)
        .where(Override.subject_id == row.id)
        .order_by(Override.created_at, Override.id)
    )
    matches: dict[int, LesionMatch] = {}
    categories: dict[tuple[str, int], CategoryOverride | None] = {}
    for override, roi_name, roi_timepoint, study_datetime in session.execute(stmt):
        if override.kind == "lesion_match" and override.roi_id is not None:
            matches[override.roi_id] = LesionMatch(
                override.roi_id, roi_name, roi_timepoint, override.lesion_id, override.reason, override.username,
                override.created_at,
            )
        elif override.kind == "response_category" and override.timepoint_id is not None:
            key = (override.criteria or "", override.timepoint_id)
            categories[key] = None if override.category is None else CategoryOverride(
                override.criteria or "", override.timepoint_id,
                study_datetime.date().isoformat() if study_datetime else None, override.category, override.reason,
                override.username, override.created_at,
            )
    return ResponseOverrides(matches, {k: v for k, v in categories.items() if v is not None})


def _check_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidParameterError("reason", reason, "a non-empty reason for the override")
    return reason


def record_lesion_match(session: Session, roi: Roi, lesion_id: str | None, reason: str, user: User) -> Override:
    """Record that ``roi`` is the tracked lesion ``lesion_id`` (``None``: a new lesion), by ``user``."""
    if lesion_id is not None:
        lesion_id = lesion_id.strip()
        if not lesion_id or len(lesion_id) > 64:
            raise InvalidParameterError("lesion_id", lesion_id, "1 to 64 characters, or null for a new lesion")
    row = Override(
        kind="lesion_match", subject_id=roi.subject_id, roi_id=roi.id, lesion_id=lesion_id,
        reason=_check_reason(reason), user_id=user.id, username=user.username,
    )
    session.add(row)
    session.flush()
    return row


def record_category_override(
    session: Session, timepoint: Timepoint, criteria: str, category: str | None, reason: str, user: User
) -> Override:
    """Record the response ``category`` of ``timepoint`` under ``criteria`` (``None`` withdraws), by ``user``."""
    if not criteria or len(criteria) > 32:
        raise InvalidParameterError("criteria", criteria, "a criterion name (recist11, volumetric, ...)")
    if category is not None and (not category.strip() or len(category) > 32):
        raise InvalidParameterError("category", category, "a response category (CR, PR, SD, PD, NE ...) or null")
    row = Override(
        kind="response_category", subject_id=timepoint.subject_id, timepoint_id=timepoint.id, criteria=criteria,
        category=category.strip() if category else None, reason=_check_reason(reason), user_id=user.id,
        username=user.username,
    )
    session.add(row)
    session.flush()
    return row
