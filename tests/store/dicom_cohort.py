"""A tiny synthetic DICOM cohort for store tests: 2 subjects × 2 studies × 2 series of 3 slices of 8×8."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
UID_ROOT = "1.2.826.0.1.3680043.10.1234."  # a made-up test root; UIDs below are deterministic

SUBJECTS = ("SUBJ-A", "SUBJ-B")
# (study date, study time): the second study of each subject comes 42 days after the first.
STUDY_DATES = (("20240110", "093000"), ("20240221", "140000"))
SERIES_OF_STUDY = (("CT", "CT chest"), ("MR", "T1w"))
SLICES_PER_SERIES = 3


@dataclass(frozen=True)
class Cohort:
    """What the synthetic cohort holds, to compare a store against."""

    root: Path
    n_subjects: int
    n_studies: int
    n_series: int
    n_files: int
    junk_files: tuple[Path, ...]


def uid(*parts: int) -> str:
    return UID_ROOT + ".".join(str(p) for p in parts)


def _slice(patient: str, s: int, t: int, k: int, z: int, modality: str, description: str) -> Dataset:
    sop_class = CT_IMAGE_STORAGE if modality == "CT" else MR_IMAGE_STORAGE
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = uid(s, t, k, z, 9)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientID = patient
    ds.PatientName = f"Test^{patient}"
    ds.PatientSex = "F" if s == 0 else "M"
    ds.PatientBirthDate = "19600315"
    ds.StudyInstanceUID = uid(s, t)
    ds.SeriesInstanceUID = uid(s, t, k)
    ds.FrameOfReferenceUID = uid(s, t, 0, 0)
    ds.StudyDate, ds.StudyTime = STUDY_DATES[t]
    ds.StudyDescription = "Synthetic study"
    ds.Modality = modality
    ds.SeriesDescription = description
    ds.SeriesNumber = k + 1
    ds.InstanceNumber = z + 1
    ds.ImagePositionPatient = [0.0, 0.0, 2.5 * z]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelSpacing = [0.8, 0.8]
    ds.SliceThickness = 2.5
    ds.Rows = ds.Columns = 8
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.PixelData = np.full((8, 8), 10 * z + k, dtype=np.int16).tobytes()
    return ds


def write_cohort(root: Path, subjects: tuple[str, ...] = SUBJECTS, junk: bool = True) -> Cohort:
    """Write the cohort under ``root`` (one folder per series) plus, when ``junk``, a text file and a
    truncated DICOM file that an ingest must report and skip."""
    n_files = 0
    for s, patient in enumerate(subjects):
        for t in range(len(STUDY_DATES)):
            for k, (modality, description) in enumerate(SERIES_OF_STUDY):
                folder = root / patient / f"study{t}" / f"series{k}"
                folder.mkdir(parents=True, exist_ok=True)
                for z in range(SLICES_PER_SERIES):
                    pydicom.dcmwrite(folder / f"{z:03d}.dcm", _slice(patient, s, t, k, z, modality, description),
                                     enforce_file_format=True)
                    n_files += 1
    junk_files: tuple[Path, ...] = ()
    if junk:
        notes = root / "notes.txt"
        notes.write_text("not a DICOM file\n")
        whole = (root / subjects[0] / "study0" / "series0" / "000.dcm").read_bytes()
        truncated = root / "truncated.dcm"
        truncated.write_bytes(whole[: len(whole) - 40])
        junk_files = (notes, truncated)
    n_studies = len(subjects) * len(STUDY_DATES)
    return Cohort(
        root=root,
        n_subjects=len(subjects),
        n_studies=n_studies,
        n_series=n_studies * len(SERIES_OF_STUDY),
        n_files=n_files,
        junk_files=junk_files,
    )
