"""DICOM RT Dose write/read round trip."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from imagebio import units
from imagebio.errors import InvalidParameterError, UnsupportedDataError
from imagebio.io.rtdose import RT_DOSE_STORAGE, read_rtdose, write_rtdose
from imagebio.volume import Volume


def test_round_trip_keeps_geometry_and_dose(tmp_path):
    rng = np.random.default_rng(0)
    dose = rng.uniform(0, 45.0, size=(7, 9, 11))
    volume = Volume(array=dose, spacing=(4.8, 3.9, 3.9), origin=(-20.0, 15.5, -100.0), direction=np.eye(3),
                    unit=units.GY)
    path = write_rtdose(volume, tmp_path / "rd.dcm", patient_id="P1", frame_of_reference_uid="1.2.3")
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == RT_DOSE_STORAGE and ds.Modality == "RTDOSE"
    assert ds.DoseUnits == "GY" and ds.DoseType == "PHYSICAL" and int(ds.NumberOfFrames) == 7
    assert [float(v) for v in ds.GridFrameOffsetVector] == pytest.approx([k * 4.8 for k in range(7)])
    back = read_rtdose(path)
    assert back.spacing == pytest.approx((4.8, 3.9, 3.9)) and back.origin == pytest.approx((-20.0, 15.5, -100.0))
    np.testing.assert_allclose(back.direction, np.eye(3), atol=1e-9)
    # quantisation: one step of DoseGridScaling = max/(2^32 - 1)
    np.testing.assert_allclose(back.array, dose, atol=float(ds.DoseGridScaling))
    assert back.identifiers["frame_of_reference_uid"] == "1.2.3"


def test_bad_input(tmp_path):
    with pytest.raises(InvalidParameterError, match="dose_gy"):
        write_rtdose(Volume(array=-np.ones((2, 2, 2)), spacing=(1, 1, 1), origin=(0, 0, 0), direction=np.eye(3)),
                     tmp_path / "x.dcm")
    ds = pydicom.Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.Rows = ds.Columns = 2
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.SamplesPerPixel = 1
    ds.PixelRepresentation = 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = b"\0" * 8
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    ds.save_as(tmp_path / "ct.dcm", enforce_file_format=True)
    with pytest.raises(UnsupportedDataError, match="not an RT Dose"):
        read_rtdose(tmp_path / "ct.dcm")
