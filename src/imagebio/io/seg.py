"""DICOM Segmentation objects (SEG): read onto an image grid, write from boolean masks (highdicom).

Reading places every frame by its own ImagePositionPatient (Plane Position functional group) on the reference
grid, so it works whatever the frame order, with empty frames omitted, and without the source images at hand.
BINARY frames are used as stored, FRACTIONAL frames are thresholded at 0.5 of MaximumFractionalValue
(a voxel is in the ROI when its probability/occupancy is >= 0.5), LABELMAP frames hold segment numbers.

References
----------
DICOM PS3.3 A.51 Segmentation IOD, C.8.20 Segmentation Image Module.
Herrmann MD et al. *Highdicom: a Python library for standardized encoding of image annotations and machine
learning model outputs in pathology and radiology*. J Digit Imaging 2022;35:1719–1737.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from os import PathLike
from pathlib import Path

import numpy as np

from imagebio.errors import (
    DicomReadError,
    GeometryMismatchError,
    InvalidParameterError,
    MissingDicomTagError,
    UnsupportedDataError,
)
from imagebio.io._roi import check_frame_of_reference, mask_volume, read_dicom_dataset, select_rois
from imagebio.volume import Volume, check_same_grid, resample_to

__all__ = ["SEG_SOP_CLASS_UID", "SEG_SOP_CLASS_UIDS", "read_seg", "write_seg"]

SEG_SOP_CLASS_UID = "1.2.840.10008.5.1.4.1.1.66.4"
LABEL_MAP_SEG_SOP_CLASS_UID = "1.2.840.10008.5.1.4.1.1.66.7"
#: Segmentation Storage and Label Map Segmentation Storage.
SEG_SOP_CLASS_UIDS = (SEG_SOP_CLASS_UID, LABEL_MAP_SEG_SOP_CLASS_UID)
MODALITY = "SEG"
#: FRACTIONAL segmentations: a voxel belongs to the segment when value / MaximumFractionalValue >= this.
FRACTIONAL_THRESHOLD = 0.5
_IN_PLANE_TOLERANCE = 0.01  # pixels
_SLICE_TOLERANCE = 0.25  # slice spacings


def _functional(seg, frame_item, sequence: str, path, needed_for: str = "placing SEG frames in patient space"):
    """An attribute sequence item from the per-frame group, falling back to the shared group."""
    if frame_item is not None and sequence in frame_item:
        return frame_item[sequence].value[0]
    shared = seg.get("SharedFunctionalGroupsSequence")
    if shared and sequence in shared[0]:
        return shared[0][sequence].value[0]
    raise MissingDicomTagError(sequence, path=path, needed_for=needed_for)


def _segment_names(seg) -> dict[int, str]:
    names = {}
    for item in seg.SegmentSequence:
        number = int(item.SegmentNumber)
        names[number] = str(item.get("SegmentLabel", "") or f"segment_{number}")
    labels = list(names.values())
    return {n: (f"{label}#{n}" if labels.count(label) > 1 else label) for n, label in names.items()}


def _frames(seg, path) -> tuple[np.ndarray, np.ndarray, list[int | None]]:
    """Voxel membership per frame (frames, rows, cols) as float fraction or label, positions, segment numbers."""
    try:
        pixels = np.asarray(seg.pixel_array)
    except Exception as exc:  # pydicom raises many types for truncated/undecodable pixel data
        raise DicomReadError(path, f"cannot decode SEG pixel data: {type(exc).__name__}: {exc}") from exc
    rows, columns = int(seg.Rows), int(seg.Columns)
    pixels = pixels.reshape(-1, rows, columns)
    per_frame = seg.get("PerFrameFunctionalGroupsSequence")
    if per_frame is None or len(per_frame) != len(pixels):
        raise UnsupportedDataError(
            f"SEG has {len(pixels)} frames but {0 if per_frame is None else len(per_frame)} per-frame functional "
            "groups (TILED_FULL organisation is not supported for radiology grids)",
            path,
        )
    positions, segments = [], []
    for item in per_frame:
        plane = _functional(seg, item, "PlanePositionSequence", path)
        positions.append([float(v) for v in plane.ImagePositionPatient])
        if str(seg.SegmentationType) == "LABELMAP":
            segments.append(None)  # LABELMAP frames hold segment numbers as pixel values
        else:
            ident = _functional(seg, item, "SegmentIdentificationSequence", path, "assigning frames to segments")
            segments.append(int(ident.ReferencedSegmentNumber))
    return pixels, np.asarray(positions, dtype=float), segments


def _native_grid(seg, positions: np.ndarray, path) -> Volume:
    """The SEG's own grid: its rows/columns, its orientation, slices spanning its frame positions."""
    orientation = np.asarray([float(v) for v in _functional(seg, None, "PlaneOrientationSequence", path)
                              .ImageOrientationPatient])
    measures = _functional(seg, None, "PixelMeasuresSequence", path)
    row_spacing, column_spacing = (float(v) for v in measures.PixelSpacing)
    row_cosine, column_cosine = orientation[:3], orientation[3:]
    normal = np.cross(row_cosine, column_cosine)
    heights = positions @ normal
    unique = np.unique(np.round(heights, 4))
    spacing = measures.get("SpacingBetweenSlices") or measures.get("SliceThickness")
    spacing_z = float(np.min(np.diff(unique))) if len(unique) > 1 else float(spacing or 1.0)
    steps = (unique - unique[0]) / spacing_z
    in_plane = positions - np.outer(heights, normal)
    if np.max(np.abs(steps - np.round(steps))) > 0.05 or np.ptp(in_plane, axis=0).max() > 1e-2:
        raise GeometryMismatchError(
            f"SEG {path} frames are not on a regular grid (slice positions {np.round(unique, 2).tolist()} mm) and "
            "do not match the image grid"
        )
    origin = in_plane[0] + unique[0] * normal
    return Volume(
        array=np.zeros((int(np.round(steps[-1])) + 1, int(seg.Rows), int(seg.Columns)), dtype=np.uint8),
        spacing=(spacing_z, row_spacing, column_spacing),
        origin=tuple(origin),
        direction=np.column_stack([row_cosine, column_cosine, normal]),
        identifiers={"path": str(path)},
    )


