"""RTSTRUCT: contour rasterisation (centre inside, even–odd), writing masks as contours, exact round trips."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from imagebio.errors import GeometryMismatchError, RoiNotFoundError, UnsupportedDataError
from imagebio.io.dicom import read_dicom_series
from imagebio.io.rtstruct import even_odd_fill, rasterise_contours, read_rtstruct, write_rtstruct
from imagebio.volume import Volume
from tests.io._roi_testdata import box_mask, ellipsoid_mask, make_ct_series, ring_mask


@pytest.fixture
def grid() -> Volume:
    return Volume(
        array=np.zeros((5, 20, 16), np.float32),
        spacing=(3.0, 0.5, 0.8),
        origin=(10.0, -20.0, -100.0),
        identifiers={"path": "grid"},
    )


def _square_xyz(volume: Volume, k: int, rows: tuple[float, float], cols: tuple[float, float]) -> np.ndarray:
    (r0, r1), (c0, c1) = rows, cols
    corners = np.array([[k, r0, c0], [k, r0, c1], [k, r1, c1], [k, r1, c0]], float)
    return volume.index_to_physical(corners)


def test_even_odd_fill_matches_matplotlib_point_in_polygon():
    """Random star-shaped polygons: centre-inside test agrees with matplotlib's Path.contains_points."""
    from matplotlib.path import Path as MplPath

    rng = np.random.default_rng(11)
    rows, cols = np.indices((40, 50))
    centres = np.column_stack([rows.ravel(), cols.ravel()]).astype(float)
    for _ in range(5):
        angles = np.sort(rng.uniform(0, 2 * np.pi, 25))
        radii = rng.uniform(5, 18, 25)
        polygon = np.column_stack([20.3 + radii * np.sin(angles), 24.7 + radii * np.cos(angles)])
        ours = even_odd_fill([polygon], (40, 50))
        theirs = MplPath(polygon).contains_points(centres).reshape(40, 50)
        np.testing.assert_array_equal(ours, theirs)


def test_nested_contours_make_holes_and_islands():
    outer = np.array([[1.5, 1.5], [1.5, 18.5], [18.5, 18.5], [18.5, 1.5]])
    hole = np.array([[5.5, 5.5], [5.5, 14.5], [14.5, 14.5], [14.5, 5.5]])
    island = np.array([[8.5, 8.5], [8.5, 11.5], [11.5, 11.5], [11.5, 8.5]])
    filled = even_odd_fill([outer, hole, island], (20, 20))
    expected = np.zeros((20, 20), bool)
    expected[2:19, 2:19] = True
    expected[6:15, 6:15] = False
    expected[9:12, 9:12] = True
    np.testing.assert_array_equal(filled, expected)


def test_rasterise_assigns_contours_to_slices_in_mm(grid):
    square = _square_xyz(grid, 2, rows=(3.5, 9.5), cols=(2.5, 6.5))
    mask = rasterise_contours([square], grid)
    expected = np.zeros(grid.shape, bool)
    expected[2, 4:10, 3:7] = True
    np.testing.assert_array_equal(mask, expected)
    # a plane 0.2 slice spacings off still goes to its nearest slice
    nudged = square + 0.2 * grid.spacing[0] * grid.direction[:, 2]
    np.testing.assert_array_equal(rasterise_contours([nudged], grid), expected)


def test_rasterise_rejects_contours_between_off_or_across_slices(grid):
    square = _square_xyz(grid, 2, rows=(3.5, 9.5), cols=(2.5, 6.5))
    between = square + 0.5 * grid.spacing[0] * grid.direction[:, 2]
    with pytest.raises(GeometryMismatchError, match="slice spacings from the nearest slice"):
        rasterise_contours([between], grid)
    outside = _square_xyz(grid, 7, rows=(3.5, 9.5), cols=(2.5, 6.5))
    with pytest.raises(GeometryMismatchError, match="outside the image"):
        rasterise_contours([outside], grid)
    sagittal = grid.index_to_physical(np.array([[0, 2, 4], [3, 2, 4], [3, 8, 4], [0, 8, 4]], float))
    with pytest.raises(UnsupportedDataError, match="parallel to the image slices"):
        rasterise_contours([sagittal], grid)


