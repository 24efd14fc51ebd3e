"""DICOM RT Structure Sets: rasterise planar contours onto an image grid, and write masks as contours.

Rasterisation rule (the one used by most radiomics tools, e.g. MIRP, plastimatch): a voxel belongs to an ROI when
its **centre** lies inside the ROI's contours on its slice, with the even–odd (XOR) rule across all contours of the
ROI on that slice, so an inner contour cuts a hole and a contour inside a hole adds an island back
(DICOM PS3.3 C.8.8.6.3 leaves inner/outer contours to this convention; ``CLOSEDPLANAR_XOR`` makes it explicit).

Each contour is assigned to the reference slice nearest to its plane; a contour whose plane is not parallel to
the slices, or that lies farther than ``slice_tolerance`` slice spacings from any slice, or outside the grid,
raises an error (or, with ``resample=True``, is rasterised on a grid through the contour planes and resampled).

References
----------
DICOM PS3.3, C.8.8.5 Structure Set Module, C.8.8.6 ROI Contour Module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
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
from imagebio.volume import Volume, resample_to

__all__ = ["RTSTRUCT_SOP_CLASS_UID", "read_rtstruct", "write_rtstruct", "rasterise_contours", "even_odd_fill"]

RTSTRUCT_SOP_CLASS_UID = "1.2.840.10008.5.1.4.1.1.481.3"
MODALITY = "RTSTRUCT"
_CLOSED_TYPES = ("CLOSED_PLANAR", "CLOSEDPLANAR_XOR")
#: Largest spread of a contour's points across the slice axis (in slice spacings) still taken as in-plane.
_PLANARITY_TOLERANCE = 0.05


# ---------------------------------------------------------------------------------------------------- rasterising
def even_odd_fill(polygons_yx: Sequence[np.ndarray], shape_yx: tuple[int, int]) -> np.ndarray:
    """Voxel centres inside a set of closed polygons by the even–odd rule.

    Parameters
    ----------
    polygons_yx : sequence of (n, 2) arrays
        Closed polygons in continuous pixel coordinates (row, column); pixel ``(j, i)`` has its centre at
        ``(j, i)``. The closing edge (last → first point) is implied.
    shape_yx : (int, int)
        Rows and columns of the slice.

    Returns
    -------
    numpy.ndarray of bool
        ``True`` where a pixel centre is crossed an odd number of times by a ray towards -x, i.e. inside an odd
        number of polygons (holes come out as holes). Edges are half-open in y, so a centre exactly on an edge is
        counted consistently (inside for left/top edges).
    """
    ny, nx = shape_yx
    edges = []
    for poly in polygons_yx:
        poly = np.asarray(poly, dtype=float)
        if len(poly) < 3:
            continue
        edges.append(np.column_stack([poly, np.roll(poly, -1, axis=0)]))
    if not edges:
        return np.zeros(shape_yx, dtype=bool)
    y0, x0, y1, x1 = np.concatenate(edges).T
    rows = np.arange(ny, dtype=float)
    lo = np.minimum(y0, y1)[:, None]
    hi = np.maximum(y0, y1)[:, None]
    crosses = (rows[None, :] >= lo) & (rows[None, :] < hi)  # (edges, rows); horizontal edges never cross
    edge_index, row_index = np.nonzero(crosses)
    t = (row_index - y0[edge_index]) / (y1[edge_index] - y0[edge_index])
    x_cross = x0[edge_index] + t * (x1[edge_index] - x0[edge_index])
    # pixel i is inside when an odd number of crossings lie strictly left of its centre (x_cross < i):
    # toggle at the first pixel to the right of each crossing, then accumulate along x.
    first_right = np.clip(np.floor(x_cross).astype(np.int64) + 1, 0, nx)
    toggles = np.zeros((ny, nx + 1), dtype=np.int64)
    np.add.at(toggles, (row_index, first_right), 1)
    return (np.cumsum(toggles, axis=1)[:, :nx] % 2).astype(bool)


def rasterise_contours(
    contours_xyz: Sequence[np.ndarray],
    reference: Volume,
    slice_tolerance: float = 0.25,
    source: str | PathLike = "contours",
) -> np.ndarray:
    """Rasterise closed planar contours (patient coordinates, LPS mm) onto ``reference``'s voxel grid.

    Parameters
    ----------
    contours_xyz : sequence of (n, 3) arrays
        Contour points (x, y, z) in mm, each contour in one plane parallel to the reference slices.
    reference : Volume
        The grid; only its geometry is used.
    slice_tolerance : float
        Largest distance, in slice spacings, between a contour plane and the slice centre it is assigned to.
    source : str
        Named in error messages.

    Returns
    -------
    numpy.ndarray of bool
        Mask (z, y, x): voxel centres inside an odd number of the contours on their slice.

    Raises
    ------
    UnsupportedDataError
        A contour is not parallel to the reference slices (non-axial contour on an axial image, or oblique).
    GeometryMismatchError
        A contour plane is between slices (more than ``slice_tolerance``) or outside the grid.
    """
    nz, ny, nx = reference.shape
    per_slice: dict[int, list[np.ndarray]] = {}
    for number, points in enumerate(contours_xyz):
        points = np.asarray(points, dtype=float).reshape(-1, 3)
        index = reference.physical_to_index(points)
        k = index[:, 0]
        if np.ptp(k) > _PLANARITY_TOLERANCE:
            raise UnsupportedDataError(
                f"contour {number} spans {np.ptp(k):.2f} slice spacings across the image slices; only contours in "
                "planes parallel to the image slices (axial contours on an axial image) can be rasterised",
                source,
            )
        k_mean = float(np.mean(k))
        k_slice = int(np.round(k_mean))
        if abs(k_mean - k_slice) > slice_tolerance:
            raise GeometryMismatchError(
                f"{source}: contour {number} lies at slice index {k_mean:.3f} (z = {np.mean(points[:, 2]):.3f} mm), "
                f"{abs(k_mean - k_slice):.2f} slice spacings from the nearest slice of the image "
                f"{reference.identifiers.get('path', '')}; expected contours on the image slices "
                f"(within {slice_tolerance}) - pass resample=True to rasterise on the contour planes and resample"
            )
        if not 0 <= k_slice < nz:
            raise GeometryMismatchError(
                f"{source}: contour {number} at z = {np.mean(points[:, 2]):.3f} mm (slice index {k_mean:.2f}) lies "
                f"outside the image {reference.identifiers.get('path', '')} with slices 0..{nz - 1}"
            )
        per_slice.setdefault(k_slice, []).append(index[:, 1:])
    mask = np.zeros((nz, ny, nx), dtype=bool)
    for k_slice, polygons in per_slice.items():
        mask[k_slice] = even_odd_fill(polygons, (ny, nx))
    return mask


def _contour_plane_grid(contours_xyz: Sequence[np.ndarray], reference: Volume, source) -> Volume:
    """A grid with ``reference``'s rows and columns and one slice per contour plane (for resampling)."""
    normal = reference.direction[:, 2]
    planes = np.array([float(np.mean(np.asarray(c, float).reshape(-1, 3) @ normal)) for c in contours_xyz])
    ordered = np.sort(planes)
    # contours of one plane may differ in position by rounding (DS strings): merge planes closer than 0.05 mm
    unique = ordered[np.concatenate([[True], np.diff(ordered) > 0.05])]
    spacing_z = float(np.min(np.diff(unique))) if len(unique) > 1 else reference.spacing[0]
    steps = (unique - unique[0]) / spacing_z
    if np.max(np.abs(steps - np.round(steps))) > 0.05:
        raise UnsupportedDataError(
            f"contour planes are not evenly spaced (positions {np.round(unique, 2).tolist()} mm along the slice "
            "normal); cannot build a grid through them",
            source,
        )
    origin = np.asarray(reference.origin, float)
    origin = origin + (unique[0] - origin @ normal) * normal
    nz = int(np.round(steps[-1])) + 1
    return reference.replace(
        array=np.zeros((nz, *reference.shape[1:]), dtype=np.uint8),
        spacing=(spacing_z, *reference.spacing[1:]),
        origin=tuple(origin),
        identifiers={"path": str(source)},
    )


