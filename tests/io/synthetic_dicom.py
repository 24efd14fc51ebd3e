"""Small synthetic DICOM series for reader tests, written with pydicom."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"


def make_slice(
    pixels: np.ndarray,
    position: tuple[float, float, float],
    *,
    modality: str = "CT",
    orientation=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    pixel_spacing=(0.8, 0.7),
    slope: float = 1.0,
    intercept: float = -1024.0,
    series_uid: str,
    study_uid: str,
    frame_uid: str,
    instance: int = 1,
    patient_id: str = "P001",
    extra: dict | None = None,
) -> Dataset:
    sop_class = CT_IMAGE_STORAGE if modality == "CT" else MR_IMAGE_STORAGE
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientID = patient_id
    ds.PatientName = "Test^Patient"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = frame_uid
    ds.StudyDate = "20240102"
    ds.StudyTime = "101500"
    ds.SeriesDate = "20240102"
    ds.SeriesTime = "101600"
    ds.AcquisitionDate = "20240102"
    ds.AcquisitionTime = "101700"
    ds.Modality = modality
    ds.SeriesNumber = 3
    ds.InstanceNumber = instance
    ds.ImagePositionPatient = [f"{v:.6f}" for v in position]
    ds.ImageOrientationPatient = [f"{v:.6f}" for v in orientation]
    ds.PixelSpacing = [f"{v:g}" for v in pixel_spacing]
    ds.SliceThickness = "2.5"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    if modality == "CT":
        ds.RescaleSlope = f"{slope:g}"
        ds.RescaleIntercept = f"{intercept:g}"
    for key, value in (extra or {}).items():
        setattr(ds, key, value)
    ds.PixelData = pixels.astype(np.int16).tobytes()
    return ds


def write_series(
    folder: Path,
    volume: np.ndarray,
    *,
    spacing_zyx=(2.5, 0.8, 0.7),
    origin=(-50.0, -40.0, 100.0),
    orientation=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    modality: str = "CT",
    slopes=None,
    shuffle_seed: int | None = 0,
    extra_per_slice=None,
    series_uid: str | None = None,
    study_uid: str | None = None,
    patient_id: str = "P001",
) -> list[Path]:
    """Write ``volume`` (z, y, x, stored integers) as a single-frame series; return the file paths."""
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or generate_uid()
    study_uid = study_uid or generate_uid()
    frame_uid = generate_uid()
    row = np.asarray(orientation[:3], float)
    col = np.asarray(orientation[3:], float)
    normal = np.cross(row, col)
    order = np.arange(volume.shape[0])
    if shuffle_seed is not None:
        np.random.default_rng(shuffle_seed).shuffle(order)
    paths = []
    for k in order:
        position = np.asarray(origin) + k * spacing_zyx[0] * normal
        slope = 1.0 if slopes is None else slopes[k]
        extra = None if extra_per_slice is None else extra_per_slice[k]
        ds = make_slice(
            volume[k], tuple(position), modality=modality, orientation=orientation,
            pixel_spacing=(spacing_zyx[1], spacing_zyx[2]), slope=slope, series_uid=series_uid,
            study_uid=study_uid, frame_uid=frame_uid, instance=int(k) + 1, patient_id=patient_id, extra=extra,
        )
        path = folder / f"slice_{k:03d}_{series_uid[-6:]}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
