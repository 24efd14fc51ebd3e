"""DICOM folder scanning and series reading.

A folder is scanned into series keyed by (StudyInstanceUID, SeriesInstanceUID). Slices are sorted by their
position along the slice normal (the cross product of the ImageOrientationPatient row and column cosines),
RescaleSlope/RescaleIntercept are applied per slice, and the result is a :class:`~imagebio.volume.Volume`.
Dynamic series (DCE/DSC time frames, multi-b DWI) are split into one Volume per frame by b-value or time.

Files that are not DICOM, or whose pixel data are truncated, are reported as :class:`SkippedFile` and never
stop a scan. Reference: DICOM PS3.3 C.7.6.2 (Image Plane Module), C.7.6.16 (Multi-frame Functional Groups).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from imagebio import units
from imagebio.errors import (
    DicomReadError,
    InvalidParameterError,
    MissingDicomTagError,
    UnsupportedDataError,
)
from imagebio.volume import Volume

__all__ = [
    "SkippedFile",
    "DicomSeries",
    "ScanResult",
    "scan_folder",
    "find_series",
    "read_dicom_series",
    "read_dynamic_series",
    "dicom_datetime",
    "series_reference_time",
    "b_value_of",
]

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]

#: Slice positions may deviate from a uniform grid by this fraction of the slice spacing.
SLICE_SPACING_TOLERANCE = 0.01

_IMAGE_MODALITIES = {"CT", "MR", "PT", "NM", "OT", "US", "CR", "DX", "MG", "XA"}
SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
LABEL_MAP_SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.7"
RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"

_MODALITY_UNITS = {"CT": units.HU, "MR": units.ARBITRARY, "NM": units.COUNTS}
_PET_UNITS = {
    "BQML": units.BQ_PER_ML,
    "CNTS": units.COUNTS,
    "GML": "g/mL",
    "CM2ML": "cm2/mL",
    "PROPCNTS": "propcounts",
    "MGMINML": "mg/min/mL",
    "UMOLMINML": "umol/min/mL",
    "NONE": "",
}


@dataclasses.dataclass(frozen=True)
class SkippedFile:
    """A file a scan could not use, and why."""

    path: Path
    reason: str


@dataclasses.dataclass
class DicomSeries:
    """One DICOM series: its identifiers, its files and their headers (without pixel data), in slice order.

    For image series, ``files`` and ``headers`` are sorted by (frame key, position along the slice normal), so
    a single-frame 3D series lists its slices in the order of the Volume's z axis.
    """

    study_uid: str
    series_uid: str
    modality: str
    sop_class_uid: str
    files: list[Path]
    headers: list[Dataset]

    @property
    def first(self) -> Dataset:
        return self.headers[0]

    @property
    def patient_id(self) -> str:
        return str(self.first.get("PatientID", "") or "")

    @property
    def description(self) -> str:
        return str(self.first.get("SeriesDescription", "") or "")

    @property
    def series_number(self) -> int | None:
        value = self.first.get("SeriesNumber")
        return int(value) if value not in (None, "") else None

    @property
    def frame_of_reference_uid(self) -> str:
        return str(self.first.get("FrameOfReferenceUID", "") or "")

    @property
    def study_datetime(self) -> datetime | None:
        return dicom_datetime(self.first.get("StudyDate"), self.first.get("StudyTime"))

    @property
    def folder(self) -> Path:
        return Path(os.path.commonpath([str(f.parent) for f in self.files]))

    @property
    def is_image(self) -> bool:
        if self.is_seg or self.is_rtstruct:
            return False
        return self.modality in _IMAGE_MODALITIES and "Rows" in self.first

    @property
    def is_seg(self) -> bool:
        return self.sop_class_uid in (SEG_SOP_CLASS, LABEL_MAP_SEG_SOP_CLASS)

    @property
    def is_rtstruct(self) -> bool:
        return self.sop_class_uid == RTSTRUCT_SOP_CLASS

    @property
    def kind(self) -> str:
        """``"image"``, ``"seg"``, ``"rtstruct"`` or ``"other"``."""
        if self.is_seg:
            return "seg"
        if self.is_rtstruct:
            return "rtstruct"
        if self.is_image:
            return "image"
        return "other"

    def __repr__(self) -> str:
        return (
            f"DicomSeries({self.modality} {self.description!r}, {len(self.files)} files, "
            f"patient={self.patient_id!r}, series_uid={self.series_uid})"
        )


@dataclasses.dataclass
class ScanResult:
    """What a folder scan found: series, and files that were skipped with the reason."""

    series: list[DicomSeries]
    skipped: list[SkippedFile]

    def image_series(self) -> list[DicomSeries]:
        return [s for s in self.series if s.kind == "image"]


# --------------------------------------------------------------------------------------------- header reading
def _expected_pixel_bytes(ds: Dataset) -> int | None:
    try:
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        return int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1)) * int(ds.BitsAllocated) // 8 * frames
    except (AttributeError, TypeError, ValueError):
        return None


def read_header(path: str | Path) -> Dataset:
    """Read one file's DICOM header (no pixel data), checking that uncompressed pixel data are complete.

    Raises
    ------
    DicomReadError
        If the file is not DICOM, cannot be parsed, or its pixel data are shorter than Rows×Columns×frames
        require (a truncated file).
    """
    path = Path(path)
    try:
        with open(path, "rb") as fp:
            try:
                ds = pydicom.dcmread(fp, stop_before_pixels=True)
            except InvalidDicomError:
                # Old files without the 128-byte preamble are still DICOM if a forced parse finds identifiers.
                fp.seek(0)
                ds = pydicom.dcmread(fp, stop_before_pixels=True, force=True)
                if "SOPClassUID" not in ds or "SeriesInstanceUID" not in ds:
                    raise DicomReadError(path, "not a DICOM file (no DICM preamble, no DICOM identifiers)") from None
            pixel_offset = fp.tell()
    except DicomReadError:
        raise
    except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError, NotImplementedError,
            InvalidDicomError) as exc:
        raise DicomReadError(path, f"truncated or corrupt header: {exc}") from None
    size = path.stat().st_size
    has_pixels = size > pixel_offset and "Rows" in ds
    if has_pixels:
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        expected = _expected_pixel_bytes(ds)
        if expected is not None and syntax is not None and not syntax.is_compressed:
            element_header = 8 if syntax.is_implicit_VR else 12
            available = size - pixel_offset - element_header
            if available < expected:
                raise DicomReadError(path, f"truncated pixel data: {available} bytes, expected {expected}")
    return ds


def _iter_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if name.startswith(".") or name.upper() == "DICOMDIR":
                continue
            files.append(Path(dirpath) / name)
    return files


def scan_folder(path: str | Path, progress: ProgressCallback | None = None) -> ScanResult:
    """Scan a folder (recursively) or one file into DICOM series.

    Parameters
    ----------
    path : str or Path
        Folder to scan, or a single file.
    progress : callable, optional
        Called as ``progress(done, total)`` after each file.

    Returns
    -------
    ScanResult
        Series sorted by (patient, study date, series number); files that are not DICOM, truncated or lack a
        SeriesInstanceUID are in ``skipped`` with the reason.
    """
    root = Path(path)
    if not root.exists():
        raise InvalidParameterError("path", str(root), "an existing DICOM folder or file")
    files = _iter_files(root)
    groups: dict[tuple[str, str], list[tuple[Path, Dataset]]] = defaultdict(list)
    skipped: list[SkippedFile] = []
    for done, file in enumerate(files, start=1):
        try:
            ds = read_header(file)
        except DicomReadError as exc:
            skipped.append(SkippedFile(file, exc.reason))
            log.warning("skipped %s: %s", file, exc.reason)
        else:
            series_uid = str(ds.get("SeriesInstanceUID", "") or "")
            if not series_uid:
                skipped.append(SkippedFile(file, "no SeriesInstanceUID (0020,000E)"))
            else:
                groups[(str(ds.get("StudyInstanceUID", "") or ""), series_uid)].append((file, ds))
        if progress is not None:
            progress(done, len(files))
    series = [_make_series(study, uid, members) for (study, uid), members in groups.items()]
    series.sort(key=lambda s: (s.patient_id, s.study_datetime or datetime.min, s.series_number or 0, s.series_uid))
    return ScanResult(series=series, skipped=skipped)


def _make_series(study_uid: str, series_uid: str, members: list[tuple[Path, Dataset]]) -> DicomSeries:
    first = members[0][1]
    sop = str(first.get("SOPClassUID", "") or "")
    members = sorted(members, key=lambda m: _sort_key(m[1]))
    return DicomSeries(
        study_uid=study_uid,
        series_uid=series_uid,
        modality=str(first.get("Modality", "") or ""),
        sop_class_uid=sop,
        files=[m[0] for m in members],
        headers=[m[1] for m in members],
    )


def _slice_normal(ds: Dataset) -> np.ndarray | None:
    iop = ds.get("ImageOrientationPatient")
    if iop is None or len(iop) != 6:
        return None
    row, col = np.asarray(iop[:3], float), np.asarray(iop[3:], float)
    return np.cross(row, col)


def _sort_key(ds: Dataset) -> tuple:
    normal = _slice_normal(ds)
    ipp = ds.get("ImagePositionPatient")
    position = float(np.dot(normal, np.asarray(ipp, float))) if normal is not None and ipp is not None else 0.0
    frame = _frame_key(ds)
    instance = int(ds.get("InstanceNumber", 0) or 0)
    return (frame, position, instance)


# --------------------------------------------------------------------------------------------- frames
def b_value_of(ds: Dataset) -> float | None:
    """Diffusion b-value (s/mm²) from the standard tag (0018,9087) or the GE/Siemens/Philips private tags."""
    value = ds.get("DiffusionBValue")
    if value is None and "MRDiffusionSequence" in ds and len(ds.MRDiffusionSequence):
        value = ds.MRDiffusionSequence[0].get("DiffusionBValue")
    if value is None:
        for tag, index in (((0x0043, 0x1039), 0), ((0x0019, 0x100C), None), ((0x2001, 0x1003), None)):
            element = ds.get(tag)
            if element is not None and element.value not in (None, b""):
                raw = element.value
                try:
                    if isinstance(raw, bytes):
                        raw = raw.decode(errors="ignore").strip("\x00 ").split("\\")
                    if isinstance(raw, (list, tuple, pydicom.multival.MultiValue)):
                        raw = raw[index or 0]
                    value = float(raw)
                    if tag == (0x0043, 0x1039) and value >= 1e9:  # GE stores b + 1e9 on some software
                        value = value % 1e9
                except (ValueError, TypeError, IndexError):
                    value = None
                if value is not None:
                    break
    return None if value is None else float(value)


def _temporal_position(ds: Dataset) -> float | None:
    for keyword in ("TemporalPositionIdentifier", "TemporalPositionIndex"):
        if ds.get(keyword) not in (None, ""):
            return float(ds.get(keyword))
    if ds.get("TriggerTime") not in (None, ""):
        return float(ds.TriggerTime) / 1000.0
    return None


def _flip_angle(ds: Dataset) -> float | None:
    value = ds.get("FlipAngle")
    return None if value in (None, "") else float(value)


def _frame_key(ds: Dataset) -> tuple[float, float]:
    """A key that differs between the frames of a dynamic series and is equal within a frame.

    Frames differ by b-value (DWI), else by temporal position (DCE/DSC), else by flip angle (variable flip
    angle T1 mapping).
    """
    b = b_value_of(ds)
    if b is not None:
        return (b, 0.0)
    t = _temporal_position(ds)
    if t is not None:
        return (t, 0.0)
    return (0.0, _flip_angle(ds) or 0.0)


def dicom_datetime(date: object, time: object) -> datetime | None:
    """Combine DICOM DA and TM values (strings or pydicom types) into a naive datetime, or None."""
    if date in (None, "") or time in (None, ""):
        return None
    date_s = str(date).strip()
    time_s = str(time).strip()
    try:
        day = datetime.strptime(date_s[:8], "%Y%m%d")
    except ValueError:
        return None
    return _add_time(day, time_s)


def _add_time(day: datetime, time_s: str) -> datetime | None:
    time_s = time_s.replace(":", "")
    if not time_s:
        return None
    whole, _, frac = time_s.partition(".")
    try:
        hours = int(whole[0:2])
        minutes = int(whole[2:4]) if len(whole) >= 4 else 0
        seconds = int(whole[4:6]) if len(whole) >= 6 else 0
        micro = int((frac + "000000")[:6]) if frac else 0
    except ValueError:
        return None
    return day + timedelta(hours=hours, minutes=minutes, seconds=seconds, microseconds=micro)


def parse_dicom_dt(value: object) -> datetime | None:
    """Parse a DICOM DT value (YYYYMMDDHHMMSS.FFFFFF, timezone offset ignored) into a naive datetime."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    for sign in ("+", "-"):
        if sign in text[8:]:
            text = text[: 8 + text[8:].index(sign)]
    try:
        day = datetime.strptime(text[:8], "%Y%m%d")
    except ValueError:
        return None
    return _add_time(day, text[8:]) if len(text) > 8 else day