def _slice_indices(grid: Volume, seg, positions: np.ndarray, path) -> np.ndarray | None:
    """Slice index of every frame on ``grid``, or None when the frames do not lie on its slices."""
    orientation = np.asarray([float(v) for v in _functional(seg, None, "PlaneOrientationSequence", path)
                              .ImageOrientationPatient])
    measures = _functional(seg, None, "PixelMeasuresSequence", path)
    row_spacing, column_spacing = (float(v) for v in measures.PixelSpacing)
    if (int(seg.Rows), int(seg.Columns)) != grid.shape[1:]:
        return None
    if not np.allclose(orientation, np.concatenate([grid.direction[:, 0], grid.direction[:, 1]]), atol=1e-4):
        return None
    if not np.allclose((row_spacing, column_spacing), grid.spacing[1:], atol=1e-3, rtol=0):
        return None
    index = grid.physical_to_index(positions)
    k = np.round(index[:, 0])
    if (
        np.abs(index[:, 1:]).max(initial=0) > _IN_PLANE_TOLERANCE
        or np.abs(index[:, 0] - k).max(initial=0) > _SLICE_TOLERANCE
        or k.min(initial=0) < 0
        or k.max(initial=0) >= grid.shape[0]
    ):
        return None
    return k.astype(np.int64)


