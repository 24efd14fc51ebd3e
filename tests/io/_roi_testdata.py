"""Small synthetic DICOM CT series and masks for the ROI-mask tests (test_seg, test_rtstruct, test_masks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from imagebio.volume import Volume


def make_ct_series(
    folder: Path,
    shape_zyx: tuple[int, int, int] = (6, 24, 20),
    spacing_zyx: tuple[float, float, float] = (2.5, 0.8, 0.7),
    origin_xyz: tuple[float, float, float] = (-10.3, 20.1, -50.0),
    row_cosine=(1.0, 0.0, 0.0),
    column_cosine=(0.0, 1.0, 0.0),
    frame_of_reference_uid: str | None = None,
) -> tuple[list[Dataset], Volume]:
    """Write a CT series (one file per slice, int16 pixels with a gradient) and return (datasets, Volume).

    The Volume is built here from the same geometry (independently of the package's DICOM reader).
    """
    folder.mkdir(parents=True, exist_ok=True)
    nz, ny, nx = shape_zyx
    dz, dy, dx = spacing_zyx
    row_cosine = np.asarray(row_cosine, float)
    column_cosine = np.asarray(column_cosine, float)
    normal = np.cross(row_cosine, column_cosine)
    study, series = generate_uid(), generate_uid()
    frame = frame_of_reference_uid or generate_uid()
    values = (np.arange(nz * ny * nx).reshape(shape_zyx) % 1000).astype(np.int16)
    datasets = []
    for k in range(nz):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.PatientName = "Test^Mask"
        ds.PatientID = "MASK001"
        ds.PatientBirthDate = "19700101"
        ds.PatientSex = "O"
        ds.StudyInstanceUID = study
        ds.StudyDate = "20240101"
        ds.StudyTime = "120000"
        ds.StudyID = "1"
        ds.AccessionNumber = "A1"
        ds.ReferringPhysicianName = ""
        ds.SeriesInstanceUID = series
        ds.SeriesNumber = 1
        ds.InstanceNumber = k + 1
        ds.Modality = "CT"
        ds.Manufacturer = "test"
        ds.FrameOfReferenceUID = frame
        ds.PositionReferenceIndicator = ""
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        position = np.asarray(origin_xyz) + k * dz * normal
        ds.ImagePositionPatient = [float(v) for v in position]
        ds.ImageOrientationPatient = [float(v) for v in (*row_cosine, *column_cosine)]
        ds.PixelSpacing = [dy, dx]
        ds.SliceThickness = dz
        ds.Rows, ds.Columns = ny, nx
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.RescaleIntercept = -1024
        ds.RescaleSlope = 1
        ds.PixelData = values[k].tobytes()
        pydicom.dcmwrite(folder / f"slice_{k:03d}.dcm", ds, enforce_file_format=True)
        datasets.append(ds)
    volume = Volume(
        array=values.astype(np.float32) - 1024,
        spacing=spacing_zyx,
        origin=origin_xyz,
        direction=np.column_stack([row_cosine, column_cosine, normal]),
        modality="CT",
        identifiers={"path": str(folder), "frame_of_reference_uid": frame},
    )
    return datasets, volume


def box_mask(shape, z=(1, 4), y=(5, 15), x=(4, 12)) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[z[0] : z[1], y[0] : y[1], x[0] : x[1]] = True
    return mask


def ellipsoid_mask(volume: Volume, centre_xyz, radius_mm: float) -> np.ndarray:
    """Voxel centres within ``radius_mm`` of ``centre_xyz`` (a sphere in mm, an ellipsoid in voxels)."""
    index = np.stack(np.indices(volume.shape), axis=-1)
    points = volume.index_to_physical(index)
    return np.linalg.norm(points - np.asarray(centre_xyz), axis=-1) <= radius_mm


def ring_mask(shape, centre_yx, inner: float, outer: float, slices=(1, 5)) -> np.ndarray:
    """An annulus (in voxel units) on slices ``slices[0]..slices[1]-1``: the hole must stay empty."""
    yy, xx = np.indices(shape[1:])
    radius = np.hypot(yy - centre_yx[0], xx - centre_yx[1])
    ring = (radius <= outer) & (radius > inner)
    mask = np.zeros(shape, dtype=bool)
    mask[slices[0] : slices[1]] = ring
    return mask
