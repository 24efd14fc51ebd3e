"""Label-map masks: one ROI per nonzero label, grid checks, nearest-neighbour resampling."""

from __future__ import annotations

import numpy as np
import pytest

from imagebio.errors import GeometryMismatchError, RoiNotFoundError, UnsupportedDataError
from imagebio.io.labelmap import label_name, read_labelmap
from imagebio.io.nifti import write_image
from imagebio.volume import Volume


@pytest.fixture
def reference() -> Volume:
    return Volume(
        array=np.zeros((4, 10, 12), np.float32),
        spacing=(3.0, 1.0, 1.0),
        origin=(-5.0, 7.0, 100.0),
        identifiers={"path": "ct-series"},
    )


def test_labels_split_into_named_masks(reference, tmp_path):
    labels = np.zeros(reference.shape, np.uint8)
    labels[1:3, 2:5, 3:7] = 1
    labels[2, 6:9, 1:4] = 4
    path = write_image(reference.with_array(labels), tmp_path / "labels.nii.gz")
    masks = read_labelmap(path, reference)
    assert list(masks) == ["label_1", "label_4"] == [label_name(1), label_name(4)]
    for name, value in (("label_1", 1), ("label_4", 4)):
        mask = masks[name]
        assert mask.array.dtype == bool
        np.testing.assert_array_equal(mask.array, labels == value)
        assert mask.modality == "LABEL"
        assert mask.identifiers["roi"] == name
        assert mask.metadata["label"] == value
        assert mask.same_grid(reference)
    only = read_labelmap(path, reference, rois=["label_4"])
    assert list(only) == ["label_4"]


def test_float_label_map_with_integer_values_is_accepted(reference, tmp_path):
    labels = np.zeros(reference.shape, np.float32)
    labels[0, 0, :3] = 2.0
    masks = read_labelmap(write_image(reference.with_array(labels), tmp_path / "f.nrrd"), reference)
    assert list(masks) == ["label_2"] and masks["label_2"].array.sum() == 3


def test_probability_map_is_not_a_label_map(reference, tmp_path):
    probabilities = np.full(reference.shape, 0.3, np.float32)
    path = write_image(reference.with_array(probabilities), tmp_path / "p.nii.gz")
    with pytest.raises(UnsupportedDataError, match="non-integer"):
        read_labelmap(path, reference)


def test_unknown_label_lists_available(reference, tmp_path):
    labels = np.zeros(reference.shape, np.uint8)
    labels[0, 0, 0] = 1
    path = write_image(reference.with_array(labels), tmp_path / "labels.nrrd")
    with pytest.raises(RoiNotFoundError, match="label_1") as info:
        read_labelmap(path, reference, rois=["GTV"])
    assert info.value.available == ["label_1"]


def test_other_grid_raises_or_resamples(reference, tmp_path):
    # label map at half the in-plane resolution, same field of view (voxel centres shifted by 0.5 mm)
    coarse = Volume(
        array=np.zeros((4, 5, 6), np.uint8),
        spacing=(3.0, 2.0, 2.0),
        origin=(-4.5, 7.5, 100.0),
    )
    labels = np.zeros(coarse.shape, np.uint8)
    labels[1, 1:3, 2:4] = 1
    path = write_image(coarse.with_array(labels), tmp_path / "coarse.nii.gz")
    with pytest.raises(GeometryMismatchError) as info:
        read_labelmap(path, reference)
    message = str(info.value)
    assert "coarse.nii.gz" in message and "ct-series" in message and "spacing" in message

    masks = read_labelmap(path, reference, resample=True)
    mask = masks["label_1"]
    assert mask.same_grid(reference) and mask.metadata["resampled"]
    # each coarse voxel covers 2×2 fine voxels: nearest neighbour reproduces the 2×2 label as a 4×4 block
    expected = np.zeros(reference.shape, bool)
    expected[1, 2:6, 4:8] = True
    np.testing.assert_array_equal(mask.array, expected)
