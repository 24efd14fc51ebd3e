"""Grey level size zone matrix (GLSZM) features, IBSI 1 section 3.8.

Zones are groups of linked voxels of one grey level (26-connected in 3D, 8-connected within an axial slice in 2D),
found in one labelling pass over the ROI. Aggregation (IBSI 3.8): ``_2D`` features per slice averaged over slices,
``_2_5D`` one matrix merged over all slices (N_v summed), ``_3D`` one matrix of 3D zones.

Reference: Zwanenburg A. et al., IBSI 1 reference manual (arXiv:1612.07003), section 3.8; Thibault G. et al.,
Pattern Recognition and Information Processing 2009:140-145.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imagebio.radiomics.texture._matrix_features import aggregate_entries, mean_over_valid, sparse_matrix_features
from imagebio.radiomics.texture._neighbours import label_zones, prepare

__all__ = ["FEATURE_NAMES", "compute", "zones"]

_NAMES = {
    "sze": "small_j",
    "lze": "large_j",
    "lgze": "low_i",
    "hgze": "high_i",
    "szlge": "small_j_low_i",
    "szhge": "small_j_high_i",
    "lzlge": "large_j_low_i",
    "lzhge": "large_j_high_i",
    "glnu": "i_nu",
    "glnu_norm": "i_nu_norm",
    "zsnu": "j_nu",
    "zsnu_norm": "j_nu_norm",
    "z_perc": "percentage",
    "gl_var": "i_var",
    "zs_var": "j_var",
    "zs_entr": "entropy",
}
FEATURE_NAMES = tuple(_NAMES)


def zones(levels: np.ndarray, planar: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Grey level, size and slice of every zone.

    Parameters
    ----------
    levels : numpy.ndarray
        Padded (z, y, x) grey levels, 0 outside the ROI.
    planar : bool
        2D zones (8-connected per slice) if True, 3D zones (26-connected) otherwise.

    Returns
    -------
    level, size, z : numpy.ndarray
        Per zone: grey level, number of voxels, axial slice of one of its voxels (its only slice if ``planar``).
    labels : numpy.ndarray
        Zone label of every voxel (0 outside the ROI; zone ``k`` is entry ``k - 1`` of the other arrays).
    """
    labels, zone_level = label_zones(levels, planar)
    in_roi = labels > 0
    zone_label = labels[in_roi]
    size = np.bincount(zone_label, minlength=zone_level.size)
    z = np.zeros(zone_level.size, dtype=np.int64)
    z[zone_label] = np.nonzero(in_roi)[0]
    return zone_level[1:], size[1:], z[1:], labels


def zone_matrix_features(
    prefix: str,
    names: dict[str, str],
    level: np.ndarray,
    column: np.ndarray,
    matrix: np.ndarray,
    n_matrices: int,
    n_voxels: np.ndarray,
    n_levels: int,
    suffix: str,
) -> dict[str, float]:
    """Features of zone-type matrices given one entry per zone, averaged over the non-empty matrices."""
    m, i, j, count = aggregate_entries(matrix, level, column, None, n_levels)
    generic = sparse_matrix_features(m, i, j, count, n_matrices, n_voxels)
    return {f"{prefix}_{name}_{suffix}": mean_over_valid(generic[key]) for name, key in names.items()}


def compute(
    levels: np.ndarray,
    mask: np.ndarray,
    n_levels: int,
    spacing: tuple[float, float, float],
    approaches: Sequence[str] = ("2D", "2_5D", "3D"),
    morph_mask: np.ndarray | None = None,
) -> dict[str, float]:
    """GLSZM features for the requested IBSI aggregation approaches.

    Parameters
    ----------
    levels : numpy.ndarray
        Integer (z, y, x) discretised grey levels 1..n_levels; values outside ``mask`` are ignored.
    mask : numpy.ndarray
        Boolean intensity ROI mask.
    n_levels : int
        Number of grey levels N_g.
    spacing : tuple of float
        Voxel spacing (z, y, x) in mm; validated only (zone sizes are voxel counts).
    approaches : sequence of str
        Any of ``"2D"``, ``"2_5D"``, ``"3D"`` (tag suffixes ``_2D``, ``_2_5D``, ``_3D``).
    morph_mask : numpy.ndarray, optional
        Not used by the GLSZM; accepted for the common texture interface.

    Returns
    -------
    dict
        IBSI tag (e.g. ``szm_sze_3D``) -> value (dimensionless).

    References
    ----------
    IBSI 1 reference manual (arXiv:1612.07003), section 3.8.
    """
    prepared = prepare(levels, mask, n_levels, spacing, approaches, morph_mask)
    lv, g = prepared.levels, prepared.n_levels
    n_z = lv.shape[0]
    voxels_per_slice = np.bincount(np.nonzero(lv)[0], minlength=n_z).astype(float)
    n_v = np.array([voxels_per_slice.sum()])
    result: dict[str, float] = {}
    if {"2D", "2_5D"} & set(prepared.approaches):
        level, size, z, _ = zones(lv, planar=True)
        if "2D" in prepared.approaches:
            per_slice = np.where(voxels_per_slice > 0, voxels_per_slice, np.nan)
            result |= zone_matrix_features("szm", _NAMES, level, size, z, n_z, per_slice, g, "2D")
        if "2_5D" in prepared.approaches:
            result |= zone_matrix_features("szm", _NAMES, level, size, np.zeros_like(z), 1, n_v, g, "2_5D")
    if "3D" in prepared.approaches:
        level, size, z, _ = zones(lv, planar=False)
        result |= zone_matrix_features("szm", _NAMES, level, size, np.zeros_like(z), 1, n_v, g, "3D")
    return result