# ---------------------------------------------------------------------------------------------------- reading
def _incomplete(path, what: str) -> DicomReadError:
    return DicomReadError(path, f"incomplete RT Structure Set: {what} (truncated or malformed file)")


def _roi_table(ds, path) -> dict[int, tuple[str, str | None]]:
    # StructureSetROISequence and ROIContourSequence are Type 1 (PS3.3 C.8.8.5, C.8.8.6): pydicom stops quietly at
    # the end of a truncated file, so their absence is how truncation shows.
    for keyword in ("StructureSetROISequence", "ROIContourSequence"):
        if keyword not in ds:
            raise _incomplete(path, f"no {keyword}")
    table = {}
    for item in ds.StructureSetROISequence:
        number = int(item.ROINumber)
        name = str(item.get("ROIName", "") or f"ROI_{number}")
        table[number] = (name, item.get("ReferencedFrameOfReferenceUID"))
    names = [name for name, _ in table.values()]
    for number, (name, uid) in list(table.items()):
        if names.count(name) > 1:  # duplicate names get their ROI number so every ROI stays addressable
            table[number] = (f"{name}#{number}", uid)
    return table


def _closed_contours(roi_contour, path) -> tuple[list[np.ndarray], int]:
    contours, skipped = [], 0
    for contour in roi_contour.get("ContourSequence", []) or []:
        if str(contour.get("ContourGeometricType", "")) not in _CLOSED_TYPES:
            skipped += 1
            continue
        data = np.asarray([float(v) for v in contour.ContourData], dtype=float)
        declared = contour.get("NumberOfContourPoints")
        if data.size % 3 or (declared is not None and int(declared) * 3 != data.size):
            raise _incomplete(path, f"ContourData holds {data.size} values for {declared} points")
        if data.size < 9:
            skipped += 1
            continue
        contours.append(data.reshape(-1, 3))
    return contours, skipped


