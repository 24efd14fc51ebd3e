"""Review tables of the store (used by the web dashboard): users, project grants, reader overrides, audit log.

They live on the store's :class:`~imagebio.store.models.Base` metadata and are created by the Alembic revision
``0003_web_review``. Rows here never hold PHI beyond what a reader typed as a reason; the audit log names objects
by their store ids, never by PatientID.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from imagebio.store.models import Base, UtcDateTime, utcnow

__all__ = [
    "ALL_PROJECTS",
    "OVERRIDE_KINDS",
    "ROLES",
    "UNASSIGNED_PROJECT",
    "AuditEntry",
    "Override",
    "ProjectGrant",
    "User",
]

#: Roles in increasing power: viewers read, analysts also review (overrides), admins also manage users.
ROLES = ("viewer", "analyst", "admin")
#: ``lesion_match``: a reader links an ROI to a tracked lesion (or marks it new); ``response_category``: a reader
#: replaces the computed response category of a time point.
OVERRIDE_KINDS = ("lesion_match", "response_category")
#: A grant on this project name gives access to every project.
ALL_PROJECTS = "*"
#: Subjects stored without a project belong to this one for access control.
UNASSIGNED_PROJECT = "default"


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class User(Base):
    """A dashboard user: login name, argon2 password hash, role."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_one_of("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="viewer")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    grants: Mapped[list[ProjectGrant]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True, order_by="ProjectGrant.project"
    )

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, username={self.username!r}, role={self.role!r})"


class ProjectGrant(Base):
    """Access of one user to one project (``Subject.project``; ``"*"`` for all projects)."""

    __tablename__ = "project_grants"
    __table_args__ = (UniqueConstraint("user_id", "project"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    project: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    user: Mapped[User] = relationship(back_populates="grants")


class Override(Base):
    """A reader's correction, kept with who and when; the newest one per target wins.

    ``lesion_match``: ``roi_id`` is linked to the tracked lesion ``lesion_id`` (``None``: a new lesion, matched to
    nothing). ``response_category``: the response of ``timepoint_id`` under ``criteria`` is ``category``
    (``None``: withdraw the override and use the computed category again). Rows are never updated, so the table is
    also the history.
    """

    __tablename__ = "overrides"
    __table_args__ = (CheckConstraint(_one_of("kind", OVERRIDE_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), index=True)
    roi_id: Mapped[int | None] = mapped_column(ForeignKey("rois.id", ondelete="CASCADE"), index=True)
    lesion_id: Mapped[str | None] = mapped_column(String(64))
    timepoint_id: Mapped[int | None] = mapped_column(ForeignKey("timepoints.id", ondelete="CASCADE"))
    criteria: Mapped[str | None] = mapped_column(String(32))
    category: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    username: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class AuditEntry(Base):
    """One view or change: who, when, what (method and path with opaque ids only), and the outcome."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    username: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    method: Mapped[str | None] = mapped_column(String(8))
    path: Mapped[str | None] = mapped_column(String(512))
    status: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
