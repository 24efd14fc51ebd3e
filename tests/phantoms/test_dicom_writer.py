"""Tests of the phantom DICOM writer: UIDs, byte-exact encoding, PET timing, input checks."""

from __future__ import annotations

import io
import math
from datetime import datetime

import numpy as np
import pydicom
import pytest
from pydicom.uid import UID

from imagebio.errors import InvalidParameterError
from imagebio.phantoms.dicom_writer import (
    Grid,
    PatientInfo,
    SeriesInfo,
    StudyInfo,
    deterministic_uid,
    pet_frame_reference_time_s,
    write_ct_series,
)


def test_deterministic_uid_is_a_valid_uuid_derived_uid():
    uid = deterministic_uid("seed", 0, "P1", "CT")
    assert uid == deterministic_uid("seed", 0, "P1", "CT")
    assert UID(uid).is_valid
    assert uid.startswith("2.25.") and len(uid) <= 64
    assert int(uid[5:]) < 2**128
    # parts are separated, so shifting characters between parts changes the UID
    assert deterministic_uid("ab", "c") != deterministic_uid("a", "bc")
    assert deterministic_uid("seed", 1, "P1", "CT") != uid


def test_frame_reference_time_is_where_activity_equals_the_frame_average():
    half_life_s, duration_s = 6586.2, 180.0
    lam = math.log(2.0) / half_life_s
    t_ref = pet_frame_reference_time_s(duration_s, half_life_s)
    average = (1.0 - math.exp(-lam * duration_s)) / (lam * duration_s)
    assert math.exp(-lam * t_ref) == pytest.approx(average, rel=1e-12)
    assert 0.0 < t_ref < duration_s / 2.0  # decay weights the start of the frame


def _small_series():
    grid = Grid((3, 4, 5), (2.5, 1.5, 1.25), (-3.0, -2.0, 10.0))
    patient = PatientInfo("P1", "Test^Patient", "F", 50, 60.0, 1.65, "19730101")
    when = datetime(2024, 2, 3, 10, 11, 12)
    study = StudyInfo(deterministic_uid("study"), deterministic_uid("for"), when, "1", "A1", "test")
    series = SeriesInfo(deterministic_uid("series"), 2, "CT", when, ("test", "CT"))
    return grid, patient, study, series


def test_ct_writer_files_match_pydicom_save_as_byte_for_byte(tmp_path):
    grid, patient, study, series = _small_series()
    hu = np.arange(np.prod(grid.shape_zyx), dtype=float).reshape(grid.shape_zyx) - 30.0
    paths = write_ct_series(tmp_path, hu, grid, patient, study, series)
    assert len(paths) == 3
    for k, path in enumerate(paths):
        ds = pydicom.dcmread(path)
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        assert buffer.getvalue() == path.read_bytes()
        assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
        np.testing.assert_array_equal(ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept), hu[k])
        assert [float(v) for v in ds.ImagePositionPatient] == [-3.0, -2.0, 10.0 + 2.5 * k]
        assert [float(v) for v in ds.PixelSpacing] == [1.5, 1.25]
        assert (ds.Rows, ds.Columns) == (4, 5)


def test_ct_writer_rejects_a_volume_off_the_grid(tmp_path):
    grid, patient, study, series = _small_series()
    with pytest.raises(InvalidParameterError, match="hu"):
        write_ct_series(tmp_path, np.zeros((2, 4, 5)), grid, patient, study, series)
    with pytest.raises(InvalidParameterError, match="hu"):
        write_ct_series(tmp_path, np.full(grid.shape_zyx, 40000.0), grid, patient, study, series)


@pytest.mark.parametrize("key", ["PT", "DWI", "DCE"])
def test_cohort_files_match_pydicom_save_as_byte_for_byte(cohort, key):
    manifest, _ = cohort
    tp = manifest.patients[0].timepoints[1]
    files = sorted((manifest.root / tp.series[key].folder).glob("*.dcm"))
    for path in (files[0], files[len(files) // 2], files[-1]):
        ds = pydicom.dcmread(path)
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        assert buffer.getvalue() == path.read_bytes()
