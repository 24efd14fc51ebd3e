"""Lesion measurements from masks: RECIST axial diameters, volume, mean HU and viable diameter.

Conventions
-----------
* Arrays are (z, y, x), ``spacing`` (z, y, x) in mm; axial slices are the z planes.
* Diameters are measured **between voxel boundaries**: each in-plane voxel is a ``dy x dx`` rectangle and the
  lesion's extent on a slice is the convex hull of those rectangles (the convex hull of its in-plane
  contour). A line of ``n`` voxels therefore measures ``n`` voxels long, as a reader's calipers placed on the
  outer edges would.
* Longest diameter (LD): the longest segment inside that hull, on the axial slice where it is largest
  (RECIST 1.1, Eisenhauer EA et al., Eur J Cancer 2009;45:228-247, section 3.1 and appendix I).
* Short axis (SA): the longest chord of the same hull perpendicular to the LD, on the same slice (used for
  lymph nodes, RECIST 1.1 section 3.1.2; Schwartz LH et al., Eur J Cancer 2009;45:261-267).
* Volume: voxel count x voxel volume (mL). Mean HU: mean of the image inside the mask (Choi H et al., J Clin
  Oncol 2007;25:1753-1759). Viable diameter: the axial LD of the lesion's enhancing part, on its own best
  slice (mRECIST, Lencioni R, Llovet JM, Semin Liver Dis 2010;30:52-60).

The LD is the largest distance between hull vertices; the SA is exact for the hull, because the chord length
of a convex polygon along a direction is a concave piecewise-linear function of its offset, largest at the
offset of a vertex.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from imagebio.errors import EmptyMaskError, GeometryMismatchError, InvalidParameterError
from imagebio.volume import Volume

__all__ = ["AxialDiameters", "LesionMeasurement", "axial_diameters", "measure_lesion", "slice_diameters"]


@dataclasses.dataclass(frozen=True)
class AxialDiameters:
    """Longest axial diameter and perpendicular short axis (mm) and the slice (z index) they were taken on.

    ``endpoints_yx_mm`` holds the LD's end points (y, x) in mm from the corner of voxel (0, 0) of the slice.
    """

    longest_diameter_mm: float
    short_axis_mm: float
    slice_index: int
    endpoints_yx_mm: tuple[tuple[float, float], tuple[float, float]]


@dataclasses.dataclass(frozen=True)
class LesionMeasurement:
    """Measurements of one lesion: diameters (mm), volume (mL), voxel count, mean HU and viable diameter (mm)."""

    longest_diameter_mm: float
    short_axis_mm: float
    slice_index: int
    volume_ml: float
    voxel_count: int
    mean_hu: float | None = None
    viable_diameter_mm: float | None = None

    def as_row(self) -> dict[str, float | None]:
        """The lesion-table columns this measurement fills."""
        return {
            "longest_diameter_mm": self.longest_diameter_mm,
            "short_axis_mm": self.short_axis_mm,
            "volume_ml": self.volume_ml,
            "mean_hu": self.mean_hu,
            "viable_diameter_mm": self.viable_diameter_mm,
        }


def _check_spacing(spacing) -> tuple[float, float, float]:
    values = tuple(float(v) for v in spacing)
    if len(values) != 3 or not all(np.isfinite(v) and v > 0 for v in values):
        raise InvalidParameterError("spacing", spacing, "three positive voxel sizes (z, y, x) in mm")
    return values  # type: ignore[return-value]


def _hull_points(mask2d: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """Corners of the first and last voxel of every row (enough for the hull), in mm (y, x)."""
    rows = np.flatnonzero(mask2d.any(axis=1))
    sub = mask2d[rows]
    first = sub.argmax(axis=1)
    last = sub.shape[1] - 1 - sub[:, ::-1].argmax(axis=1)
    y0, y1 = rows * dy, (rows + 1) * dy
    x0, x1 = first * dx, (last + 1) * dx
    pts = np.concatenate([np.stack([y0, x0], 1), np.stack([y1, x0], 1), np.stack([y0, x1], 1), np.stack([y1, x1], 1)])
    return np.unique(pts, axis=0)


def _convex_hull(points: np.ndarray) -> np.ndarray:
    """Hull vertices in order (Andrew's monotone chain; points are few: 4 per row)."""
    pts = points[np.lexsort((points[:, 1], points[:, 0]))]

    def half(seq):
        out: list[np.ndarray] = []
        for p in seq:
            while len(out) >= 2:
                a, b = out[-2], out[-1]
                if (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]) <= 0:
                    out.pop()
                else:
                    break
            out.append(p)
        return out

    lower, upper = half(pts), half(pts[::-1])
    return np.array(lower[:-1] + upper[:-1])


