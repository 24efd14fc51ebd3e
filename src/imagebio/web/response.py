"""Response shown on the dashboard: computed live from stored lesion values with the reader's overrides, plus
the categories recorded by response runs (``response_<criteria>`` Measurements).

The live assessment builds the lesion table of :mod:`imagebio.response.table` from stored Measurements:
``volume`` (mL) of each lesion ROI, and ``longest_diameter`` / ``short_axis`` (mm, as recorded by the response
run) where present. Without a stored diameter, the diameter used for the RECIST measurability check is that of
the sphere of the lesion's volume, ``(6 V / π)^(1/3)``; the ``volumetric`` criterion decides on volumes only
(its thresholds: -65 % / +73 %, see :mod:`imagebio.response.volumetric`). ``recist11`` is assessed only when
every lesion has a stored diameter. Lesions are identified across visits by ``Roi.lesion_id`` (else the ROI
name) unless a reader matched the ROI otherwise; a baseline lesion with no ROI at a follow-up is
``not_evaluated`` there.

Reference: Eisenhauer EA et al., Eur J Cancer 2009;45:228-247 (RECIST 1.1).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from imagebio.store.models import Measurement, Roi, Subject, Timepoint
from imagebio.store.overrides import ResponseOverrides, response_overrides

__all__ = ["PATIENT_ROI", "effective_lesion_ids", "live_lesion_rows", "live_response", "stored_responses"]

PATIENT_ROI = "patient"
_VALUE_NAMES = ("volume", "longest_diameter", "short_axis")


def _sphere_diameter_mm(volume_ml: float) -> float:
    return (6.0 * volume_ml * 1000.0 / math.pi) ** (1.0 / 3.0)


def _lesion_rois(session: Session, subject: Subject) -> list[tuple[Roi, Timepoint]]:
    stmt = (
        select(Roi, Timepoint)
        .join(Timepoint, Roi.timepoint_id == Timepoint.id)
        .where(Roi.subject_id == subject.id, Roi.name != PATIENT_ROI)
        .order_by(Timepoint.study_datetime, Timepoint.id, Roi.name)
    )
    return [(roi, tp) for roi, tp in session.execute(stmt)]


def effective_lesion_ids(rois: list[tuple[Roi, Timepoint]], overrides: ResponseOverrides) -> dict[int, str]:
    """ROI id → the lesion id used for tracking after the reader's matches (a new lesion gets its own id)."""
    out = {}
    for roi, tp in rois:
        lesion_id = overrides.lesion_id_of(roi.id, roi.lesion_id or roi.name)
        out[roi.id] = lesion_id if lesion_id is not None else f"{roi.name} (new at {tp.label or tp.id})"
    return out


def _values(session: Session, roi_ids: list[int]) -> dict[int, dict[str, float]]:
    out: dict[int, dict[str, float]] = defaultdict(dict)
    if not roi_ids:
        return out
    stmt = (
        select(Measurement.roi_id, Measurement.name, Measurement.value)
        .where(Measurement.roi_id.in_(roi_ids), Measurement.name.in_(_VALUE_NAMES))
        .order_by(Measurement.created_at)
    )
    for roi_id, name, value in session.execute(stmt):
        if value is not None:
            out[roi_id][name] = float(value)  # newest wins
    return out


def live_lesion_rows(session: Session, subject: Subject, overrides: ResponseOverrides | None = None
                     ) -> tuple[list[dict[str, Any]], bool]:
    """Lesion-table rows of ``subject`` and whether every present lesion has a stored diameter."""
    import pandas as pd

    from imagebio.response.recist11 import select_targets

    overrides = overrides or response_overrides(session, subject)
    rois = _lesion_rois(session, subject)
    ids = effective_lesion_ids(rois, overrides)
    values = _values(session, [roi.id for roi, _ in rois])
    visits: dict[int, list[Roi]] = defaultdict(list)
    timepoints: dict[int, Timepoint] = {}
    for roi, tp in rois:
        if "volume" in values[roi.id] or "longest_diameter" in values[roi.id]:
            visits[tp.id].append(roi)
            timepoints[tp.id] = tp
    ordered = sorted(timepoints.values(), key=lambda t: (t.study_datetime is None, t.study_datetime, t.id))
    ordered = [t for t in ordered if t.study_datetime is not None]
    if not ordered:
        return [], False
    all_diameters = True

    def row(tp: Timepoint, roi: Roi, role: str) -> dict[str, Any]:
        nonlocal all_diameters
        v = values[roi.id]
        volume = v.get("volume")
        diameter = v.get("longest_diameter")
        if diameter is None:
            all_diameters = False
            diameter = _sphere_diameter_mm(volume) if volume is not None else None
        lesion_id = ids[roi.id]
        organ = roi.organ or f"unknown ({lesion_id})"
        return {
            "subject": subject.patient_id, "timepoint": tp.study_datetime.date().isoformat(), "lesion_id": lesion_id,
            "organ": organ, "role": role, "is_lymph_node": "node" in organ.lower() or "lymph" in organ.lower(),
            "longest_diameter_mm": None if diameter is None else round(diameter, 1),
            "short_axis_mm": v.get("short_axis"), "status": "present" if (volume or diameter) else "absent",
            "volume_ml": volume, "roi_id": roi.id, "timepoint_id": tp.id,
        }

    baseline = ordered[0]
    base_rows = [row(baseline, roi, "") for roi in visits[baseline.id]]
    chosen, _ = select_targets(pd.DataFrame(base_rows).drop(columns=["roi_id", "timepoint_id"]))
    roles = dict(zip(chosen["lesion_id"], chosen["role"], strict=True))
    rows = [{**r, "role": roles[r["lesion_id"]]} for r in base_rows if roles.get(r["lesion_id"]) != "drop"]
    for tp in ordered[1:]:
        seen = set()
        for roi in visits[tp.id]:
            r = row(tp, roi, "")
            if roles.get(r["lesion_id"]) == "drop":
                continue
            r["role"] = roles.get(r["lesion_id"], "new")
            seen.add(r["lesion_id"])
            rows.append(r)
        for lesion_id in sorted(set(roles) - seen):
            if roles[lesion_id] == "drop":
                continue
            organ = next(r["organ"] for r in base_rows if r["lesion_id"] == lesion_id)
            rows.append({
                "subject": subject.patient_id, "timepoint": tp.study_datetime.date().isoformat(),
                "lesion_id": lesion_id, "organ": organ, "role": roles[lesion_id],
                "is_lymph_node": "node" in organ.lower(), "longest_diameter_mm": None, "short_axis_mm": None,
                "status": "not_evaluated", "volume_ml": None, "roi_id": None, "timepoint_id": tp.id,
            })
    return rows, all_diameters


