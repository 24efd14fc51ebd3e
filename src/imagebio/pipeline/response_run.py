"""Treatment response from the store: lesion masks → RECIST diameters → lesion table → criteria → store.

:func:`lesion_table_from_store` reads every stored visit's CT (and PET) with its lesion SEG/RTSTRUCT, measures
each lesion (:func:`imagebio.response.measure.measure_lesion`: RECIST longest axial diameter and perpendicular
short axis, volume, mean HU; PERCIST SULpeak when a PET with weight, height and sex is present), and returns
the lesion table of :mod:`imagebio.response.table`. :func:`assess_store` runs a criterion on that table
(:func:`imagebio.response.assess`) and records each subject's per-time-point category as Measurements.

Choices made here (stated because the store holds no reader's annotations):

* A lesion is identified across visits by its ROI name (the SEG segment label / RTSTRUCT ROI name), or by the
  ``lesion_id`` already stored for that ROI. Targets are chosen at baseline by the RECIST 1.1 rules
  (:func:`imagebio.response.recist11.select_targets`: measurable, largest first, at most 5, 2 per organ);
  lesions first seen after baseline are ``new``; normal nodes at baseline (short axis < 10 mm) are not
  followed (RECIST 1.1 rule 2).
* The organ comes from the stored ROI (``Roi.organ``). A ROI without an organ counts as its own organ
  (``unknown (<lesion>)``), so the two-per-organ limit applies only to lesions whose organ is known. A lesion
  is a lymph node when its organ names a node.
* A baseline lesion whose segment is empty at a follow-up is ``absent`` (0 mm); one missing from the
  follow-up mask file altogether was not assessed and is ``not_evaluated`` (so RECIST gives NE, with the
  reason). A visit without a SEG/RTSTRUCT series is not a response time point and is skipped. A time
  point's date is its stored study date (a study without one raises :class:`~imagebio.errors.StoreError`).

Reference: Eisenhauer EA et al., Eur J Cancer 2009;45:228-247 (RECIST 1.1); Wahl RL et al., J Nucl Med
2009;50 Suppl 1:122S-150S (PERCIST, SULpeak).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from imagebio import units
from imagebio.errors import EmptyMaskError, GeometryMismatchError, ImagebioError, StoreError, UnsupportedDataError
from imagebio.io.dicom import find_series
from imagebio.pipeline.visit import VisitSeries, classify_series, load_visit
from imagebio.store import (
    MeasurementRow,
    Roi,
    Series,
    Store,
    Subject,
    Timepoint,
    finish_run,
    hash_settings,
    mark_subject,
    record_measurements,
    start_run,
    upsert_roi,
)
from imagebio.store.overrides import ResponseOverrides, response_overrides
from imagebio.volume import Volume, check_same_grid

__all__ = [
    "DIAMETER_METHOD",
    "PATIENT_ROI",
    "RESPONSE_CODES",
    "assess_store",
    "lesion_table_from_store",
    "response_code",
]

DIAMETER_METHOD = "recist_axial_diameter"
#: Settings of the diameter measurement (its hash keys the stored values).
DIAMETER_SETTINGS = {
    "method": DIAMETER_METHOD,
    "plane": "axial slice of the largest longest diameter",
    "extent": "convex hull of voxel boundaries",
}
SUL_PEAK_METHOD = "sul_peak_partial_1ml"
#: Name of the per-subject ROI that holds the patient-level response categories.
PATIENT_ROI = "patient"

#: Ordinal code of each category (all criteria): 0 baseline, 1 complete response, 2 partial, 3 minor,
#: 4 stable, 5 unconfirmed progression, 6 progression. Not evaluable (NE) has no code (stored as NULL).
RESPONSE_CODES: dict[str, int] = {
    "baseline": 0,
    "CR": 1,
    "iCR": 1,
    "CMR": 1,
    "PR": 2,
    "iPR": 2,
    "PMR": 2,
    "MR": 3,
    "SD": 4,
    "iSD": 4,
    "SMD": 4,
    "NMR": 4,
    "Non-CR/Non-PD": 4,
    "non-iCR/non-iUPD": 4,
    "iUPD": 5,
    "pPD": 5,
    "PD": 6,
    "iCPD": 6,
    "PMD": 6,
}

_IMAGE_ROLES = ("CT", "PT")
_MASK_ROLES = ("SEG", "RTSTRUCT")
_STORE_MODALITIES = ("CT", "PT", "SEG", "RTSTRUCT")

Progress = Callable[[int, int], None]


def response_code(category: str) -> float:
    """Ordinal code of a category (:data:`RESPONSE_CODES`); NaN for NE or an unknown category."""
    return float(RESPONSE_CODES.get(category, math.nan))


@dataclasses.dataclass
class _Visit:
    """One time point of a subject as read for response: its images' store ids and per-lesion values."""

    timepoint: Timepoint
    date: str
    reference_series_id: int
    pet_series_id: int | None
    mask_series_id: int | None
    rows: dict[str, dict[str, Any]]


