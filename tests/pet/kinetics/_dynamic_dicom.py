"""A small synthetic dynamic PET series (FDG, irreversible 2TCM, Feng input) written with pydicom.

Frame values are exact frame averages of the analytic tissue curves of :mod:`._feng_reference` (µCi/mL converted to
Bq/mL), stored as int16 with a per-slice RescaleSlope. Each voxel has its own K1 (k2, k3 shared), so its Patlak
Ki = K1·k3/(k2 + k3) is known exactly.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from . import _feng_reference as ref

PET_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.128"
BQ_PER_UCI = 37000.0
#: 20 frames, 39 min: 4×15 s, 4×30 s, 4×1 min, 4×3 min, 4×5 min.
DURATIONS_S = [15] * 4 + [30] * 4 + [60] * 4 + [180] * 4 + [300] * 4
K2, K3 = 0.130, 0.062
SHAPE = (4, 8, 8)  # z, y, x
SPACING = (3.0, 4.0, 4.0)
#: Index of the voxels ``blood_row`` fills with the plasma input.
BLOOD_ROW = (0, 0, slice(None))


def k1_map(shape=SHAPE) -> np.ndarray:
    """K1 (mL/cm³/min) per voxel: 0.05 to 0.15 across the volume."""
    n = int(np.prod(shape))
    return np.linspace(0.05, 0.15, n).reshape(shape)


def ki_map(shape=SHAPE) -> np.ndarray:
    """Analytic Patlak Ki = K1·k3/(k2 + k3) (mL/cm³/min)."""
    return k1_map(shape) * K3 / (K2 + K3)


def frame_starts_s(injection_offset_s: float) -> np.ndarray:
    """Frame starts in s after injection."""
    return injection_offset_s + np.concatenate([[0.0], np.cumsum(DURATIONS_S)[:-1]])


def write_input_csv(path: Path, end_min: float = 45.0) -> Path:
    """Feng plasma input in Bq/mL sampled every 3 s for 3 min, then every 30 s (time in s after injection)."""
    times_s = np.unique(np.concatenate([np.arange(0.0, 180.0, 3.0), np.arange(180.0, end_min * 60 + 1, 30.0)]))
    values = ref.feng(times_s / 60.0) * BQ_PER_UCI
    with open(path, "w") as handle:
        handle.write("time_s,plasma_bq_per_ml\n")
        for t, v in zip(times_s, values, strict=True):
            handle.write(f"{float(t)!r},{float(v)!r}\n")
    return path


def write_dynamic_pet(
    folder: Path,
    *,
    injection_offset_s: float = 60.0,
    durations_s=None,
    radiopharmaceutical: bool = True,
    blood_row: bool = False,
) -> Path:
    """Write the series (one file per slice and frame); injection ``injection_offset_s`` before the scan start.

    ``blood_row`` replaces the voxels ``[0, 0, :]`` (see :data:`BLOOD_ROW`) by the frame-averaged plasma input, a
    stand-in for a blood pool.
    """
    durations_s = list(DURATIONS_S if durations_s is None else durations_s)
    folder.mkdir(parents=True, exist_ok=True)
    series_start = datetime(2024, 3, 5, 9, 30, 0)
    injection = series_start - timedelta(seconds=injection_offset_s)
    starts_s = injection_offset_s + np.concatenate([[0.0], np.cumsum(np.abs(durations_s))[:-1]])
    k1 = k1_map()
    study, series, frame_uid = generate_uid(), generate_uid(), generate_uid()
    for f, (start, duration) in enumerate(zip(starts_s, durations_s, strict=True)):
        length = abs(duration) / 60.0
        tac = ref.frame_average(lambda t: ref.two_tissue_pet(t, 1.0, K2, K3), [start / 60.0], [length])[0]
        values = k1 * tac * BQ_PER_UCI  # the tissue curve is linear in K1
        if blood_row:
            values[BLOOD_ROW] = ref.frame_average(ref.feng, [start / 60.0], [length])[0] * BQ_PER_UCI
        acquired = series_start + timedelta(seconds=float(start - injection_offset_s))
        for z in range(SHAPE[0]):
            plane = values[z]
            slope = max(float(plane.max()), 1e-6) / 30000.0
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = PET_IMAGE_STORAGE
            meta.MediaStorageSOPInstanceUID = generate_uid()
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds = Dataset()
            ds.file_meta = meta
            ds.SOPClassUID = PET_IMAGE_STORAGE
            ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
            ds.PatientID = "DYN001"
            ds.PatientName = "Dynamic^Phantom"
            ds.PatientSex = "F"
            ds.PatientWeight = "70"
            ds.PatientSize = "1.70"
            ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame_uid
            ds.Modality = "PT"
            ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = series_start.strftime("%Y%m%d")
            ds.StudyTime = ds.SeriesTime = series_start.strftime("%H%M%S")
            ds.AcquisitionTime = acquired.strftime("%H%M%S.%f")
            ds.FrameReferenceTime = f"{(start - injection_offset_s + abs(duration) / 2) * 1000:.1f}"
            ds.ActualFrameDuration = int(round(duration * 1000))
            ds.Units = "BQML"
            ds.DecayCorrection = "START"
            ds.CorrectedImage = ["ATTN", "DECY"]
            ds.SeriesNumber = 7
            ds.InstanceNumber = f * SHAPE[0] + z + 1
            ds.ImagePositionPatient = ["-16.0", "-16.0", f"{z * SPACING[0]:.1f}"]
            ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
            ds.PixelSpacing = [f"{SPACING[1]:g}", f"{SPACING[2]:g}"]
            ds.SliceThickness = f"{SPACING[0]:g}"
            ds.Rows, ds.Columns = SHAPE[1], SHAPE[2]
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.BitsAllocated = ds.BitsStored = 16
            ds.HighBit = 15
            ds.PixelRepresentation = 1
            ds.RescaleSlope = f"{slope:.10g}"
            ds.RescaleIntercept = "0"
            if radiopharmaceutical:
                item = Dataset()
                item.Radiopharmaceutical = "Fluorodeoxyglucose"
                item.RadionuclideTotalDose = "370000000"
                item.RadionuclideHalfLife = "6586.2"
                item.RadiopharmaceuticalStartDateTime = injection.strftime("%Y%m%d%H%M%S")
                ds.RadiopharmaceuticalInformationSequence = [item]
            ds.PixelData = np.round(plane / float(ds.RescaleSlope)).astype(np.int16).tobytes()
            ds.save_as(folder / f"f{f:02d}_z{z}.dcm", enforce_file_format=True)
    return folder
