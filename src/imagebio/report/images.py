"""Images of one stored visit for the key-image section: CT with lesion masks, PET (SUVbw), a parametric map.

Parametric maps come from a stored DICOM Parametric Map series of the visit when there is one (read with
:func:`imagebio.io.parametric_map.read_parametric_map`), else an ADC map is derived from the visit's DWI series
(:func:`imagebio.report.export.compute_map`); without either the section says so.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from imagebio.errors import ImagebioError

__all__ = ["VisitImages", "load_visit_images"]

log = logging.getLogger(__name__)


@dataclasses.dataclass
class VisitImages:
    """What could be read for a visit, and why the rest could not."""

    ct: Any = None
    pet: Any = None
    masks: dict[str, Any] = dataclasses.field(default_factory=dict)
    parameter_map: Any = None
    map_background: Any = None
    map_source: str = ""
    problems: dict[str, str] = dataclasses.field(default_factory=dict)


def load_visit_images(session, study_instance_uid: str, with_map: bool = True) -> VisitImages:
    """Read CT, lesion masks (on the CT grid, else the PET grid), PET in SUVbw and a parametric map of a visit.

    Failures are recorded in ``problems`` (by part: ``ct``, ``masks``, ``pet``, ``map``), never raised, so a
    report shows what exists and marks the rest "not available".
    """
    from sqlalchemy import select

    from imagebio.io.dicom import find_series, read_dicom_series
    from imagebio.io.masks import read_roi_masks
    from imagebio.io.parametric_map import PARAMETRIC_MAP_SOP_CLASS_UID, read_parametric_map
    from imagebio.io.pet import read_pet
    from imagebio.pipeline.visit import classify_series
    from imagebio.report.export import is_dwi_series
    from imagebio.store import Series, Timepoint

    out = VisitImages()
    tp = session.scalars(select(Timepoint).where(Timepoint.study_instance_uid == study_instance_uid)).first()
    by_role: dict[str, Any] = {}
    stored_maps = []
    for row in session.scalars(select(Series).where(Series.timepoint_id == tp.id).order_by(Series.id)):
        if not row.path or not Path(row.path).exists():
            out.problems.setdefault("files", f"series folder {row.path} is missing")
            continue
        if row.sop_class_uid == PARAMETRIC_MAP_SOP_CLASS_UID:
            stored_maps.append(row)
            continue
        modality = (row.modality or "").upper()
        wanted_mr = with_map and modality == "MR" and is_dwi_series(row)
        if modality not in ("CT", "PT", "SEG", "RTSTRUCT") and not wanted_mr:
            continue  # scanning a long dynamic series (DCE) only to skip it would dominate the report's time
        try:
            scanned = find_series(Path(row.path), row.series_instance_uid, image_only=False)
            by_role.setdefault(classify_series(scanned), scanned)
        except ImagebioError as exc:
            out.problems.setdefault("files", str(exc))
    if "CT" in by_role:
        try:
            out.ct = read_dicom_series(by_role["CT"])
        except ImagebioError as exc:
            out.problems["ct"] = str(exc)
    else:
        out.problems["ct"] = "no CT series at this time point"
    if "PT" in by_role:
        try:
            out.pet = read_pet(by_role["PT"], quantity="suvbw")
        except ImagebioError as exc:
            out.problems["pet"] = str(exc)
    else:
        out.problems["pet"] = "no PET series at this time point"
    reference = out.ct or out.pet
    mask_series = by_role.get("SEG") or by_role.get("RTSTRUCT")
    if mask_series is None:
        out.problems["masks"] = "no SEG or RTSTRUCT series at this time point"
    elif reference is not None:
        try:
            out.masks = {k: v.array for k, v in read_roi_masks(mask_series.files[0], reference, resample=True).items()}
        except ImagebioError as exc:
            out.problems["masks"] = str(exc)
    if with_map:
        _load_map(out, by_role, stored_maps, read_parametric_map)
    return out


def _load_map(out: VisitImages, by_role, stored_maps, read_parametric_map) -> None:
    from imagebio.io.dicom import find_series, read_dynamic_series

    for row in stored_maps:
        try:
            files = find_series(Path(row.path), row.series_instance_uid, image_only=False).files
            out.parameter_map = read_parametric_map(files[0])
            out.map_source = f"stored Parametric Map series {row.series_instance_uid}"
            out.map_background = out.ct if out.ct is not None and out.ct.same_grid(out.parameter_map) else None
            return
        except ImagebioError as exc:
            out.problems["map"] = str(exc)
    if "DWI" in by_role:
        from imagebio.report.export import compute_map

        try:
            out.parameter_map, _ = compute_map("adc", {"DWI": (None, by_role["DWI"])})
            frames = read_dynamic_series(by_role["DWI"])
            out.map_background = frames[0]
            out.map_source = "ADC derived from the DWI series (weighted log-linear mono-exponential fit, all b-values)"
        except ImagebioError as exc:
            out.problems["map"] = str(exc)
    elif "map" not in out.problems:
        out.problems["map"] = "no parametric map series and no DWI series at this time point"