def _visit_series(session, timepoint: Timepoint) -> list[VisitSeries]:
    """The CT, PET and mask series of a visit (MR series are not read: RECIST is measured on CT)."""
    items = []
    stmt = select(Series).where(Series.timepoint_id == timepoint.id).order_by(Series.id)
    for row in session.scalars(stmt):
        if not row.path or (row.modality or "").upper() not in _STORE_MODALITIES:
            continue
        scanned = find_series(Path(row.path), row.series_instance_uid, image_only=False)
        role = classify_series(scanned)
        if role in _IMAGE_ROLES + _MASK_ROLES:
            items.append(VisitSeries(role, row.series_instance_uid, Path(row.path), row.id))
    return items


def _read_masks_keeping_empty(mask_series: VisitSeries, reference: Volume) -> dict[str, Volume]:
    """All ROIs of a mask series on the reference grid, empty ones included (an empty segment = lesion gone)."""
    from imagebio.io.masks import mask_kind
    from imagebio.io.rtstruct import read_rtstruct
    from imagebio.io.seg import read_seg

    path = find_series(mask_series.path, mask_series.series_uid, image_only=False).files[0]
    reader = read_seg if mask_kind(path) == "SEG" else read_rtstruct
    return reader(path, reference)


def _read_visit(series: list[VisitSeries], where: str) -> tuple[Volume | None, Volume | None, dict[str, Volume], dict]:
    if not any(s.role in _IMAGE_ROLES for s in series):
        raise UnsupportedDataError(f"{where} has no CT or PET series to measure lesions on")
    try:
        images, masks, used = load_visit(series, pet_quantity="suvbw")
        return images.ct, images.pet, masks, used
    except EmptyMaskError:
        pass
    # A segment is empty (a lesion that disappeared): read images and masks without the emptiness check.
    from imagebio.io.dicom import read_dicom_series
    from imagebio.io.pet import read_pet

    used = {}
    for item in series:
        used.setdefault(item.role, item)
    ct = read_dicom_series(find_series(used["CT"].path, used["CT"].series_uid)) if "CT" in used else None
    pet = read_pet(find_series(used["PT"].path, used["PT"].series_uid), quantity="suvbw") if "PT" in used else None
    mask_series = used.get("SEG") or used.get("RTSTRUCT")
    return ct, pet, _read_masks_keeping_empty(mask_series, ct or pet), used


def _on_grid(mask: Volume, image: Volume) -> np.ndarray:
    """The mask on the image's grid (nearest-neighbour resampling when the grids differ)."""
    try:
        check_same_grid(image, mask, what="lesion mask")
        return np.asarray(mask.array, bool)
    except GeometryMismatchError:
        from imagebio.volume import resample_to

        as_float = mask.with_array(np.asarray(mask.array, np.float32))
        return np.asarray(resample_to(as_float, image, interpolator="nearest").array) > 0.5


def _sul_peak(pet: Volume, mask: Volume) -> float:
    """PERCIST SULpeak (1 mL sphere, partial-voxel weights) of a lesion; NaN without weight, height and sex."""
    from imagebio.pet.peak import sul_peak

    meta = pet.metadata
    weight, height, sex = meta.get("weight_kg"), meta.get("height_m"), meta.get("sex")
    if not weight or not height or sex not in ("M", "F"):
        return math.nan
    inside = _on_grid(mask, pet)
    if not inside.any():
        return math.nan
    peak = sul_peak(pet.array, inside, pet.spacing, weight_kg=float(weight), height_m=float(height), sex=sex)
    return peak.value


def _is_node(organ: str) -> bool:
    text = organ.lower()
    return "node" in text or "lymph" in text


