"""Grey level run length matrix (GLRLM) features, IBSI 1 section 3.7.

Runs are found without a loop over voxels: the padded volume is sheared so that every line along the direction
becomes a contiguous row of one flat array (lines are separated by the zero padding), and a single run-length
encoding of that array yields every run with its grey level and length. Aggregation follows the GLCM scheme
(``_2D_avg``, ``_2D_comb``, ``_2_5D_avg``, ``_2_5D_comb``, ``_3D_avg``, ``_3D_comb``, see
:mod:`imagebio.radiomics.texture.glcm`); when matrices are merged, N_v is summed over the merged matrices
(IBSI 3.7, run percentage).

Reference: Zwanenburg A. et al., IBSI 1 reference manual (arXiv:1612.07003), section 3.7; Galloway M.M.,
Comput Graph Image Process 1975;4:172-179.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imagebio.radiomics.texture._matrix_features import aggregate_entries, mean_over_valid, sparse_matrix_features
from imagebio.radiomics.texture._neighbours import DIRECTIONS_2D, DIRECTIONS_3D, prepare

__all__ = ["FEATURE_NAMES", "compute", "runs_along"]

# IBSI name -> generic quantity of :mod:`._matrix_features`.
_NAMES = {
    "sre": "small_j",
    "lre": "large_j",
    "lgre": "low_i",
    "hgre": "high_i",
    "srlge": "small_j_low_i",
    "srhge": "small_j_high_i",
    "lrlge": "large_j_low_i",
    "lrhge": "large_j_high_i",
    "glnu": "i_nu",
    "glnu_norm": "i_nu_norm",
    "rlnu": "j_nu",
    "rlnu_norm": "j_nu_norm",
    "r_perc": "percentage",
    "gl_var": "i_var",
    "rl_var": "j_var",
    "rl_entr": "entropy",
}
FEATURE_NAMES = tuple(_NAMES)


def _compact(levels: np.ndarray) -> np.ndarray:
    """The grey levels in the smallest unsigned type that holds them (less memory traffic while shearing)."""
    if levels.dtype in (np.uint8, np.uint16):
        return levels
    top = int(levels.max())
    return levels.astype(np.uint8 if top < 1 << 8 else np.uint16 if top < 1 << 16 else np.int64)


def runs_along(levels: np.ndarray, direction: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Every run of equal grey level along one direction.

    Parameters
    ----------
    levels : numpy.ndarray
        (z, y, x) grey levels >= 1 inside the ROI and 0 outside, padded by at least one 0 voxel on every side
        (so that every line starts and ends outside the ROI).
    direction : (dz, dy, dx)
        Step between consecutive voxels of a run, components in {-1, 0, 1}.

    Returns
    -------
    level : numpy.ndarray
        Grey level of each run.
    length : numpy.ndarray
        Run length in voxels.
    z : numpy.ndarray or None
        For an in-plane direction (dz = 0), the axial slice (index into ``levels``) that holds each run; None
        otherwise.
    """
    step = np.asarray(direction, dtype=int)
    array = _compact(levels)
    dtype = array.dtype
    # Mirroring an axis maps a -1 step to a +1 step and leaves the set of lines unchanged.
    for axis in range(3):
        if step[axis] < 0:
            array = np.flip(array, axis=axis)
    step = np.abs(step)
    moving = np.flatnonzero(step)
    shape = array.shape
    # Parametrise each line by the coordinate t along its shortest moving axis; the other moving coordinates
    # minus t are constant on a line. Storing t last makes every line one contiguous stretch of the flat
    # sheared array, and the zero padding separates consecutive lines.
    axis_t = int(moving[np.argmin([shape[a] for a in moving])])
    n_t = shape[axis_t]
    others = [a for a in range(3) if a != axis_t]
    sheared = np.zeros([shape[a] + (n_t - 1 if step[a] else 0) for a in others] + [n_t], dtype=dtype)
    (first, n_first), (second, n_second) = [(a, shape[a]) for a in others]
    slabs = np.moveaxis(array, axis_t, 0)  # a view: slabs[t] is the plane at coordinate t
    for t in range(n_t):
        o1 = n_t - 1 - t if step[first] else 0
        o2 = n_t - 1 - t if step[second] else 0
        sheared[o1 : o1 + n_first, o2 : o2 + n_second, t] = slabs[t]
    flat = sheared.ravel()

    starts = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    lengths = np.diff(starts, append=flat.size)  # flat[0] is padding (0), so no run starts at index 0
    run_level = flat[starts]
    in_roi = run_level > 0
    starts, lengths, run_level = starts[in_roi], lengths[in_roi], run_level[in_roi]
    z = starts // (flat.size // sheared.shape[0]) if step[0] == 0 else None
    return run_level.astype(np.int64), lengths, z


