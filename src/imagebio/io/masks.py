"""One entry point for ROI masks: DICOM SEG, DICOM RTSTRUCT or a label map, onto an image's grid.

:func:`read_roi_masks` looks at the file (or the one mask file in a folder), picks the reader and returns one
boolean :class:`~imagebio.volume.Volume` per ROI on the reference image's grid:

========================  ==============================================  ==========================================
file                      recognised by                                   ROI names
========================  ==============================================  ==========================================
DICOM SEG                 SOPClassUID ...66.4 (or label-map SEG ...66.7)  SegmentLabel
DICOM RTSTRUCT            SOPClassUID ...481.3 or Modality RTSTRUCT       ROIName
label map                 .nii/.nii.gz/.nrrd/.nhdr/.mha/.mhd              ``label_<n>`` per nonzero label value
========================  ==============================================  ==========================================
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import numpy as np

from imagebio.errors import DicomReadError, EmptyMaskError, InvalidParameterError, UnsupportedDataError
from imagebio.io._roi import read_dicom_dataset
from imagebio.io.labelmap import read_labelmap
from imagebio.io.nifti import is_image_file
from imagebio.io.rtstruct import RTSTRUCT_SOP_CLASS_UID, read_rtstruct
from imagebio.io.seg import SEG_SOP_CLASS_UIDS, read_seg
from imagebio.volume import Volume

__all__ = ["mask_kind", "find_mask_file", "read_roi_masks"]


def _dicom_kind(ds) -> str | None:
    sop_class = str(ds.get("SOPClassUID", ""))
    if sop_class in SEG_SOP_CLASS_UIDS:
        return "SEG"
    if sop_class == RTSTRUCT_SOP_CLASS_UID or ds.get("Modality") == "RTSTRUCT":
        return "RTSTRUCT"
    return None


def mask_kind(path: str | PathLike) -> str:
    """``"SEG"``, ``"RTSTRUCT"`` or ``"LABEL"`` for a mask file.

    Raises
    ------
    DicomReadError
        The file is neither a label-map image (by name) nor readable DICOM (e.g. truncated).
    UnsupportedDataError
        DICOM, but not a SEG or an RTSTRUCT (e.g. an image slice).
    """
    path = Path(path)
    if is_image_file(path):
        return "LABEL"
    ds = read_dicom_dataset(path, stop_before_pixels=True)
    kind = _dicom_kind(ds)
    if kind is None:
        raise UnsupportedDataError(
            f"DICOM object of SOP class {ds.get('SOPClassUID', 'missing')} (Modality {ds.get('Modality', '?')}) is "
            "not a mask; expected a DICOM SEG, an RTSTRUCT or a NIfTI/NRRD label map",
            path,
        )
    return kind


def find_mask_file(folder: str | PathLike) -> Path:
    """The single mask file in ``folder`` (searched recursively): a SEG, an RTSTRUCT or else a label map.

    Raises
    ------
    UnsupportedDataError
        No mask file, or several (the message lists them; pass the file instead).
    """
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    if len(files) == 1:
        return files[0]
    dicom_masks = []
    for file in files:
        if is_image_file(file):
            continue
        try:
            ds = read_dicom_dataset(file, stop_before_pixels=True)
        except DicomReadError:
            continue
        if _dicom_kind(ds) is not None:
            dicom_masks.append(file)
    candidates = dicom_masks or [p for p in files if is_image_file(p)]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise UnsupportedDataError("no DICOM SEG, RTSTRUCT or label-map file found", folder)
    listing = ", ".join(str(p.relative_to(folder)) for p in candidates[:6])
    raise UnsupportedDataError(f"{len(candidates)} mask files found ({listing}); pass one file", folder)


def read_roi_masks(
    path: str | PathLike,
    reference: Volume,
    rois: Sequence[str] | None = None,
    resample: bool = False,
) -> dict[str, Volume]:
    """Read the ROIs of a mask file as boolean Volumes on ``reference``'s grid.

    Parameters
    ----------
    path : str or path-like
        A DICOM SEG, a DICOM RTSTRUCT, a NIfTI/NRRD/MetaImage label map, or a folder holding exactly one of them.
    reference : Volume
        The image the masks are for; every mask is returned on its grid.
    rois : sequence of str, optional
        ROI names to read (SEG SegmentLabel, RTSTRUCT ROIName, label map ``"label_<n>"``); all when omitted.
    resample : bool
        Masks on another grid (label map or SEG on a different grid, RTSTRUCT contours between the image slices)
        are resampled with nearest-neighbour interpolation when True; when False (default) they raise
        :class:`~imagebio.errors.GeometryMismatchError`. RTSTRUCT contours are always rasterised in-plane
        directly on the reference grid (voxel centre inside, even–odd rule).

    Returns
    -------
    dict of str to Volume
        ROI name → Volume with a bool array on the reference grid, ``modality`` ``"SEG"``, ``"RTSTRUCT"`` or
        ``"LABEL"``, ``identifiers["roi"]`` the name and ``identifiers["path"]`` the mask file, in file order (or
        in ``rois`` order).

    Raises
    ------
    RoiNotFoundError
        A requested name is not in the file (the message lists the available ones).
    EmptyMaskError
        A returned ROI holds no voxel on the reference grid.
    GeometryMismatchError
        The mask is on another grid (``resample=False``), lies outside the image, or is in another frame of
        reference.
    DicomReadError
        The file is truncated or not DICOM (and not a label map).
    UnsupportedDataError
        The file is DICOM but not a mask, or a folder does not hold exactly one mask file.
    """
    path = Path(path)
    if not isinstance(reference, Volume):
        raise InvalidParameterError("reference", type(reference).__name__, "an imagebio.volume.Volume")
    if isinstance(rois, str):
        rois = [rois]
    if path.is_dir():
        path = find_mask_file(path)
    elif not path.is_file():
        raise InvalidParameterError("path", str(path), "an existing mask file or folder")
    kind = mask_kind(path)
    if kind == "LABEL":
        masks = read_labelmap(path, reference, rois=rois, resample=resample)
    else:
        dataset = read_dicom_dataset(path)
        reader = read_seg if kind == "SEG" else read_rtstruct
        masks = reader(path, reference, rois=rois, resample=resample, dataset=dataset)
    for name, mask in masks.items():
        if not np.any(mask.array):
            raise EmptyMaskError(
                name, path, detail=f"on the grid of {reference.identifiers.get('path', 'the reference image')}"
            )
    return masks