def acquisition_datetime(ds: Dataset) -> datetime | None:
    """AcquisitionDateTime, else AcquisitionDate + AcquisitionTime (falling back to SeriesDate), else None."""
    dt = parse_dicom_dt(ds.get("AcquisitionDateTime"))
    if dt is not None:
        return dt
    return dicom_datetime(ds.get("AcquisitionDate") or ds.get("SeriesDate"), ds.get("AcquisitionTime"))


def series_reference_time(headers: Sequence[Dataset]) -> datetime | None:
    """Earliest acquisition datetime of the slices, else SeriesDate + SeriesTime, else StudyDate + StudyTime."""
    times = [t for t in (acquisition_datetime(h) for h in headers) if t is not None]
    if times:
        return min(times)
    first = headers[0]
    return dicom_datetime(first.get("SeriesDate"), first.get("SeriesTime")) or dicom_datetime(
        first.get("StudyDate"), first.get("StudyTime")
    )


# --------------------------------------------------------------------------------------------- series lookup
def find_series(
    source: str | Path | DicomSeries, series_uid: str | None = None, image_only: bool = True
) -> DicomSeries:
    """The DICOM series at ``source``: a DicomSeries, a folder holding exactly one image series, or a file.

    Raises
    ------
    UnsupportedDataError
        If the folder holds no image series, or several and ``series_uid`` does not pick one.
    """
    if isinstance(source, DicomSeries):
        return source
    scan = scan_folder(source)
    candidates = scan.image_series() if image_only else scan.series
    if series_uid is not None:
        candidates = [s for s in candidates if s.series_uid == series_uid]
        if not candidates:
            raise UnsupportedDataError(f"no series with SeriesInstanceUID {series_uid}", source)
    if not candidates:
        reasons = "; ".join(f"{s.path.name}: {s.reason}" for s in scan.skipped[:3])
        extra = f" (skipped: {reasons})" if reasons else ""
        raise UnsupportedDataError(f"no readable DICOM image series found{extra}", source)
    if len(candidates) > 1:
        listing = ", ".join(f"{s.modality} {s.description!r} {s.series_uid}" for s in candidates[:5])
        raise UnsupportedDataError(
            f"{len(candidates)} image series found ({listing}); pass series_uid to choose one", source
        )
    return candidates[0]