def _measure_visit(ct: Volume | None, pet: Volume | None, masks: dict[str, Volume]) -> dict[str, dict[str, Any]]:
    from imagebio.response.measure import measure_lesion

    rows: dict[str, dict[str, Any]] = {}
    uptake_min = math.nan
    if pet is not None and pet.metadata.get("uptake_time_s") is not None:
        uptake_min = float(pet.metadata["uptake_time_s"]) / 60.0
    for name, mask in masks.items():
        inside = np.asarray(mask.array, bool)
        if not inside.any():
            rows[name] = {"status": "absent", "longest_diameter_mm": 0.0, "short_axis_mm": 0.0, "volume_ml": 0.0}
            continue
        # Masks lie on the CT grid when the visit has a CT (load_visit), on the PET grid otherwise.
        measured = measure_lesion(inside, mask.spacing, image=ct.array if ct is not None else None)
        rows[name] = {
            "status": "present",
            "longest_diameter_mm": measured.longest_diameter_mm,
            "short_axis_mm": measured.short_axis_mm,
            "volume_ml": measured.volume_ml,
            "mean_hu": measured.mean_hu if measured.mean_hu is not None else math.nan,
            "sul_peak": _sul_peak(pet, mask) if pet is not None else math.nan,
            "uptake_time_min": uptake_min,
        }
    return rows


def _stored_rois(session, subject_id: int) -> dict[tuple[int | None, str], Roi]:
    """(timepoint id, ROI name) → the subject's stored ROI, and (None, name) → its first ROI of that name.

    Used to reuse a stored ``lesion_id`` (e.g. set by lesion tracking) and ``organ``.
    """
    rois: dict[tuple[int | None, str], Roi] = {}
    for roi in session.scalars(select(Roi).where(Roi.subject_id == subject_id).order_by(Roi.id)):
        rois.setdefault((roi.timepoint_id, roi.name), roi)
        rois.setdefault((None, roi.name), roi)
    return rois


def _subject_visits(session, subject: Subject) -> list[_Visit]:
    timepoints = session.scalars(
        select(Timepoint).where(Timepoint.subject_id == subject.id).order_by(Timepoint.study_datetime, Timepoint.id)
    ).all()
    visits = []
    for timepoint in timepoints:
        where = f"subject {subject.patient_id!r}, study {timepoint.study_instance_uid}"
        if timepoint.study_datetime is None:
            raise StoreError(f"{where}: the study has no date; a response time point needs one")
        series = _visit_series(session, timepoint)
        if not any(s.role in _MASK_ROLES for s in series):
            continue  # a visit without lesion masks is not a response assessment
        ct, pet, masks, used = _read_visit(series, where)
        reference = used.get("CT") or used.get("PT")
        mask_series = used.get("SEG") or used.get("RTSTRUCT")
        visits.append(
            _Visit(
                timepoint=timepoint,
                date=timepoint.study_datetime.date().isoformat(),
                reference_series_id=reference.store_id,
                pet_series_id=used["PT"].store_id if "PT" in used else None,
                mask_series_id=mask_series.store_id if mask_series else None,
                rows=_measure_visit(ct, pet, masks),
            )
        )
    return visits


def _identity(
    visit: _Visit, name: str, stored: dict[tuple[int | None, str], Roi], overrides: ResponseOverrides | None = None
) -> tuple[str, str]:
    """(lesion_id, organ) of a ROI of a visit: a reader's lesion match if any, else the stored ROI's lesion_id
    and organ where set. A reader's "new lesion" gives the ROI an identity of its own at that visit."""
    here = stored.get((visit.timepoint.id, name))
    anywhere = stored.get((None, name))
    lesion_id = next((r.lesion_id for r in (here, anywhere) if r is not None and r.lesion_id), name)
    match = None if overrides is None else overrides.match_by_name(visit.timepoint.id, name)
    if match is not None:
        lesion_id = match.lesion_id if match.lesion_id is not None else f"{name} (new on {visit.date})"
    organ = next((r.organ for r in (here, anywhere) if r is not None and r.organ), f"unknown ({lesion_id})")
    return lesion_id, organ


