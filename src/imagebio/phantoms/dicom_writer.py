"""Write synthetic image series as real single-frame DICOM files (CT, PET, MR) with pydicom.

The files follow the classic (single-frame) IODs a scanner writes — CT Image, PET Image and MR Image Storage —
with Explicit VR Little Endian file meta, the Patient/Study/Series/Frame of Reference/Image Plane modules and the
modality-specific attributes a quantitative reader needs (rescale, PET units and decay, diffusion b-value,
dynamic timing). Everything written is a function of the inputs: UIDs come from
:func:`deterministic_uid` and no wall-clock time is ever written, so the same inputs give byte-identical files.

References
----------
DICOM PS3.3 (2024): C.7 (Patient/Study/Series), C.7.6.2 (Image Plane), C.8.2 (CT Image), C.8.3 (MR Image),
C.8.9 (PET Series, PET Isotope, PET Image), PS3.10 (file meta), PS3.5 (Explicit VR Little Endian).
"""

from __future__ import annotations

import math
import struct
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pydicom.uid import UID, ExplicitVRLittleEndian

from imagebio.errors import InvalidParameterError

__all__ = [
    "CT_IMAGE_STORAGE",
    "MR_IMAGE_STORAGE",
    "PET_IMAGE_STORAGE",
    "Grid",
    "PatientInfo",
    "PetAcquisition",
    "SeriesInfo",
    "StudyInfo",
    "deterministic_uid",
    "dicom_date",
    "dicom_time",
    "write_ct_series",
    "write_mr_series",
    "write_pet_series",
]

CT_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.2")
PET_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.128")
MR_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.4")

#: Namespace of the name-based UUIDs behind every UID the phantoms write.
_UID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://imagebio/phantoms")
_MANUFACTURER = "imagebio"
_MODEL = "digital patient"
_INT16_MAX = 32767
_UINT16_MAX = 65535


def deterministic_uid(*parts: object) -> str:
    """A UUID-derived DICOM UID (``2.25.<int>``, PS3.5 B.2) that depends only on ``parts``.

    The UUID is the RFC 4122 name-based (SHA-1, version 5) UUID of the parts joined by ``/``: equal parts give
    equal UIDs, distinct parts distinct ones. (``pydicom.uid.generate_uid(prefix=None, entropy_srcs=...)`` cannot
    be used for this: with ``prefix=None`` pydicom 3 ignores ``entropy_srcs`` and returns a random UUID.)
    """
    name = "/".join(str(p) for p in parts)
    return f"2.25.{uuid.uuid5(_UID_NAMESPACE, name).int}"


def dicom_date(moment: datetime) -> str:
    """``YYYYMMDD`` (DA)."""
    return moment.strftime("%Y%m%d")


def dicom_time(moment: datetime) -> str:
    """``HHMMSS.ffffff`` (TM), trailing fraction dropped when zero."""
    text = moment.strftime("%H%M%S")
    return text + (f".{moment.microsecond:06d}" if moment.microsecond else "")


