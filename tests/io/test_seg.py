"""DICOM SEG: highdicom-written segmentations read back voxel for voxel on the image grid."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from imagebio.errors import GeometryMismatchError, InvalidParameterError, RoiNotFoundError
from imagebio.io.dicom import find_series, read_dicom_series
from imagebio.io.seg import FRACTIONAL_THRESHOLD, read_seg, write_seg
from imagebio.volume import Volume
from tests.io._roi_testdata import box_mask, ellipsoid_mask, make_ct_series, ring_mask


@pytest.fixture
def ct(tmp_path):
    # oblique in-plane orientation so that the slice placement is not trivially axis-aligned
    datasets, volume = make_ct_series(
        tmp_path / "ct", row_cosine=(0.8, 0.6, 0.0), column_cosine=(-0.6, 0.8, 0.0)
    )
    return datasets, volume


def _masks(volume: Volume) -> dict[str, np.ndarray]:
    centre = volume.index_to_physical(np.array([3.0, 12.0, 10.0]))
    return {
        "box": box_mask(volume.shape),
        "ring": ring_mask(volume.shape, (12, 10), inner=3, outer=8),
        "sphere": ellipsoid_mask(volume, centre, radius_mm=6.0),
    }


def test_binary_seg_round_trip_is_exact(ct, tmp_path):
    datasets, _ = ct
    reference = read_dicom_series(tmp_path / "ct")
    masks = _masks(reference)
    written = write_seg(masks, datasets, tmp_path / "seg.dcm", series_description="test SEG")
    assert written.SegmentationType == "BINARY" and written.SeriesDescription == "test SEG"
    back = read_seg(tmp_path / "seg.dcm", reference)
    assert list(back) == list(masks)
    for name, mask in masks.items():
        assert back[name].array.dtype == bool
        np.testing.assert_array_equal(back[name].array, mask, err_msg=name)
        assert back[name].modality == "SEG" and back[name].identifiers["roi"] == name
        assert back[name].same_grid(reference)
    # the ring's hole stays empty
    assert not back["ring"].array[2, 12, 10] and back["ring"].array[2, 12, 16]


def test_frames_are_placed_by_position_not_order(ct, tmp_path):
    """Read onto a reference whose slices run the other way: frames must follow ImagePositionPatient."""
    datasets, _ = ct
    reference = read_dicom_series(tmp_path / "ct")
    masks = _masks(reference)
    write_seg(masks, datasets, tmp_path / "seg.dcm")
    flipped = Volume(
        array=reference.array[::-1],
        spacing=reference.spacing,
        origin=tuple(reference.index_to_physical(np.array([reference.shape[0] - 1, 0, 0]))),
        direction=reference.direction @ np.diag([1.0, 1.0, -1.0]),
    )
    back = read_seg(tmp_path / "seg.dcm", flipped, rois=["sphere"])
    np.testing.assert_array_equal(back["sphere"].array, masks["sphere"][::-1])


def test_fractional_seg_is_thresholded_at_half(ct, tmp_path):
    import highdicom as hd
    from pydicom.sr.codedict import codes

    datasets, reference = ct
    rng = np.random.default_rng(3)
    probability = rng.random(reference.shape).astype(np.float32)
    seg = hd.seg.Segmentation(
        source_images=datasets,
        pixel_array=probability,
        segmentation_type=hd.seg.SegmentationTypeValues.FRACTIONAL,
        segment_descriptions=[
            hd.seg.SegmentDescription(
                segment_number=1,
                segment_label="lesion",
                segmented_property_category=codes.SCT.Tissue,
                segmented_property_type=codes.SCT.Tissue,
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
            )
        ],
        series_instance_uid=hd.UID(),
        series_number=2,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="test",
        manufacturer_model_name="test",
        software_versions="1",
        device_serial_number="1",
        max_fractional_value=200,
    )
    seg.save_as(tmp_path / "fractional.dcm")
    back = read_seg(tmp_path / "fractional.dcm", reference)["lesion"]
    assert back.metadata["segmentation_type"] == "FRACTIONAL"
    # highdicom stores round(p * 200); the mask is stored / 200 >= 0.5
    expected = np.round(probability * 200) / 200 >= FRACTIONAL_THRESHOLD
    np.testing.assert_array_equal(back.array, expected)
    assert 0.4 < back.array.mean() < 0.6


def test_seg_on_other_grid_raises_or_resamples(ct, tmp_path):
    datasets, reference = ct
    masks = _masks(reference)
    write_seg(masks, datasets, tmp_path / "seg.dcm")
    # an image of twice the slice count (half the slice spacing) in the same frame of reference
    fine = Volume(
        array=np.zeros((2 * reference.shape[0] - 1, *reference.shape[1:]), np.float32),
        spacing=(reference.spacing[0] / 2, *reference.spacing[1:]),
        origin=reference.origin,
        direction=reference.direction,
        identifiers={"path": "fine-grid", "frame_of_reference_uid": reference.identifiers["frame_of_reference_uid"]},
    )
    # SEG frames do lie on every other fine slice: that is the same grid family, read directly
    direct = read_seg(tmp_path / "seg.dcm", fine, rois=["box"])["box"].array
    np.testing.assert_array_equal(direct[::2], masks["box"])
    assert not direct[1::2].any()

    # shift the grid by 0.3 mm = 0.43 columns: the SEG frames no longer lie on it
    shifted = fine.replace(origin=tuple(np.asarray(reference.origin) + 0.3 * reference.direction[:, 0]))
    with pytest.raises(GeometryMismatchError, match="seg.dcm"):
        read_seg(tmp_path / "seg.dcm", shifted)
    resampled = read_seg(tmp_path / "seg.dcm", shifted, rois=["box"], resample=True)["box"]
    assert resampled.metadata["resampled"]
    assert resampled.same_grid(shifted)
    # nearest neighbour: fine slices on SEG slices (shift < half a column) reproduce the mask exactly,
    # in-between slices copy one of their two neighbours
    np.testing.assert_array_equal(resampled.array[::2], masks["box"])
    for odd in range(1, resampled.shape[0], 2):
        below, above = masks["box"][odd // 2], masks["box"][odd // 2 + 1]
        assert np.array_equal(resampled.array[odd], below) or np.array_equal(resampled.array[odd], above)


def test_frame_of_reference_mismatch_and_unknown_segment(ct, tmp_path):
    datasets, reference = ct
    write_seg(_masks(reference), datasets, tmp_path / "seg.dcm")
    with pytest.raises(RoiNotFoundError, match="box, ring, sphere"):
        read_seg(tmp_path / "seg.dcm", reference, rois=["liver"])
    other = reference.replace(identifiers={"frame_of_reference_uid": "1.2.3.4", "path": "other"})
    with pytest.raises(GeometryMismatchError, match="frame of reference"):
        read_seg(tmp_path / "seg.dcm", other)


def test_write_seg_checks_its_inputs(ct, tmp_path):
    datasets, reference = ct
    with pytest.raises(InvalidParameterError, match="shape"):
        write_seg({"box": np.zeros((2, 2, 2), bool)}, datasets, tmp_path / "x.dcm")
    with pytest.raises(InvalidParameterError, match="empty"):
        write_seg({"box": np.zeros(reference.shape, bool)}, datasets, tmp_path / "x.dcm")


def test_seg_on_pydicom_ct_small(tmp_path):
    """A real scanner slice (pydicom's CT_small): one-slice SEG reads back exactly."""
    from pydicom.data import get_testdata_file

    source = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    folder = tmp_path / "ct_small"
    folder.mkdir()
    source.save_as(folder / "ct.dcm")
    series = find_series(folder)
    reference = read_dicom_series(series)
    mask = np.zeros(reference.shape, bool)
    mask[0, 40:90, 30:70] = reference.array[0, 40:90, 30:70] > 0
    assert mask.any()
    write_seg({"bright": mask}, [source], tmp_path / "seg.dcm")
    np.testing.assert_array_equal(read_seg(tmp_path / "seg.dcm", reference)["bright"].array, mask)


def test_labelmap_seg_reads_segment_numbers(ct, tmp_path):
    """SegmentationType LABELMAP (DICOM 2024): pixel values are segment numbers."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    datasets, reference = ct
    masks = _masks(reference)
    labels = np.zeros(reference.shape, np.uint8)
    labels[masks["box"]] = 1
    labels[masks["ring"]] = 2  # overwrites the box where they overlap: label maps cannot overlap
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=name,
            segmented_property_category=codes.SCT.Tissue,
            segmented_property_type=codes.SCT.Tissue,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        )
        for number, name in ((1, "box"), (2, "ring"))
    ]
    seg = hd.seg.Segmentation(
        source_images=datasets,
        pixel_array=labels,
        segmentation_type=hd.seg.SegmentationTypeValues.LABELMAP,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=3,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="test",
        manufacturer_model_name="test",
        software_versions="1",
        device_serial_number="1",
    )
    seg.save_as(tmp_path / "labelmap_seg.dcm")
    back = read_seg(tmp_path / "labelmap_seg.dcm", reference)
    assert back["box"].metadata["segmentation_type"] == "LABELMAP"
    np.testing.assert_array_equal(back["box"].array, labels == 1)
    np.testing.assert_array_equal(back["ring"].array, labels == 2)