def read_seg(
    path: str | PathLike,
    reference: Volume,
    rois: Iterable[str] | None = None,
    resample: bool = False,
    dataset=None,
) -> dict[str, Volume]:
    """Read the segments of a DICOM SEG as boolean masks on ``reference``'s grid.

    Parameters
    ----------
    path : str or path-like
        The SEG file.
    reference : Volume
        The image the SEG belongs to.
    rois : iterable of str, optional
        Segment labels (``SegmentLabel``) to return; all when omitted. Duplicate labels become
        ``"<label>#<SegmentNumber>"``.
    resample : bool
        When the frames do not lie on the reference grid: rebuild the SEG's own grid and resample each segment to
        the reference (nearest neighbour); otherwise raise :class:`~imagebio.errors.GeometryMismatchError`.
    dataset : pydicom.Dataset, optional
        The already-read file.

    Returns
    -------
    dict of str to Volume
        Boolean masks (modality ``"SEG"``), possibly empty; ``metadata`` holds ``segment_number`` and
        ``segmentation_type``.
    """
    import highdicom as hd

    path = Path(path)
    ds = dataset if dataset is not None else read_dicom_dataset(path)
    if str(ds.get("SOPClassUID", "")) not in SEG_SOP_CLASS_UIDS:
        raise UnsupportedDataError(
            f"not a DICOM Segmentation (SOPClassUID {ds.get('SOPClassUID', 'missing')}); "
            f"expected one of {SEG_SOP_CLASS_UIDS}",
            path,
        )
    try:
        seg = hd.seg.Segmentation.from_dataset(ds, copy=False)
    except (AttributeError, KeyError, ValueError, TypeError) as exc:
        raise DicomReadError(path, f"invalid DICOM Segmentation: {type(exc).__name__}: {exc}") from exc
    check_frame_of_reference(reference, ds.get("FrameOfReferenceUID"), path, "SEG")
    names = _segment_names(seg)
    by_name = {name: number for number, name in names.items()}
    chosen = select_rois(list(by_name), rois, path)

    seg_type = str(seg.SegmentationType)
    pixels, positions, segments = _frames(seg, path)
    if seg_type == "FRACTIONAL":
        members = pixels.astype(np.float64) / float(seg.MaximumFractionalValue) >= FRACTIONAL_THRESHOLD
    elif seg_type in ("BINARY", "LABELMAP"):
        members = pixels
    else:
        raise UnsupportedDataError(f"SegmentationType {seg_type!r}; expected BINARY, FRACTIONAL or LABELMAP", path)

    grid, resampled = reference, False
    slices = _slice_indices(reference, seg, positions, path)
    if slices is None:
        grid = _native_grid(seg, positions, path)
        if not resample:
            check_same_grid(reference, grid, what="SEG")
            raise GeometryMismatchError(f"SEG {path} frames do not lie on the slices of the image")
        slices = _slice_indices(grid, seg, positions, path)
        resampled = True

    segments = np.asarray([-1 if s is None else s for s in segments])
    masks = {}
    for name in chosen:
        number = by_name[name]
        mask = np.zeros(grid.shape, dtype=bool)
        if seg_type == "LABELMAP":
            np.logical_or.at(mask, slices, members == number)
        else:
            frames = segments == number
            np.logical_or.at(mask, slices[frames], members[frames].astype(bool))
        if resampled:
            mask = resample_to(grid.with_array(mask.astype(np.uint8)), reference, interpolator="nearest").array > 0
        masks[name] = mask_volume(
            reference,
            mask,
            roi=name,
            modality=MODALITY,
            source=path,
            identifiers={
                "series_uid": str(ds.get("SeriesInstanceUID", "")),
                "frame_of_reference_uid": str(ds.get("FrameOfReferenceUID", "")),
            },
            metadata={"segment_number": number, "segmentation_type": seg_type, "resampled": resampled},
        )
    return masks