# --------------------------------------------------------------------------------------------- pixels
def _read_pixels(path: Path) -> tuple[Dataset, np.ndarray]:
    try:
        ds = pydicom.dcmread(path)
        pixels = ds.pixel_array
    except InvalidDicomError:
        raise DicomReadError(path, "not a DICOM file") from None
    except (OSError, EOFError, ValueError, RuntimeError, NotImplementedError, AttributeError) as exc:
        raise DicomReadError(path, f"cannot decode pixel data: {exc}") from None
    return ds, pixels


def _rescale(ds: Dataset, pixels: np.ndarray, path: Path) -> np.ndarray:
    slope = ds.get("RescaleSlope", 1.0)
    intercept = ds.get("RescaleIntercept", 0.0)
    try:
        slope = 1.0 if slope in (None, "") else float(slope)
        intercept = 0.0 if intercept in (None, "") else float(intercept)
    except (TypeError, ValueError):
        raise UnsupportedDataError(f"RescaleSlope/Intercept not numeric ({slope!r}, {intercept!r})", path) from None
    return pixels.astype(np.float32) * np.float32(slope) + np.float32(intercept)


def _require(ds: Dataset, keyword: str, path: Path, needed_for: str):
    value = ds.get(keyword)
    if value in (None, ""):
        raise MissingDicomTagError(keyword, path=path, needed_for=needed_for)
    return value


