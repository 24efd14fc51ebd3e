"""Neighbouring grey level dependence matrix (NGLDM) features, IBSI 1 section 3.11.

The dependence count of a ROI voxel is 1 plus the number of its neighbours within Chebyshev distance δ = 1 (26 in
3D, 8 in the axial slice in 2D) that lie in the ROI and differ from it by at most α = 0 grey levels (the IBSI
benchmark settings). Neighbours outside the ROI do not count, so every ROI voxel has a neighbourhood and the
dependence count percentage is 1.

Aggregation: ``_2D`` features per slice averaged over slices, ``_2_5D`` slice matrices merged (N_v summed),
``_3D`` one 3D matrix.

Reference: Zwanenburg A. et al., IBSI 1 reference manual (arXiv:1612.07003), section 3.11; Sun C., Wee W.G.,
Comput Vis Graph Image Process 1983;23:341-352.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imagebio.radiomics.texture._matrix_features import aggregate_entries, mean_over_valid, sparse_matrix_features
from imagebio.radiomics.texture._neighbours import NEIGHBOURHOOD_2D, NEIGHBOURHOOD_3D, prepare, stride

__all__ = ["FEATURE_NAMES", "compute", "dependence_counts", "roi_dependence_counts"]

_NAMES = {
    "lde": "small_j",
    "hde": "large_j",
    "lgce": "low_i",
    "hgce": "high_i",
    "ldlge": "small_j_low_i",
    "ldhge": "small_j_high_i",
    "hdlge": "large_j_low_i",
    "hdhge": "large_j_high_i",
    "glnu": "i_nu",
    "glnu_norm": "i_nu_norm",
    "dcnu": "j_nu",
    "dcnu_norm": "j_nu_norm",
    "dc_perc": "percentage",
    "gl_var": "i_var",
    "dc_var": "j_var",
    "dc_entr": "entropy",
    "dc_energy": "energy",
}
FEATURE_NAMES = tuple(_NAMES)


def roi_dependence_counts(levels: np.ndarray, roi_index: np.ndarray, planar: bool, alpha: int = 0) -> np.ndarray:
    """Dependence count ``j_k`` of the ROI voxels ``roi_index`` (flat indices) of a padded grey-level array.

    Parameters
    ----------
    levels : numpy.ndarray
        (z, y, x) grey levels >= 1 in the ROI and 0 outside, padded by one 0 voxel on each side.
    roi_index : numpy.ndarray
        Flat indices of the voxels to evaluate (ROI voxels).
    planar : bool
        8-neighbourhood in the slice (2D) instead of the 26-neighbourhood (3D).
    alpha : int
        Coarseness parameter: neighbours within ``alpha`` grey levels are dependent (IBSI benchmark: 0).

    Returns
    -------
    numpy.ndarray
        1 + number of dependent ROI neighbours, per voxel of ``roi_index``.
    """
    flat = levels.ravel()
    centre = flat[roi_index]
    count = np.ones(roi_index.size, dtype=np.int64)
    for offset in NEIGHBOURHOOD_2D if planar else NEIGHBOURHOOD_3D:
        neighbour = flat[roi_index + stride(levels.shape, offset)]
        if alpha == 0:
            count += neighbour == centre  # centre >= 1, so equality implies the neighbour is in the ROI
        else:
            count += (neighbour > 0) & (np.abs(neighbour - centre) <= alpha)
    return count


def dependence_counts(levels: np.ndarray, planar: bool, alpha: int = 0) -> np.ndarray:
    """Dependence count of every voxel of a padded grey-level array (same shape; 0 outside the ROI)."""
    roi_index = np.flatnonzero(levels)
    out = np.zeros(levels.size, dtype=np.int64)
    out[roi_index] = roi_dependence_counts(levels, roi_index, planar, alpha)
    return out.reshape(levels.shape)


def compute(
    levels: np.ndarray,
    mask: np.ndarray,
    n_levels: int,
    spacing: tuple[float, float, float],
    approaches: Sequence[str] = ("2D", "2_5D", "3D"),
    morph_mask: np.ndarray | None = None,
) -> dict[str, float]:
    """NGLDM features (δ = 1 Chebyshev, α = 0) for the requested IBSI aggregation approaches.

    Parameters
    ----------
    levels : numpy.ndarray
        Integer (z, y, x) discretised grey levels 1..n_levels; values outside ``mask`` are ignored.
    mask : numpy.ndarray
        Boolean intensity ROI mask.
    n_levels : int
        Number of grey levels N_g.
    spacing : tuple of float
        Voxel spacing (z, y, x) in mm; validated only (the neighbourhood is one voxel step, IBSI default).
    approaches : sequence of str
        Any of ``"2D"``, ``"2_5D"``, ``"3D"`` (tag suffixes ``_2D``, ``_2_5D``, ``_3D``).
    morph_mask : numpy.ndarray, optional
        Not used by the NGLDM; accepted for the common texture interface.

    Returns
    -------
    dict
        IBSI tag (e.g. ``ngl_lde_3D``) -> value (dimensionless).

    References
    ----------
    IBSI 1 reference manual (arXiv:1612.07003), section 3.11.
    """
    prepared = prepare(levels, mask, n_levels, spacing, approaches, morph_mask)
    lv, g = prepared.levels, prepared.n_levels
    level = prepared.roi_levels
    z = prepared.roi_z
    n_z = lv.shape[0]
    voxels_per_slice = np.bincount(z, minlength=n_z).astype(float)
    total = np.array([voxels_per_slice.sum()])

    def features(matrix: np.ndarray, dependence: np.ndarray, n_matrices: int, n_v: np.ndarray, suffix: str):
        m, i, j, count = aggregate_entries(matrix, level, dependence, None, g)
        generic = sparse_matrix_features(m, i, j, count, n_matrices, n_v)
        return {f"ngl_{name}_{suffix}": mean_over_valid(generic[key]) for name, key in _NAMES.items()}

    result: dict[str, float] = {}
    if {"2D", "2_5D"} & set(prepared.approaches):
        dependence = roi_dependence_counts(lv, prepared.roi_index, planar=True)
        if "2D" in prepared.approaches:
            per_slice = np.where(voxels_per_slice > 0, voxels_per_slice, np.nan)
            result |= features(z, dependence, n_z, per_slice, "2D")
        if "2_5D" in prepared.approaches:
            result |= features(np.zeros_like(z), dependence, 1, total, "2_5D")
    if "3D" in prepared.approaches:
        dependence = roi_dependence_counts(lv, prepared.roi_index, planar=False)
        result |= features(np.zeros_like(z), dependence, 1, total, "3D")
    return result