def _table_rows(
    subject: Subject,
    visits: list[_Visit],
    stored: dict[tuple[int | None, str], Roi],
    overrides: ResponseOverrides | None = None,
) -> list[dict[str, Any]]:
    """Lesion-table rows of one subject, with roles from RECIST 1.1 target selection at baseline."""
    import pandas as pd

    from imagebio.response.recist11 import select_targets

    if not visits:
        return []
    baseline, follow_ups = visits[0], visits[1:]

    def row_of(visit: _Visit, lesion_id: str, organ: str, role: str, values: dict[str, Any]) -> dict[str, Any]:
        return {
            "subject": subject.patient_id,
            "timepoint": visit.date,
            "lesion_id": lesion_id,
            "organ": organ,
            "role": role,
            "is_lymph_node": _is_node(organ),
            **values,
        }

    # An empty segment at baseline is no lesion to follow.
    base_rows = [
        row_of(baseline, *_identity(baseline, name, stored, overrides), "", values)
        for name, values in baseline.rows.items()
        if values["status"] == "present"
    ]
    roles: dict[str, str] = {}
    if base_rows:
        chosen, _ = select_targets(pd.DataFrame(base_rows))
        roles = dict(zip(chosen["lesion_id"], chosen["role"], strict=True))
    not_followed = {row["lesion_id"] for row in base_rows} - set(roles)  # normal nodes (rule 2)
    rows = [{**row, "role": roles[row["lesion_id"]]} for row in base_rows if row["lesion_id"] in roles]
    new_seen: set[str] = set()
    for visit in follow_ups:
        seen = set()
        for name, values in visit.rows.items():
            lesion_id, organ = _identity(visit, name, stored, overrides)
            if lesion_id in not_followed:
                continue
            if lesion_id not in roles:
                if values["status"] == "absent" and lesion_id not in new_seen:
                    continue  # an empty segment of a lesion never seen
                new_seen.add(lesion_id)
            seen.add(lesion_id)
            rows.append(row_of(visit, lesion_id, organ, roles.get(lesion_id, "new"), values))
        for lesion_id in sorted(roles.keys() - seen):
            # A baseline lesion missing from this visit's mask file was not assessed (RECIST: NE).
            organ = next(r["organ"] for r in base_rows if r["lesion_id"] == lesion_id)
            rows.append(row_of(visit, lesion_id, organ, roles[lesion_id], {"status": "not_evaluated"}))
    return rows


def _record_diameters(
    session, subject: Subject, visits: list[_Visit], stored: dict[tuple[int | None, str], Roi], run_id: int | None
) -> int:
    settings_hash = hash_settings(DIAMETER_SETTINGS)
    peak_parameters = {"sphere_ml": 1.0, "lbm": "janmahasatian", "sphere": "partial-voxel weights"}
    peak_hash = hash_settings({"method": SUL_PEAK_METHOD, **peak_parameters})
    out = []
    for visit in visits:
        source = session.get(Series, visit.mask_series_id) if visit.mask_series_id else None
        for name, values in visit.rows.items():
            if values["status"] != "present":
                continue
            lesion_id, _ = _identity(visit, name, stored)
            roi = upsert_roi(
                session, subject, name, timepoint=visit.timepoint, lesion_id=lesion_id, source_series=source
            )
            for measure in ("longest_diameter", "short_axis"):
                out.append(
                    MeasurementRow(
                        roi_id=roi.id,
                        series_id=visit.reference_series_id,
                        name=measure,
                        value=values[f"{measure}_mm"],
                        unit=units.MM,
                        method=DIAMETER_METHOD,
                        parameters=DIAMETER_SETTINGS,
                        settings_hash=settings_hash,
                        run_id=run_id,
                    )
                )
            if visit.pet_series_id is not None and not math.isnan(values.get("sul_peak", math.nan)):
                out.append(
                    MeasurementRow(
                        roi_id=roi.id,
                        series_id=visit.pet_series_id,
                        name="sul_peak",
                        value=values["sul_peak"],
                        unit=units.SUL,
                        method=SUL_PEAK_METHOD,
                        parameters=peak_parameters,
                        settings_hash=peak_hash,
                        run_id=run_id,
                    )
                )
    record_measurements(session, out)
    return len(out)


def _subject_ids(session, subjects: Sequence[str] | None) -> list[tuple[int, str]]:
    query = select(Subject).order_by(Subject.patient_id)
    if subjects:
        query = query.where(Subject.patient_id.in_(list(subjects)))
    found = [(s.id, s.patient_id) for s in session.scalars(query)]
    if subjects:
        missing = sorted(set(subjects) - {pid for _, pid in found})
        if missing:
            raise StoreError(f"no subject {', '.join(map(repr, missing))} in the store")
    return found


_TABLE_COLUMNS = (
    "subject",
    "timepoint",
    "lesion_id",
    "organ",
    "role",
    "is_lymph_node",
    "longest_diameter_mm",
    "short_axis_mm",
    "status",
    "volume_ml",
    "mean_hu",
    "sul_peak",
    "uptake_time_min",
)