@dataclasses.dataclass
class _Slice:
    path: Path
    header: Dataset
    position: np.ndarray  # IPP, mm
    row_cosines: np.ndarray
    col_cosines: np.ndarray
    pixel_spacing: tuple[float, float]  # (row spacing = y, column spacing = x) in mm
    image: np.ndarray | None = None


def _geometry_of(ds: Dataset, path: Path) -> _Slice:
    ipp = _require(ds, "ImagePositionPatient", path, "slice geometry")
    iop = _require(ds, "ImageOrientationPatient", path, "slice geometry")
    spacing = _require(ds, "PixelSpacing", path, "voxel spacing")
    return _Slice(
        path=path,
        header=ds,
        position=np.asarray(ipp, float),
        row_cosines=np.asarray(iop[:3], float),
        col_cosines=np.asarray(iop[3:], float),
        pixel_spacing=(float(spacing[0]), float(spacing[1])),
    )


def _stack(slices: list[_Slice], source: Path) -> tuple[np.ndarray, tuple, tuple, np.ndarray]:
    """Stack slices sorted along the normal; returns array, spacing (z,y,x), origin (x,y,z), direction."""
    first = slices[0]
    normal = np.cross(first.row_cosines, first.col_cosines)
    for s in slices[1:]:
        if not (np.allclose(s.row_cosines, first.row_cosines, atol=1e-4) and np.allclose(s.col_cosines, first.col_cosines, atol=1e-4)):
            raise UnsupportedDataError(f"slices have different ImageOrientationPatient ({s.path.name})", source)
        if not np.allclose(s.pixel_spacing, first.pixel_spacing, atol=1e-4):
            raise UnsupportedDataError(f"slices have different PixelSpacing ({s.path.name})", source)
        if s.image.shape != first.image.shape:
            raise UnsupportedDataError(f"slices have different Rows/Columns ({s.path.name})", source)
    slices = sorted(slices, key=lambda s: float(np.dot(s.position, normal)))
    positions = np.array([np.dot(s.position, normal) for s in slices])
    if len(slices) > 1:
        steps = np.diff(positions)
        if np.any(steps < 1e-3):
            raise UnsupportedDataError(
                "two slices at the same position along the slice normal: a dynamic or multi-b series? "
                "use imagebio.io.dicom.read_dynamic_series",
                source,
            )
        dz = float(np.median(steps))
        if np.max(np.abs(steps - dz)) > SLICE_SPACING_TOLERANCE * dz + 1e-3:
            raise UnsupportedDataError(
                f"non-uniform slice spacing ({steps.min():.3f} to {steps.max():.3f} mm): missing slices?", source
            )
        offsets = np.array([s.position - slices[0].position for s in slices[1:]])
        along = offsets @ normal
        lateral = np.linalg.norm(offsets - np.outer(along, normal), axis=1)
        if np.max(lateral) > 0.01 * dz * len(slices) + 1e-2:
            raise UnsupportedDataError("slice positions are not along the slice normal (gantry tilt)", source)
    else:
        ds = first.header
        dz = float(ds.get("SpacingBetweenSlices") or ds.get("SliceThickness") or 1.0)
    array = np.stack([s.image for s in slices]).astype(np.float32, copy=False)
    spacing = (dz, slices[0].pixel_spacing[0], slices[0].pixel_spacing[1])
    direction = np.column_stack([first.row_cosines, first.col_cosines, normal])
    return array, spacing, tuple(slices[0].position), direction