def read_rtstruct(
    path: str | PathLike,
    reference: Volume,
    rois: Iterable[str] | None = None,
    resample: bool = False,
    slice_tolerance: float = 0.25,
    dataset=None,
) -> dict[str, Volume]:
    """Rasterise the ROIs of a DICOM RT Structure Set onto ``reference``'s grid.

    Parameters
    ----------
    path : str or path-like
        The RTSTRUCT file.
    reference : Volume
        The image the ROIs were drawn on (or another image in the same frame of reference whose slices contain
        the contour planes).
    rois : iterable of str, optional
        ROI names (``ROIName``) to rasterise; all when omitted. Duplicate names are made unique as
        ``"<name>#<ROINumber>"``.
    resample : bool
        When contour planes do not coincide with the reference slices: rasterise on a grid through the contour
        planes (same rows and columns) and resample it to the reference with nearest-neighbour interpolation.
        Otherwise such contours raise :class:`~imagebio.errors.GeometryMismatchError`.
    slice_tolerance : float
        Largest distance (in slice spacings) between a contour plane and its slice.
    dataset : pydicom.Dataset, optional
        The already-read file (saves a second read).

    Returns
    -------
    dict of str to Volume
        Boolean masks (modality ``"RTSTRUCT"``), possibly empty; ``metadata`` holds ``roi_number``,
        ``n_contours`` and ``skipped_contours`` (non-closed contour types such as POINT, which have no area).
    """
    path = Path(path)
    ds = dataset if dataset is not None else read_dicom_dataset(path)
    if str(ds.get("SOPClassUID", "")) != RTSTRUCT_SOP_CLASS_UID and ds.get("Modality") != MODALITY:
        raise UnsupportedDataError(
            f"not an RT Structure Set (SOPClassUID {ds.get('SOPClassUID', 'missing')}, Modality "
            f"{ds.get('Modality', 'missing')}); expected {RTSTRUCT_SOP_CLASS_UID}",
            path,
        )
    try:
        table = _roi_table(ds, path)
        contours_of = {int(item.ReferencedROINumber): item for item in ds.ROIContourSequence}
    except (AttributeError, KeyError, ValueError, TypeError) as exc:
        raise _incomplete(path, f"{type(exc).__name__}: {exc}") from exc
    by_name = {name: number for number, (name, _) in table.items()}
    chosen = select_rois(list(by_name), rois, path)
    series_uid = str(ds.get("SeriesInstanceUID", ""))
    masks = {}
    for name in chosen:
        number = by_name[name]
        check_frame_of_reference(reference, table[number][1], path, f"ROI {name!r} of RTSTRUCT")
        try:
            contours, skipped = _closed_contours(contours_of[number], path) if number in contours_of else ([], 0)
        except (AttributeError, KeyError, ValueError, TypeError) as exc:
            raise _incomplete(path, f"ROI {name!r}: {type(exc).__name__}: {exc}") from exc
        try:
            mask = rasterise_contours(contours, reference, slice_tolerance, source=path)
        except GeometryMismatchError:
            if not resample:
                raise
            grid = _contour_plane_grid(contours, reference, path)
            fine = rasterise_contours(contours, grid, slice_tolerance, source=path)
            mask = resample_to(grid.with_array(fine.astype(np.uint8)), reference, interpolator="nearest").array > 0
        masks[name] = mask_volume(
            reference,
            mask,
            roi=name,
            modality=MODALITY,
            source=path,
            identifiers={"series_uid": series_uid, "frame_of_reference_uid": table[number][1] or ""},
            metadata={"roi_number": number, "n_contours": len(contours), "skipped_contours": skipped},
        )
    return masks