def _lesion_table(
    store: Store,
    subjects: Sequence[str] | None,
    record: bool,
    run_id: int | None,
    progress: Progress | None,
    failed: dict[str, str] | None = None,
):
    """(lesion table, {PatientID: {ISO date: store id of the series measured on}}).

    With ``failed`` (a dict), a subject whose images cannot be read or measured is left out and its error
    recorded there (and in the run, when there is one) instead of stopping the others.
    """
    import pandas as pd

    from imagebio.response.table import read_lesion_table

    with store.session(readonly=True) as session:
        ids = _subject_ids(session, subjects)
    rows: list[dict[str, Any]] = []
    measured_on: dict[str, dict[str, int]] = {}
    for index, (subject_id, patient_id) in enumerate(ids, start=1):
        try:
            with store.session() as session:
                subject = session.get(Subject, subject_id)
                stored = _stored_rois(session, subject_id)
                visits = _subject_visits(session, subject)
                subject_rows = _table_rows(subject, visits, stored, response_overrides(session, subject))
                if len(subject_rows):
                    read_lesion_table(pd.DataFrame(subject_rows, columns=list(_TABLE_COLUMNS)))  # validate
                if record:
                    _record_diameters(session, subject, visits, stored, run_id)
        except ImagebioError as exc:
            if failed is None:
                raise
            failed[patient_id] = str(exc)
            if run_id is not None:
                with store.session() as session:
                    mark_subject(session, run_id, subject_id, "failed", error=str(exc))
        else:
            rows.extend(subject_rows)
            measured_on[patient_id] = {v.date: v.reference_series_id for v in visits}
        if progress is not None:
            progress(index, len(ids))
    return pd.DataFrame(rows, columns=list(_TABLE_COLUMNS)), measured_on


def lesion_table_from_store(
    store: Store,
    subjects: Sequence[str] | None = None,
    *,
    record: bool = True,
    progress: Progress | None = None,
):
    """The lesion table (:mod:`imagebio.response.table` format) of the stored subjects' lesion masks.

    For every subject (all, or the PatientIDs given) and every visit with a SEG/RTSTRUCT, each lesion is
    measured on the CT (or the PET where there is no CT): RECIST longest axial diameter and perpendicular
    short axis (mm), volume (mL), mean HU, and SULpeak (SUL, PERCIST 1 mL sphere) on the PET when its headers
    give weight, height and sex. Roles, organs and statuses follow the module docstring.

    Parameters
    ----------
    store : Store
        The study store, with series ingested with their folders.
    subjects : sequence of str, optional
        PatientIDs; default all.
    record : bool
        Record ``longest_diameter`` and ``short_axis`` (mm, method ``recist_axial_diameter``, on the CT series)
        and ``sul_peak`` (SUL, on the PET series) as Measurements of each lesion ROI (idempotent: a rerun
        updates them).
    progress : callable, optional
        ``progress(done, total)`` after each subject.

    Returns
    -------
    pandas.DataFrame
        Columns ``subject, timepoint`` (ISO date), ``lesion_id, organ, role, is_lymph_node,
        longest_diameter_mm, short_axis_mm, status, volume_ml, mean_hu, sul_peak, uptake_time_min``.

    Raises
    ------
    StoreError
        A requested subject is not stored, or a study has no date.
    UnsupportedDataError
        A visit with lesion masks has no CT or PET series.
    """
    return _lesion_table(store, subjects, record, None, progress)[0]