#: Live assessments by (store URL, subject id, data version): recomputed only when the subject's lesion
#: measurements or overrides change.
_LIVE_CACHE: Any = None


def _data_version(session: Session, subject: Subject) -> tuple:
    from sqlalchemy import func

    from imagebio.store.review import Override

    measured = session.execute(
        select(func.count(Measurement.id), func.max(Measurement.id), func.max(Measurement.created_at))
        .join(Roi, Measurement.roi_id == Roi.id).where(Roi.subject_id == subject.id)
    ).one()
    overridden = session.execute(
        select(func.count(Override.id), func.max(Override.id)).where(Override.subject_id == subject.id)
    ).one()
    return (*measured, *overridden)


def live_response(session: Session, subject: Subject) -> dict[str, Any]:
    """The live assessment(s) of one subject with overrides applied (cached per data version; do not mutate).

    Returns
    -------
    dict
        ``criteria`` → ``{"timepoints": [{timepoint_id, date, category, computed_category, reasons,
        overridden_by, override_reason, overridden_at}], "best": {...}}``, or ``{"error": text}`` when the
        lesion table is not assessable (e.g. a reader matched two ROIs of one visit to the same lesion).
    """
    global _LIVE_CACHE
    if _LIVE_CACHE is None:
        from imagebio.web.images import LruCache

        _LIVE_CACHE = LruCache(4096)
    key = (str(session.get_bind().url), subject.id, _data_version(session, subject))
    return _LIVE_CACHE.get(key, lambda: _assess_live(session, subject))


def _assess_live(session: Session, subject: Subject) -> dict[str, Any]:
    import pandas as pd

    from imagebio.errors import ImagebioError
    from imagebio.response.assess import assess_subjects

    overrides = response_overrides(session, subject)
    try:
        rows, all_diameters = live_lesion_rows(session, subject, overrides)
    except ImagebioError as exc:
        return {"error": str(exc)}
    if not rows:
        return {}
    table = pd.DataFrame(rows).drop(columns=["roi_id", "timepoint_id"])
    date_to_tp: dict[str, int] = {}
    for r in rows:
        date_to_tp.setdefault(r["timepoint"], r["timepoint_id"])
    out: dict[str, Any] = {}
    for criteria in ("volumetric", "recist11") if all_diameters else ("volumetric",):
        try:
            (result,) = assess_subjects(table, criteria)
        except (ImagebioError, ValueError) as exc:
            out[criteria] = {"error": str(exc)}
            continue
        timepoints = []
        for a in result.timepoints:
            date = pd.Timestamp(a.timepoint).date().isoformat()
            tp_id = date_to_tp.get(date)
            entry = {"timepoint_id": tp_id, "date": date, "category": a.category, "computed_category": a.category,
                     "reasons": list(a.reasons), "numbers": a.numbers, "overridden_by": None,
                     "override_reason": None, "overridden_at": None}
            override = overrides.category_for(criteria, tp_id) if tp_id is not None else None
            if override is not None:
                entry.update(category=override.category, overridden_by=override.user,
                             override_reason=override.reason, overridden_at=override.at.isoformat())
            timepoints.append(entry)
        best = {"category": result.best.category, "reasons": list(result.best.reasons)}
        out[criteria] = {"timepoints": timepoints, "best": best,
                         "diameters": "stored" if all_diameters else "equivalent-sphere from volume"}
    return out


def stored_responses(session: Session, subject: Subject) -> list[dict[str, Any]]:
    """Categories recorded by response runs (``response_<criteria>`` / ``best_response_<criteria>``)."""
    from imagebio.store.models import Series

    stmt = (
        select(Measurement, Timepoint)
        .join(Roi, Measurement.roi_id == Roi.id)
        .join(Series, Measurement.series_id == Series.id)
        .join(Timepoint, Series.timepoint_id == Timepoint.id)
        .where(Roi.subject_id == subject.id, Measurement.name.like("%response\\_%", escape="\\"))
        .order_by(Measurement.name, Timepoint.study_datetime)
    )
    out = []
    for m, tp in session.execute(stmt):
        params = m.parameters or {}
        reasons = params.get("reasons") or []
        if isinstance(reasons, str):
            reasons = [reasons]
        out.append({
            "measurement_id": m.id, "name": m.name, "criteria": m.method, "timepoint_id": tp.id,
            "timepoint": tp.label, "category": params.get("category"), "reasons": [str(r) for r in reasons],
            "best": m.name.startswith("best_"), "created_at": m.created_at.isoformat() if m.created_at else None,
            "run_id": m.run_id,
        })
    return out