# ---------------------------------------------------------------------------------------------------- writing
def _slice_geometry(ds, index: int):
    for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"):
        if keyword not in ds:
            raise MissingDicomTagError(keyword, path=f"source image {index}", needed_for="RTSTRUCT contours")
    position = np.asarray([float(v) for v in ds.ImagePositionPatient])
    orientation = np.asarray([float(v) for v in ds.ImageOrientationPatient])
    row_spacing, column_spacing = (float(v) for v in ds.PixelSpacing)
    return position, orientation[:3], orientation[3:], row_spacing, column_spacing


def _mask_contours(slice_mask: np.ndarray) -> list[np.ndarray]:
    """Closed (row, column) polygons whose even–odd interior holds exactly the True pixel centres.

    Marching squares at level 0.5 on the zero-padded slice puts every contour vertex half-way between a True and
    a False pixel centre, so no centre lies on a contour; Douglas–Peucker with a 0.01-pixel tolerance only drops
    (nearly) collinear vertices and cannot move a centre across the outline (centres are >= 0.35 pixel away).
    """
    from skimage.measure import approximate_polygon, find_contours

    padded = np.pad(slice_mask.astype(np.float32), 1)
    polygons = []
    for contour in find_contours(padded, 0.5):
        contour = approximate_polygon(contour, tolerance=0.01)
        if np.allclose(contour[0], contour[-1]):
            contour = contour[:-1]
        if len(contour) >= 3:
            polygons.append(contour - 1.0)
    return polygons


def _ds_values(values: np.ndarray) -> list:
    from pydicom.valuerep import DSfloat

    return [DSfloat(float(v), auto_format=True) for v in values]


_COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255)]


