"""Bad input to the radiomics extractor gives typed errors, or NaN features with a RuntimeWarning, never a crash.

Cases of issue 3: empty ROI after re-segmentation, single-voxel ROI, mask not binary, image/mask geometry
mismatch, NaN voxels (inside the ROI: error; outside: warning).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from imagebio.cli.main import main
from imagebio.errors import EmptyMaskError, GeometryMismatchError, InvalidParameterError
from imagebio.radiomics import extract_features
from imagebio.volume import Volume

SPACING = (2.0, 1.0, 1.0)


@pytest.fixture
def ct(rng):
    image = np.round(rng.normal(40.0, 30.0, (10, 14, 14)))
    mask = np.zeros(image.shape)
    mask[3:7, 4:10, 4:10] = 1
    return image, mask


def test_empty_roi_after_resegmentation(ct):
    image, mask = ct
    with pytest.raises(EmptyMaskError, match="re-segmentation"):
        extract_features(image + 2000.0, mask, SPACING, "ibsi-c")  # all above the 400 HU bound


def test_empty_mask(ct):
    image, mask = ct
    with pytest.raises(EmptyMaskError):
        extract_features(image, mask * 0, SPACING, "pyradiomics-default")


def test_single_voxel_roi_gives_nan_texture_with_a_warning(ct):
    image, _ = ct
    mask = np.zeros(image.shape)
    mask[5, 7, 7] = 1
    with pytest.warns(RuntimeWarning, match="undefined"):
        features = extract_features(image, mask, SPACING, "pyradiomics-default")
    assert features["stat_mean"] == image[5, 7, 7]
    assert features["stat_var"] == 0.0
    assert features["morph_vol_approx"] == pytest.approx(2.0)  # one 2 x 1 x 1 mm voxel
    assert math.isnan(features["cm_joint_avg_3D_avg"])  # no voxel pair: undefined, not 0
    assert math.isnan(features["ngt_coarseness_3D"])


def test_single_voxel_roi_lost_by_interpolation_is_an_error(ct):
    image, _ = ct
    mask = np.zeros(image.shape)
    mask[5, 7, 7] = 1
    with pytest.raises(EmptyMaskError):
        extract_features(image, mask, (1.0, 1.0, 1.0), "ibsi-c")  # 2 mm grid: below the partial-volume threshold


@pytest.mark.parametrize("value", [2.0, 0.5, -1.0])
def test_mask_not_binary(ct, value):
    image, mask = ct
    mask = mask.copy()
    mask[5, 5, 5] = value
    with pytest.raises(InvalidParameterError, match="binary"):
        extract_features(image, mask, SPACING, "pyradiomics-default")


def test_boolean_mask_is_accepted(ct):
    image, mask = ct
    features = extract_features(image, mask.astype(bool), SPACING, "pyradiomics-default")
    assert features["stat_mean"] == pytest.approx(image[mask > 0].mean())


def test_geometry_mismatch(ct):
    image, mask = ct
    with pytest.raises(GeometryMismatchError):
        extract_features(image, mask[:, :-1], SPACING, "pyradiomics-default")
    vol = Volume(image, spacing=SPACING)
    shifted = Volume(mask, spacing=SPACING, origin=(5.0, 0.0, 0.0))
    with pytest.raises(GeometryMismatchError):
        extract_features(vol, shifted, settings="pyradiomics-default")
    other_spacing = Volume(mask, spacing=(1.0, 1.0, 1.0))
    with pytest.raises(GeometryMismatchError):
        extract_features(vol, other_spacing, settings="pyradiomics-default")


def test_nan_inside_roi_is_an_error(ct):
    image, mask = ct
    image = image.copy()
    image[5, 5, 5] = np.nan
    with pytest.raises(InvalidParameterError, match="non-finite"):
        extract_features(image, mask, SPACING, "pyradiomics-default")


def test_nan_outside_roi_warns_and_features_stay_finite(ct):
    image, mask = ct
    image = image.copy()
    image[0, 0, 0] = np.nan  # far from the ROI
    with pytest.warns(RuntimeWarning, match="outside the ROI"):
        features = extract_features(image, mask, SPACING, "pyradiomics-default")
    clean = extract_features(np.nan_to_num(image), mask, SPACING, "pyradiomics-default")
    assert features["stat_mean"] == clean["stat_mean"]
    assert features["cm_contrast_3D_avg"] == clean["cm_contrast_3D_avg"]


def test_nan_next_to_roi_spread_by_interpolation_is_an_error(ct):
    image, _ = ct
    image = image.copy()
    mask = np.zeros(image.shape)
    mask[3:7, 4:10, 5:11] = 1
    # The 2 mm grid of ibsi-c has x nodes at 0.5, 2.5, 4.5 ... (original voxel indices): the node at 4.5 is half
    # ROI (kept at the 0.5 partial-volume threshold) and half NaN voxel, so trilinear interpolation carries it in.
    image[:, :, 4] = np.nan
    with (pytest.warns(RuntimeWarning, match="outside the ROI"),
          pytest.raises(InvalidParameterError, match="after interpolation")):
        extract_features(image, mask, SPACING, "ibsi-c")


def test_cli_geometry_mismatch_is_one_line_exit_2(tmp_path, capsys):
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.zeros((6, 8, 8), np.int16))
    image.SetSpacing((1.0, 1.0, 2.0))
    mask_array = np.zeros((6, 8, 8), np.uint8)
    mask_array[2:4, 2:6, 2:6] = 1
    mask = sitk.GetImageFromArray(mask_array)
    mask.SetSpacing((1.0, 1.0, 3.0))  # another grid
    sitk.WriteImage(image, str(tmp_path / "image.nii.gz"))
    sitk.WriteImage(mask, str(tmp_path / "mask.nii.gz"))
    with pytest.raises(SystemExit) as info:
        main(["radiomics", str(tmp_path / "image.nii.gz"), str(tmp_path / "mask.nii.gz"), "--preset",
              "pyradiomics-default"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err
