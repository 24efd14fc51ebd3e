"""DICOM folder scanning and series reading (imagebio.io.dicom)."""

import shutil

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from imagebio.errors import DicomReadError, MissingDicomTagError, UnsupportedDataError
from imagebio.io.dicom import read_dicom_series, read_dynamic_series, read_header, scan_folder

from tests.io.synthetic_dicom import write_series


@pytest.fixture()
def pydicom_folder(tmp_path):
    for name in ("CT_small.dcm", "MR_small.dcm", "MR_truncated.dcm"):
        shutil.copy(get_testdata_file(name), tmp_path / name)
    (tmp_path / "notes.txt").write_text("not dicom")
    return tmp_path


def test_real_ct_small_in_hu(tmp_path):
    src = get_testdata_file("CT_small.dcm")
    shutil.copy(src, tmp_path / "ct.dcm")
    volume = read_dicom_series(tmp_path)
    ds = pydicom.dcmread(src)
    expected = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert volume.unit == "HU" and volume.modality == "CT"
    np.testing.assert_array_equal(volume.array[0], expected.astype(np.float32))
    assert volume.origin == pytest.approx(tuple(float(v) for v in ds.ImagePositionPatient))
    assert volume.spacing[1:] == pytest.approx(tuple(float(v) for v in ds.PixelSpacing))
    assert volume.identifiers["series_uid"] == ds.SeriesInstanceUID


def test_real_mr_small(tmp_path):
    src = get_testdata_file("MR_small.dcm")
    shutil.copy(src, tmp_path / "mr.dcm")
    volume = read_dicom_series(tmp_path)
    ds = pydicom.dcmread(src)
    assert volume.modality == "MR" and volume.shape == (1, ds.Rows, ds.Columns)
    np.testing.assert_array_equal(volume.array[0], ds.pixel_array.astype(np.float32))
    assert volume.metadata["repetition_time_ms"] == pytest.approx(float(ds.RepetitionTime))


def test_truncated_file_is_a_typed_error_naming_the_file():
    path = get_testdata_file("MR_truncated.dcm")
    with pytest.raises(DicomReadError, match="MR_truncated.dcm") as info:
        read_header(path)
    assert "truncated" in str(info.value)


def test_scan_skips_bad_files_and_keeps_the_rest(pydicom_folder):
    result = scan_folder(pydicom_folder)
    assert sorted(s.modality for s in result.series) == ["CT", "MR"]
    skipped = {p.path.name: p.reason for p in result.skipped}
    assert set(skipped) == {"MR_truncated.dcm", "notes.txt"}
    assert "truncated" in skipped["MR_truncated.dcm"]


def test_folder_with_several_series_needs_a_choice(pydicom_folder):
    with pytest.raises(UnsupportedDataError, match="pass series_uid"):
        read_dicom_series(pydicom_folder)
    ct_uid = pydicom.dcmread(get_testdata_file("CT_small.dcm")).SeriesInstanceUID
    assert read_dicom_series(pydicom_folder, series_uid=ct_uid).modality == "CT"


def test_only_truncated_file_reports_why(tmp_path):
    shutil.copy(get_testdata_file("MR_truncated.dcm"), tmp_path / "x.dcm")
    with pytest.raises(UnsupportedDataError, match="truncated"):
        read_dicom_series(tmp_path)


@pytest.mark.parametrize(
    "orientation",
    [(1, 0, 0, 0, 1, 0), (0.8660254, 0.5, 0, -0.5, 0.8660254, 0), (1, 0, 0, 0, 0, -1)],
    ids=["axial", "rotated", "coronal"],
)
def test_slices_sorted_along_normal_with_per_slice_rescale(tmp_path, orientation):
    rng = np.random.default_rng(1)
    stored = rng.integers(0, 2000, size=(6, 9, 7))
    slopes = [1.0, 2.0, 1.0, 0.5, 1.0, 3.0]
    write_series(tmp_path, stored, orientation=orientation, slopes=slopes, spacing_zyx=(2.5, 0.8, 0.7))
    volume = read_dicom_series(tmp_path)
    expected = stored * np.asarray(slopes)[:, None, None] - 1024.0
    np.testing.assert_allclose(volume.array, expected, rtol=1e-6)
    assert volume.spacing == pytest.approx((2.5, 0.8, 0.7))
    # every slice's patient position agrees with its header
    for path in tmp_path.iterdir():
        ds = pydicom.dcmread(path)
        k = int(ds.InstanceNumber) - 1
        np.testing.assert_allclose(volume.index_to_physical([k, 0, 0]), np.asarray(ds.ImagePositionPatient, float), atol=1e-4)


def test_round_trip_through_simpleitk_keeps_geometry(tmp_path):
    stored = np.arange(4 * 5 * 6).reshape(4, 5, 6)
    write_series(tmp_path, stored, orientation=(0.8660254, 0.5, 0, -0.5, 0.8660254, 0))
    volume = read_dicom_series(tmp_path)
    image = volume.to_sitk()
    back = type(volume).from_sitk(image)
    np.testing.assert_array_equal(back.array, volume.array)
    assert back.spacing == pytest.approx(volume.spacing)
    assert back.origin == pytest.approx(volume.origin)
    np.testing.assert_allclose(back.direction, volume.direction)
    # SimpleITK's own index->point agrees with ours
    point = image.TransformIndexToPhysicalPoint((2, 3, 1))
    np.testing.assert_allclose(volume.index_to_physical([1, 3, 2]), point, atol=1e-6)


