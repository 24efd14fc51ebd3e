"""Shared machinery of the IBSI texture families: input checks, cropping, direction vectors, zones.

Every family module calls :func:`prepare` first; it validates the interface that all of them share and crops the
arrays to the ROI bounding box with one voxel of padding outside the ROI. Neighbours of the ROI voxels are then
gathered by flat index (``roi_index + stride(shape, offset)``): thanks to the padding a one-voxel step never leaves
the array nor wraps to the next row, so no per-voxel loop or bounds check is needed.

Reference: Zwanenburg A. et al., IBSI 1 reference manual (arXiv:1612.07003), section 3.6 (texture matrices:
13 unique 3D / 4 unique 2D direction vectors at Chebyshev distance 1; 26- and 8-connected zones).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

import numpy as np

from imagebio.errors import EmptyMaskError, InvalidParameterError

__all__ = [
    "APPROACHES",
    "DIRECTIONS_2D",
    "DIRECTIONS_3D",
    "NEIGHBOURHOOD_2D",
    "NEIGHBOURHOOD_3D",
    "Prepared",
    "label_zones",
    "prepare",
    "stride",
]

APPROACHES = ("2D", "2_5D", "3D")

# Offsets (dz, dy, dx). A direction and its opposite describe the same voxel pairs, so only the offsets whose first
# non-zero component is positive are kept: 13 in 3D, 4 in the axial plane (IBSI manual section 3.6.1).
NEIGHBOURHOOD_3D: tuple[tuple[int, int, int], ...] = tuple(
    o for o in itertools.product((-1, 0, 1), repeat=3) if o != (0, 0, 0)
)
NEIGHBOURHOOD_2D: tuple[tuple[int, int, int], ...] = tuple(o for o in NEIGHBOURHOOD_3D if o[0] == 0)


def _is_canonical(offset: tuple[int, int, int]) -> bool:
    first = next(c for c in offset if c != 0)
    return first > 0


DIRECTIONS_3D: tuple[tuple[int, int, int], ...] = tuple(o for o in NEIGHBOURHOOD_3D if _is_canonical(o))
DIRECTIONS_2D: tuple[tuple[int, int, int], ...] = tuple(o for o in DIRECTIONS_3D if o[0] == 0)


@dataclasses.dataclass(frozen=True)
class Prepared:
    """Validated, cropped inputs of a texture family.

    Attributes
    ----------
    levels : numpy.ndarray
        int64 (z, y, x) grey levels 1..n_levels inside ``mask`` and 0 elsewhere, padded by one voxel on each side.
    mask : numpy.ndarray
        Bool intensity mask on the same cropped grid.
    morph_mask : numpy.ndarray
        Bool morphological mask on the same cropped grid.
    n_levels : int
        Number of discretised grey levels N_g.
    approaches : tuple of str
        Requested aggregation approaches, in canonical order.
    roi_index : numpy.ndarray
        Flat (C-order) indices of the intensity-mask voxels in ``levels``; the neighbour at offset ``o`` of voxel
        ``roi_index[k]`` is at ``roi_index[k] + stride(levels.shape, o)`` (never out of bounds thanks to the padding).
    """

    levels: np.ndarray
    mask: np.ndarray
    morph_mask: np.ndarray
    n_levels: int
    approaches: tuple[str, ...]
    roi_index: np.ndarray

    @property
    def roi_levels(self) -> np.ndarray:
        """Grey levels of the intensity-mask voxels, in ``roi_index`` order."""
        return self.levels.ravel()[self.roi_index]

    @property
    def roi_z(self) -> np.ndarray:
        """Axial slice (padded index) of the intensity-mask voxels, in ``roi_index`` order."""
        return self.roi_index // (self.levels.shape[1] * self.levels.shape[2])


def prepare(
    levels: np.ndarray,
    mask: np.ndarray,
    n_levels: int,
    spacing: tuple[float, float, float],
    approaches: Sequence[str],
    morph_mask: np.ndarray | None = None,
) -> Prepared:
    """Check the shared texture interface and crop to the ROI with a one-voxel margin.

    Parameters
    ----------
    levels : numpy.ndarray
        Integer (z, y, x) array of discretised grey levels; values outside ``mask`` are ignored.
    mask : numpy.ndarray
        Intensity ROI mask, same shape.
    n_levels : int
        Number of grey levels N_g; levels inside the mask must lie in 1..n_levels.
    spacing : tuple of float
        Voxel spacing (z, y, x) in mm. Checked only: IBSI texture neighbourhoods are defined in voxel steps.
    approaches : sequence of str
        Any of ``"2D"``, ``"2_5D"``, ``"3D"``.
    morph_mask : numpy.ndarray, optional
        Morphological ROI mask (defaults to ``mask``).

    Returns
    -------
    Prepared

    Raises
    ------
    InvalidParameterError
        On wrong shapes, dtypes, grey levels, spacing or approaches.
    EmptyMaskError
        If the intensity mask holds no voxel.
    """
    levels = np.asarray(levels)
    mask = np.asarray(mask)
    if levels.ndim != 3:
        raise InvalidParameterError("levels", f"array of shape {levels.shape}", "a 3D (z, y, x) array")
    if not np.issubdtype(levels.dtype, np.integer):
        raise InvalidParameterError("levels", f"array of dtype {levels.dtype}", "an integer array of grey levels")
    if mask.shape != levels.shape:
        raise InvalidParameterError("mask", f"array of shape {mask.shape}", f"the shape of levels {levels.shape}")
    mask = mask.astype(bool, copy=False)
    if morph_mask is None:
        morph_mask = mask
    else:
        morph_mask = np.asarray(morph_mask)
        if morph_mask.shape != levels.shape:
            raise InvalidParameterError(
                "morph_mask", f"array of shape {morph_mask.shape}", f"the shape of levels {levels.shape}"
            )
        morph_mask = morph_mask.astype(bool, copy=False)
    if isinstance(n_levels, bool) or not isinstance(n_levels, (int, np.integer)) or n_levels < 1:
        raise InvalidParameterError("n_levels", n_levels, "a positive integer")
    n_levels = int(n_levels)
    spacing_arr = np.asarray(spacing, dtype=float)
    if spacing_arr.shape != (3,) or not np.all(np.isfinite(spacing_arr)) or np.any(spacing_arr <= 0):
        raise InvalidParameterError("spacing", spacing, "three positive voxel spacings (z, y, x) in mm")
    if isinstance(approaches, str):
        approaches = (approaches,)
    unknown = [a for a in approaches if a not in APPROACHES]
    if unknown or not approaches:
        raise InvalidParameterError("approaches", tuple(approaches), f"a non-empty subset of {APPROACHES}")
    ordered = tuple(a for a in APPROACHES if a in approaches)
    if not mask.any():
        raise EmptyMaskError("intensity mask", detail="(no voxel to compute texture features from)")

    roi = mask | morph_mask
    bounds = [np.flatnonzero(roi.any(axis=tuple(a for a in range(3) if a != axis))) for axis in range(3)]
    box = tuple(slice(b[0], b[-1] + 1) for b in bounds)
    inside = levels[box][mask[box]]
    if inside.min() < 1 or inside.max() > n_levels:
        raise InvalidParameterError(
            "levels", f"grey levels {int(inside.min())}..{int(inside.max())} in the mask", f"levels in 1..{n_levels}"
        )
    padded_shape = tuple(b.stop - b.start + 2 for b in box)
    interior = (slice(1, -1),) * 3
    padded_mask = np.zeros(padded_shape, dtype=bool)
    padded_mask[interior] = mask[box]
    padded_levels = np.zeros(padded_shape, dtype=np.int64)
    padded_levels[padded_mask] = inside
    padded_morph = np.zeros(padded_shape, dtype=bool)
    padded_morph[interior] = morph_mask[box]
    return Prepared(
        levels=padded_levels,
        mask=padded_mask,
        morph_mask=padded_morph,
        n_levels=n_levels,
        approaches=ordered,
        roi_index=np.flatnonzero(padded_mask),
    )


def stride(shape: tuple[int, ...], offset: tuple[int, int, int]) -> int:
    """Flat (C-order) index step of ``offset`` in an array of ``shape``."""
    return int(offset[0] * shape[1] * shape[2] + offset[1] * shape[2] + offset[2])


def label_zones(levels: np.ndarray, planar: bool) -> tuple[np.ndarray, np.ndarray]:
    """Label the zones of linked voxels sharing one grey level.

    Parameters
    ----------
    levels : numpy.ndarray
        Padded (z, y, x) grey levels, 0 outside the ROI.
    planar : bool
        True: zones are 8-connected within each axial slice (IBSI 2D); False: 26-connected in 3D.

    Returns
    -------
    labels : numpy.ndarray
        Integer array of the shape of ``levels``: 0 outside the ROI, zone numbers 1..n_zones inside.
    zone_level : numpy.ndarray
        Grey level of each zone, length n_zones + 1 (index 0 unused, 0).
    """
    from skimage.measure import label

    if planar:
        # An empty slice between every pair of slices stops 26-connectivity from linking across slices, so one
        # labelling pass gives the 8-connected zones of every slice.
        spaced = np.zeros((2 * levels.shape[0] - 1,) + levels.shape[1:], dtype=levels.dtype)
        spaced[::2] = levels
        labels = label(spaced, background=0, connectivity=3)[::2]
    else:
        labels = label(levels, background=0, connectivity=3)
    in_roi = levels > 0
    zone_level = np.zeros(int(labels.max()) + 1, dtype=np.int64)
    zone_level[labels[in_roi]] = levels[in_roi]
    return labels, zone_level
