"""NIfTI / NRRD / MetaImage reading and writing: lossless round trips and correct RAS→LPS geometry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imagebio.errors import InvalidParameterError, UnsupportedDataError
from imagebio.io.dicom import read_dicom_series
from imagebio.io.nifti import read_image, write_image
from imagebio.volume import Volume

DATA = Path(__file__).resolve().parents[1] / "data" / "ibsi_validation"


def _oblique_direction() -> np.ndarray:
    angle = np.deg2rad(20.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0.0], [np.sin(angle), np.cos(angle), 0.0], [0, 0, 1.0]])
    return rotation @ np.diag([1.0, 1.0, 1.0])


@pytest.fixture
def volume() -> Volume:
    rng = np.random.default_rng(7)
    return Volume(
        array=rng.normal(0, 100, (5, 7, 9)).astype(np.float32),
        spacing=(2.5, 0.75, 0.5),
        origin=(-120.25, 33.5, -812.75),
        direction=_oblique_direction(),
        modality="CT",
        unit="HU",
    )


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz", ".nrrd", ".mha"])
def test_round_trip_is_lossless(volume, tmp_path, suffix):
    path = write_image(volume, tmp_path / f"image{suffix}")
    back = read_image(path, modality="CT", unit="HU")
    assert back.array.dtype == volume.array.dtype
    np.testing.assert_array_equal(back.array, volume.array)
    # NIfTI stores geometry as float32; NRRD/MetaImage as decimal text (double precision)
    atol = 1e-4 if ".nii" in suffix else 1e-9
    np.testing.assert_allclose(back.spacing, volume.spacing, atol=atol, rtol=0)
    np.testing.assert_allclose(back.origin, volume.origin, atol=atol, rtol=0)
    np.testing.assert_allclose(back.direction, volume.direction, atol=1e-6)
    assert back.modality == "CT" and back.unit == "HU"
    assert back.identifiers["path"] == str(path)


def test_integer_and_bool_arrays_round_trip(tmp_path, volume):
    labels = volume.with_array(np.arange(5 * 7 * 9, dtype=np.int16).reshape(5, 7, 9))
    back = read_image(write_image(labels, tmp_path / "labels.nrrd"))
    assert back.array.dtype == np.int16
    np.testing.assert_array_equal(back.array, labels.array)
    mask = volume.with_array(labels.array % 3 == 0)
    back = read_image(write_image(mask, tmp_path / "mask.nii.gz"))
    np.testing.assert_array_equal(back.array, mask.array.astype(np.uint8))


def test_nifti_ras_affine_becomes_lps(tmp_path):
    """A NIfTI written by nibabel (RAS affine) reads with origin/direction equal to the affine flipped to LPS."""
    import nibabel as nib

    array_xyz = np.arange(4 * 3 * 2, dtype=np.float32).reshape(4, 3, 2)  # nibabel order (i, j, k)
    affine = np.array(
        [[-0.8, 0.0, 0.0, 90.0], [0.0, 0.9, 0.0, -120.0], [0.0, 0.0, 3.0, -40.0], [0.0, 0.0, 0.0, 1.0]]
    )
    nib.save(nib.Nifti1Image(array_xyz, affine), tmp_path / "ras.nii.gz")
    volume = read_image(tmp_path / "ras.nii.gz")
    assert volume.shape == (2, 3, 4)  # (z, y, x)
    np.testing.assert_array_equal(volume.array, np.transpose(array_xyz, (2, 1, 0)))
    ras_to_lps = np.diag([-1.0, -1.0, 1.0, 1.0])
    for i, j, k in [(0, 0, 0), (3, 2, 1), (1, 2, 0)]:
        expected_lps = (ras_to_lps @ affine @ [i, j, k, 1.0])[:3]
        np.testing.assert_allclose(volume.index_to_physical(np.array([k, j, i])), expected_lps, atol=1e-5)
    np.testing.assert_allclose(volume.spacing, (3.0, 0.9, 0.8), atol=1e-6)


def test_unreadable_and_4d_files_raise(tmp_path):
    bad = tmp_path / "broken.nii.gz"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(UnsupportedDataError, match="broken.nii.gz"):
        read_image(bad)
    with pytest.raises(InvalidParameterError, match="missing.nii"):
        read_image(tmp_path / "missing.nii")
    import nibabel as nib

    nib.save(nib.Nifti1Image(np.zeros((3, 3, 3, 2), np.float32), np.eye(4)), tmp_path / "dyn.nii.gz")
    with pytest.raises(UnsupportedDataError, match="4 dimensions"):
        read_image(tmp_path / "dyn.nii.gz")
    with pytest.raises(InvalidParameterError, match="suffix|ending"):
        write_image(Volume(np.zeros((2, 2, 2)), (1, 1, 1)), tmp_path / "image.png")


@pytest.mark.parametrize("modality", ["CT", "PET", "MR_T1"])
def test_ibsi_nifti_matches_dicom_series(modality):
    """IBSI validation patient STS_003: the NIfTI export lies on the DICOM grid with the same voxel values.

    The NIfTI images were written by MIRP from the same DICOM (float32); values must agree to float32 precision
    and geometry to the float32 precision of the NIfTI header.
    """
    nifti = read_image(DATA / "nifti" / "STS_003" / f"{modality}_image.nii.gz")
    dicom = read_dicom_series(DATA / "dicom" / "STS_003" / modality / "image")
    assert nifti.same_grid(dicom), (nifti, dicom)
    np.testing.assert_allclose(nifti.direction, dicom.direction, atol=1e-6)
    np.testing.assert_allclose(nifti.origin, dicom.origin, atol=1e-4)
    np.testing.assert_allclose(nifti.array, dicom.array, rtol=1e-6, atol=1e-6 * np.abs(dicom.array).max())


def test_nan_voxels_survive_a_nifti_round_trip(tmp_path):
    # Parameter maps mark failed fits and voxels outside the mask with NaN; SimpleITK's NIfTI reader alone
    # would return 0 there.
    from imagebio.io.nifti import read_image as read_back
    from imagebio.io.nifti import write_image as write_out
    from imagebio.volume import Volume as Vol

    array = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    array[1, 2, 3] = np.nan
    path = write_out(Vol(array, spacing=(2.0, 1.0, 1.5)), tmp_path / "map.nii.gz")
    back = read_back(path).array
    assert np.isnan(back[1, 2, 3]) and np.isnan(back).sum() == 1
    np.testing.assert_array_equal(np.nan_to_num(back), np.nan_to_num(array))
