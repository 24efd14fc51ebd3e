"""DICOM Parametric Map: write a map, read it back to the same values and geometry; validated by dciodvfy."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pydicom
import pytest

from tests.dicom_validation import dciodvfy_errors

from imagebio.errors import InvalidParameterError, UnsupportedDataError
from imagebio.io.dicom import find_series, read_dicom_series
from imagebio.io.parametric_map import read_parametric_map, write_parametric_map
from tests.io.synthetic_dicom import write_series

SPACING = (2.5, 0.8, 0.7)
ORIGIN = (-50.0, -40.0, 100.0)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    folder = tmp_path_factory.mktemp("src")
    stored = np.random.default_rng(0).integers(0, 100, size=(5, 12, 10)).astype(np.int16)
    paths = write_series(folder, stored, spacing_zyx=SPACING, origin=ORIGIN)
    series = find_series(folder)
    reference = read_dicom_series(series)
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in series.files]
    for ds in headers:  # Type 2 attributes the synthetic slices leave out and the map inherits
        ds.PatientBirthDate, ds.PatientSex, ds.StudyID = "", "O", "1"
        ds.AccessionNumber, ds.ReferringPhysicianName = "", ""
    return reference, headers, paths


def _adc_volume(reference):
    rng = np.random.default_rng(1)
    values = rng.uniform(0.3e-3, 3.0e-3, size=reference.shape)
    return reference.with_array(values, unit="mm2/s")


def test_float_map_round_trip_is_exact_to_float32(source, tmp_path):
    reference, headers, _ = source
    adc = _adc_volume(reference)
    write_parametric_map(adc, headers, tmp_path / "adc.dcm", quantity="adc",
                         content_datetime=datetime(2024, 1, 2, 3, 4, 5))
    back = read_parametric_map(tmp_path / "adc.dcm")
    np.testing.assert_array_equal(back.array, adc.array.astype(np.float32).astype(np.float64))
    assert back.same_grid(reference)
    assert back.unit == "mm2/s"
    assert back.metadata["quantity_code"] == "113041"
    ds = pydicom.dcmread(tmp_path / "adc.dcm", stop_before_pixels=True)
    assert ds.ContentDate == "20240102"
    assert ds.StudyInstanceUID == headers[0].StudyInstanceUID
    assert ds.FrameOfReferenceUID == headers[0].FrameOfReferenceUID


def test_coronal_map_keeps_its_geometry(tmp_path):
    """Orientation is written from the Volume's direction (columns x, y, z) and read back to the same grid."""
    stored = np.arange(4 * 6 * 5, dtype=np.int16).reshape(4, 6, 5)
    write_series(tmp_path / "src", stored, spacing_zyx=(3.0, 1.2, 0.9), orientation=(1, 0, 0, 0, 0, -1))
    series = find_series(tmp_path / "src")
    reference = read_dicom_series(series)
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in series.files]
    for ds in headers:
        ds.PatientBirthDate, ds.PatientSex, ds.StudyID = "", "O", "1"
        ds.AccessionNumber, ds.ReferringPhysicianName = "", ""
    values = reference.with_array(np.asarray(reference.array, float) * 1e-5)
    write_parametric_map(values, headers, tmp_path / "map.dcm", quantity="adc")
    back = read_parametric_map(tmp_path / "map.dcm")
    assert back.same_grid(reference)
    np.testing.assert_allclose(back.array, values.array, rtol=1e-6)


def test_integer_map_round_trip_within_half_a_quantisation_step(source, tmp_path):
    reference, headers, _ = source
    ktrans = reference.with_array(np.random.default_rng(2).uniform(0.0, 0.6, size=reference.shape), unit="1/min")
    write_parametric_map(ktrans, headers, tmp_path / "ktrans.dcm", quantity="ktrans", integer=True)
    ds = pydicom.dcmread(tmp_path / "ktrans.dcm")
    assert ds.BitsAllocated == 16 and "PixelData" in ds
    back = read_parametric_map(tmp_path / "ktrans.dcm")
    step = (ktrans.array.max() - ktrans.array.min()) / 65535
    assert np.max(np.abs(back.array - ktrans.array)) <= step / 2 + 1e-12
    assert back.unit == "1/min"


def test_written_maps_pass_dciodvfy(source, tmp_path):
    reference, headers, _ = source
    write_parametric_map(_adc_volume(reference), headers, tmp_path / "adc.dcm", quantity="adc")
    write_parametric_map(reference.with_array(np.full(reference.shape, 2.5)), headers, tmp_path / "suv.dcm",
                         quantity="suv", integer=True)
    for name in ("adc.dcm", "suv.dcm"):
        assert dciodvfy_errors(tmp_path / name) == []


def test_bad_input(source, tmp_path):
    reference, headers, paths = source
    with pytest.raises(InvalidParameterError, match="quantity"):
        write_parametric_map(reference, headers, tmp_path / "x.dcm", quantity="magic")
    with pytest.raises(InvalidParameterError, match="source_images"):
        write_parametric_map(reference, [], tmp_path / "x.dcm", quantity="adc")
    with pytest.raises(UnsupportedDataError, match="Parametric Map"):
        read_parametric_map(paths[0])
