"""Server-rendered pages: login, cohort overview, patient page, viewer, and the review forms.

URLs carry store ids only. Forms carry the session's CSRF token; a page needing login redirects to ``/login``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from imagebio.store.models import Series, Subject, Timepoint
from imagebio.web import api
from imagebio.web.access import Viewer, check_csrf, load_user, subject_for, visible_subjects_clause
from imagebio.web.app import HERE
from imagebio.web.security import authenticate, new_csrf_token

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(HERE / "templates"))


class LoginRequired(HTTPException):
    def __init__(self):
        super().__init__(303, "log in first", headers={"Location": "/login"})


def page_user(request: Request, session: Session = api.DB) -> Viewer:
    user = load_user(session, request)
    if user is None:
        raise LoginRequired()
    return user


Db = Annotated[Session, api.DB]
User = Annotated[Viewer, Depends(page_user)]


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = new_csrf_token()
    return token


def render(request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
    context.setdefault("user", getattr(request.state, "user", None))
    context["csrf_token"] = csrf_token(request)
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def error_page(request: Request, exc: HTTPException):
    if exc.status_code in (302, 303):
        return RedirectResponse(exc.headers.get("Location", "/login"), status_code=exc.status_code)
    return render(request, "error.html", status_code=exc.status_code, status=exc.status_code, detail=exc.detail)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return render(request, "login.html", user=None, message=None)


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, session: Db, username: Annotated[str, Form(max_length=64)],
          password: Annotated[str, Form(max_length=256)], csrf: Annotated[str, Form(alias="csrf_token")] = ""):
    check_csrf(request, csrf)
    throttle = request.app.state.login_throttle
    key = (username, request.client.host if request.client else "")
    wait_s = throttle.retry_after_s(key)
    if wait_s > 0:
        return render(request, "login.html", status_code=429, user=None,
                      message=f"Too many failed logins; try again in {int(wait_s) + 1} s.")
    user = authenticate(session, username, password)
    if user is None:
        throttle.failed(key)
        return render(request, "login.html", status_code=401, user=None, message="Wrong user name or password.")
    throttle.succeeded(key)
    request.session.clear()
    request.session["uid"] = user.id
    request.session["csrf"] = new_csrf_token()  # a new token per login (no session fixation)
    load_user(session, request)
    return RedirectResponse("/", status_code=303)


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(alias="csrf_token")] = ""):
    check_csrf(request, csrf)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/", response_class=HTMLResponse)
def cohort(request: Request, session: Db, user: User,
           page: Annotated[int, Query(ge=1, le=10**6)] = 1) -> HTMLResponse:
    from imagebio.web.plots import waterfall_svg

    per_page = 100
    subjects = session.scalars(select(Subject).where(visible_subjects_clause(user)).order_by(Subject.id)
                               .limit(per_page).offset((page - 1) * per_page)).all()
    rows = api.subject_summaries(session, list(subjects))
    bars = [(r["patient_id"], r["best_change_percent"], r["best_response"]) for r in rows
            if r["best_change_percent"] is not None]
    return render(request, "cohort.html", rows=rows, waterfall=Markup(waterfall_svg(bars)), page=page,
                  more=len(subjects) == per_page)


def _spider(lesions: list[dict], timepoints: list[dict]) -> dict[str, list[tuple[float, float]]]:
    days = {t["id"]: t["days_since_baseline"] or 0 for t in timepoints}
    by_lesion: dict[str, list[tuple[float, float]]] = {}
    baseline: dict[str, float] = {}
    for row in sorted(lesions, key=lambda r: days.get(r["timepoint_id"], 0)):
        if row["volume_ml"] is None:
            continue
        lid = row["matched_lesion_id"]
        base = baseline.setdefault(lid, row["volume_ml"])
        if base:
            by_lesion.setdefault(lid, []).append((days.get(row["timepoint_id"], 0),
                                                  100.0 * (row["volume_ml"] - base) / base))
    return by_lesion


def _extras(session: Session, subject: Subject) -> tuple[list[dict], list[dict]]:
    """(dose results, risk values) of a subject."""
    from imagebio.store.models import Measurement, Roi

    # The caller has checked access to this subject: query its rows without a project filter.
    stmt = api.measurement_query(_UNRESTRICTED).where(Roi.subject_id == subject.id)
    dose = [api._measurement_out(*r) for r in session.execute(stmt.where(api.dosimetry_clause()))]
    risk = [api._measurement_out(*r) for r in session.execute(stmt.where(Measurement.name.like("%risk%")))]
    return dose, risk


_UNRESTRICTED = Viewer(0, "", "viewer", frozenset({"*"}))


def _report_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("imagebio.report.patient") is not None


#: The report is one self-contained document (inline CSS, base64 figures): it gets its own, script-free policy.
REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"


@router.get("/patients/{subject_id}/report", response_class=HTMLResponse)
def patient_report(subject_id: api.Id, request: Request, session: Db, user: User) -> HTMLResponse:
    """The patient report of :mod:`imagebio.report` (HTML), when that room is installed."""
    subject = subject_for(session, user, subject_id)
    if not _report_available():
        return render(request, "error.html", status_code=404, status=404, detail="Patient report: not available.")
    from imagebio.errors import ImagebioError
    from imagebio.report.document import render_html
    from imagebio.report.patient import build_patient_report

    try:
        html = render_html(build_patient_report(request.app.state.store, subject.patient_id))
    except ImagebioError as exc:
        return render(request, "error.html", status_code=400, status=400,
                      detail=f"Patient report: not available ({type(exc).__name__}).")
    return HTMLResponse(html, headers={"Content-Security-Policy": REPORT_CSP})


@router.get("/patients/{subject_id}", response_class=HTMLResponse)
def patient(subject_id: api.Id, request: Request, session: Db, user: User) -> HTMLResponse:
    from imagebio.web.plots import spider_svg
    from imagebio.web.response import live_response, stored_responses

    subject = subject_for(session, user, subject_id)
    timepoints = api.timepoint_rows(session, subject)
    lesions = api.lesion_rows(session, subject)
    baseline_ids = sorted({r["matched_lesion_id"] for r in lesions
                           if timepoints and r["timepoint_id"] == timepoints[0]["id"]})
    dose, risk = _extras(session, subject)
    return render(
        request, "patient.html", subject=subject, summary=api.subject_summaries(session, [subject], False)[0],
        timepoints=timepoints, lesions=lesions, baseline_ids=baseline_ids,
        baseline_tp=timepoints[0]["id"] if timepoints else None, live=live_response(session, subject),
        stored=stored_responses(session, subject), overrides=api.override_rows(session, subject),
        spider=Markup(spider_svg(_spider(lesions, timepoints))), dose=dose, risk=risk,
        can_review=user.role in ("analyst", "admin"), report_available=_report_available(),
    )


@router.get("/patients/{subject_id}/viewer", response_class=HTMLResponse)
def viewer_page(subject_id: api.Id, request: Request, session: Db, user: User) -> HTMLResponse:
    subject = subject_for(session, user, subject_id)
    timepoints = api.timepoint_rows(session, subject)
    series = session.scalars(select(Series).join(Timepoint, Series.timepoint_id == Timepoint.id).where(
        Timepoint.subject_id == subject.id, Series.kind == "image").order_by(Timepoint.study_datetime, Series.id)).all()
    by_tp: dict[int, list[dict]] = {}
    for s in series:
        by_tp.setdefault(s.timepoint_id, []).append(
            {"id": s.id, "label": f"{s.modality or '?'} – {s.description or ''}", "modality": (s.modality or "")})
    panels = []
    for tp in (timepoints[:1] + timepoints[-1:]) if len(timepoints) > 1 else timepoints:
        options = by_tp.get(tp["id"], [])
        default = next((o for o in options if o["modality"].upper() == "CT"), options[0] if options else None)
        panels.append({"timepoint": tp, "series": options, "default": default})
    return render(request, "viewer.html", subject=subject, panels=panels)


def _form_user(request: Request, session: Session, csrf: str) -> Viewer:
    user = load_user(session, request)
    if user is None:
        raise HTTPException(401, "log in first")
    check_csrf(request, csrf)
    from imagebio.web.access import require_role

    require_role(user, "analyst")
    return user


@router.post("/patients/{subject_id}/match")
def match_form(subject_id: api.Id, request: Request, roi_id: Annotated[int, Form(ge=1, le=2**62)],
               lesion_id: Annotated[str, Form(max_length=64)], reason: Annotated[str, Form(max_length=2000)],
               csrf: Annotated[str, Form(alias="csrf_token")] = ""):
    from imagebio.store.models import Roi

    with request.app.state.store.session() as session:  # committed before the response is sent
        user = _form_user(request, session, csrf)
        subject = subject_for(session, user, subject_id)
        roi = session.get(Roi, roi_id)
        if roi is None or roi.subject_id != subject.id:
            raise HTTPException(404, "no such lesion of this patient")
        if not reason.strip():
            raise HTTPException(400, "give a reason for the change")
        api.apply_match(session, user, roi_id, None if lesion_id == "__new__" else lesion_id, reason)
    return RedirectResponse(f"/patients/{subject_id}#response", status_code=303)


@router.post("/patients/{subject_id}/category")
def category_form(subject_id: api.Id, request: Request, timepoint_id: Annotated[int, Form(ge=1, le=2**62)],
                  criteria: Annotated[str, Form(max_length=32)], category: Annotated[str, Form(max_length=32)],
                  reason: Annotated[str, Form(max_length=2000)], csrf: Annotated[str, Form(alias="csrf_token")] = ""):
    with request.app.state.store.session() as session:  # committed before the response is sent
        user = _form_user(request, session, csrf)
        subject = subject_for(session, user, subject_id)
        tp = session.get(Timepoint, timepoint_id)
        if tp is None or tp.subject_id != subject.id:
            raise HTTPException(404, "no such time point of this patient")
        if not reason.strip():
            raise HTTPException(400, "give a reason for the override")
        api.apply_category(session, user, timepoint_id, criteria, category.strip() or None, reason)
    return RedirectResponse(f"/patients/{subject_id}#response", status_code=303)