def assess_store(
    store: Store,
    criteria: str = "recist11",
    subjects: Sequence[str] | None = None,
    confirm: bool | None = None,
    *,
    settings: str | PathLike | Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    **options: Any,
):
    """Assess the stored subjects' lesions with one criterion and record the categories in the store.

    Builds the lesion table with :func:`lesion_table_from_store` (recording the diameters), runs
    :func:`imagebio.response.assess`, and records for each subject and time point a Measurement
    ``response_<criteria>`` (value: :func:`response_code`, unit ``""``, method ``criteria``, parameters
    ``{"category", "reasons", "timepoint", "revised_from", "numbers"}``) on the subject's ``patient`` ROI and
    the time point's CT (or PET) series, plus ``best_response_<criteria>`` (the best overall response as of
    the last time point) on the last time point's series. The work is recorded as a Run
    (``response-<criteria>``).

    Parameters
    ----------
    store : Store
    criteria : str
        A key of :data:`imagebio.response.CRITERIA`.
    subjects : sequence of str, optional
        PatientIDs; default all.
    confirm : bool, optional
        Require confirmation of responses for the best overall response (RECIST 1.1 rule 25); ``None`` keeps
        the value of ``settings`` (default False).
    settings : path or mapping, optional
        YAML file or mapping of the criterion's settings (:func:`imagebio.response.load_settings`).
    progress : callable, optional
        ``progress(done, total)`` after each subject is measured.
    **options
        Settings of the criterion (see its ``*Settings`` dataclass).

    Returns
    -------
    pandas.DataFrame
        The frame of :func:`imagebio.response.assess` (one row per subject and time point, and a ``best``
        row per subject). ``attrs["failed"]`` maps the PatientID of each subject whose images could not be
        read or measured to its error; such a subject is left out (and marked failed in the run) while the
        others go on.
    """
    from imagebio.response import assess, load_settings

    if confirm is not None:
        options["confirm"] = confirm
    resolved = load_settings(criteria, settings, **options)  # fail early on a bad criterion or setting
    parameters = {
        "criteria": criteria,
        "settings": dataclasses.asdict(resolved),
        "subjects": list(subjects) if subjects else "all",
    }
    with store.session() as session:
        run_id = start_run(session, f"response-{criteria}", parameters).id
    failed: dict[str, str] = {}
    try:
        table, measured_on = _lesion_table(store, subjects, True, run_id, progress, failed)
        result = assess(table, criteria, settings=dataclasses.asdict(resolved))
    except Exception:
        with store.session() as session:
            finish_run(session, run_id, "failed")
        raise
    settings_hash = hash_settings({"criteria": criteria, **dataclasses.asdict(resolved)})
    name = f"response_{criteria}"
    with store.session() as session:
        _apply_category_overrides(session, result, criteria)
        for patient_id, rows in result.groupby("subject", sort=True):
            subject = session.scalars(select(Subject).where(Subject.patient_id == patient_id)).one()
            roi = upsert_roi(session, subject, PATIENT_ROI)
            series_of = measured_on.get(patient_id, {})
            records = []
            last_date = None
            for row in rows.itertuples(index=False):
                if row.timepoint in series_of:
                    last_date = row.timepoint
                    records.append(
                        _category_row(roi.id, series_of[row.timepoint], name, criteria, row, settings_hash, run_id)
                    )
            best = rows[rows["timepoint"] == "best"]
            if last_date is not None and len(best):
                best_row = next(best.itertuples(index=False))
                records.append(
                    _category_row(
                        roi.id, series_of[last_date], f"best_{name}", criteria, best_row, settings_hash, run_id,
                        as_of=last_date,
                    )
                )
            record_measurements(session, records)
            mark_subject(session, run_id, subject.id, "done")
        finish_run(session, run_id)
    result.attrs["failed"] = failed
    return result


def _apply_category_overrides(session, result, criteria: str) -> None:
    """Replace computed categories by the readers' overrides in force (in place), saying so in the reason."""
    for patient_id in result["subject"].unique():
        subject = session.scalars(select(Subject).where(Subject.patient_id == patient_id)).one()
        overrides = response_overrides(session, subject)
        if not overrides.categories:
            continue
        dates = {
            tp.study_datetime.date().isoformat(): tp.id
            for tp in session.scalars(select(Timepoint).where(Timepoint.subject_id == subject.id))
            if tp.study_datetime is not None
        }
        for index in result.index[result["subject"] == patient_id]:
            timepoint_id = dates.get(result.at[index, "timepoint"])
            override = None if timepoint_id is None else overrides.category_for(criteria, timepoint_id)
            if override is not None:
                computed = result.at[index, "category"]
                result.at[index, "category"] = override.category
                result.at[index, "reason"] = (
                    f"overridden by {override.user}: {override.reason} (computed {computed}: "
                    f"{result.at[index, 'reason']})"
                )


def _category_row(
    roi_id: int,
    series_id: int,
    name: str,
    criteria: str,
    row: Any,
    settings_hash: str,
    run_id: int,
    as_of: str | None = None,
) -> MeasurementRow:
    import json

    parameters = {
        "category": row.category,
        "reasons": [r for r in str(row.reason).split("; ") if r],
        "timepoint": row.timepoint if as_of is None else as_of,
        "revised_from": row.revised_from or None,
        "numbers": json.loads(row.numbers) if isinstance(row.numbers, str) else row.numbers,
    }
    return MeasurementRow(
        roi_id=roi_id,
        series_id=series_id,
        name=name,
        value=response_code(row.category),
        unit="",
        method=criteria,
        parameters=parameters,
        settings_hash=settings_hash,
        run_id=run_id,
    )
