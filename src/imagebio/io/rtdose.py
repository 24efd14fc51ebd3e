"""DICOM RT Dose: write an absorbed-dose map (Gy) and read it back.

The object is a multi-frame RT Dose Storage instance (PS3.3 A.18, C.8.8.3 RT Dose module): 32-bit unsigned
pixels times DoseGridScaling give Gy; frames are the z planes at ImagePositionPatient plus GridFrameOffsetVector
(mm along the slice normal, first offset 0, PS3.3 C.8.8.3.2); DoseUnits ``GY``, DoseType ``PHYSICAL``.
"""

from __future__ import annotations

import datetime as _dt
from os import PathLike
from pathlib import Path

import numpy as np

from imagebio import units
from imagebio.errors import DicomReadError, InvalidParameterError, MissingDicomTagError, UnsupportedDataError
from imagebio.volume import Volume

__all__ = ["RT_DOSE_STORAGE", "read_rtdose", "write_rtdose"]

RT_DOSE_STORAGE = "1.2.840.10008.5.1.4.1.1.481.2"
_UINT32_MAX = 4294967295


def _ds(value: float) -> str:
    text = f"{value:.10g}"
    digits = 10
    while len(text) > 16:
        digits -= 1
        text = f"{value:.{digits}g}"
    return text


