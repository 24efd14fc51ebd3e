"""Multi-frame DICOM: NM/SPECT tomographic images and enhanced (per-frame functional groups) objects."""

from datetime import datetime

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from imagebio.errors import MissingDicomTagError
from imagebio.io.dicom import read_dicom_series

NM_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.20"
ENHANCED_MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4.1"


def _base(sop_class: str, modality: str, pixels: np.ndarray) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = generate_uid()
    ds.PatientID = "NM01"
    ds.Modality = modality
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = "20250301"
    ds.StudyTime = ds.SeriesTime = "120000"
    ds.AcquisitionTime = "121500"
    ds.NumberOfFrames = pixels.shape[0]
    ds.Rows, ds.Columns = pixels.shape[1:]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.astype("<u2").tobytes()
    return ds


def test_nm_tomo_volume_in_counts_with_time_stamp(tmp_path):
    counts = np.arange(5 * 6 * 7).reshape(5, 6, 7)
    ds = _base(NM_IMAGE_STORAGE, "NM", counts)
    detector = Dataset()
    detector.ImagePositionPatient = [-10.0, -20.0, 30.0]
    detector.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.DetectorInformationSequence = Sequence([detector])
    ds.PixelSpacing = [4.42, 4.42]
    ds.SpacingBetweenSlices = 4.42
    ds.ActualFrameDuration = 15000
    path = tmp_path / "nm.dcm"
    ds.save_as(path, enforce_file_format=True)
    volume = read_dicom_series(tmp_path)
    assert volume.modality == "NM" and volume.unit == "counts"
    np.testing.assert_array_equal(volume.array, counts.astype(np.float32))
    assert volume.spacing == pytest.approx((4.42, 4.42, 4.42))
    np.testing.assert_allclose(volume.index_to_physical([4, 0, 0]), [-10.0, -20.0, 30.0 + 4 * 4.42])
    assert volume.acquisition_time == datetime(2025, 3, 1, 12, 15)
    assert volume.metadata["frame_duration_s"] == pytest.approx(15.0)


def test_nm_without_slice_spacing_names_the_tag(tmp_path):
    ds = _base(NM_IMAGE_STORAGE, "NM", np.zeros((3, 4, 4)))
    detector = Dataset()
    detector.ImagePositionPatient = [0.0, 0.0, 0.0]
    detector.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.DetectorInformationSequence = Sequence([detector])
    ds.PixelSpacing = [4.0, 4.0]
    ds.save_as(tmp_path / "nm.dcm", enforce_file_format=True)
    with pytest.raises(MissingDicomTagError, match="SpacingBetweenSlices"):
        read_dicom_series(tmp_path)


def test_enhanced_multiframe_uses_per_frame_positions_and_rescale(tmp_path):
    stored = np.arange(4 * 3 * 5).reshape(4, 3, 5)
    ds = _base(ENHANCED_MR_IMAGE_STORAGE, "MR", stored)
    shared = Dataset()
    orientation = Dataset()
    orientation.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]  # coronal
    measures = Dataset()
    measures.PixelSpacing = [1.5, 0.8]
    measures.SliceThickness = 3.0
    shared.PlaneOrientationSequence = Sequence([orientation])
    shared.PixelMeasuresSequence = Sequence([measures])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames = []
    order = [2, 0, 3, 1]  # frames stored out of spatial order
    for k in order:
        frame = Dataset()
        position = Dataset()
        position.ImagePositionPatient = [0.0, 3.0 * k, 0.0]  # normal of a coronal plane is +y... sign checked below
        frame.PlanePositionSequence = Sequence([position])
        transform = Dataset()
        transform.RescaleSlope = 2.0
        transform.RescaleIntercept = -5.0
        frame.PixelValueTransformationSequence = Sequence([transform])
        frames.append(frame)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.PixelData = stored[order].astype("<u2").tobytes()
    ds.save_as(tmp_path / "enh.dcm", enforce_file_format=True)
    volume = read_dicom_series(tmp_path)
    normal = np.cross([1, 0, 0], [0, 0, -1])
    positions = [np.dot([0.0, 3.0 * k, 0.0], normal) for k in range(4)]
    spatial = np.argsort(positions)  # read order along the normal
    np.testing.assert_array_equal(volume.array, (stored[spatial] * 2.0 - 5.0).astype(np.float32))
    assert volume.spacing == pytest.approx((3.0, 1.5, 0.8))
