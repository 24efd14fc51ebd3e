"""Request context of the dashboard: the logged-in user, their projects, and access-checked store look-ups.

Every object reachable by an id in a URL is looked up here, so the per-project check is in one place:
an unknown id gives 404, an object of a project the user was not granted gives 403.
"""

from __future__ import annotations

import dataclasses

from fastapi import HTTPException, Request
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from imagebio.store.models import Roi, Series, Subject, Timepoint
from imagebio.store.review import ALL_PROJECTS, UNASSIGNED_PROJECT, User
from imagebio.web.security import can_see, csrf_matches, granted_projects, has_role

__all__ = [
    "Viewer",
    "check_csrf",
    "load_user",
    "require_role",
    "roi_for",
    "series_for",
    "subject_for",
    "timepoint_for",
    "visible_subjects_clause",
]


@dataclasses.dataclass(frozen=True)
class Viewer:
    """The logged-in user as seen by a request."""

    id: int
    username: str
    role: str
    projects: frozenset[str]


def load_user(session: Session, request: Request) -> Viewer | None:
    user_id = request.session.get("uid")
    if not isinstance(user_id, int):
        return None
    user = session.scalars(select(User).options(selectinload(User.grants)).where(User.id == user_id)).first()
    if user is None or not user.active:
        return None
    viewer = Viewer(user.id, user.username, user.role, frozenset(granted_projects(user)))
    request.state.user = viewer
    return viewer


def visible_subjects_clause(viewer: Viewer):
    """A WHERE clause on Subject limiting rows to the viewer's projects."""
    if ALL_PROJECTS in viewer.projects:
        return True
    named = [p for p in viewer.projects if p != UNASSIGNED_PROJECT]
    clause = Subject.project.in_(named) if named else False
    if UNASSIGNED_PROJECT in viewer.projects:
        clause = or_(clause, Subject.project.is_(None), Subject.project == UNASSIGNED_PROJECT)
    return clause


def _check(viewer: Viewer, subject: Subject | None, what: str):
    if subject is None:
        raise HTTPException(404, f"no such {what}")
    if not can_see(set(viewer.projects), subject):
        raise HTTPException(403, f"this {what} belongs to a project you have no access to")
    return subject


def subject_for(session: Session, viewer: Viewer, subject_id: int) -> Subject:
    return _check(viewer, session.get(Subject, subject_id), "subject")


def timepoint_for(session: Session, viewer: Viewer, timepoint_id: int) -> Timepoint:
    tp = session.get(Timepoint, timepoint_id)
    if tp is None:
        raise HTTPException(404, "no such time point")
    _check(viewer, tp.subject, "time point")
    return tp


def series_for(session: Session, viewer: Viewer, series_id: int) -> Series:
    series = session.get(Series, series_id)
    if series is None:
        raise HTTPException(404, "no such series")
    _check(viewer, series.timepoint.subject, "series")
    return series


def roi_for(session: Session, viewer: Viewer, roi_id: int) -> Roi:
    roi = session.get(Roi, roi_id)
    if roi is None:
        raise HTTPException(404, "no such lesion")
    _check(viewer, roi.subject, "lesion")
    return roi


def require_role(viewer: Viewer, role: str) -> None:
    if not has_role(viewer.role, role):
        raise HTTPException(403, f"this needs the {role} role; you are a {viewer.role}")


def check_csrf(request: Request, given: str | None) -> None:
    if not csrf_matches(request.session.get("csrf"), given):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page and try again")