def write_rtdose(
    dose_gy: Volume,
    path: str | PathLike,
    *,
    patient_id: str = "",
    patient_name: str = "",
    study_instance_uid: str | None = None,
    frame_of_reference_uid: str | None = None,
    series_description: str = "imagebio absorbed dose",
    dose_summation_type: str = "RECORD",
    comment: str = "",
) -> Path:
    """Write an absorbed-dose Volume (Gy) as a DICOM RT Dose file.

    Parameters
    ----------
    dose_gy : Volume
        Dose in Gy, (z, y, x); any orientation (stored as given by ``direction``).
    path : path
        Output file.
    patient_id, patient_name, study_instance_uid, frame_of_reference_uid : str
        Identifiers tying the dose to the images it was computed on (new UIDs when omitted).
    dose_summation_type : str
        RT Dose DoseSummationType (``RECORD``: computed from what was administered; ``PLAN`` for a plan).

    Returns
    -------
    pathlib.Path
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    values = np.asarray(dose_gy.array, dtype=np.float64)
    if values.ndim != 3 or not np.all(np.isfinite(values)) or values.min() < 0:
        raise InvalidParameterError("dose_gy", "array", "a 3D map of finite, non-negative doses in Gy")
    if dose_gy.unit not in ("", units.GY):
        raise InvalidParameterError("dose_gy.unit", dose_gy.unit, f"'{units.GY}'")
    peak = float(values.max())
    scaling = peak / _UINT32_MAX if peak > 0 else 1.0
    scaling = float(_ds(scaling))
    stored = np.clip(np.rint(values / scaling), 0, _UINT32_MAX).astype("<u4")

    sop_uid = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = RT_DOSE_STORAGE
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    today = _dt.date.today().strftime("%Y%m%d")
    ds.SOPClassUID = RT_DOSE_STORAGE
    ds.SOPInstanceUID = sop_uid
    ds.Modality = "RTDOSE"
    ds.PatientID = patient_id
    ds.PatientName = patient_name
    ds.StudyInstanceUID = study_instance_uid or generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = frame_of_reference_uid or generate_uid()
    ds.StudyDate = today
    ds.ContentDate = today
    ds.SeriesNumber = 900
    ds.InstanceNumber = 1
    ds.SeriesDescription = series_description
    ds.Manufacturer = "imagebio"
    if comment:
        ds.DoseComment = comment[:1024]
    direction = np.asarray(dose_gy.direction, dtype=float)
    ds.ImagePositionPatient = [_ds(v) for v in dose_gy.origin]
    ds.ImageOrientationPatient = [_ds(v) for v in (*direction[:, 0], *direction[:, 1])]
    dz, dy, dx = dose_gy.spacing
    ds.PixelSpacing = [_ds(dy), _ds(dx)]
    ds.SliceThickness = _ds(dz)
    nz, ny, nx = values.shape
    ds.NumberOfFrames = nz
    ds.FrameIncrementPointer = 0x3004000C  # GridFrameOffsetVector
    ds.GridFrameOffsetVector = [_ds(k * dz) for k in range(nz)]
    ds.Rows, ds.Columns = ny, nx
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 32
    ds.BitsStored = 32
    ds.HighBit = 31
    ds.PixelRepresentation = 0
    ds.DoseUnits = "GY"
    ds.DoseType = "PHYSICAL"
    ds.DoseSummationType = dose_summation_type
    ds.DoseGridScaling = _ds(scaling)
    ds.PixelData = stored.tobytes()
    ds["PixelData"].VR = "OW"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def read_rtdose(path: str | PathLike) -> Volume:
    """Read a DICOM RT Dose file into a Volume in Gy (pixels × DoseGridScaling, frames by GridFrameOffsetVector).

    Raises
    ------
    DicomReadError
        Not readable DICOM.
    UnsupportedDataError
        Not RT Dose, DoseUnits other than GY, or non-uniform frame offsets.
    MissingDicomTagError
        DoseGridScaling or GridFrameOffsetVector missing.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    path = Path(path)
    try:
        ds = pydicom.dcmread(path)
        pixels = ds.pixel_array
    except (InvalidDicomError, OSError, ValueError, AttributeError) as exc:
        raise DicomReadError(path, f"cannot read RT Dose: {exc}") from None
    if str(ds.get("SOPClassUID", "")) != RT_DOSE_STORAGE:
        raise UnsupportedDataError(f"not an RT Dose object (SOPClassUID {ds.get('SOPClassUID', '?')})", path)
    if str(ds.get("DoseUnits", "")).upper() != "GY":
        raise UnsupportedDataError(f"DoseUnits {ds.get('DoseUnits')!r}; only GY is supported", path)
    for keyword in ("DoseGridScaling", "GridFrameOffsetVector", "ImagePositionPatient", "ImageOrientationPatient",
                    "PixelSpacing"):
        if ds.get(keyword) in (None, ""):
            raise MissingDicomTagError(keyword, path=path, needed_for="RT Dose geometry and scaling")
    if pixels.ndim == 2:
        pixels = pixels[np.newaxis]
    offsets = np.asarray([float(v) for v in ds.GridFrameOffsetVector])
    if offsets.size != pixels.shape[0]:
        raise UnsupportedDataError(f"{offsets.size} grid frame offsets for {pixels.shape[0]} frames", path)
    if offsets.size > 1:
        steps = np.diff(offsets)
        if np.any(steps <= 0) or np.ptp(steps) > 1e-3 * abs(steps.mean()):
            raise UnsupportedDataError("non-uniform or decreasing GridFrameOffsetVector", path)
        dz = float(steps.mean())
    else:
        dz = float(ds.get("SliceThickness") or 1.0)
    iop = np.asarray([float(v) for v in ds.ImageOrientationPatient])
    row, col = iop[:3], iop[3:]
    normal = np.cross(row, col)
    origin = np.asarray([float(v) for v in ds.ImagePositionPatient]) + offsets[0] * normal
    dy, dx = (float(v) for v in ds.PixelSpacing)
    dose = pixels.astype(np.float64) * float(ds.DoseGridScaling)
    return Volume(
        array=dose,
        spacing=(dz, dy, dx),
        origin=tuple(origin),
        direction=np.column_stack([row, col, normal]),
        modality="RTDOSE",
        unit=units.GY,
        identifiers={"path": str(path), "patient_id": str(ds.get("PatientID", "")),
                     "study_uid": str(ds.get("StudyInstanceUID", "")),
                     "frame_of_reference_uid": str(ds.get("FrameOfReferenceUID", ""))},
        metadata={"dose_summation_type": str(ds.get("DoseSummationType", "")),
                  "dose_type": str(ds.get("DoseType", ""))},
    )
