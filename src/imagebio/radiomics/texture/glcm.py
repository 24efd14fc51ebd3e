"""Grey level co-occurrence matrix (GLCM) features, IBSI 1 section 3.6.

Symmetric co-occurrence matrices at Chebyshev distance 1 are built per direction (and per axial slice for the 2D
approaches) from the voxel pairs of each direction, gathered by flat index, and kept as sparse entries so that
memory does not grow with N_g squared. Features are computed for a whole stack of matrices at once and aggregated
as in the IBSI reference table:

==============  ===========================================================================================
``_2D_avg``     features of every (slice, in-plane direction) matrix, averaged over slices and directions
``_2D_comb``    the 4 direction matrices of a slice summed; features averaged over slices ("slice-merged")
``_2_5D_avg``   each in-plane direction summed over slices; features averaged over the 4 directions
                ("direction-merged")
``_2_5D_comb``  all 2D matrices summed into one ("merged")
``_3D_avg``     features of each of the 13 3D direction matrices, averaged
``_3D_comb``    the 13 direction matrices summed into one
==============  ===========================================================================================

Matrices without any voxel pair (e.g. a one-voxel slice) are left out of the averages.

Reference: Zwanenburg A. et al., IBSI 1 reference manual (arXiv:1612.07003), section 3.6; Haralick R.M. et al.,
IEEE Trans Syst Man Cybern 1973;3:610-621.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imagebio.radiomics.texture._matrix_features import aggregate_entries, mean_over_valid
from imagebio.radiomics.texture._neighbours import DIRECTIONS_2D, DIRECTIONS_3D, prepare, stride

__all__ = ["FEATURE_NAMES", "compute", "cooccurrence_entries", "glcm_features", "sparse_glcm_features"]

FEATURE_NAMES = (
    "joint_max",
    "joint_avg",
    "joint_var",
    "joint_entr",
    "diff_avg",
    "diff_var",
    "diff_entr",
    "sum_avg",
    "sum_var",
    "sum_entr",
    "energy",
    "contrast",
    "dissimilarity",
    "inv_diff",
    "inv_diff_norm",
    "inv_diff_mom",
    "inv_diff_mom_norm",
    "inv_var",
    "corr",
    "auto_corr",
    "clust_tend",
    "clust_shade",
    "clust_prom",
    "info_corr1",
    "info_corr2",
)

Entries = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def cooccurrence_entries(
    levels: np.ndarray,
    n_levels: int,
    direction: tuple[int, int, int],
    by_slice: bool,
    roi_index: np.ndarray | None = None,
) -> Entries:
    """Symmetric co-occurrence matrix of one direction, as sparse entries.

    Parameters
    ----------
    levels : numpy.ndarray
        (z, y, x) grey levels 1..n_levels inside the ROI and 0 outside, padded by at least one 0 voxel.
    n_levels : int
        Number of grey levels N_g.
    direction : (dz, dy, dx)
        Offset; pairs are counted along the offset and its opposite (M + M^T, IBSI 3.6).
    by_slice : bool
        One matrix per axial slice (matrix index = slice of the pair, an in-plane direction is expected); else
        one matrix (index 0).
    roi_index : numpy.ndarray, optional
        Flat indices of the ROI voxels (``np.flatnonzero(levels)`` if not given).

    Returns
    -------
    matrix, i, j, count : numpy.ndarray
        One entry per non-zero element ``(i, j)`` (grey levels, 1-based) of each matrix.
    """
    flat = levels.ravel()
    if roi_index is None:
        roi_index = np.flatnonzero(flat)
    neighbour = flat[roi_index + stride(levels.shape, direction)]
    pair = neighbour > 0
    first, second = flat[roi_index][pair], neighbour[pair]
    n_i = n_levels + 1
    if by_slice:
        matrix = roi_index[pair] // (levels.shape[1] * levels.shape[2])
        n_matrices = levels.shape[0]
    else:
        matrix = np.zeros(first.size, dtype=np.int64)
        n_matrices = 1
    key_space = n_matrices * n_i * n_i
    if key_space > max(1 << 16, 8 * first.size):
        # Many more possible (i, j) cells than pairs: sort-based aggregation keeps memory linear in the pairs.
        both = np.concatenate
        return aggregate_entries(both((matrix, matrix)), both((first, second)), both((second, first)), None, n_levels)
    counts = np.bincount((matrix * n_i + first) * n_i + second, minlength=key_space).reshape(n_matrices, n_i, n_i)
    counts = counts + counts.transpose(0, 2, 1)
    m, i, j = np.nonzero(counts)
    return m, i, j, counts[m, i, j].astype(float)


def _entropy_rows(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0).sum(axis=1)


def sparse_glcm_features(
    matrix: np.ndarray, i: np.ndarray, j: np.ndarray, count: np.ndarray, n_matrices: int, n_levels: int
) -> dict[str, np.ndarray]:
    """IBSI GLCM features of a stack of symmetric co-occurrence matrices given as distinct sparse entries.

    Memory is linear in the number of entries plus ``n_matrices x 2 N_g`` for the diagonal and cross-diagonal
    probabilities; no ``N_g x N_g`` matrix is formed.

    Parameters
    ----------
    matrix, i, j, count : numpy.ndarray
        Distinct entries: matrix index, grey levels (1-based) and co-occurrence count.
    n_matrices : int
        Number of matrices.
    n_levels : int
        Number of grey levels N_g.

    Returns
    -------
    dict
        Feature name (``FEATURE_NAMES``, without the ``cm_`` prefix) -> array of length ``n_matrices``; NaN for
        empty matrices.
    """
    k, g = n_matrices, n_levels
    m = np.asarray(matrix, dtype=np.int64)
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    # astype: np.bincount of an empty index array returns integers even with float weights.
    total = np.bincount(m, weights=count, minlength=k).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = count * np.where(total > 0, 1.0 / total, np.nan)[m]

    def per_matrix(weights: np.ndarray) -> np.ndarray:
        return np.bincount(m, weights=weights, minlength=k).astype(float)

    levels = np.arange(1, g + 1, dtype=float)
    p_i = np.bincount(m * g + i - 1, weights=p, minlength=k * g).reshape(k, g).astype(float)
    mu = p_i @ levels
    var = ((levels[None, :] - mu[:, None]) ** 2 * p_i).sum(axis=1)
    # Diagonal (|i - j|) and cross-diagonal (i + j) probabilities.
    p_diff = np.bincount(m * g + np.abs(i - j), weights=p, minlength=k * g).reshape(k, g).astype(float)
    n_sum = 2 * g - 1
    p_sum = np.bincount(m * n_sum + i + j - 2, weights=p, minlength=k * n_sum).reshape(k, n_sum).astype(float)
    d = np.arange(g, dtype=float)
    s = np.arange(2, 2 * g + 1, dtype=float)

    joint_max = np.zeros(k)
    np.maximum.at(joint_max, m, p)
    diff_avg = p_diff @ d
    sum_avg = p_sum @ s
    centred_sum = s[None, :] - 2.0 * mu[:, None]
    joint_entr = -per_matrix(p * np.log2(p))
    hx = _entropy_rows(p_i)
    inv_d2 = np.zeros(g)
    inv_d2[1:] = 1.0 / d[1:] ** 2
    auto_corr = per_matrix(p * i * j)
    with np.errstate(divide="ignore", invalid="ignore"):
        # For a symmetric matrix HXY1 = HXY2 = 2 HX (IBSI 3.6.24-25). A flat matrix (one grey level) has
        # zero marginal variance and entropy; correlation is then set to 1 and info_corr1 to 0.
        corr = np.where(var > 0, (auto_corr - mu * mu) / var, 1.0)
        info_corr1 = np.where(hx > 0, (joint_entr - 2.0 * hx) / hx, 0.0)
        info_corr2 = np.sqrt(np.clip(1.0 - np.exp(-2.0 * (2.0 * hx - joint_entr)), 0.0, None))
    out = {
        "joint_max": joint_max,
        "joint_avg": mu,
        "joint_var": var,
        "joint_entr": joint_entr,
        "diff_avg": diff_avg,
        "diff_var": ((d[None, :] - diff_avg[:, None]) ** 2 * p_diff).sum(axis=1),
        "diff_entr": _entropy_rows(p_diff),
        "sum_avg": sum_avg,
        "sum_var": ((s[None, :] - sum_avg[:, None]) ** 2 * p_sum).sum(axis=1),
        "sum_entr": _entropy_rows(p_sum),
        "energy": per_matrix(p * p),
        "contrast": p_diff @ (d * d),
        "dissimilarity": diff_avg,
        "inv_diff": p_diff @ (1.0 / (1.0 + d)),
        "inv_diff_norm": p_diff @ (1.0 / (1.0 + d / g)),
        "inv_diff_mom": p_diff @ (1.0 / (1.0 + d * d)),
        "inv_diff_mom_norm": p_diff @ (1.0 / (1.0 + (d / g) ** 2)),
        "inv_var": p_diff @ inv_d2,
        "corr": corr,
        "auto_corr": auto_corr,
        "clust_tend": (centred_sum**2 * p_sum).sum(axis=1),
        "clust_shade": (centred_sum**3 * p_sum).sum(axis=1),
        "clust_prom": (centred_sum**4 * p_sum).sum(axis=1),
        "info_corr1": info_corr1,
        "info_corr2": info_corr2,
    }
    empty = total == 0
    for values in out.values():
        values[empty] = np.nan
    return out


def glcm_features(counts: np.ndarray) -> dict[str, np.ndarray]:
    """IBSI GLCM features of a stack of dense co-occurrence matrices.

    Parameters
    ----------
    counts : numpy.ndarray
        (k, N_g, N_g) symmetric co-occurrence counts (any non-negative scale; each matrix is normalised).

    Returns
    -------
    dict
        Feature name (``FEATURE_NAMES``, without the ``cm_`` prefix) -> array of length k; NaN for empty matrices.
    """
    counts = np.asarray(counts, dtype=float)
    k, g, _ = counts.shape
    m, i, j = np.nonzero(counts)
    return sparse_glcm_features(m, i + 1, j + 1, counts[m, i, j], k, g)


def _aggregate(entries: list[Entries], matrix_of: list[np.ndarray], n_matrices: int, g: int, suffix: str):
    """Merge direction entries into the matrices ``matrix_of`` assigns, then average features over matrices."""
    m, i, j, c = aggregate_entries(
        np.concatenate(matrix_of),
        np.concatenate([e[1] for e in entries]),
        np.concatenate([e[2] for e in entries]),
        np.concatenate([e[3] for e in entries]),
        g,
    )
    features = sparse_glcm_features(m, i, j, c, n_matrices, g)
    return {f"cm_{name}_{suffix}": mean_over_valid(values) for name, values in features.items()}


def compute(
    levels: np.ndarray,
    mask: np.ndarray,
    n_levels: int,
    spacing: tuple[float, float, float],
    approaches: Sequence[str] = ("2D", "2_5D", "3D"),
    morph_mask: np.ndarray | None = None,
) -> dict[str, float]:
    """GLCM features (symmetric, Chebyshev distance 1) for the requested IBSI aggregation approaches.

    Parameters
    ----------
    levels : numpy.ndarray
        Integer (z, y, x) discretised grey levels 1..n_levels; values outside ``mask`` are ignored.
    mask : numpy.ndarray
        Boolean intensity ROI mask.
    n_levels : int
        Number of grey levels N_g (enters the normalised inverse difference features).
    spacing : tuple of float
        Voxel spacing (z, y, x) in mm; validated only, the neighbourhood is one voxel step (IBSI default).
    approaches : sequence of str
        Any of ``"2D"`` (tags ``_2D_avg``, ``_2D_comb``), ``"2_5D"`` (``_2_5D_avg``, ``_2_5D_comb``) and
        ``"3D"`` (``_3D_avg``, ``_3D_comb``).
    morph_mask : numpy.ndarray, optional
        Not used by the GLCM; accepted for the common texture interface.

    Returns
    -------
    dict
        IBSI tag (e.g. ``cm_joint_max_3D_avg``) -> value (dimensionless).

    References
    ----------
    IBSI 1 reference manual (arXiv:1612.07003), section 3.6.
    """
    prepared = prepare(levels, mask, n_levels, spacing, approaches, morph_mask)
    lv, g, roi = prepared.levels, prepared.n_levels, prepared.roi_index
    n_z = lv.shape[0]
    result: dict[str, float] = {}
    planar: list[Entries] = []
    if {"2D", "2_5D"} & set(prepared.approaches):
        planar = [cooccurrence_entries(lv, g, d, True, roi) for d in DIRECTIONS_2D]
    n_dir = len(planar)
    if "2D" in prepared.approaches:
        result |= _aggregate(planar, [k * n_z + e[0] for k, e in enumerate(planar)], n_dir * n_z, g, "2D_avg")
        result |= _aggregate(planar, [e[0] for e in planar], n_z, g, "2D_comb")
    if "2_5D" in prepared.approaches:
        result |= _aggregate(planar, [np.full(e[0].size, k) for k, e in enumerate(planar)], n_dir, g, "2_5D_avg")
        result |= _aggregate(planar, [np.zeros_like(e[0]) for e in planar], 1, g, "2_5D_comb")
    if "3D" in prepared.approaches:
        # The in-plane 3D matrices are the 2D ones summed over slices: reuse them with the slice index dropped.
        reused = {d: (np.zeros_like(e[0]),) + e[1:] for d, e in zip(DIRECTIONS_2D, planar)}
        volume = [reused[d] if d in reused else cooccurrence_entries(lv, g, d, False, roi) for d in DIRECTIONS_3D]
        n_dir = len(volume)
        result |= _aggregate(volume, [np.full(e[0].size, k) for k, e in enumerate(volume)], n_dir, g, "3D_avg")
        result |= _aggregate(volume, [np.zeros_like(e[0]) for e in volume], 1, g, "3D_comb")
    return result