def _unit_of(ds: Dataset) -> str:
    modality = str(ds.get("Modality", ""))
    if modality == "PT":
        return _PET_UNITS.get(str(ds.get("Units", "")).upper(), str(ds.get("Units", "")))
    if modality == "CT":
        rescale_type = str(ds.get("RescaleType", "HU") or "HU")
        return units.HU if rescale_type.upper() in ("HU", "US") else rescale_type
    if modality == "NM" and str(ds.get("Units", "")).upper() == "BQML":
        return units.BQ_PER_ML
    return _MODALITY_UNITS.get(modality, "")


def _identifiers(series: DicomSeries) -> dict[str, str]:
    ds = series.first
    return {
        "patient_id": series.patient_id,
        "study_uid": series.study_uid,
        "series_uid": series.series_uid,
        "frame_of_reference_uid": series.frame_of_reference_uid,
        "series_description": series.description,
        "path": str(series.folder),
        "sop_class_uid": series.sop_class_uid,
        "modality": series.modality,
        "study_date": str(ds.get("StudyDate", "") or ""),
    }


def _mr_metadata(ds: Dataset) -> dict[str, float]:
    meta = {}
    for keyword, name in (
        ("RepetitionTime", "repetition_time_ms"),
        ("EchoTime", "echo_time_ms"),
        ("FlipAngle", "flip_angle_deg"),
        ("MagneticFieldStrength", "field_strength_t"),
    ):
        if ds.get(keyword) not in (None, ""):
            meta[name] = float(ds.get(keyword))
    return meta


