"""Helpers shared by the ROI mask readers (label maps, DICOM SEG, RTSTRUCT): ROI selection, mask Volumes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from os import PathLike
from typing import Any

import numpy as np

from imagebio.errors import DicomReadError, GeometryMismatchError, RoiNotFoundError
from imagebio.volume import Volume


def select_rois(available: Sequence[str], rois: Iterable[str] | None, source: str | PathLike) -> list[str]:
    """The requested ROI names in request order (all of ``available`` when ``rois`` is None).

    Raises :class:`RoiNotFoundError` listing ``available`` for the first name not present.
    """
    if rois is None:
        return list(available)
    if isinstance(rois, str):
        rois = [rois]
    chosen = []
    for name in rois:
        if name not in available:
            raise RoiNotFoundError(name, list(available), source)
        if name not in chosen:
            chosen.append(name)
    return chosen


def mask_volume(
    reference: Volume,
    mask: np.ndarray,
    *,
    roi: str,
    modality: str,
    source: str | PathLike,
    identifiers: dict[str, str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Volume:
    """A boolean mask Volume on ``reference``'s grid with ``identifiers["roi"] = roi``."""
    ids = {"roi": roi, "path": str(source)}
    ids.update({k: v for k, v in (identifiers or {}).items() if v})
    ref_path = reference.identifiers.get("path")
    if ref_path:
        ids["reference_path"] = str(ref_path)
    return reference.with_array(
        np.asarray(mask, dtype=bool),
        modality=modality,
        unit="",
        acquisition_time=None,
        identifiers=ids,
        metadata=dict(metadata or {}),
    )


def check_frame_of_reference(reference: Volume, uid: str | None, source: str | PathLike, what: str) -> None:
    """Raise :class:`GeometryMismatchError` when both the reference and the mask name different frames of reference.

    Positions in two frames of reference are not comparable (DICOM PS3.3 C.7.4.1), so a mask drawn in another
    frame cannot be placed on the image without a registration.
    """
    ref_uid = reference.identifiers.get("frame_of_reference_uid")
    if uid and ref_uid and str(uid) != str(ref_uid):
        raise GeometryMismatchError(
            f"{what} {source} is in frame of reference {uid}, but the image "
            f"{reference.identifiers.get('path', '')} is in {ref_uid}; register the mask to the image first"
        )


def read_dicom_dataset(path: str | PathLike, stop_before_pixels: bool = False):
    """``pydicom.dcmread`` that turns every parse failure into :class:`DicomReadError` naming the file."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        try:
            return pydicom.dcmread(str(path), stop_before_pixels=stop_before_pixels)
        except InvalidDicomError:
            # Files without the 128-byte preamble are still DICOM when a forced parse finds a SOP class.
            ds = pydicom.dcmread(str(path), stop_before_pixels=stop_before_pixels, force=True)
            if "SOPClassUID" not in ds:
                raise DicomReadError(path, "not a DICOM file (no DICM preamble, no SOPClassUID)") from None
            return ds
    except DicomReadError:
        raise
    except (EOFError, OSError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            InvalidDicomError) as exc:
        raise DicomReadError(path, f"truncated or malformed: {type(exc).__name__}: {exc}") from exc
