"""JSON and PNG endpoints of the dashboard (``/api/...``), documented in the OpenAPI schema at ``/openapi.json``.

Ids in URLs are store row ids, never PatientIDs. Lists are paginated (``limit``, ``offset``) and filterable.
Every endpoint needs a logged-in session (401 otherwise); objects of projects not granted to the user give 403.
Changes need the analyst role and the session's CSRF token in the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from imagebio.store.models import Measurement, Roi, Run, RunSubject, Series, Subject, Timepoint
from imagebio.web import schemas
from imagebio.web.access import (
    Viewer,
    check_csrf,
    load_user,
    require_role,
    roi_for,
    series_for,
    subject_for,
    timepoint_for,
    visible_subjects_clause,
)
from imagebio.store.review import AuditEntry, Override
from imagebio.web.security import project_of

Id = Annotated[int, Path(ge=1, le=2**62, description="Store row id (opaque; not a patient identifier)")]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size")]
Offset = Annotated[int, Query(ge=0, le=10**9, description="Rows to skip")]
OptionalId = Annotated[int | None, Query(ge=1, le=2**62)]
Window = Literal["lung", "soft_tissue", "bone", "suv", "auto"]
OverlayKind = Literal["none", "pet", "adc"]

UNAUTHORISED = {
    400: {"model": schemas.ErrorOut, "description": "Invalid value, or data that cannot be read"},
    401: {"model": schemas.ErrorOut, "description": "Not logged in"},
    403: {"model": schemas.ErrorOut, "description": "No access to this project or role, or a wrong CSRF token"},
    404: {"model": schemas.ErrorOut, "description": "No such object (an id in the path or a filter)"},
}
NOT_FOUND = {404: {"model": schemas.ErrorOut, "description": "No such object"}}


#: Store connections a process's requests may hold at once (SQLAlchemy's default pool has 5 + 10 overflow; the
#: rest is left to writes and the audit writer). Waiting requests hold no worker thread.
MAX_READ_SESSIONS = 10


def db(request: Request) -> Iterator[Session]:
    with request.app.state.store.session(readonly=True) as session:
        yield session


#: One shared dependency object, so that the concurrency limit is shared; ``scope="function"`` closes the read
#: session when the handler returns, before the response (and its audit entry) is sent.
DB = Depends(db, scope="function", max_concurrency=MAX_READ_SESSIONS)


def viewer(request: Request, session: Session = DB) -> Viewer:
    user = load_user(session, request)
    if user is None:
        raise HTTPException(401, "log in first", headers={"WWW-Authenticate": 'Cookie realm="imagebio"'})
    return user


Db = Annotated[Session, DB]
User = Annotated[Viewer, Depends(viewer)]

router = APIRouter(prefix="/api", responses=UNAUTHORISED)


def _page(items, total: int, limit: int, offset: int) -> dict:
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


@router.get("/me", response_model=schemas.Me, summary="The logged-in user")
def me(user: User) -> dict:
    return {"username": user.username, "role": user.role, "projects": sorted(user.projects)}


# --- subjects and time points -------------------------------------------------------------------------


def subject_summaries(session: Session, subjects: list[Subject], with_response: bool = True) -> list[dict]:
    from imagebio.web.response import live_response

    ids = [s.id for s in subjects]
    n_tp = dict(session.execute(
        select(Timepoint.subject_id, func.count(Timepoint.id)).where(Timepoint.subject_id.in_(ids))
        .group_by(Timepoint.subject_id)).all()) if ids else {}
    n_les = dict(session.execute(
        select(Roi.subject_id, func.count(func.distinct(Roi.name))).where(Roi.subject_id.in_(ids), Roi.name != "patient")
        .group_by(Roi.subject_id)).all()) if ids else {}
    out = []
    for s in subjects:
        best = change = None
        if with_response:
            live = live_response(session, s).get("volumetric") or {}
            if "best" in live:
                best = live["best"]["category"]
                changes = [t["numbers"].get("change_from_baseline_pct") for t in live["timepoints"][1:]]
                changes = [c for c in changes if isinstance(c, (int, float))]
                change = min(changes) if changes else None
        out.append({"id": s.id, "patient_id": s.patient_id, "project": project_of(s),
                    "n_timepoints": n_tp.get(s.id, 0), "n_lesions": n_les.get(s.id, 0),
                    "best_response": best, "best_change_percent": change})
    return out


@router.get("/subjects", response_model=schemas.Page[schemas.SubjectOut], summary="Subjects of your projects")
def list_subjects(session: Db, user: User, limit: Limit = 50, offset: Offset = 0,
                  project: Annotated[str | None, Query(max_length=128)] = None) -> dict:
    stmt = select(Subject).where(visible_subjects_clause(user))
    if project is not None:
        stmt = stmt.where(Subject.project.is_(None) if project == "default" else Subject.project == project)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(stmt.order_by(Subject.id).limit(limit).offset(offset)).all()
    return _page(subject_summaries(session, list(rows)), total, limit, offset)


@router.get("/subjects/{subject_id}", response_model=schemas.SubjectOut, responses=NOT_FOUND, summary="One subject")
def get_subject(subject_id: Id, session: Db, user: User) -> dict:
    return subject_summaries(session, [subject_for(session, user, subject_id)])[0]


def timepoint_rows(session: Session, subject: Subject) -> list[dict]:
    n_series = dict(session.execute(
        select(Series.timepoint_id, func.count(Series.id)).join(Timepoint, Series.timepoint_id == Timepoint.id)
        .where(Timepoint.subject_id == subject.id).group_by(Series.timepoint_id)).all())
    rows = session.scalars(select(Timepoint).where(Timepoint.subject_id == subject.id)
                           .order_by(Timepoint.study_datetime, Timepoint.id)).all()
    return [{"id": t.id, "subject_id": t.subject_id, "label": t.label, "days_since_baseline": t.days_since_baseline,
             "study_date": t.study_datetime.date().isoformat() if t.study_datetime else None,
             "description": t.description, "n_series": n_series.get(t.id, 0)} for t in rows]


@router.get("/subjects/{subject_id}/timepoints", response_model=schemas.Page[schemas.TimepointOut],
            responses=NOT_FOUND, summary="Time points (studies) of a subject")
def list_timepoints(subject_id: Id, session: Db, user: User, limit: Limit = 100, offset: Offset = 0) -> dict:
    rows = timepoint_rows(session, subject_for(session, user, subject_id))
    return _page(rows[offset:offset + limit], len(rows), limit, offset)


@router.get("/timepoints/{timepoint_id}", response_model=schemas.TimepointOut, responses=NOT_FOUND,
            summary="One time point")
def get_timepoint(timepoint_id: Id, session: Db, user: User) -> dict:
    tp = timepoint_for(session, user, timepoint_id)
    return next(r for r in timepoint_rows(session, tp.subject) if r["id"] == tp.id)


# --- series and image tiles ---------------------------------------------------------------------------


def _series_out(s: Series) -> dict:
    return {"id": s.id, "timepoint_id": s.timepoint_id, "subject_id": s.timepoint.subject_id, "modality": s.modality,
            "description": s.description, "kind": s.kind, "n_files": s.n_files}


@router.get("/series", response_model=schemas.Page[schemas.SeriesOut], summary="Series, filterable")
def list_series(session: Db, user: User, limit: Limit = 100, offset: Offset = 0, subject_id: OptionalId = None,
                timepoint_id: OptionalId = None, modality: Annotated[str | None, Query(max_length=16)] = None,
                kind: Annotated[str | None, Query(max_length=16)] = None) -> dict:
    stmt = (select(Series).join(Timepoint, Series.timepoint_id == Timepoint.id)
            .join(Subject, Timepoint.subject_id == Subject.id).where(visible_subjects_clause(user)))
    if subject_id is not None:
        subject_for(session, user, subject_id)
        stmt = stmt.where(Subject.id == subject_id)
    if timepoint_id is not None:
        timepoint_for(session, user, timepoint_id)
        stmt = stmt.where(Series.timepoint_id == timepoint_id)
    if modality is not None:
        stmt = stmt.where(func.upper(Series.modality) == modality.upper())
    if kind is not None:
        stmt = stmt.where(Series.kind == kind)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(stmt.order_by(Series.id).limit(limit).offset(offset)).all()
    return _page([_series_out(s) for s in rows], total, limit, offset)


@router.get("/series/{series_id}", response_model=schemas.SeriesOut, responses=NOT_FOUND, summary="One series")
def get_series(series_id: Id, session: Db, user: User) -> dict:
    return _series_out(series_for(session, user, series_id))


def _sibling(session: Session, series: Series, modality: str | None = None, kind: str = "image") -> Series | None:
    stmt = select(Series).where(Series.timepoint_id == series.timepoint_id, Series.kind == kind)
    if modality is not None:
        stmt = stmt.where(func.upper(Series.modality) == modality)
    return session.scalars(stmt.order_by(Series.id)).first()


def _dwi_sibling(request: Request, session: Session, series: Series) -> Series | None:
    stmt = select(Series).where(Series.timepoint_id == series.timepoint_id, Series.kind == "image",
                                func.upper(Series.modality) == "MR")
    for candidate in session.scalars(stmt.order_by(Series.id)):
        if "dwi" in (candidate.description or "").lower() or "diffusion" in (candidate.description or "").lower():
            return candidate
    return None


def _image_series(session: Session, user: Viewer, series_id: int) -> Series:
    series = series_for(session, user, series_id)
    if series.kind != "image":
        raise HTTPException(400, f"series {series_id} is a {series.kind} series, not an image")
    return series


def _base_volume(request: Request, series: Series):
    return request.app.state.images.volume(series.id, series.path, series.series_instance_uid, series.modality)


def _overlays(request: Request, session: Session, series: Series) -> list[str]:
    out = ["none"]
    if (series.modality or "").upper() != "PT" and _sibling(session, series, "PT") is not None:
        out.append("pet")
    if _dwi_sibling(request, session, series) is not None:
        out.append("adc")
    return out


@router.get("/series/{series_id}/geometry", response_model=schemas.SeriesGeometry,
            responses=NOT_FOUND,
            summary="Slices, spacing and available overlays of an image series")
def series_geometry(series_id: Id, request: Request, session: Db, user: User) -> dict:
    import numpy as np

    series = _image_series(session, user, series_id)
    volume = _base_volume(request, series)
    n_z, n_y, n_x = volume.array.shape
    index = np.zeros((n_z, 3))
    index[:, 0] = np.arange(n_z)
    z_mm = [round(float(v), 3) for v in volume.index_to_physical(index)[:, 2]]
    pt = (series.modality or "").upper() == "PT"
    return {"id": series.id, "n_slices": n_z, "rows": n_y, "columns": n_x,
            "spacing_mm": [float(v) for v in volume.spacing], "slice_positions_mm": z_mm, "unit": volume.unit or "",
            "default_window": "suv" if pt else ("soft_tissue" if (series.modality or "").upper() == "CT" else "auto"),
            "overlays": _overlays(request, session, series),
            "has_contours": _sibling(session, series, kind="seg") is not None}


@router.get("/series/{series_id}/slice", responses={**NOT_FOUND, 200: {"content": {"image/png": {}}}},
            response_class=Response, summary="One axial slice as PNG, windowed, with overlay and lesion contours")
def series_slice(series_id: Id, request: Request, session: Db, user: User,
                 z: Annotated[int, Query(ge=0, le=100000, description="Slice index")] = 0,
                 window: Window = "auto", overlay: OverlayKind = "none", contours: bool = True,
                 opacity: Annotated[float, Query(ge=0.0, le=1.0)] = 0.5) -> Response:
    from imagebio.web.images import MAP_KINDS, Layer, render_tile

    images = request.app.state.images
    series = _image_series(session, user, series_id)
    base = _base_volume(request, series)
    if z >= base.array.shape[0]:
        raise HTTPException(400, f"z={z} is outside the series' {base.array.shape[0]} slices")
    layer = None
    if overlay == "pet":
        pet = _sibling(session, series, "PT")
        if pet is None:
            raise HTTPException(400, "this time point has no PET series to fuse")
        pet_volume = images.volume(pet.id, pet.path, pet.series_instance_uid, pet.modality)
        _, (low, high), cmap = MAP_KINDS["suv"]
        layer = Layer(images.on_grid(("pet", pet.id, series.id), pet_volume, base), low, high, cmap, opacity)
    elif overlay == "adc":
        dwi = _dwi_sibling(request, session, series)
        if dwi is None:
            raise HTTPException(400, "this time point has no DWI series for an ADC map")
        adc = images.adc_map(dwi.id, dwi.path, dwi.series_instance_uid)
        _, (low, high), cmap = MAP_KINDS["adc"]
        layer = Layer(images.on_grid(("adc", dwi.id, series.id), adc, base), low, high, cmap, opacity)
    masks = None
    order = None
    if contours:
        seg = _sibling(session, series, kind="seg")
        if seg is not None and seg.path:
            masks = images.masks(seg.id, seg.path, seg.series_instance_uid, series.id, base)
            order = sorted(masks)
    png = render_tile(base, z, window, layer, masks, order)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


@router.get("/colorbar/{kind}", responses={200: {"content": {"image/png": {}}}}, response_class=Response,
            summary="Colour bar of a parametric map overlay (PNG; range and unit in the headers)")
def colour_bar(kind: Literal["suv", "adc"], user: User) -> Response:
    from imagebio.web.images import MAP_KINDS, colour_bar_png

    unit, (low, high), cmap = MAP_KINDS[kind]
    return Response(colour_bar_png(cmap), media_type="image/png",
                    headers={"X-Range-Low": str(low), "X-Range-High": str(high), "X-Unit": unit,
                             "Cache-Control": "private, max-age=3600"})


# --- lesions, measurements, response ------------------------------------------------------------------


def lesion_rows(session: Session, subject: Subject) -> list[dict]:
    from imagebio.store.overrides import response_overrides
    from imagebio.web.response import _lesion_rois, effective_lesion_ids

    overrides = response_overrides(session, subject)
    rois = _lesion_rois(session, subject)
    ids = effective_lesion_ids(rois, overrides)
    volumes = dict(session.execute(select(Measurement.roi_id, Measurement.value).where(
        Measurement.roi_id.in_([r.id for r, _ in rois]), Measurement.name == "volume")).all()) if rois else {}
    out = []
    for roi, tp in rois:
        match = overrides.lesion_matches.get(roi.id)
        out.append({"id": roi.id, "subject_id": roi.subject_id, "timepoint_id": roi.timepoint_id,
                    "timepoint": tp.label, "name": roi.name, "lesion_id": roi.lesion_id,
                    "matched_lesion_id": ids[roi.id], "match_overridden_by": match.user if match else None,
                    "organ": roi.organ, "volume_ml": volumes.get(roi.id)})
    return out


@router.get("/lesions", response_model=schemas.Page[schemas.LesionOut], summary="Lesion ROIs of a subject")
def list_lesions(session: Db, user: User, subject_id: Annotated[int, Query(ge=1, le=2**62)],
                 timepoint_id: OptionalId = None, limit: Limit = 200, offset: Offset = 0) -> dict:
    rows = lesion_rows(session, subject_for(session, user, subject_id))
    if timepoint_id is not None:
        rows = [r for r in rows if r["timepoint_id"] == timepoint_id]
    return _page(rows[offset:offset + limit], len(rows), limit, offset)


@router.get("/lesions/{roi_id}", response_model=schemas.LesionOut, responses=NOT_FOUND, summary="One lesion ROI")
def get_lesion(roi_id: Id, session: Db, user: User) -> dict:
    roi = roi_for(session, user, roi_id)
    for row in lesion_rows(session, roi.subject):
        if row["id"] == roi.id:
            return row
    raise HTTPException(404, "this ROI is not a lesion of a time point")


def _measurement_out(m: Measurement, roi_name: str, timepoint_id: int | None) -> dict:
    return {"id": m.id, "roi_id": m.roi_id, "roi": roi_name, "series_id": m.series_id, "timepoint_id": timepoint_id,
            "name": m.name, "value": m.value, "unit": m.unit, "method": m.method, "parameters": m.parameters,
            "run_id": m.run_id}


def measurement_query(user: Viewer):
    return (select(Measurement, Roi.name, Series.timepoint_id).join(Roi, Measurement.roi_id == Roi.id)
            .join(Series, Measurement.series_id == Series.id).join(Subject, Roi.subject_id == Subject.id)
            .where(visible_subjects_clause(user)))


@router.get("/measurements", response_model=schemas.Page[schemas.MeasurementOut],
            summary="Measurements, filterable by subject, lesion, name and method")
def list_measurements(session: Db, user: User, subject_id: OptionalId = None, roi_id: OptionalId = None,
                      name: Annotated[str | None, Query(max_length=128)] = None,
                      method: Annotated[str | None, Query(max_length=64)] = None,
                      limit: Limit = 100, offset: Offset = 0) -> dict:
    stmt = measurement_query(user)
    if subject_id is not None:
        subject_for(session, user, subject_id)
        stmt = stmt.where(Roi.subject_id == subject_id)
    if roi_id is not None:
        roi_for(session, user, roi_id)
        stmt = stmt.where(Measurement.roi_id == roi_id)
    if name is not None:
        stmt = stmt.where(Measurement.name == name)
    if method is not None:
        stmt = stmt.where(Measurement.method == method)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.execute(stmt.order_by(Measurement.id).limit(limit).offset(offset)).all()
    return _page([_measurement_out(*r) for r in rows], total, limit, offset)


@router.get("/measurements/{measurement_id}", response_model=schemas.MeasurementOut, responses=NOT_FOUND,
            summary="One measurement")
def get_measurement(measurement_id: Id, session: Db, user: User) -> dict:
    m = session.get(Measurement, measurement_id)
    if m is None:
        raise HTTPException(404, "no such measurement")
    roi = roi_for(session, user, m.roi_id)
    return _measurement_out(m, roi.name, m.series.timepoint_id)


#: Measurements counted as dosimetry results: absorbed dose units, or a dosimetry method/name.
DOSE_UNITS = ("Gy", "Gy/GBq", "mGy", "Gy/MBq")


def dosimetry_clause():
    from sqlalchemy import or_

    return or_(Measurement.unit.in_(DOSE_UNITS), Measurement.method.like("%dosim%"),
               Measurement.method.like("%dose%"), Measurement.name.like("%dose%"),
               Measurement.name.like("%bed%"), Measurement.name.like("%eqd2%"))


@router.get("/dosimetry", response_model=schemas.Page[schemas.MeasurementOut],
            summary="Dosimetry results (absorbed dose, BED, EQD2 measurements)")
def list_dosimetry(session: Db, user: User, subject_id: OptionalId = None, limit: Limit = 100,
                   offset: Offset = 0) -> dict:
    stmt = measurement_query(user).where(dosimetry_clause())
    if subject_id is not None:
        subject_for(session, user, subject_id)
        stmt = stmt.where(Roi.subject_id == subject_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.execute(stmt.order_by(Measurement.id).limit(limit).offset(offset)).all()
    return _page([_measurement_out(*r) for r in rows], total, limit, offset)


def override_rows(session: Session, subject: Subject) -> list[dict]:
    rows = session.scalars(select(Override).where(Override.subject_id == subject.id)
                           .order_by(Override.created_at.desc(), Override.id.desc())).all()
    return [{"id": o.id, "kind": o.kind, "subject_id": o.subject_id, "roi_id": o.roi_id, "lesion_id": o.lesion_id,
             "timepoint_id": o.timepoint_id, "criteria": o.criteria, "category": o.category, "reason": o.reason,
             "user": o.username, "created_at": o.created_at.isoformat()} for o in rows]


@router.get("/subjects/{subject_id}/response", response_model=schemas.ResponseOut, responses=NOT_FOUND,
            summary="Response assessments of a subject: live (with overrides) and stored by response runs")
def get_response(subject_id: Id, session: Db, user: User) -> dict:
    from imagebio.web.response import live_response, stored_responses

    subject = subject_for(session, user, subject_id)
    return {"subject_id": subject.id, "live": live_response(session, subject),
            "stored": stored_responses(session, subject), "overrides": override_rows(session, subject)}


@router.get("/overrides", response_model=schemas.Page[schemas.OverrideOut], summary="Reader overrides of a subject")
def list_overrides(session: Db, user: User, subject_id: Annotated[int, Query(ge=1, le=2**62)], limit: Limit = 100,
                   offset: Offset = 0) -> dict:
    rows = override_rows(session, subject_for(session, user, subject_id))
    return _page(rows[offset:offset + limit], len(rows), limit, offset)


# --- runs ---------------------------------------------------------------------------------------------


def _run_rows(session: Session, user: Viewer, run_id: int | None = None) -> list[dict]:
    from imagebio.store.review import ALL_PROJECTS

    visible = select(RunSubject.run_id, RunSubject.status).join(Subject, RunSubject.subject_id == Subject.id).where(
        visible_subjects_clause(user))
    counts: dict[int, list[int]] = {}
    for rid, status in session.execute(visible):
        c = counts.setdefault(rid, [0, 0])
        c[0] += 1
        c[1] += status == "failed"
    stmt = select(Run).order_by(Run.started_at.desc(), Run.id.desc())
    if run_id is not None:
        stmt = stmt.where(Run.id == run_id)
    out = []
    for run in session.scalars(stmt):
        if run.id not in counts and ALL_PROJECTS not in user.projects:
            continue  # a run that touched none of the user's subjects
        n, failed = counts.get(run.id, [0, 0])
        out.append({"id": run.id, "command": run.command, "status": run.status,
                    "software_version": run.software_version, "started_at": _iso(run.started_at),
                    "finished_at": _iso(run.finished_at), "n_subjects": n, "n_failed": failed})
    return out


@router.get("/runs", response_model=schemas.Page[schemas.RunOut], summary="Runs that touched your subjects")
def list_runs(session: Db, user: User, limit: Limit = 50, offset: Offset = 0,
              status: Literal["running", "done", "partial", "failed"] | None = None) -> dict:
    rows = _run_rows(session, user)
    if status is not None:
        rows = [r for r in rows if r["status"] == status]
    return _page(rows[offset:offset + limit], len(rows), limit, offset)


@router.get("/runs/{run_id}", response_model=schemas.RunOut, responses=NOT_FOUND, summary="One run")
def get_run(run_id: Id, session: Db, user: User) -> dict:
    if session.get(Run, run_id) is None:
        raise HTTPException(404, "no such run")
    rows = _run_rows(session, user, run_id)
    if not rows:
        raise HTTPException(403, "this run touched no subject of your projects")
    return rows[0]


# --- review (changes) ---------------------------------------------------------------------------------

Csrf = Annotated[str | None, Header(alias="X-CSRF-Token", description="The session's CSRF token")]


def _writer(request: Request, session: Session, csrf: str | None) -> Viewer:
    user = load_user(session, request)
    if user is None:
        raise HTTPException(401, "log in first")
    check_csrf(request, csrf)
    require_role(user, "analyst")
    return user


def apply_match(session: Session, user: Viewer, roi_id: int, lesion_id: str | None, reason: str) -> dict:
    from imagebio.store.review import User as UserRow
    from imagebio.store.overrides import record_lesion_match

    roi = roi_for(session, user, roi_id)
    if roi.timepoint_id is None or roi.name == "patient":
        raise HTTPException(400, "only a lesion ROI of a time point can be matched")
    if lesion_id is not None:
        clash = [r for r in lesion_rows(session, roi.subject)
                 if r["timepoint_id"] == roi.timepoint_id and r["id"] != roi.id and r["matched_lesion_id"] == lesion_id]
        if clash:
            raise HTTPException(409, f"ROI {clash[0]['name']} of this time point is already lesion {lesion_id}")
    record_lesion_match(session, roi, lesion_id, reason, session.get(UserRow, user.id))
    return next(r for r in lesion_rows(session, roi.subject) if r["id"] == roi.id)


def apply_category(session: Session, user: Viewer, timepoint_id: int, criteria: str, category: str | None,
                   reason: str) -> dict:
    from imagebio.store.review import User as UserRow
    from imagebio.store.overrides import record_category_override

    tp = timepoint_for(session, user, timepoint_id)
    row = record_category_override(session, tp, criteria, category, reason, session.get(UserRow, user.id))
    return override_rows(session, tp.subject)[0] | {"id": row.id}


@router.post("/lesions/{roi_id}/match", response_model=schemas.LesionOut,
             responses={**NOT_FOUND, 409: {"model": schemas.ErrorOut,
                                         "description": "Another ROI of the visit is already that lesion"}},
             summary="Confirm or change which tracked lesion an ROI is (analyst)")
def post_match(roi_id: Id, body: schemas.MatchIn, request: Request, csrf: Csrf = None) -> dict:
    # The transaction is committed here, before the response (and its audit entry) is written.
    with request.app.state.store.session() as session:
        user = _writer(request, session, csrf)
        return apply_match(session, user, roi_id, body.lesion_id, body.reason)


@router.post("/timepoints/{timepoint_id}/response-override", response_model=schemas.OverrideOut,
             responses=NOT_FOUND, summary="Override the response category of a time point (analyst)")
def post_category(timepoint_id: Id, body: schemas.CategoryIn, request: Request, csrf: Csrf = None) -> dict:
    with request.app.state.store.session() as session:
        user = _writer(request, session, csrf)
        return apply_category(session, user, timepoint_id, body.criteria, body.category, body.reason)


# --- audit --------------------------------------------------------------------------------------------


@router.get("/audit", response_model=schemas.Page[schemas.AuditOut], summary="The audit log (admin)")
def list_audit(request: Request, session: Db, user: User, limit: Limit = 100, offset: Offset = 0,
               action: Literal["view", "change", "login", "login_failed", "logout", "denied"] | None = None) -> dict:
    require_role(user, "admin")
    request.app.state.audit.flush()
    stmt = select(AuditEntry)
    if action is not None:
        stmt = stmt.where(AuditEntry.action == action)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit).offset(offset)).all()
    return _page([{"id": a.id, "at": a.at.isoformat(), "user": a.username, "action": a.action, "method": a.method,
                   "path": a.path, "status": a.status} for a in rows], total, limit, offset)