def _volume_from_slices(
    slices: list[_Slice], series: DicomSeries, source: Path, metadata: dict | None = None
) -> Volume:
    array, spacing, origin, direction = _stack(slices, source)
    ds = slices[0].header
    meta = {"n_files": len(slices)}
    if series.modality == "MR":
        meta.update(_mr_metadata(ds))
    meta.update(metadata or {})
    return Volume(
        array=array,
        spacing=spacing,
        origin=origin,
        direction=direction,
        modality=series.modality,
        unit=_unit_of(ds),
        acquisition_time=series_reference_time([s.header for s in slices]),
        identifiers=_identifiers(series),
        metadata=meta,
    )


def _load_slices(series: DicomSeries, progress: ProgressCallback | None) -> list[_Slice]:
    slices = []
    for done, path in enumerate(series.files, start=1):
        ds, pixels = _read_pixels(path)
        if pixels.ndim != 2:
            raise UnsupportedDataError(f"expected a single-frame greyscale image, got pixel array {pixels.shape}", path)
        geometry = _geometry_of(ds, path)
        geometry.image = _rescale(ds, pixels, path)
        slices.append(geometry)
        if progress is not None:
            progress(done, len(series.files))
    return slices


def read_dicom_series(
    source: str | Path | DicomSeries, series_uid: str | None = None, progress: ProgressCallback | None = None
) -> Volume:
    """Read one DICOM image series into a Volume (float32, rescale slope/intercept applied per slice).

    CT values are in HU, PET values in the unit of its Units tag (use :func:`imagebio.io.pet.read_pet` for
    SUV), MR in arbitrary units. Multi-frame (enhanced) objects with per-frame plane positions and NM
    tomographic images are supported.

    Parameters
    ----------
    source : str, Path or DicomSeries
        A folder with one image series (or pick one with ``series_uid``), a file, or a scanned series.
    series_uid : str, optional
        SeriesInstanceUID to pick when the folder holds several series.
    progress : callable, optional
        ``progress(done, total)`` per file read.

    Raises
    ------
    DicomReadError, MissingDicomTagError, UnsupportedDataError
    """
    series = find_series(source, series_uid)
    where = series.folder
    if len(series.files) == 1 and int(series.first.get("NumberOfFrames", 1) or 1) > 1:
        return _read_multiframe(series)
    slices = _load_slices(series, progress)
    return _volume_from_slices(slices, series, where)


