"""The FastAPI application of the dashboard: sessions, security headers, audit log, API and pages.

    from imagebio.web.app import create_app
    app = create_app("study.db")          # then: uvicorn.run(app, host="127.0.0.1", port=8000)

Sessions are signed cookies (``itsdangerous`` via Starlette's ``SessionMiddleware``; SameSite=strict, HttpOnly)
holding only the user id and a CSRF token. Every request but static files is written to the ``audit_log`` table
with the user, method, path (store ids only; the query string is not kept) and status, by a background writer
(:mod:`imagebio.web.audit`).
"""

from __future__ import annotations

import logging
import os
import secrets
from contextlib import asynccontextmanager
from pathlib import Path

from imagebio.store import Store, open_store

__all__ = ["SECRET_ENV_VAR", "SESSION_MAX_AGE_S", "create_app"]

SECRET_ENV_VAR = "IMAGEBIO_WEB_SECRET"
SESSION_MAX_AGE_S = 8 * 3600
HERE = Path(__file__).parent
log = logging.getLogger(__name__)

_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
_NOT_AUDITED = ("/static/", "/favicon.ico")


def _audit_action(method: str, path: str, status: int) -> str:
    if path == "/login":
        return "login" if method == "POST" and status in (302, 303) else ("login_failed" if method == "POST" else "view")
    if path == "/logout":
        return "logout"
    if status in (401, 403):
        return "denied"
    return "view" if method in ("GET", "HEAD") else "change"


def create_app(store: Store | str | Path | None = None, *, secret_key: str | None = None,
               https_only: bool = False, max_volumes: int = 24):
    """Build the dashboard application on a store.

    Parameters
    ----------
    store : Store or str or Path, optional
        An opened store, or what :func:`imagebio.store.open_store` accepts (default ``$IMAGEBIO_DB`` or
        ``./imagebio.db``). The store is migrated, which creates the review tables.
    secret_key : str, optional
        Key signing the session cookies; default ``$IMAGEBIO_WEB_SECRET``, else a random key (sessions then end
        when the server stops).
    https_only : bool
        Mark the session cookie Secure (set when served behind HTTPS).
    max_volumes : int
        Image volumes kept in memory per process.
    """
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from fastapi.staticfiles import StaticFiles
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.middleware.sessions import SessionMiddleware

    from imagebio import __version__
    from imagebio.errors import ImagebioError
    from imagebio.web import api, pages
    from imagebio.web.audit import AuditWriter
    from imagebio.web.images import SeriesImages
    from imagebio.web.security import LoginThrottle
    from imagebio.store.review import AuditEntry

    if not isinstance(store, Store):
        store = open_store(store)
    audit = AuditWriter(store)

    @asynccontextmanager
    async def lifespan(_app):
        yield
        audit.flush()

    app = FastAPI(
        lifespan=lifespan,
        title="imagebio dashboard",
        version=__version__,
        description="Browse subjects, view images with overlays, and review response results. Ids in URLs are "
        "opaque store ids. Log in at /login; the session cookie authenticates API calls; changes need the "
        "X-CSRF-Token header.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.store = store
    app.state.images = SeriesImages(max_volumes)
    app.state.audit = audit
    app.state.login_throttle = LoginThrottle()

    @app.middleware("http")
    async def audit_and_headers(request: Request, call_next):
        response = await call_next(request)
        path = request.url.path
        for key, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        if not path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        if not path.startswith(_NOT_AUDITED):
            user = getattr(request.state, "user", None)
            entry = AuditEntry(
                user_id=getattr(user, "id", None), username=getattr(user, "username", None),
                action=_audit_action(request.method, path, response.status_code), method=request.method,
                path=path[:512], status=response.status_code,
            )
            app.state.audit.add(entry)
        return response

    app.add_middleware(
        SessionMiddleware, secret_key=secret_key or os.environ.get(SECRET_ENV_VAR) or secrets.token_urlsafe(48),
        session_cookie="imagebio_session", max_age=SESSION_MAX_AGE_S, same_site="strict", https_only=https_only,
    )

    @app.exception_handler(ImagebioError)
    async def imagebio_error(request: Request, exc: ImagebioError):
        # The message may name file paths (which can hold patient folders): log the type only, return a hint.
        log.warning("request failed: %s", type(exc).__name__)
        from imagebio.errors import InvalidParameterError

        if isinstance(exc, InvalidParameterError):  # names only the parameter and the expectation
            return JSONResponse({"detail": str(exc)}, 400)
        return JSONResponse({"detail": f"{type(exc).__name__}: the data could not be read or processed"}, 400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if not request.url.path.startswith("/api") and request.url.path != "/openapi.json":
            return pages.error_page(request, exc)
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        from fastapi.encoders import jsonable_encoder

        errors = [{k: e.get(k) for k in ("loc", "msg", "type")} for e in exc.errors()]
        return JSONResponse({"detail": jsonable_encoder(errors)}, 422)

    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app