def test_missing_geometry_tag_is_named(tmp_path):
    paths = write_series(tmp_path, np.zeros((2, 4, 4)))
    ds = pydicom.dcmread(paths[0])
    del ds.ImagePositionPatient
    ds.save_as(paths[0])
    with pytest.raises(MissingDicomTagError, match=r"ImagePositionPatient \(0020,0032\)"):
        read_dicom_series(tmp_path)


def test_missing_slice_is_reported(tmp_path):
    paths = write_series(tmp_path, np.zeros((5, 4, 4)), shuffle_seed=None)
    paths[2].unlink()
    with pytest.raises(UnsupportedDataError, match="non-uniform slice spacing"):
        read_dicom_series(tmp_path)


def test_dynamic_series_split_by_temporal_position(tmp_path):
    frames = [np.full((3, 4, 4), 100 * (t + 1)) for t in range(4)]
    series_uid = pydicom.uid.generate_uid()
    study_uid = pydicom.uid.generate_uid()
    for t, frame in enumerate(frames):
        extra = [{"TemporalPositionIdentifier": t + 1, "TriggerTime": 5000.0 * t} for _ in range(3)]
        write_series(tmp_path / f"t{t}", frame, modality="MR", series_uid=series_uid, study_uid=study_uid,
                     extra_per_slice=extra)
    with pytest.raises(UnsupportedDataError, match="read_dynamic_series"):
        read_dicom_series(tmp_path)
    volumes = read_dynamic_series(tmp_path)
    assert [v.metadata["frame_time_s"] for v in volumes] == pytest.approx([0, 5, 10, 15])
    assert [float(v.array.mean()) for v in volumes] == pytest.approx([100, 200, 300, 400])


def test_multi_b_dwi_split_by_b_value(tmp_path):
    b_values = [0, 500, 1000]
    series_uid = pydicom.uid.generate_uid()
    study_uid = pydicom.uid.generate_uid()
    adc = 1.0e-3
    for b in b_values:
        signal = np.full((3, 4, 4), np.round(1000 * np.exp(-b * adc)))
        extra = [{"DiffusionBValue": float(b)} for _ in range(3)]
        write_series(tmp_path / f"b{b}", signal, modality="MR", series_uid=series_uid, study_uid=study_uid,
                     extra_per_slice=extra)
    volumes = read_dynamic_series(tmp_path)
    assert [v.metadata["b_value_s_per_mm2"] for v in volumes] == b_values
    means = np.array([v.array.mean() for v in volumes])
    np.testing.assert_allclose(means, np.round(1000 * np.exp(-np.array(b_values) * adc)))


def test_variable_flip_angle_series_split_by_flip_angle(tmp_path):
    series_uid = pydicom.uid.generate_uid()
    study_uid = pydicom.uid.generate_uid()
    for angle in (2.0, 10.0, 15.0):
        extra = [{"FlipAngle": angle, "RepetitionTime": 4.0} for _ in range(3)]
        write_series(tmp_path / f"fa{angle:g}", np.full((3, 4, 4), 10 * angle), modality="MR",
                     series_uid=series_uid, study_uid=study_uid, extra_per_slice=extra)
    volumes = read_dynamic_series(tmp_path)
    assert [v.metadata["flip_angle_deg"] for v in volumes] == [2.0, 10.0, 15.0]
    assert [float(v.array.mean()) for v in volumes] == [20.0, 100.0, 150.0]


# --- vendor private b-value tags (issue 5, item 6) -------------------------------------------------------------
VENDOR_B_TAGS = {
    # vendor: (private creator group element, creator, b-value element, VR, stored value for b)
    "GE": ((0x0043, 0x0010), "GEMS_PARM_01", (0x0043, 0x1039), "IS", lambda b: [int(1e9 + b), 8, 0, 0]),
    "Siemens": ((0x0019, 0x0010), "SIEMENS MR HEADER", (0x0019, 0x100C), "IS", lambda b: int(b)),
    "Philips": ((0x2001, 0x0010), "Philips Imaging DD 001", (0x2001, 0x1003), "FL", lambda b: float(b)),
}


@pytest.mark.parametrize("vendor", sorted(VENDOR_B_TAGS))
def test_multi_b_dwi_from_vendor_private_b_value_tags(tmp_path, vendor):
    """b-values only in the GE (0043,1039) (b + 1e9 form), Siemens (0019,100C) or Philips (2001,1003) tag."""
    creator_tag, creator, b_tag, vr, encode = VENDOR_B_TAGS[vendor]
    b_values = [0.0, 50.0, 800.0]
    series_uid = pydicom.uid.generate_uid()
    study_uid = pydicom.uid.generate_uid()
    for b in b_values:
        paths = write_series(tmp_path / f"b{b:g}", np.full((2, 4, 4), round(1000 * np.exp(-b * 1e-3))),
                             modality="MR", series_uid=series_uid, study_uid=study_uid)
        for path in paths:
            ds = pydicom.dcmread(path)
            assert "DiffusionBValue" not in ds
            ds.add_new(creator_tag, "LO", creator)
            ds.add_new(b_tag, vr, encode(b))
            ds.save_as(path)
    volumes = read_dynamic_series(tmp_path)
    assert [v.metadata["b_value_s_per_mm2"] for v in volumes] == b_values
    assert [float(v.array.mean()) for v in volumes] == [1000.0, 951.0, 449.0]
