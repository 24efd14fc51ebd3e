"""The :class:`Volume` type: one 3D image on a known grid in patient space.

Conventions (shared by every room of imagebio):

* ``array`` is indexed ``(z, y, x)``, i.e. (slice, row, column), as ``SimpleITK.GetArrayFromImage`` returns it.
* ``spacing`` is ``(z, y, x)`` in mm, in the same order as the array axes.
* ``origin`` is the patient-space position (LPS, mm) of the centre of voxel ``[0, 0, 0]``, given as ``(x, y, z)``
  like DICOM's ImagePositionPatient.
* ``direction`` is a 3×3 matrix whose **columns** are the unit vectors (LPS) of the x, y and z index axes
  (column 0: direction of increasing column index, i.e. DICOM's row cosines; column 1: increasing row index;
  column 2: increasing slice index). This is SimpleITK's direction reshaped to 3×3.

So the patient position of index ``(k, j, i)`` (z, y, x) is
``origin + direction @ ([i, j, k] * [sx, sy, sz])``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

import numpy as np

from imagebio.errors import GeometryMismatchError, InvalidParameterError

__all__ = ["Volume", "check_same_grid", "resample_to"]

#: Geometry tolerance when comparing grids: mm for spacing/origin, unitless for direction cosines.
GEOMETRY_TOLERANCE_MM = 1e-3
DIRECTION_TOLERANCE = 1e-4


def _frozen_array(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.flags.writeable:
        array = array.view()
        array.flags.writeable = False
    return array


@dataclasses.dataclass(frozen=True, eq=False)
class Volume:
    """An immutable 3D image with its geometry, modality, units and provenance.

    Parameters
    ----------
    array : numpy.ndarray
        Voxel values, shape (z, y, x). Stored read-only; derive new volumes with :meth:`with_array`.
    spacing : tuple of float
        Voxel spacing (z, y, x) in mm.
    origin : tuple of float
        Patient-space (LPS) position of the centre of voxel [0, 0, 0], (x, y, z) in mm.
    direction : numpy.ndarray
        3×3 direction cosines, columns = x, y, z index axes in LPS.
    modality : str
        DICOM modality (``CT``, ``MR``, ``PT``, ``NM``, ``SEG``) or ``""`` when unknown.
    unit : str
        Unit of the voxel values (see :mod:`imagebio.units`), e.g. ``HU``, ``Bq/mL``, ``SUVbw``.
    acquisition_time : datetime, optional
        Reference time of the acquisition (for PET/NM the decay reference, for dynamic frames the frame start).
    identifiers : mapping, optional
        Source identifiers: ``patient_id``, ``study_uid``, ``series_uid``, ``frame_of_reference_uid``, ``path``...
    metadata : mapping, optional
        Other per-volume facts a reader wants to keep (e.g. b-value in s/mm², frame duration in s).
    """

    array: np.ndarray
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = dataclasses.field(default_factory=lambda: np.eye(3))
    modality: str = ""
    unit: str = ""
    acquisition_time: datetime | None = None
    identifiers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        array = np.asarray(self.array)
        if array.ndim != 3:
            raise InvalidParameterError("array", f"array of shape {array.shape}", "a 3D array (z, y, x)")
        spacing = tuple(float(s) for s in self.spacing)
        if len(spacing) != 3 or not all(np.isfinite(s) and s > 0 for s in spacing):
            raise InvalidParameterError("spacing", self.spacing, "three positive voxel sizes (z, y, x) in mm")
        origin = tuple(float(o) for o in self.origin)
        if len(origin) != 3:
            raise InvalidParameterError("origin", self.origin, "a point (x, y, z) in mm")
        direction = np.array(self.direction, dtype=float).reshape(3, 3)
        if not np.allclose(direction.T @ direction, np.eye(3), atol=1e-3):
            raise InvalidParameterError("direction", direction.tolist(), "an orthonormal 3×3 matrix")
        direction.flags.writeable = False
        object.__setattr__(self, "array", _frozen_array(array))
        object.__setattr__(self, "spacing", spacing)
        object.__setattr__(self, "origin", origin)
        object.__setattr__(self, "direction", direction)
        object.__setattr__(self, "identifiers", MappingProxyType(dict(self.identifiers)))
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    # ------------------------------------------------------------------ geometry
    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape (z, y, x)."""
        return self.array.shape  # type: ignore[return-value]

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in mL (1 mL = 1000 mm³)."""
        return float(np.prod(self.spacing)) / 1000.0

    def index_to_physical(self, index_zyx: np.ndarray) -> np.ndarray:
        """Patient positions (x, y, z) in mm of voxel indices given as (..., 3) arrays in (z, y, x) order."""
        index = np.asarray(index_zyx, dtype=float)[..., ::-1]
        scaled = index * np.asarray(self.spacing[::-1])
        return np.asarray(self.origin) + scaled @ self.direction.T

    def physical_to_index(self, points_xyz: np.ndarray) -> np.ndarray:
        """Continuous voxel indices (z, y, x) of patient positions given as (..., 3) arrays in (x, y, z) mm."""
        points = np.asarray(points_xyz, dtype=float) - np.asarray(self.origin)
        index_xyz = (points @ self.direction) / np.asarray(self.spacing[::-1])
        return index_xyz[..., ::-1]

    def same_grid(self, other: Volume, tolerance_mm: float = GEOMETRY_TOLERANCE_MM) -> bool:
        """True when ``other`` has the same shape, spacing, origin and direction (within tolerance)."""
        return not _grid_differences(self, other, tolerance_mm)

    # ------------------------------------------------------------------ derivation
    def with_array(self, array: np.ndarray, **changes: Any) -> Volume:
        """A new Volume on the same grid with another array (same shape) and optionally other fields."""
        array = np.asarray(array)
        if array.shape != self.shape:
            raise GeometryMismatchError(f"new array has shape {array.shape}; expected the volume's {self.shape}")
        return dataclasses.replace(self, array=array, **changes)

    def replace(self, **changes: Any) -> Volume:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ SimpleITK
    def to_sitk(self):
        """The volume as a ``SimpleITK.Image`` (geometry carried over; metadata not)."""
        import SimpleITK as sitk

        image = sitk.GetImageFromArray(np.ascontiguousarray(self.array))
        image.SetSpacing(tuple(self.spacing[::-1]))
        image.SetOrigin(self.origin)
        image.SetDirection(tuple(self.direction.ravel()))
        return image

    @classmethod
    def from_sitk(cls, image, **fields: Any) -> Volume:
        """Build a Volume from a 3D ``SimpleITK.Image``; ``fields`` set modality, unit, identifiers...

        A 2D image is read as one slice with 1 mm slice thickness unless ``spacing`` is given in ``fields``.
        """
        import SimpleITK as sitk

        if image.GetNumberOfComponentsPerPixel() != 1:
            raise InvalidParameterError("image", "a vector image", "a scalar image")
        array = sitk.GetArrayFromImage(image)
        if image.GetDimension() == 2:
            array = array[np.newaxis]
            sx, sy = image.GetSpacing()
            d = np.array(image.GetDirection()).reshape(2, 2)
            direction = np.eye(3)
            direction[:2, :2] = d
            spacing = (1.0, sy, sx)
            origin = (*image.GetOrigin(), 0.0)
        elif image.GetDimension() == 3:
            spacing = tuple(image.GetSpacing()[::-1])
            origin = image.GetOrigin()
            direction = np.array(image.GetDirection()).reshape(3, 3)
        else:
            raise InvalidParameterError("image", f"a {image.GetDimension()}D image", "a 2D or 3D image")
        kwargs = {"spacing": spacing, "origin": origin, "direction": direction}
        kwargs.update(fields)
        return cls(array=array, **kwargs)

    def __repr__(self) -> str:
        sp = ", ".join(f"{s:g}" for s in self.spacing)
        return (
            f"Volume(shape={self.shape}, spacing=({sp}) mm, modality={self.modality!r}, unit={self.unit!r}, "
            f"dtype={self.array.dtype})"
        )


def _grid_differences(a: Volume, b: Volume, tolerance_mm: float) -> list[str]:
    problems = []
    if a.shape != b.shape:
        problems.append(f"shape {a.shape} vs {b.shape}")
    if not np.allclose(a.spacing, b.spacing, atol=tolerance_mm, rtol=0):
        problems.append(f"spacing {a.spacing} vs {b.spacing} mm")
    if not np.allclose(a.origin, b.origin, atol=max(tolerance_mm, 1e-3 * max(a.spacing)), rtol=0):
        problems.append(f"origin {tuple(round(v, 3) for v in a.origin)} vs {tuple(round(v, 3) for v in b.origin)} mm")
    if not np.allclose(a.direction, b.direction, atol=DIRECTION_TOLERANCE, rtol=0):
        problems.append("direction cosines differ")
    return problems


def check_same_grid(
    image: Volume, other: Volume, what: str = "mask", tolerance_mm: float = GEOMETRY_TOLERANCE_MM
) -> None:
    """Raise :class:`GeometryMismatchError` unless ``other`` lies on ``image``'s voxel grid.

    ``what`` names the second volume in the message (``"mask"``, ``"ADC map"``...).
    """
    problems = _grid_differences(image, other, tolerance_mm)
    if problems:
        src = image.identifiers.get("path", "image")
        oth = other.identifiers.get("path", what)
        raise GeometryMismatchError(
            f"{what} {oth} is not on the grid of {src}: {'; '.join(problems)} "
            "(resample explicitly, e.g. imagebio.volume.resample_to, or pass resample=True)"
        )


_INTERPOLATORS = {"nearest": "sitkNearestNeighbor", "linear": "sitkLinear", "bspline": "sitkBSpline"}


def resample_to(volume: Volume, reference: Volume, interpolator: str = "linear", default_value: float = 0.0) -> Volume:
    """Resample ``volume`` onto ``reference``'s grid (SimpleITK, identity transform in patient space).

    Parameters
    ----------
    interpolator : {"nearest", "linear", "bspline"}
        Use ``"nearest"`` for label maps.
    default_value : float
        Value for points outside ``volume``.
    """
    import SimpleITK as sitk

    if interpolator not in _INTERPOLATORS:
        raise InvalidParameterError("interpolator", interpolator, f"one of {sorted(_INTERPOLATORS)}")
    source = volume.to_sitk()
    if interpolator != "nearest":
        source = sitk.Cast(source, sitk.sitkFloat64)
    resampled = sitk.Resample(
        source,
        reference.to_sitk(),
        sitk.Transform(),
        getattr(sitk, _INTERPOLATORS[interpolator]),
        default_value,
    )
    array = sitk.GetArrayFromImage(resampled)
    return dataclasses.replace(
        volume,
        array=array,
        spacing=reference.spacing,
        origin=reference.origin,
        direction=reference.direction,
    )