def _direction_entries(
    levels: np.ndarray, direction: tuple[int, int, int], n_levels: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sparse run-length matrix of one direction: (slice or 0, grey level, run length, count) per distinct entry."""
    level, length, z = runs_along(levels, direction)
    return aggregate_entries(np.zeros_like(level) if z is None else z, level, length, None, n_levels)


def _features(
    entries: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    matrix_of: list[np.ndarray],
    n_matrices: int,
    n_voxels: np.ndarray,
    n_levels: int,
    suffix: str,
) -> dict[str, float]:
    """Merge the entries of several directions into the matrices ``matrix_of`` assigns, then average features."""
    matrix = np.concatenate(matrix_of)
    level = np.concatenate([e[1] for e in entries])
    length = np.concatenate([e[2] for e in entries])
    count = np.concatenate([e[3] for e in entries])
    m, i, j, c = aggregate_entries(matrix, level, length, count, n_levels)
    generic = sparse_matrix_features(m, i, j, c, n_matrices, n_voxels)
    return {f"rlm_{name}_{suffix}": mean_over_valid(generic[key]) for name, key in _NAMES.items()}


def compute(
    levels: np.ndarray,
    mask: np.ndarray,
    n_levels: int,
    spacing: tuple[float, float, float],
    approaches: Sequence[str] = ("2D", "2_5D", "3D"),
    morph_mask: np.ndarray | None = None,
) -> dict[str, float]:
    """GLRLM features for the requested IBSI aggregation approaches.

    Parameters
    ----------
    levels : numpy.ndarray
        Integer (z, y, x) discretised grey levels 1..n_levels; values outside ``mask`` are ignored.
    mask : numpy.ndarray
        Boolean intensity ROI mask.
    n_levels : int
        Number of grey levels N_g.
    spacing : tuple of float
        Voxel spacing (z, y, x) in mm; validated only (runs are counted in voxels).
    approaches : sequence of str
        Any of ``"2D"`` (tags ``_2D_avg``, ``_2D_comb``), ``"2_5D"`` (``_2_5D_avg``, ``_2_5D_comb``), ``"3D"``
        (``_3D_avg``, ``_3D_comb``).
    morph_mask : numpy.ndarray, optional
        Not used by the GLRLM; accepted for the common texture interface.

    Returns
    -------
    dict
        IBSI tag (e.g. ``rlm_sre_3D_avg``) -> value (dimensionless).

    References
    ----------
    IBSI 1 reference manual (arXiv:1612.07003), section 3.7.
    """
    prepared = prepare(levels, mask, n_levels, spacing, approaches, morph_mask)
    lv, g = _compact(prepared.levels), prepared.n_levels
    n_z = lv.shape[0]
    voxels_per_slice = np.bincount(prepared.roi_z, minlength=n_z).astype(float)
    n_v = voxels_per_slice.sum()
    result: dict[str, float] = {}

    planar = [_direction_entries(lv, d, g) for d in DIRECTIONS_2D] if {"2D", "2_5D"} & set(prepared.approaches) else []
    n_dir = len(planar)
    if "2D" in prepared.approaches:
        slice_voxels = np.where(voxels_per_slice > 0, voxels_per_slice, np.nan)
        by_slice_and_direction = [k * n_z + e[0] for k, e in enumerate(planar)]
        result |= _features(planar, by_slice_and_direction, n_dir * n_z, np.tile(slice_voxels, n_dir), g, "2D_avg")
        result |= _features(planar, [e[0] for e in planar], n_z, n_dir * slice_voxels, g, "2D_comb")
    if "2_5D" in prepared.approaches:
        by_direction = [np.full(e[0].size, k) for k, e in enumerate(planar)]
        result |= _features(planar, by_direction, n_dir, np.full(n_dir, n_v), g, "2_5D_avg")
        result |= _features(planar, [np.zeros_like(e[0]) for e in planar], 1, np.array([n_dir * n_v]), g, "2_5D_comb")
    if "3D" in prepared.approaches:
        # In-plane 3D matrices are the 2D ones with the slice index dropped.
        reused = {d: (np.zeros_like(e[0]),) + e[1:] for d, e in zip(DIRECTIONS_2D, planar)}
        volume = [reused[d] if d in reused else _direction_entries(lv, d, g) for d in DIRECTIONS_3D]
        n_dir = len(volume)
        by_direction = [np.full(e[0].size, k) for k, e in enumerate(volume)]
        result |= _features(volume, by_direction, n_dir, np.full(n_dir, n_v), g, "3D_avg")
        result |= _features(volume, [np.zeros_like(e[0]) for e in volume], 1, np.array([n_dir * n_v]), g, "3D_comb")
    return result