def read_dynamic_series(
    source: str | Path | DicomSeries, series_uid: str | None = None, progress: ProgressCallback | None = None
) -> list[Volume]:
    """Read a dynamic (DCE/DSC), multi-b (DWI) or variable-flip-angle series as one Volume per frame.

    Frames are told apart by b-value (DWI; ``metadata["b_value_s_per_mm2"]``), by temporal position
    (TemporalPositionIdentifier, TriggerTime, else AcquisitionTime), or, when neither is present and the flip
    angle varies, by FlipAngle (VFA T1 mapping; ``metadata["flip_angle_deg"]``). Each frame's ``acquisition_time`` is its
    earliest acquisition time and ``metadata["frame_time_s"]`` its start relative to the first frame (s).
    Every frame must cover the same slice positions.
    """
    series = find_series(source, series_uid)
    where = series.folder
    slices = _load_slices(series, progress)
    has_b = any(b_value_of(s.header) is not None for s in slices)
    has_time = any(_temporal_position(s.header) is not None for s in slices)
    flip_angles = {_flip_angle(s.header) for s in slices}
    by_flip = not has_b and not has_time and len(flip_angles) > 1
    groups: dict[float, list[_Slice]] = defaultdict(list)
    if has_b:
        for s in slices:
            b = b_value_of(s.header)
            if b is None:
                raise MissingDicomTagError("DiffusionBValue", path=s.path, needed_for="multi-b DWI frames")
            groups[b].append(s)
    elif by_flip:
        for s in slices:
            angle = _flip_angle(s.header)
            if angle is None:
                raise MissingDicomTagError("FlipAngle", path=s.path, needed_for="variable-flip-angle frames")
            groups[angle].append(s)
    else:
        for s in slices:
            key = _temporal_position(s.header)
            if key is None:
                t = acquisition_datetime(s.header)
                if t is None:
                    raise MissingDicomTagError(
                        "TemporalPositionIdentifier", path=s.path, needed_for="splitting a dynamic series into frames",
                        expected="TemporalPositionIdentifier, TriggerTime or AcquisitionTime",
                    )
                key = t.timestamp()
            groups[key].append(s)
    keys = sorted(groups)
    sizes = {len(groups[k]) for k in keys}
    if len(sizes) != 1:
        raise UnsupportedDataError(f"frames have different numbers of slices ({sorted(sizes)})", where)
    volumes = []
    t0 = None
    for index, key in enumerate(keys):
        frame_slices = groups[key]
        start = series_reference_time([s.header for s in frame_slices])
        meta = {"frame_index": index}
        if has_b:
            meta["b_value_s_per_mm2"] = key
        elif by_flip:
            meta["flip_angle_deg"] = key
        else:
            trigger = [float(s.header.TriggerTime) / 1000.0 for s in frame_slices if s.header.get("TriggerTime") not in (None, "")]
            if t0 is None:
                t0 = (min(trigger) if trigger else None, start)
            if trigger and t0[0] is not None:
                meta["frame_time_s"] = min(trigger) - t0[0]
            elif start is not None and t0[1] is not None:
                meta["frame_time_s"] = (start - t0[1]).total_seconds()
            else:
                meta["frame_time_s"] = float(index)
            duration = frame_slices[0].header.get("ActualFrameDuration")
            if duration not in (None, ""):
                meta["frame_duration_s"] = float(duration) / 1000.0
        volume = _volume_from_slices(frame_slices, series, where, meta)
        if volumes and not volumes[0].same_grid(volume):
            raise UnsupportedDataError(f"frame {index} is not on the grid of frame 0", where)
        volumes.append(volume)
    return volumes


