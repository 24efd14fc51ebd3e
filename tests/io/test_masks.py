"""read_roi_masks: dispatch (SEG / RTSTRUCT / label map / folder), errors, and the IBSI real-patient check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imagebio.errors import (
    DicomReadError,
    EmptyMaskError,
    GeometryMismatchError,
    RoiNotFoundError,
    UnsupportedDataError,
)
from imagebio.io.dicom import read_dicom_series
from imagebio.io.masks import mask_kind, read_roi_masks
from imagebio.io.nifti import read_image, write_image
from imagebio.io.rtstruct import write_rtstruct
from imagebio.io.seg import write_seg
from imagebio.volume import Volume
from tests.io._roi_testdata import box_mask, make_ct_series, ring_mask

IBSI = Path(__file__).resolve().parents[1] / "data" / "ibsi_validation"


@pytest.fixture
def ct(tmp_path):
    datasets, _ = make_ct_series(tmp_path / "ct")
    return datasets, read_dicom_series(tmp_path / "ct")


@pytest.fixture
def mask_files(ct, tmp_path):
    datasets, reference = ct
    masks = {"box": box_mask(reference.shape), "ring": ring_mask(reference.shape, (12, 10), 3, 8)}
    write_seg(masks, datasets, tmp_path / "seg" / "seg.dcm")
    write_rtstruct(masks, datasets, tmp_path / "rt" / "rs.dcm")
    labels = masks["box"].astype(np.uint8) + 2 * masks["ring"].astype(np.uint8)
    labels[labels == 3] = 2  # the ring wins where both overlap
    write_image(reference.with_array(labels), tmp_path / "labels.nii.gz")
    return masks, labels


@pytest.mark.parametrize(
    ("where", "kind", "names"),
    [
        ("seg/seg.dcm", "SEG", ["box", "ring"]),
        ("seg", "SEG", ["box", "ring"]),
        ("rt/rs.dcm", "RTSTRUCT", ["box", "ring"]),
        ("labels.nii.gz", "LABEL", ["label_1", "label_2"]),
    ],
)
def test_dispatch_reads_every_kind(ct, mask_files, tmp_path, where, kind, names):
    _, reference = ct
    masks, labels = mask_files
    result = read_roi_masks(tmp_path / where, reference)
    assert list(result) == names
    for name, volume in result.items():
        assert volume.modality == kind
        assert volume.identifiers["roi"] == name
        assert volume.array.dtype == bool
        assert volume.same_grid(reference)
    if kind == "LABEL":
        np.testing.assert_array_equal(result["label_2"].array, labels == 2)
    else:
        for name in names:
            np.testing.assert_array_equal(result[name].array, masks[name])


def test_kind_detection(mask_files, tmp_path):
    assert mask_kind(tmp_path / "seg" / "seg.dcm") == "SEG"
    assert mask_kind(tmp_path / "rt" / "rs.dcm") == "RTSTRUCT"
    assert mask_kind(tmp_path / "labels.nii.gz") == "LABEL"
    with pytest.raises(UnsupportedDataError, match="not a mask"):
        mask_kind(tmp_path / "ct" / "slice_000.dcm")


def test_unknown_roi_lists_available(ct, mask_files, tmp_path):
    _, reference = ct
    with pytest.raises(RoiNotFoundError, match="'GTV'.*available: box, ring") as info:
        read_roi_masks(tmp_path / "rt" / "rs.dcm", reference, rois=["GTV"])
    assert info.value.available == ["box", "ring"]
    only = read_roi_masks(tmp_path / "seg" / "seg.dcm", reference, rois="ring")
    assert list(only) == ["ring"]


def test_empty_roi_on_grid_raises(ct, tmp_path):
    datasets, reference = ct
    # the label map covers a larger field of view; its only label lies outside the reference image
    wide = Volume(
        array=np.zeros((reference.shape[0], reference.shape[1] + 10, reference.shape[2]), np.uint8),
        spacing=reference.spacing,
        origin=reference.origin,
        direction=reference.direction,
    )
    labels = np.zeros(wide.shape, np.uint8)
    labels[2, -3:, 4:8] = 1
    path = write_image(wide.with_array(labels), tmp_path / "wide.nrrd")
    with pytest.raises(EmptyMaskError, match="label_1"):
        read_roi_masks(path, reference, resample=True)


def test_label_map_on_other_grid(ct, tmp_path):
    _, reference = ct
    coarse = reference.replace(
        array=np.zeros((reference.shape[0], reference.shape[1] // 2, reference.shape[2] // 2), np.uint8),
        spacing=(reference.spacing[0], 2 * reference.spacing[1], 2 * reference.spacing[2]),
    )
    labels = np.zeros(coarse.shape, np.uint8)
    labels[1:4, 3:7, 2:6] = 1
    path = write_image(coarse.with_array(labels), tmp_path / "coarse_mask.nii.gz")
    with pytest.raises(GeometryMismatchError) as info:
        read_roi_masks(path, reference)
    message = str(info.value)
    assert "coarse_mask.nii.gz" in message and reference.identifiers["path"] in message
    mask = read_roi_masks(path, reference, resample=True)["label_1"]
    assert mask.same_grid(reference) and mask.array.any()
    # nearest-neighbour upsampling by 2 in-plane: every coarse voxel becomes 4 fine ones
    assert mask.array.sum() == 4 * labels.sum()


def test_unreadable_mask_files_raise_dicom_read_error(ct, mask_files, tmp_path):
    _, reference = ct
    data = (tmp_path / "rt" / "rs.dcm").read_bytes()
    truncated = tmp_path / "truncated_rs.dcm"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(DicomReadError, match="truncated_rs.dcm"):
        read_roi_masks(truncated, reference)
    text = tmp_path / "notes.txt"
    text.write_text("this is a text file, not a mask\n" * 10)
    with pytest.raises(DicomReadError, match="notes.txt"):
        read_roi_masks(text, reference)
    seg = (tmp_path / "seg" / "seg.dcm").read_bytes()
    cut_seg = tmp_path / "cut_seg.dcm"
    cut_seg.write_bytes(seg[: len(seg) - 40])  # pixel data cut short
    with pytest.raises(DicomReadError, match="cut_seg.dcm"):
        read_roi_masks(cut_seg, reference)


def test_folder_with_several_masks_asks_for_one(ct, mask_files, tmp_path):
    _, reference = ct
    both = tmp_path / "both"
    both.mkdir()
    for sub in ("seg/seg.dcm", "rt/rs.dcm"):
        (both / Path(sub).name).write_bytes((tmp_path / sub).read_bytes())
    with pytest.raises(UnsupportedDataError, match="2 mask files"):
        read_roi_masks(both, reference)


# ------------------------------------------------------------------------------------------ real patient (IBSI)
@pytest.mark.parametrize(
    ("modality", "roi"), [("CT", "GTV_Mass_CT"), ("PET", "GTV_Mass_PET"), ("MR_T1", "GTV_Mass_MR_T1")]
)
def test_ibsi_sts003_dicom_rtstruct_agrees_with_nifti_mask(modality, roi):
    """IBSI validation patient STS_003: DICOM + RTSTRUCT path vs MIRP's NIfTI image + mask path.

    Acceptance (set before measuring): same grid, equal voxel values, ROI voxel count within 3 % and ROI mean
    intensity within 1 %. Measured: identical masks on all three (CT 25693, PET 817, MR_T1 25693 voxels; means
    29.47 HU, 5.816 SUV, 363.0 a.u.).
    """
    image_dicom = read_dicom_series(IBSI / "dicom" / "STS_003" / modality / "image")
    masks_dicom = read_roi_masks(IBSI / "dicom" / "STS_003" / modality / "mask", image_dicom)
    assert list(masks_dicom) == [roi]
    mask_dicom = masks_dicom[roi]
    assert mask_dicom.modality == "RTSTRUCT"

    image_nifti = read_image(IBSI / "nifti" / "STS_003" / f"{modality}_image.nii.gz", modality=image_dicom.modality)
    mask_nifti = read_roi_masks(IBSI / "nifti" / "STS_003" / f"{modality}_mask.nii.gz", image_nifti)["label_1"]

    assert image_dicom.same_grid(image_nifti)
    np.testing.assert_allclose(image_nifti.array, image_dicom.array, rtol=1e-6, atol=1e-6)
    count_dicom, count_nifti = int(mask_dicom.array.sum()), int(mask_nifti.array.sum())
    assert abs(count_dicom - count_nifti) <= 0.03 * count_nifti
    mean_dicom = float(image_dicom.array[mask_dicom.array].mean())
    mean_nifti = float(image_nifti.array[mask_nifti.array].mean())
    assert abs(mean_dicom - mean_nifti) <= 0.01 * abs(mean_nifti)
    # the RTSTRUCT in DICOM space also lands on the NIfTI grid (same geometry, no frame-of-reference UID there)
    on_nifti = read_roi_masks(IBSI / "dicom" / "STS_003" / modality / "mask", image_nifti)[roi]
    np.testing.assert_array_equal(on_nifti.array, mask_dicom.array)



def test_ibsi_sts003_ct_contour_rasterised_on_pet_grid():
    """One GTV exported with each image: the CT-space RTSTRUCT rasterised directly on the coarser PET grid (same
    frame of reference, contour planes on the PET slices) must match the PET RTSTRUCT, up to voxel centres that
    sit on the outline within the precision of the exported coordinates. Acceptance: Dice >= 0.99.
    Measured: 819 vs 817 voxels, Dice 0.9988.
    """
    dicom = IBSI / "dicom" / "STS_003"
    pet = read_dicom_series(dicom / "PET" / "image")
    from_ct = read_roi_masks(dicom / "CT" / "mask", pet)["GTV_Mass_CT"].array
    from_pet = read_roi_masks(dicom / "PET" / "mask", pet)["GTV_Mass_PET"].array
    dice = 2 * np.sum(from_ct & from_pet) / (from_ct.sum() + from_pet.sum())
    assert dice >= 0.99