@pytest.fixture
def ct(tmp_path):
    datasets, volume = make_ct_series(tmp_path / "ct", row_cosine=(0.8, 0.6, 0.0), column_cosine=(-0.6, 0.8, 0.0))
    return datasets, read_dicom_series(tmp_path / "ct")


def test_write_read_round_trip_is_exact(ct, tmp_path):
    datasets, reference = ct
    centre = reference.index_to_physical(np.array([3.0, 12.0, 10.0]))
    masks = {
        "box": box_mask(reference.shape),
        "ring": ring_mask(reference.shape, (12, 10), inner=3, outer=8),
        "sphere": ellipsoid_mask(reference, centre, radius_mm=6.0),
    }
    written = write_rtstruct(masks, datasets, tmp_path / "rs.dcm")
    assert written.Modality == "RTSTRUCT"
    reread = pydicom.dcmread(tmp_path / "rs.dcm")
    assert [r.ROIName for r in reread.StructureSetROISequence] == ["box", "ring", "sphere"]
    contour = reread.ROIContourSequence[0].ContourSequence[0]
    assert contour.ContourGeometricType == "CLOSED_PLANAR"
    assert contour.ContourImageSequence[0].ReferencedSOPInstanceUID in {d.SOPInstanceUID for d in datasets}

    back = read_rtstruct(tmp_path / "rs.dcm", reference)
    # marching-squares outlines keep every voxel centre on its side: exact for box, ring and sphere alike
    for name, mask in masks.items():
        assert back[name].array.dtype == bool and back[name].modality == "RTSTRUCT"
        np.testing.assert_array_equal(back[name].array, mask, err_msg=name)
    ring = back["ring"]
    assert ring.metadata["n_contours"] == 2 * 4  # outer + inner outline on 4 slices
    assert not ring.array[2, 12, 10] and ring.array[2, 12, 17]


def test_read_selects_rois_and_skips_point_contours(ct, tmp_path):
    datasets, reference = ct
    write_rtstruct({"box": box_mask(reference.shape)}, datasets, tmp_path / "rs.dcm")
    ds = pydicom.dcmread(tmp_path / "rs.dcm")
    point = pydicom.Dataset()
    point.ContourGeometricType = "POINT"
    point.NumberOfContourPoints = 1
    point.ContourData = [float(v) for v in reference.origin]
    ds.ROIContourSequence[0].ContourSequence.append(point)
    ds.save_as(tmp_path / "rs_point.dcm")
    box = read_rtstruct(tmp_path / "rs_point.dcm", reference, rois=["box"])["box"]
    assert box.metadata["skipped_contours"] == 1
    np.testing.assert_array_equal(box.array, box_mask(reference.shape))
    with pytest.raises(RoiNotFoundError, match="available: box"):
        read_rtstruct(tmp_path / "rs.dcm", reference, rois=["GTV"])


def test_contours_between_slices_need_resample(ct, tmp_path):
    datasets, reference = ct
    mask = box_mask(reference.shape)
    write_rtstruct({"box": mask}, datasets, tmp_path / "rs.dcm")
    # an image whose slices sit half-way between the contour planes (same frame of reference)
    half = reference.spacing[0] / 2
    offset = reference.replace(
        origin=tuple(np.asarray(reference.origin) + half * reference.direction[:, 2]),
        identifiers={**reference.identifiers, "path": "offset-image"},
    )
    with pytest.raises(GeometryMismatchError, match="resample=True"):
        read_rtstruct(tmp_path / "rs.dcm", offset)
    resampled = read_rtstruct(tmp_path / "rs.dcm", offset, resample=True)["box"]
    assert resampled.same_grid(offset)
    # every offset slice takes the in-plane box of one of its two neighbouring contour planes
    assert resampled.array.any()
    np.testing.assert_array_equal(resampled.array.any(axis=0), mask.any(axis=0))


def test_frame_of_reference_must_match(ct, tmp_path):
    datasets, reference = ct
    write_rtstruct({"box": box_mask(reference.shape)}, datasets, tmp_path / "rs.dcm")
    other = reference.replace(identifiers={"frame_of_reference_uid": "1.2.3", "path": "pet"})
    with pytest.raises(GeometryMismatchError, match="frame of reference"):
        read_rtstruct(tmp_path / "rs.dcm", other)
