"""Users, passwords (argon2id), roles, project grants and CSRF tokens of the web dashboard.

Passwords are hashed with argon2id (RFC 9106) through ``argon2-cffi``; only the hash is stored. A user sees the
subjects of the projects granted to them (``"*"`` grants every project; a subject without a project belongs to
``"default"``).
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from imagebio.errors import InvalidParameterError
from imagebio.store.models import Subject
from imagebio.store.review import ALL_PROJECTS, ROLES, UNASSIGNED_PROJECT, ProjectGrant, User

__all__ = [
    "add_user",
    "authenticate",
    "can_see",
    "csrf_matches",
    "granted_projects",
    "has_role",
    "hash_password",
    "new_csrf_token",
    "project_of",
    "verify_password",
]

MIN_PASSWORD_LENGTH = 8
#: argon2id verification takes ~64 MiB and tens of ms each: bound how many logins are checked at once.
_VERIFY_SLOTS = threading.BoundedSemaphore(4)


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_password(password: str) -> str:
    """The argon2id hash (PHC string) of ``password``."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidParameterError("password", "***", f"at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches ``password_hash`` (constant time in the hash library)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        with _VERIFY_SLOTS:
            return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# A hash to verify against when the user does not exist, so that timing does not reveal valid user names.
_DUMMY_HASH: str | None = None


def add_user(session: Session, username: str, password: str, role: str = "viewer",
             projects: Iterable[str] = ()) -> User:
    """Create a user, or update the password, role and grants of an existing one.

    Parameters
    ----------
    username : str
        Login name (1–64 characters; not a patient identifier).
    role : {"viewer", "analyst", "admin"}
    projects : iterable of str
        Projects granted (``"*"`` for all); added to the user's existing grants.
    """
    username = username.strip()
    if not 1 <= len(username) <= 64:
        raise InvalidParameterError("username", username, "1 to 64 characters")
    if role not in ROLES:
        raise InvalidParameterError("role", role, f"one of {', '.join(ROLES)}")
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        user = User(username=username, password_hash=hash_password(password), role=role, active=True)
        session.add(user)
        session.flush()
    else:
        user.password_hash = hash_password(password)
        user.role = role
    have = {g.project for g in user.grants}
    for project in projects:
        project = project.strip()
        if project and project not in have:
            user.grants.append(ProjectGrant(project=project))
            have.add(project)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, or None."""
    global _DUMMY_HASH
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None or not user.active:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = _hasher().hash(secrets.token_hex(8))
        verify_password(_DUMMY_HASH, password)
        return None
    return user if verify_password(user.password_hash, password) else None


class LoginThrottle:
    """Refuses logins for one (user name, client) after ``max_failures`` failures within ``window_s`` seconds.

    A brute-force guard (OWASP ASVS 2.2.1): failures older than the window are forgotten, a success clears the
    key. Kept in memory per application (one process); keys never hold passwords.
    """

    def __init__(self, max_failures: int = 5, window_s: float = 300.0, clock=None):
        import threading
        import time

        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock or time.monotonic
        self._failures: dict[tuple[str, str], list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str]) -> list[float]:
        now = self._clock()
        times = [t for t in self._failures.get(key, []) if now - t < self.window_s]
        self._failures[key] = times
        return times

    def retry_after_s(self, key: tuple[str, str]) -> float:
        """Seconds until ``key`` may try again (0 when it may try now)."""
        with self._lock:
            times = self._recent(key)
            if len(times) < self.max_failures:
                return 0.0
            return max(0.0, self.window_s - (self._clock() - times[-self.max_failures]))

    def failed(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._recent(key).append(self._clock())

    def succeeded(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(key, None)


def granted_projects(user: User) -> set[str]:
    """The project names granted to ``user`` (may contain ``"*"``)."""
    return {g.project for g in user.grants}


def project_of(subject: Subject) -> str:
    """The project a subject belongs to for access control."""
    return subject.project or UNASSIGNED_PROJECT


def can_see(projects: set[str], subject: Subject) -> bool:
    return ALL_PROJECTS in projects or project_of(subject) in projects


def has_role(user_role: str, needed: str) -> bool:
    """True when ``user_role`` is at least ``needed`` (viewer < analyst < admin)."""
    return ROLES.index(user_role) >= ROLES.index(needed)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