# --------------------------------------------------------------------------------------------- multi-frame
def _functional(ds: Dataset, frame: Dataset | None, sequence: str, keyword: str):
    for container in (frame, ds.get("SharedFunctionalGroupsSequence", [None])[0] if "SharedFunctionalGroupsSequence" in ds else None):
        if container is not None and sequence in container and len(getattr(container, sequence)):
            item = getattr(container, sequence)[0]
            if keyword in item:
                return item.get(keyword)
    return None


def _read_multiframe(series: DicomSeries) -> Volume:
    path = series.files[0]
    ds, pixels = _read_pixels(path)
    n_frames = int(ds.NumberOfFrames)
    if pixels.ndim != 3 or pixels.shape[0] != n_frames:
        raise UnsupportedDataError(f"unexpected multi-frame pixel array {pixels.shape}", path)
    per_frame = list(ds.get("PerFrameFunctionalGroupsSequence", []))
    slices: list[_Slice] = []
    if per_frame:
        for index, frame in enumerate(per_frame):
            position = _functional(ds, frame, "PlanePositionSequence", "ImagePositionPatient")
            orientation = _functional(ds, frame, "PlaneOrientationSequence", "ImageOrientationPatient")
            spacing = _functional(ds, frame, "PixelMeasuresSequence", "PixelSpacing")
            if position is None or orientation is None or spacing is None:
                raise MissingDicomTagError(
                    "PlanePositionSequence", path=path, needed_for="multi-frame geometry",
                    expected="per-frame ImagePositionPatient, ImageOrientationPatient and PixelSpacing",
                )
            slope = _functional(ds, frame, "PixelValueTransformationSequence", "RescaleSlope")
            intercept = _functional(ds, frame, "PixelValueTransformationSequence", "RescaleIntercept")
            image = pixels[index].astype(np.float32) * np.float32(float(slope) if slope is not None else 1.0)
            image += np.float32(float(intercept) if intercept is not None else 0.0)
            slices.append(
                _Slice(path, ds, np.asarray(position, float), np.asarray(orientation[:3], float),
                       np.asarray(orientation[3:], float), (float(spacing[0]), float(spacing[1])), image)
            )
    elif series.modality == "NM" or "DetectorInformationSequence" in ds:
        detector = ds.DetectorInformationSequence[0] if "DetectorInformationSequence" in ds else ds
        origin = _require(detector, "ImagePositionPatient", path, "NM tomographic geometry")
        orientation = _require(detector, "ImageOrientationPatient", path, "NM tomographic geometry")
        spacing = _require(ds, "PixelSpacing", path, "voxel spacing")
        dz = float(_require(ds, "SpacingBetweenSlices", path, "NM slice spacing"))
        row, col = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
        normal = np.cross(row, col)
        rescaled = _rescale(ds, pixels, path)
        for index in range(n_frames):
            position = np.asarray(origin, float) + index * dz * normal
            slices.append(_Slice(path, ds, position, row, col, (float(spacing[0]), float(spacing[1])), rescaled[index]))
    else:
        raise UnsupportedDataError("multi-frame object without per-frame plane positions", path)
    volume = _volume_from_slices(slices, series, series.folder, {"n_frames": n_frames})
    if series.modality == "NM":
        duration = ds.get("ActualFrameDuration")
        meta = dict(volume.metadata)
        if duration not in (None, ""):
            meta["frame_duration_s"] = float(duration) / 1000.0
        volume = volume.replace(metadata=meta)
    return volume


def headers_of(files: Iterable[str | Path]) -> list[Dataset]:
    """Headers (no pixel data) of the given files, raising DicomReadError for an unreadable one."""
    return [read_header(f) for f in files]