def slice_diameters(mask2d: np.ndarray, spacing_yx: tuple[float, float]) -> tuple[float, float, np.ndarray]:
    """LD and perpendicular SA (mm) of one axial slice, and the LD end points (2 x (y, x) mm).

    Parameters
    ----------
    mask2d : ndarray of bool, (y, x)
    spacing_yx : (dy, dx) in mm
    """
    dy, dx = spacing_yx
    hull = _convex_hull(_hull_points(np.asarray(mask2d, bool), dy, dx))
    diff = hull[:, None, :] - hull[None, :, :]
    dist2 = (diff**2).sum(-1)
    i, j = np.unravel_index(int(np.argmax(dist2)), dist2.shape)
    ld = float(np.sqrt(dist2[i, j]))
    u = (hull[j] - hull[i]) / ld
    v = np.array([-u[1], u[0]])
    t = hull @ u
    w = hull @ v
    ta, tb = t, np.roll(t, -1)
    wa, wb = w, np.roll(w, -1)
    offsets = t[:, None]  # candidate offsets: the vertex projections
    lo, hi = np.minimum(ta, tb)[None, :], np.maximum(ta, tb)[None, :]
    crossing = (offsets >= lo - 1e-12) & (offsets <= hi + 1e-12) & (hi > lo)
    frac = np.where(hi > lo, (offsets - ta[None, :]) / np.where(tb != ta, tb - ta, 1.0)[None, :], 0.0)
    wcross = wa[None, :] + frac * (wb - wa)[None, :]
    top = np.where(crossing, wcross, -np.inf).max(axis=1)
    bottom = np.where(crossing, wcross, np.inf).min(axis=1)
    chords = np.where(np.isfinite(top) & np.isfinite(bottom), top - bottom, 0.0)
    sa = float(chords.max()) if chords.size else 0.0
    # No chord is longer than the diameter of the hull; clamp the last-bit rounding of the chord arithmetic.
    sa = min(sa, ld)
    return ld, sa, np.stack([hull[i], hull[j]])


def axial_diameters(mask: np.ndarray | Volume, spacing: tuple[float, float, float] | None = None) -> AxialDiameters:
    """RECIST longest axial diameter and perpendicular short axis of a lesion mask.

    Parameters
    ----------
    mask : ndarray (z, y, x) or Volume
        Lesion mask (non-zero = lesion).
    spacing : (z, y, x) mm
        Required with an array; taken from the Volume otherwise.

    Returns
    -------
    AxialDiameters
        On the axial slice where the LD is largest (ties: the lowest z index).
    """
    array, spacing = _array_and_spacing(mask, spacing, "mask")
    array = array.astype(bool)
    slices = np.flatnonzero(array.any(axis=(1, 2)))
    if slices.size == 0:
        raise EmptyMaskError("lesion", detail="(no voxel to measure)")
    best = None
    for z in slices:
        ld, sa, ends = slice_diameters(array[z], spacing[1:])
        if best is None or ld > best[0] + 1e-9:
            best = (ld, sa, int(z), ends)
    ld, sa, z, ends = best
    return AxialDiameters(ld, sa, z, (tuple(map(float, ends[0])), tuple(map(float, ends[1]))))


def _array_and_spacing(data, spacing, what: str) -> tuple[np.ndarray, tuple[float, float, float]]:
    if isinstance(data, Volume):
        return np.asarray(data.array), tuple(float(s) for s in data.spacing)  # type: ignore[return-value]
    if spacing is None:
        raise InvalidParameterError("spacing", None, f"(z, y, x) voxel size in mm for the {what} array")
    array = np.asarray(data)
    if array.ndim != 3:
        raise InvalidParameterError(what, f"array of shape {array.shape}", "a 3-D (z, y, x) array")
    return array, _check_spacing(spacing)


def measure_lesion(
    mask: np.ndarray | Volume,
    spacing: tuple[float, float, float] | None = None,
    image: np.ndarray | Volume | None = None,
    enhancing_mask: np.ndarray | Volume | None = None,
) -> LesionMeasurement:
    """Diameters, volume, mean image value and viable diameter of one lesion.

    Parameters
    ----------
    mask : ndarray (z, y, x) or Volume
        Lesion mask.
    spacing : (z, y, x) mm
        Required when ``mask`` is an array.
    image : ndarray or Volume, optional
        CT on the same grid; its mean inside the mask is ``mean_hu`` (HU for CT).
    enhancing_mask : ndarray or Volume, optional
        Arterially enhancing tissue on the same grid; ``viable_diameter_mm`` is the axial LD of
        ``mask & enhancing_mask`` (0 when they do not overlap).

    Returns
    -------
    LesionMeasurement
    """
    array, spacing = _array_and_spacing(mask, spacing, "mask")
    array = array.astype(bool)
    diameters = axial_diameters(array, spacing)
    count = int(array.sum())
    volume_ml = count * float(np.prod(spacing)) / 1000.0
    mean_hu = None
    if image is not None:
        values = np.asarray(image.array if isinstance(image, Volume) else image)
        if values.shape != array.shape:
            raise GeometryMismatchError(f"image shape {values.shape} differs from mask shape {array.shape}")
        mean_hu = float(values[array].mean())
    viable = None
    if enhancing_mask is not None:
        enh = np.asarray(enhancing_mask.array if isinstance(enhancing_mask, Volume) else enhancing_mask).astype(bool)
        if enh.shape != array.shape:
            raise GeometryMismatchError(f"enhancing mask shape {enh.shape} differs from mask shape {array.shape}")
        part = array & enh
        viable = axial_diameters(part, spacing).longest_diameter_mm if part.any() else 0.0
    return LesionMeasurement(
        diameters.longest_diameter_mm, diameters.short_axis_mm, diameters.slice_index, volume_ml, count, mean_hu, viable
    )