def write_rtstruct(
    masks: Mapping[str, np.ndarray],
    source_images: Sequence,
    path: str | PathLike,
    *,
    structure_set_label: str = "imagebio",
    series_description: str = "imagebio RTSTRUCT",
) -> object:
    """Write boolean masks as a DICOM RT Structure Set of CLOSED_PLANAR contours.

    Parameters
    ----------
    masks : mapping of str to numpy.ndarray
        ROI name → bool array (z, y, x); slice ``k`` belongs to ``source_images[k]``.
    source_images : sequence of pydicom.Dataset
        The image series, one single-frame dataset per slice (headers suffice: ImagePositionPatient,
        ImageOrientationPatient, PixelSpacing, Rows, Columns, UIDs, patient/study attributes).
    path : str or path-like
        Output file.
    structure_set_label : str
        StructureSetLabel (16 characters at most).
    series_description : str
        SeriesDescription of the new RTSTRUCT series.

    Returns
    -------
    pydicom.Dataset
        The written dataset.

    Notes
    -----
    Contours follow the outline between True and False voxel centres (marching squares at level 0.5), so
    :func:`read_rtstruct` with the centre-inside, even–odd rule reproduces the masks voxel for voxel.
    """
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence as DicomSequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    if not source_images:
        raise InvalidParameterError("source_images", [], "at least one image dataset")
    if not masks:
        raise InvalidParameterError("masks", {}, "at least one ROI mask")
    n_slices = len(source_images)
    rows, columns = int(source_images[0].Rows), int(source_images[0].Columns)
    for name, mask in masks.items():
        if np.shape(mask) != (n_slices, rows, columns):
            raise InvalidParameterError(
                f"masks[{name!r}]", f"array of shape {np.shape(mask)}", f"shape {(n_slices, rows, columns)}"
            )
    geometry = [_slice_geometry(ds, i) for i, ds in enumerate(source_images)]
    first = source_images[0]
    frame_uid = str(first.FrameOfReferenceUID)
    now = datetime.now()

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = RTSTRUCT_SOP_CLASS_UID
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = RTSTRUCT_SOP_CLASS_UID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.SpecificCharacterSet = "ISO_IR 192"
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyDate",
                    "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName"):
        setattr(ds, keyword, first.get(keyword, ""))
    ds.Modality = MODALITY
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = 901
    ds.InstanceNumber = 1
    ds.SeriesDescription = series_description
    ds.Manufacturer = "imagebio"
    ds.OperatorsName = ""
    ds.FrameOfReferenceUID = frame_uid
    ds.PositionReferenceIndicator = ""
    ds.StructureSetLabel = structure_set_label[:16]
    ds.StructureSetDate = ds.InstanceCreationDate = now.strftime("%Y%m%d")
    ds.StructureSetTime = ds.InstanceCreationTime = now.strftime("%H%M%S")

    def image_reference(image) -> Dataset:
        item = Dataset()
        item.ReferencedSOPClassUID = image.SOPClassUID
        item.ReferencedSOPInstanceUID = image.SOPInstanceUID
        return item

    series_ref = Dataset()
    series_ref.SeriesInstanceUID = first.SeriesInstanceUID
    series_ref.ContourImageSequence = DicomSequence([image_reference(image) for image in source_images])
    study_ref = Dataset()
    study_ref.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"  # Detached Study Management (retired, customary)
    study_ref.ReferencedSOPInstanceUID = first.StudyInstanceUID
    study_ref.RTReferencedSeriesSequence = DicomSequence([series_ref])
    frame_ref = Dataset()
    frame_ref.FrameOfReferenceUID = frame_uid
    frame_ref.RTReferencedStudySequence = DicomSequence([study_ref])
    ds.ReferencedFrameOfReferenceSequence = DicomSequence([frame_ref])

    roi_items, contour_items, observation_items = [], [], []
    for number, (name, mask) in enumerate(masks.items(), start=1):
        mask = np.asarray(mask, dtype=bool)
        roi = Dataset()
        roi.ROINumber = number
        roi.ReferencedFrameOfReferenceUID = frame_uid
        roi.ROIName = name
        roi.ROIGenerationAlgorithm = "AUTOMATIC"
        roi_items.append(roi)

        contours = []
        for k in np.flatnonzero(mask.reshape(n_slices, -1).any(axis=1)):
            position, row_cosine, column_cosine, row_spacing, column_spacing = geometry[k]
            for polygon in _mask_contours(mask[k]):
                points = (
                    position
                    + np.outer(polygon[:, 1] * column_spacing, row_cosine)
                    + np.outer(polygon[:, 0] * row_spacing, column_cosine)
                )
                contour = Dataset()
                contour.ContourImageSequence = DicomSequence([image_reference(source_images[k])])
                contour.ContourGeometricType = "CLOSED_PLANAR"
                contour.NumberOfContourPoints = len(points)
                contour.ContourData = _ds_values(points.ravel())
                contours.append(contour)
        roi_contour = Dataset()
        roi_contour.ReferencedROINumber = number
        roi_contour.ROIDisplayColor = list(_COLOURS[(number - 1) % len(_COLOURS)])
        roi_contour.ContourSequence = DicomSequence(contours)
        contour_items.append(roi_contour)

        observation = Dataset()
        observation.ObservationNumber = number
        observation.ReferencedROINumber = number
        observation.RTROIInterpretedType = ""
        observation.ROIInterpreter = ""
        observation_items.append(observation)
    ds.StructureSetROISequence = DicomSequence(roi_items)
    ds.ROIContourSequence = DicomSequence(contour_items)
    ds.RTROIObservationsSequence = DicomSequence(observation_items)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pydicom.dcmwrite(str(path), ds, enforce_file_format=True)
    return ds
