"""Load one visit (time point) of a subject from the store: its images, by role, and its lesion masks.

Series are told apart by their content, not their names: CT and PT by modality; an MR series with b-values is
a DWI, an MR series with several temporal positions is a DCE series; SEG/RTSTRUCT series hold lesion masks.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from imagebio.errors import UnsupportedDataError
from imagebio.io.dicom import DicomSeries, b_value_of, find_series, read_dicom_series, read_dynamic_series
from imagebio.pipeline.lesions import TimepointImages
from imagebio.volume import Volume

__all__ = ["VisitSeries", "classify_series", "load_visit"]


@dataclasses.dataclass(frozen=True)
class VisitSeries:
    """A stored series of a visit: its role (see :func:`classify_series`), UID, folder and store id."""

    role: str
    series_uid: str
    path: Path
    store_id: int | None = None


def classify_series(series: DicomSeries) -> str:
    """Role of a scanned DICOM series: ``CT``, ``PT``, ``NM``, ``DWI``, ``DCE``, ``VFA``, ``MR``, ``SEG``, ``RTSTRUCT``.

    An MR series with b-values is a DWI, one with several temporal positions a DCE series, one whose frames
    differ only by flip angle a variable-flip-angle T1 acquisition.
    """
    if series.is_seg:
        return "SEG"
    if series.is_rtstruct:
        return "RTSTRUCT"
    if series.modality == "MR":
        if any(b_value_of(h) is not None for h in series.headers):
            return "DWI"
        temporal = {h.get("TemporalPositionIdentifier") for h in series.headers}
        if len(temporal - {None}) > 1:
            return "DCE"
        flip_angles = {str(h.get("FlipAngle", "")) for h in series.headers}
        if len(flip_angles - {""}) > 1:
            return "VFA"
        return "MR"
    return series.modality


def load_visit(
    series: list[VisitSeries], pet_quantity: str = "suvbw"
) -> tuple[TimepointImages, dict[str, Volume], dict[str, VisitSeries]]:
    """Read a visit's images and the lesion masks of its SEG (or RTSTRUCT) on the CT grid.

    Returns
    -------
    images : TimepointImages
    masks : dict
        ROI name → boolean mask Volume on the CT grid (or the first image's grid when there is no CT).
    used : dict
        Role → the series read for it (for provenance).
    """
    from imagebio.io.masks import read_roi_masks
    from imagebio.io.pet import read_pet

    by_role: dict[str, VisitSeries] = {}
    for item in series:
        by_role.setdefault(item.role, item)
    ct = pet = None
    dwi = dce = vfa = None
    if "CT" in by_role:
        ct = read_dicom_series(find_series(by_role["CT"].path, by_role["CT"].series_uid))
    if "PT" in by_role:
        pet = read_pet(find_series(by_role["PT"].path, by_role["PT"].series_uid), quantity=pet_quantity)
    if "DWI" in by_role:
        dwi = read_dynamic_series(find_series(by_role["DWI"].path, by_role["DWI"].series_uid))
    if "DCE" in by_role:
        dce = read_dynamic_series(find_series(by_role["DCE"].path, by_role["DCE"].series_uid))
    if "VFA" in by_role:
        vfa = read_dynamic_series(find_series(by_role["VFA"].path, by_role["VFA"].series_uid))
    reference = ct or pet or (dwi[0] if dwi else None) or (dce[0] if dce else None)
    mask_series = by_role.get("SEG") or by_role.get("RTSTRUCT")
    if reference is None:
        raise UnsupportedDataError("visit has no CT, PET, DWI or DCE image series to measure")
    if mask_series is None:
        raise UnsupportedDataError("visit has no SEG or RTSTRUCT series with lesion masks")
    mask_source = find_series(mask_series.path, mask_series.series_uid, image_only=False)
    masks = read_roi_masks(mask_source.files[0], reference)
    return TimepointImages(ct=ct, pet=pet, dwi=dwi, dce=dce, vfa=vfa), masks, by_role
