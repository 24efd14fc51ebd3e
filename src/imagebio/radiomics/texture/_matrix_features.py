"""Features shared by the run-length, size-zone, distance-zone and dependence matrices (IBSI 1, sections 3.7-3.11).

GLRLM, GLSZM, GLDZM and NGLDM features are the same sums over a grey level (row ``i``) by "length" (column
``j``: run length, zone size, zone distance, dependence count) matrix. The matrices here are sparse: a stack of
matrices is given as entries ``(matrix, i, j, count)``, which keeps memory bounded by the number of runs or zones
instead of ``N_g x`` (largest zone size), and lets one call evaluate every slice or direction at once.

Reference: Zwanenburg A. et al., IBSI 1 reference manual (arXiv:1612.07003), sections 3.7 (GLRLM), 3.8 (GLSZM),
3.9 (GLDZM), 3.11 (NGLDM).
"""

from __future__ import annotations

import numpy as np

__all__ = ["GENERIC_NAMES", "aggregate_entries", "mean_over_valid", "sparse_matrix_features"]

# Order of the generic quantities; every family maps them to its own IBSI names.
GENERIC_NAMES = (
    "small_j",
    "large_j",
    "low_i",
    "high_i",
    "small_j_low_i",
    "small_j_high_i",
    "large_j_low_i",
    "large_j_high_i",
    "i_nu",
    "i_nu_norm",
    "j_nu",
    "j_nu_norm",
    "percentage",
    "i_var",
    "j_var",
    "entropy",
    "energy",
)


def _count_by_key(key: np.ndarray, weight: np.ndarray | None, key_space: int) -> tuple[np.ndarray, np.ndarray]:
    """Unique keys and their summed weights (dense bincount when the key space is small, else a sort)."""
    if key_space <= max(1 << 16, 4 * key.size):
        totals = np.bincount(key, weights=weight, minlength=key_space)
        unique = np.flatnonzero(totals)
        return unique, totals[unique].astype(float)
    unique, inverse = np.unique(key, return_inverse=True)
    return unique, np.bincount(inverse, weights=weight, minlength=unique.size).astype(float)


def aggregate_entries(
    matrix: np.ndarray, i: np.ndarray, j: np.ndarray, count: np.ndarray | None, n_levels: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merge duplicate ``(matrix, i, j)`` entries by summing their counts.

    Parameters
    ----------
    matrix, i, j : numpy.ndarray
        Integer arrays of equal length: matrix index (>= 0), grey level (1..n_levels), column value (>= 1).
    count : numpy.ndarray, optional
        Counts of the entries (default 1 each).
    n_levels : int
        Number of grey levels.

    Returns
    -------
    matrix, i, j, count : numpy.ndarray
        One entry per distinct ``(matrix, i, j)``; counts as float64.
    """
    matrix = np.asarray(matrix, dtype=np.int64)
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    if matrix.size == 0:
        return matrix, i, j, np.zeros(0)
    n_j = int(j.max()) + 1
    n_i = n_levels + 1
    key = (matrix * n_i + i) * n_j + j
    key_space = (int(matrix.max()) + 1) * n_i * n_j
    unique, totals = _count_by_key(key, None if count is None else np.asarray(count, dtype=float), key_space)
    m_u, rest = np.divmod(unique, n_i * n_j)
    i_u, j_u = np.divmod(rest, n_j)
    return m_u, i_u, j_u, totals


def sparse_matrix_features(
    matrix: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    count: np.ndarray,
    n_matrices: int,
    n_voxels: np.ndarray,
) -> dict[str, np.ndarray]:
    """Run/zone/dependence features of a stack of matrices given as aggregated sparse entries.

    Parameters
    ----------
    matrix, i, j, count : numpy.ndarray
        Distinct entries (see :func:`aggregate_entries`): matrix index, grey level ``i`` (1-based), column value
        ``j`` (1-based run length, zone size, distance or dependence count) and the matrix element (count).
    n_matrices : int
        Number of matrices in the stack.
    n_voxels : numpy.ndarray
        N_v of every matrix (for merged matrices, the summed voxel counts), length ``n_matrices``.

    Returns
    -------
    dict
        ``GENERIC_NAMES`` -> float array of length ``n_matrices``; NaN where a matrix is empty.
    """
    m = np.asarray(matrix, dtype=np.int64)
    fi = np.asarray(i, dtype=float)
    fj = np.asarray(j, dtype=float)
    c = np.asarray(count, dtype=float)

    def per_matrix(weights: np.ndarray) -> np.ndarray:
        # astype: np.bincount of an empty index array returns integers even with float weights.
        return np.bincount(m, weights=weights, minlength=n_matrices).astype(float)

    with np.errstate(divide="ignore", invalid="ignore"):
        n_s = per_matrix(c)
        inv_ns = np.where(n_s > 0, 1.0 / n_s, np.nan)
        i2, j2 = fi * fi, fj * fj
        out: dict[str, np.ndarray] = {
            "small_j": per_matrix(c / j2) * inv_ns,
            "large_j": per_matrix(c * j2) * inv_ns,
            "low_i": per_matrix(c / i2) * inv_ns,
            "high_i": per_matrix(c * i2) * inv_ns,
            "small_j_low_i": per_matrix(c / (i2 * j2)) * inv_ns,
            "small_j_high_i": per_matrix(c * i2 / j2) * inv_ns,
            "large_j_low_i": per_matrix(c * j2 / i2) * inv_ns,
            "large_j_high_i": per_matrix(c * i2 * j2) * inv_ns,
        }
        for name, axis_value in (("i", i), ("j", j)):
            axis_value = np.asarray(axis_value, dtype=np.int64)
            n_axis = int(axis_value.max()) + 1 if axis_value.size else 1
            keys, marginal = _count_by_key(m * n_axis + axis_value, c, n_matrices * n_axis)
            squares = np.bincount(keys // n_axis, weights=marginal * marginal, minlength=n_matrices).astype(float)
            out[f"{name}_nu"] = squares * inv_ns
            out[f"{name}_nu_norm"] = squares * inv_ns * inv_ns
        out["percentage"] = n_s / np.asarray(n_voxels, dtype=float)
        out["percentage"][n_s == 0] = np.nan
        p = c * inv_ns[m]
        mu_i = per_matrix(p * fi)
        mu_j = per_matrix(p * fj)
        out["i_var"] = per_matrix(p * (fi - mu_i[m]) ** 2)
        out["j_var"] = per_matrix(p * (fj - mu_j[m]) ** 2)
        out["entropy"] = -per_matrix(p * np.log2(p))
        out["energy"] = per_matrix(p * p)
    empty = n_s == 0
    for name in ("i_var", "j_var", "entropy", "energy"):
        out[name][empty] = np.nan
    return out


def mean_over_valid(values: np.ndarray) -> float:
    """Mean over the matrices that exist (NaN marks an empty matrix, e.g. a slice without voxel pairs)."""
    values = np.asarray(values, dtype=float)
    valid = ~np.isnan(values)
    return float(values[valid].mean()) if valid.any() else float("nan")