@dataclass(frozen=True)
class Grid:
    """An axial voxel grid in patient space (LPS, identity orientation).

    Parameters
    ----------
    shape_zyx : tuple of int
        Number of slices, rows, columns.
    spacing_zyx_mm : tuple of float
        Slice spacing, row spacing, column spacing in mm (slice thickness equals slice spacing).
    origin_xyz_mm : tuple of float
        Patient position (x, y, z) in mm of the centre of voxel [0, 0, 0].
    """

    shape_zyx: tuple[int, int, int]
    spacing_zyx_mm: tuple[float, float, float]
    origin_xyz_mm: tuple[float, float, float]

    def slice_position_mm(self, k: int) -> tuple[float, float, float]:
        """ImagePositionPatient (x, y, z) in mm of slice ``k``."""
        x0, y0, z0 = self.origin_xyz_mm
        return (x0, y0, z0 + k * self.spacing_zyx_mm[0])

    def voxel_centres_mm(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Broadcastable (z, y, x) coordinate arrays in mm of every voxel centre (patient z, y, x)."""
        nz, ny, nx = self.shape_zyx
        dz, dy, dx = self.spacing_zyx_mm
        x0, y0, z0 = self.origin_xyz_mm
        z = (z0 + dz * np.arange(nz))[:, None, None]
        y = (y0 + dy * np.arange(ny))[None, :, None]
        x = (x0 + dx * np.arange(nx))[None, None, :]
        return z, y, x

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in mL."""
        return float(np.prod(self.spacing_zyx_mm)) / 1000.0


@dataclass(frozen=True)
class PatientInfo:
    """Patient module values. Weight in kg, size (height) in m, age in years, sex ``M``/``F``/``O``."""

    patient_id: str
    patient_name: str
    sex: str
    age_years: int
    weight_kg: float
    height_m: float
    birth_date: str


@dataclass(frozen=True)
class StudyInfo:
    """General Study and Frame of Reference values shared by every series of one visit."""

    study_uid: str
    frame_of_reference_uid: str
    study_datetime: datetime
    study_id: str
    accession_number: str
    description: str


@dataclass(frozen=True)
class SeriesInfo:
    """General Series values plus the seed parts from which the series' SOP Instance UIDs are derived."""

    series_uid: str
    series_number: int
    description: str
    series_datetime: datetime
    uid_parts: tuple[str, ...]


@dataclass(frozen=True)
class PetAcquisition:
    """PET acquisition facts needed for SUV (PS3.3 C.8.9.1, C.8.9.2, C.8.9.4).

    Parameters
    ----------
    injected_dose_bq : float
        RadionuclideTotalDose, activity at injection in Bq.
    injection_datetime : datetime
        RadiopharmaceuticalStartDateTime.
    half_life_s : float
        RadionuclideHalfLife in s (18F: 6586.2 s).
    frame_duration_s : float
        ActualFrameDuration in s.
    """

    injected_dose_bq: float
    injection_datetime: datetime
    half_life_s: float
    frame_duration_s: float
    radiopharmaceutical: str = "Fluorodeoxyglucose"
    positron_fraction: float = 0.9673


def _ds(value: float, digits: int = 10) -> str:
    """Format a float for a DS element (at most 16 characters)."""
    text = f"{value:.{digits}g}"
    while len(text) > 16:
        digits -= 1
        text = f"{value:.{digits}g}"
    return text


def _base_dataset(
    sop_class_uid: UID,
    modality: str,
    patient: PatientInfo,
    study: StudyInfo,
    series: SeriesInfo,
    grid: Grid,
) -> Dataset:
    meta = FileMetaDataset()
    meta.FileMetaInformationVersion = b"\x00\x01"
    meta.MediaStorageSOPClassUID = sop_class_uid
    meta.MediaStorageSOPInstanceUID = UID(deterministic_uid(*series.uid_parts, "instance", 0))
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = UID(deterministic_uid("imagebio", "implementation"))
    meta.ImplementationVersionName = "IMAGEBIO_PHANTOM"

    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.InstanceCreationDate = dicom_date(series.series_datetime)
    ds.InstanceCreationTime = dicom_time(series.series_datetime)
    ds.StudyDate = dicom_date(study.study_datetime)
    ds.StudyTime = dicom_time(study.study_datetime)
    ds.SeriesDate = dicom_date(series.series_datetime)
    ds.SeriesTime = dicom_time(series.series_datetime)
    ds.AcquisitionDate = ds.SeriesDate
    ds.AcquisitionTime = ds.SeriesTime
    ds.ContentDate = ds.SeriesDate
    ds.ContentTime = ds.SeriesTime
    ds.AccessionNumber = study.accession_number
    ds.Modality = modality
    ds.Manufacturer = _MANUFACTURER
    ds.ManufacturerModelName = _MODEL
    ds.InstitutionName = "imagebio digital cohort"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = study.description
    ds.SeriesDescription = series.description
    ds.PatientName = patient.patient_name
    ds.PatientID = patient.patient_id
    ds.PatientBirthDate = patient.birth_date
    ds.PatientSex = patient.sex
    ds.PatientAge = f"{int(patient.age_years):03d}Y"
    ds.PatientSize = _ds(patient.height_m, 4)
    ds.PatientWeight = _ds(patient.weight_kg, 5)
    ds.BodyPartExamined = "ABDOMEN"
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID = study.study_uid
    ds.SeriesInstanceUID = series.series_uid
    ds.StudyID = study.study_id
    ds.SeriesNumber = series.series_number
    ds.AcquisitionNumber = 1
    ds.InstanceNumber = 1
    ds.FrameOfReferenceUID = study.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    # Image Plane module (PS3.3 C.7.6.2); axial, identity direction cosines.
    dz, dy, dx = grid.spacing_zyx_mm
    ds.ImagePositionPatient = [_ds(v) for v in grid.slice_position_mm(0)]
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.PixelSpacing = [_ds(dy), _ds(dx)]  # row spacing, column spacing
    ds.SliceThickness = _ds(dz)
    ds.SpacingBetweenSlices = _ds(dz)
    ds.SliceLocation = _ds(grid.slice_position_mm(0)[2])
    # Image Pixel module
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = grid.shape_zyx[1]
    ds.Columns = grid.shape_zyx[2]
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    return ds


def _set_instance(ds: Dataset, series: SeriesInfo, index: int, grid: Grid, k: int) -> None:
    uid = UID(deterministic_uid(*series.uid_parts, "instance", index))
    ds.SOPInstanceUID = uid
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.InstanceNumber = index + 1
    position = grid.slice_position_mm(k)
    ds.ImagePositionPatient = [_ds(v) for v in position]
    ds.SliceLocation = _ds(position[2])


def _encode_element(element: Any) -> bytes:
    buffer = DicomBytesIO()
    buffer.is_little_endian = True
    buffer.is_implicit_VR = False
    write_data_element(buffer, element, encodings=["latin_1"])
    return buffer.getvalue()


class _SeriesEncoder:
    """Writes the files of one series, encoding each unchanged data element only once.

    A series' files differ in a handful of elements (UIDs, position, pixel data...). Encoding every element of
    every file with :func:`pydicom.dcmwrite` dominated the cohort's run time, so elements are encoded one by one
    with pydicom's own :func:`~pydicom.filewriter.write_data_element` (Explicit VR Little Endian) and the bytes
    of repeated values are reused. The result is byte-identical to ``Dataset.save_as(...,
    enforce_file_format=True)`` (checked by the tests).
    """

    def __init__(self) -> None:
        self._cache: dict[tuple, bytes] = {}

    def _bytes(self, element: Any) -> bytes:
        # pixel data changes per file and sequences may be edited in place: encode those every time
        if element.VR in ("OB", "OW", "OF", "OD", "OL", "OV", "UN", "SQ"):
            return _encode_element(element)
        key = (element.tag, element.VR, str(element.value))
        encoded = self._cache.get(key)
        if encoded is None:
            encoded = self._cache[key] = _encode_element(element)
        return encoded

    def save(self, ds: Dataset, path: Path) -> None:
        meta = b"".join(self._bytes(element) for element in ds.file_meta if element.tag.element != 0)
        group_length = b"\x02\x00\x00\x00UL\x04\x00" + struct.pack("<I", len(meta))
        body = b"".join(self._bytes(element) for element in ds)
        path.write_bytes(b"\x00" * 128 + b"DICM" + group_length + meta + body)


def _save(ds: Dataset, folder: Path, index: int, encoder: _SeriesEncoder) -> Path:
    path = folder / f"IM{index + 1:05d}.dcm"
    encoder.save(ds, path)
    return path


def _check_volume(array: np.ndarray, grid: Grid, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.shape != tuple(grid.shape_zyx):
        raise InvalidParameterError(name, f"shape {array.shape}", f"an array of the grid shape {grid.shape_zyx}")
    if not np.all(np.isfinite(array)):
        raise InvalidParameterError(name, "non-finite values", "finite voxel values")
    return array


def write_ct_series(
    folder: Path,
    hu: np.ndarray,
    grid: Grid,
    patient: PatientInfo,
    study: StudyInfo,
    series: SeriesInfo,
    kvp: float = 120.0,
) -> list[Path]:
    """Write a CT volume in HU as CT Image Storage files, stored ``int16`` with RescaleIntercept -1024.

    Parameters
    ----------
    folder : Path
        Output folder (created); files are ``IM00001.dcm``... in slice order.
    hu : numpy.ndarray
        (z, y, x) Hounsfield units; rounded to integers.
    grid, patient, study, series
        Geometry and identifying modules.
    kvp : float
        Peak kilovoltage written to KVP.

    Returns
    -------
    list of Path
        The written files, one per slice.
    """
    hu = _check_volume(hu, grid, "hu")
    intercept = -1024
    stored = np.rint(hu).astype(np.int64) - intercept
    if stored.min() < -32768 or stored.max() > _INT16_MAX:
        raise InvalidParameterError("hu", f"range [{hu.min()}, {hu.max()}]", "HU within int16 after offset 1024")
    stored = stored.astype("<i2")
    folder.mkdir(parents=True, exist_ok=True)
    ds = _base_dataset(CT_IMAGE_STORAGE, "CT", patient, study, series, grid)
    ds.KVP = _ds(kvp)
    ds.XRayTubeCurrent = 200
    ds.ExposureTime = 500
    ds.ConvolutionKernel = "STANDARD"
    ds.ReconstructionDiameter = _ds(grid.shape_zyx[2] * grid.spacing_zyx_mm[2])
    ds.PixelRepresentation = 1
    ds.RescaleIntercept = str(intercept)
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    ds.WindowCenter = "40"
    ds.WindowWidth = "400"
    encoder = _SeriesEncoder()
    paths = []
    for k in range(grid.shape_zyx[0]):
        _set_instance(ds, series, k, grid, k)
        ds.add_new(0x7FE00010, "OW", stored[k].tobytes())
        paths.append(_save(ds, folder, k, encoder))
    return paths


def pet_frame_reference_time_s(frame_duration_s: float, half_life_s: float) -> float:
    """Time after frame start at which the instantaneous activity equals the frame-average activity, in s.

    ``t_ref = ln(λT / (1 - exp(-λT))) / λ`` with ``λ = ln 2 / T½`` (PS3.3 C.8.9.4.1.5, Frame Reference Time).
    """
    lam = math.log(2.0) / half_life_s
    x = lam * frame_duration_s
    return math.log(x / (1.0 - math.exp(-x))) / lam


def _code(value: str, meaning: str, scheme: str = "SCT") -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def write_pet_series(
    folder: Path,
    bq_per_ml: np.ndarray,
    grid: Grid,
    patient: PatientInfo,
    study: StudyInfo,
    series: SeriesInfo,
    acquisition: PetAcquisition,
) -> list[Path]:
    """Write a static PET volume in Bq/mL (decay-corrected to the series start) as PET Image Storage files.

    Each slice is stored as ``int16`` with its own RescaleSlope (slice maximum maps to 32767), Units ``BQML``,
    DecayCorrection ``START``, CorrectedImage including ``DECY`` and ``ATTN``, and the
    RadiopharmaceuticalInformationSequence (dose in Bq, half-life in s, start date-time), so that
    ``SUVbw = value × weight_g / (dose × 2^-(SeriesTime - start)/T½)`` (PS3.3 C.8.9, QIBA FDG-PET profile).

    Returns
    -------
    list of Path
        The written files, one per slice.
    """
    activity = _check_volume(bq_per_ml, grid, "bq_per_ml").astype(float)
    if activity.min() < 0:
        raise InvalidParameterError("bq_per_ml", float(activity.min()), "non-negative activity concentrations")
    folder.mkdir(parents=True, exist_ok=True)
    nz = grid.shape_zyx[0]
    ds = _base_dataset(PET_IMAGE_STORAGE, "PT", patient, study, series, grid)
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    # PET Series module
    ds.SeriesType = ["STATIC", "IMAGE"]
    ds.Units = "BQML"
    ds.CountsSource = "EMISSION"
    ds.NumberOfSlices = nz
    ds.DecayCorrection = "START"
    ds.CorrectedImage = ["DECY", "ATTN", "SCAT", "DTIM", "RAN", "NORM"]
    ds.RandomsCorrectionMethod = "DLYD"
    ds.AttenuationCorrectionMethod = "CT-based"
    ds.ScatterCorrectionMethod = "single scatter simulation"
    ds.ReconstructionMethod = "OSEM"
    ds.CollimatorType = "NONE"
    # PET Isotope module
    rad = Dataset()
    rad.Radiopharmaceutical = acquisition.radiopharmaceutical
    rad.RadiopharmaceuticalStartTime = dicom_time(acquisition.injection_datetime)
    rad.RadiopharmaceuticalStartDateTime = acquisition.injection_datetime.strftime("%Y%m%d%H%M%S")
    rad.RadionuclideTotalDose = _ds(acquisition.injected_dose_bq, 12)
    rad.RadionuclideHalfLife = _ds(acquisition.half_life_s)
    rad.RadionuclidePositronFraction = _ds(acquisition.positron_fraction)
    nuclide = Dataset()
    nuclide.CodeValue = "77004003"
    nuclide.CodingSchemeDesignator = "SCT"
    nuclide.CodeMeaning = "^18^Fluorine"
    rad.RadionuclideCodeSequence = [nuclide]
    agent = Dataset()
    agent.CodeValue = "35321007"
    agent.CodingSchemeDesignator = "SCT"
    agent.CodeMeaning = "Fluorodeoxyglucose F^18^"
    rad.RadiopharmaceuticalCodeSequence = [agent]
    ds.RadiopharmaceuticalInformationSequence = [rad]
    del ds.PatientPosition  # PS3.3 C.7.3.1: absent when PatientOrientationCodeSequence is present
    # NM/PET Patient Orientation module (Type 2): recumbent, supine, head first
    orientation = _code("102538003", "recumbent")
    orientation.PatientOrientationModifierCodeSequence = [_code("40199007", "supine")]
    ds.PatientOrientationCodeSequence = [orientation]
    ds.PatientGantryRelationshipCodeSequence = [_code("102540008", "headfirst")]
    # PET Image module
    frame_ref_s = pet_frame_reference_time_s(acquisition.frame_duration_s, acquisition.half_life_s)
    ds.FrameReferenceTime = _ds(frame_ref_s * 1000.0)
    ds.ActualFrameDuration = int(round(acquisition.frame_duration_s * 1000.0))
    ds.DecayFactor = _ds(2.0 ** (frame_ref_s / acquisition.half_life_s))
    ds.DoseCalibrationFactor = "1"
    ds.PixelRepresentation = 1
    ds.RescaleIntercept = "0"
    encoder = _SeriesEncoder()
    paths = []
    for k in range(nz):
        plane = activity[k]
        peak = float(plane.max())
        slope = peak / _INT16_MAX if peak > 0 else 1.0
        slope = float(_ds(slope))  # the stored DS text is what readers will use
        stored = np.clip(np.rint(plane / slope), 0, _INT16_MAX).astype("<i2")
        _set_instance(ds, series, k, grid, k)
        ds.ImageIndex = k + 1
        ds.RescaleSlope = _ds(slope)
        ds.add_new(0x7FE00010, "OW", stored.tobytes())
        paths.append(_save(ds, folder, k, encoder))
    return paths


def write_mr_series(
    folder: Path,
    frames: Sequence[np.ndarray],
    frame_attributes: Sequence[Mapping[str, Any]],
    grid: Grid,
    patient: PatientInfo,
    study: StudyInfo,
    series: SeriesInfo,
    series_attributes: Mapping[str, Any],
    image_type: Iterable[str] = ("ORIGINAL", "PRIMARY", "M", "NONE"),
) -> list[Path]:
    """Write one MR series of several volumes on the same grid (b-values, dynamic frames) as MR Image Storage.

    Files are numbered frame-major (all slices of frame 0, then frame 1...). Signals are rounded to ``uint16``
    without rescaling, as MR scanners usually store them.

    Parameters
    ----------
    frames : sequence of numpy.ndarray
        One (z, y, x) signal volume per frame (arbitrary units, 0-65535 after rounding).
    frame_attributes : sequence of mapping
        Per-frame DICOM keyword → value (e.g. ``DiffusionBValue``, ``TriggerTime``, ``AcquisitionTime``).
    series_attributes : mapping
        Keyword → value set on every file (e.g. ``RepetitionTime``, ``FlipAngle``, ``ScanningSequence``).

    Returns
    -------
    list of Path
        The written files.
    """
    if len(frames) != len(frame_attributes):
        raise InvalidParameterError("frame_attributes", len(frame_attributes), f"{len(frames)} entries, one per frame")
    stored_frames = []
    for i, frame in enumerate(frames):
        frame = _check_volume(frame, grid, f"frames[{i}]")
        if frame.min() < 0 or frame.max() > _UINT16_MAX:
            raise InvalidParameterError(f"frames[{i}]", f"range [{frame.min()}, {frame.max()}]", "0-65535")
        stored_frames.append(np.rint(frame).astype("<u2"))
    folder.mkdir(parents=True, exist_ok=True)
    ds = _base_dataset(MR_IMAGE_STORAGE, "MR", patient, study, series, grid)
    ds.ImageType = list(image_type)
    ds.PixelRepresentation = 0
    for keyword, value in series_attributes.items():
        setattr(ds, keyword, value)
    nz = grid.shape_zyx[0]
    encoder = _SeriesEncoder()
    paths = []
    for f, (stored, attributes) in enumerate(zip(stored_frames, frame_attributes)):
        for keyword, value in attributes.items():
            setattr(ds, keyword, value)
        ds.AcquisitionNumber = f + 1
        for k in range(nz):
            index = f * nz + k
            _set_instance(ds, series, index, grid, k)
            ds.add_new(0x7FE00010, "OW", stored[k].tobytes())
            paths.append(_save(ds, folder, index, encoder))
    return paths


def write_lesion_seg(
    masks: Mapping[str, np.ndarray],
    source_paths: Sequence[Path],
    path: Path,
    series: SeriesInfo,
) -> str:
    """Write lesion masks as a BINARY DICOM SEG referencing the source slices, with deterministic UIDs and dates.

    The SEG is built by :func:`imagebio.io.seg.write_seg` (highdicom) with Series/SOP Instance and Dimension
    Organization UIDs derived from ``series`` and its date-time as content date, so that the file is reproducible
    byte for byte.

    Parameters
    ----------
    masks : mapping of str to numpy.ndarray
        Segment label → bool (z, y, x) array; slice ``k`` belongs to ``source_paths[k]``.
    source_paths : sequence of Path
        The referenced image files in slice order (e.g. the CT series).
    path : Path
        Output file.
    series : SeriesInfo
        UID, number, description and date-time of the SEG series.

    Returns
    -------
    str
        The SOP Class UID of the written SEG.
    """
    import pydicom

    from imagebio.io.seg import write_seg

    sources = [pydicom.dcmread(p) for p in source_paths]
    seg = write_seg(
        masks, sources, path, series_description=series.description, algorithm="imagebio digital patient",
        series_number=series.series_number, series_instance_uid=series.series_uid,
        sop_instance_uid=deterministic_uid(*series.uid_parts, "instance", 0),
        dimension_organization_uid=deterministic_uid(*series.uid_parts, "dimension", 0),
        content_datetime=series.series_datetime,
    )
    return str(seg.SOPClassUID)