def write_seg(
    masks: Mapping[str, np.ndarray],
    source_images: Sequence,
    path: str | PathLike,
    *,
    series_description: str = "imagebio SEG",
    algorithm: str | None = "imagebio",
    algorithm_family=None,
    series_number: int = 900,
    segmented_property_category=None,
    segmented_property_type=None,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    dimension_organization_uid: str | None = None,
    content_datetime=None,
):
    """Write boolean masks as a BINARY DICOM SEG referencing ``source_images`` (highdicom).

    Parameters
    ----------
    masks : mapping of str to numpy.ndarray
        Segment label → bool array (z, y, x); slice ``k`` belongs to ``source_images[k]``. Segments are numbered
        1, 2, ... in mapping order.
    source_images : sequence of pydicom.Dataset
        Full single-frame image datasets **with pixel data** (highdicom checks them), one per slice.
    path : str or path-like
        Output file.
    series_description : str
        SeriesDescription of the new SEG series.
    algorithm : str or None
        Name of the algorithm that produced the masks, recorded with SegmentAlgorithmType AUTOMATIC and an
        Algorithm Identification (family ``algorithm_family``, version = imagebio's); ``None`` records the
        segments as MANUAL.
    algorithm_family : pydicom.sr.coding.Code, optional
        CID 7162 algorithm family; default DCM 123104 "Morphological Operations" (``codes.cid7162``).
    series_number : int
        SeriesNumber of the new series.
    segmented_property_category, segmented_property_type : pydicom.sr.coding.Code, optional
        Codes for every segment; default SCT 85756007 "Tissue" for both.
    series_instance_uid, sop_instance_uid, dimension_organization_uid : str, optional
        UIDs of the new object; random (highdicom) when omitted. Give all three, with ``content_datetime``, for
        output that is identical byte for byte from the same inputs.
    content_datetime : datetime.datetime, optional
        Written as InstanceCreation, Content and Series Date/Time and as ContributionDateTime; the current time
        (highdicom's default) when omitted.

    Returns
    -------
    pydicom.Dataset
        The written Segmentation (a ``highdicom.seg.Segmentation``).
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes

    from imagebio import __version__ as version

    if not masks:
        raise InvalidParameterError("masks", {}, "at least one segment mask")
    if not source_images:
        raise InvalidParameterError("source_images", [], "at least one image dataset with pixel data")
    n_slices = len(source_images)
    rows, columns = int(source_images[0].Rows), int(source_images[0].Columns)
    stack = []
    for name, mask in masks.items():
        if np.shape(mask) != (n_slices, rows, columns):
            raise InvalidParameterError(
                f"masks[{name!r}]", f"array of shape {np.shape(mask)}", f"shape {(n_slices, rows, columns)}"
            )
        stack.append(np.asarray(mask, dtype=bool))
    pixel_array = np.stack(stack, axis=-1)  # (frames, rows, columns, segments)
    if not pixel_array.any():
        raise InvalidParameterError("masks", "all empty", "at least one voxel in some segment")
    category = segmented_property_category or codes.SCT.Tissue
    property_type = segmented_property_type or codes.SCT.Tissue
    if algorithm is None:
        algorithm_type, identification = hd.seg.SegmentAlgorithmTypeValues.MANUAL, None
    else:
        algorithm_type = hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC
        identification = hd.AlgorithmIdentificationSequence(
            name=algorithm,
            family=algorithm_family or codes.cid7162.MorphologicalOperations, version=str(version)
        )
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=name,
            segmented_property_category=category,
            segmented_property_type=property_type,
            algorithm_type=algorithm_type,
            algorithm_identification=identification,
        )
        for number, name in enumerate(masks, start=1)
    ]
    seg = hd.seg.Segmentation(
        source_images=list(source_images),
        pixel_array=pixel_array,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=series_instance_uid or hd.UID(),
        series_number=series_number,
        sop_instance_uid=sop_instance_uid or hd.UID(),
        instance_number=1,
        manufacturer="imagebio",
        manufacturer_model_name="imagebio",
        software_versions=str(version),
        device_serial_number="0",
        series_description=series_description,
    )
    if dimension_organization_uid is not None:
        _set_dimension_organization_uid(seg, dimension_organization_uid)
    if content_datetime is not None:
        _set_content_datetime(seg, content_datetime)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    seg.save_as(str(path))
    return seg


def _set_dimension_organization_uid(seg, uid: str) -> None:
    """Replace highdicom's random DimensionOrganizationUID wherever it is referenced."""
    old = {str(item.DimensionOrganizationUID) for item in seg.get("DimensionOrganizationSequence", [])}
    for element in seg.iterall():
        if element.VR == "UI" and element.value in old:
            element.value = uid


def _set_content_datetime(seg, moment) -> None:
    date_text = moment.strftime("%Y%m%d")
    time_text = moment.strftime("%H%M%S") + (f".{moment.microsecond:06d}" if moment.microsecond else "")
    for keyword in ("InstanceCreation", "Content", "Series"):
        setattr(seg, f"{keyword}Date", date_text)
        setattr(seg, f"{keyword}Time", time_text)
    for item in seg.get("ContributingEquipmentSequence", []):
        if "ContributionDateTime" in item:
            item.ContributionDateTime = date_text + time_text
