"""Neighbourhood grey tone difference matrix (NGTDM) features, IBSI 1 section 3.10.

For every ROI voxel the mean grey level of its neighbours within Chebyshev distance 1 (26 in 3D, 8 in the axial
slice in 2D) is taken over the neighbours **inside the ROI** only; a voxel without any ROI neighbour has no valid
neighbourhood and is left out (IBSI deviation from Amadasun and King). Neighbour sums are accumulated from
the neighbours of the ROI voxels (gathered by flat index), then ``s_i`` and ``n_i`` come from one ``np.bincount``.

Aggregation: ``_2D`` features per slice averaged over slices, ``_2_5D`` slice matrices merged (``s_i`` and
``n_i`` summed), ``_3D`` one 3D matrix.

Reference: Zwanenburg A. et al., IBSI 1 reference manual (arXiv:1612.07003), section 3.10; Amadasun M., King R.,
IEEE Trans Syst Man Cybern 1989;19:1264-1274.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imagebio.radiomics.texture._matrix_features import mean_over_valid
from imagebio.radiomics.texture._neighbours import NEIGHBOURHOOD_2D, NEIGHBOURHOOD_3D, prepare, stride

__all__ = ["FEATURE_NAMES", "MAX_COARSENESS", "compute", "ngtdm", "ngtdm_features"]

FEATURE_NAMES = ("coarseness", "contrast", "busyness", "complexity", "strength")

#: Coarseness when sum(p_i s_i) = 0 (IBSI 3.10.1 sets this arbitrary maximum).
MAX_COARSENESS = 1.0e6

# Features of a stack are evaluated in chunks of at most this many (matrix x level x level) elements.
_CHUNK_ELEMENTS = 1 << 21


def ngtdm(
    levels: np.ndarray, n_levels: int, planar: bool, roi_index: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """NGTDM ``s_i`` and ``n_i`` per axial slice.

    Parameters
    ----------
    levels : numpy.ndarray
        (z, y, x) grey levels 1..n_levels in the ROI and 0 outside, padded by one 0 voxel on each side.
    n_levels : int
        Number of grey levels N_g.
    planar : bool
        8-neighbourhood in the slice (2D) instead of the 26-neighbourhood (3D).
    roi_index : numpy.ndarray, optional
        Flat indices of the ROI voxels (``np.flatnonzero(levels)`` if not given).

    Returns
    -------
    s, n : numpy.ndarray
        (n_slices, N_g) neighbourhood grey tone differences ``s_i`` and counts ``n_i`` of voxels with a valid
        neighbourhood, indexed by the slice of the centre voxel; sum over axis 0 for the whole volume.
    """
    flat = levels.ravel()
    if roi_index is None:
        roi_index = np.flatnonzero(flat)
    centre = flat[roi_index]
    level_sum = np.zeros(roi_index.size, dtype=np.int64)
    count = np.zeros(roi_index.size, dtype=np.int64)
    for offset in NEIGHBOURHOOD_2D if planar else NEIGHBOURHOOD_3D:
        neighbour = flat[roi_index + stride(levels.shape, offset)]
        level_sum += neighbour
        count += neighbour > 0
    valid = count > 0
    difference = np.abs(centre[valid] - level_sum[valid] / count[valid])
    n_z = levels.shape[0]
    z = roi_index[valid] // (levels.shape[1] * levels.shape[2])
    index = z * n_levels + centre[valid] - 1
    s = np.bincount(index, weights=difference, minlength=n_z * n_levels).reshape(n_z, n_levels)
    n = np.bincount(index, minlength=n_z * n_levels).reshape(n_z, n_levels).astype(float)
    return s, n


def ngtdm_features(s: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
    """IBSI NGTDM features of a stack of matrices.

    Parameters
    ----------
    s, n : numpy.ndarray
        (k, N_g) grey tone differences and voxel counts.

    Returns
    -------
    dict
        Feature name (``FEATURE_NAMES``) -> array of length k; NaN where no voxel has a valid neighbourhood.
    """
    s = np.asarray(s, dtype=float)
    n = np.asarray(n, dtype=float)
    # Grey levels absent from every matrix add nothing (n_i = 0 implies s_i = 0); dropping them and chunking the
    # stack bounds the (k, N_g, N_g) pairwise temporaries.
    present_anywhere = n.any(axis=0)
    levels = np.arange(1, s.shape[1] + 1, dtype=float)[present_anywhere]
    s, n = s[:, present_anywhere], n[:, present_anywhere]
    step = max(1, _CHUNK_ELEMENTS // max(1, levels.size**2))
    parts = [_features_chunk(s[a : a + step], n[a : a + step], levels) for a in range(0, s.shape[0], step)]
    return {name: np.concatenate([part[name] for part in parts]) for name in FEATURE_NAMES}


def _features_chunk(s: np.ndarray, n: np.ndarray, levels: np.ndarray) -> dict[str, np.ndarray]:
    n_vc = n.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = n / np.where(n_vc > 0, n_vc, 1.0)[:, None]
        present = p > 0
        n_gp = present.sum(axis=1)
        ps = p * s
        ps_sum = ps.sum(axis=1)
        s_sum = s.sum(axis=1)
        pair = present[:, :, None] & present[:, None, :]
        diff = np.abs(levels[:, None] - levels[None, :])

        coarseness = np.where(ps_sum > 0, 1.0 / ps_sum, MAX_COARSENESS)
        mean = p @ levels
        spread = 2.0 * (p @ levels**2 - mean**2)  # sum_i1 sum_i2 p_i1 p_i2 (i1 - i2)^2
        contrast = np.where(n_gp > 1, spread / (n_gp * (n_gp - 1.0)) * s_sum / n_vc, 0.0)
        ip = levels * p
        busy_denominator = np.where(pair, np.abs(ip[:, :, None] - ip[:, None, :]), 0.0).sum(axis=(1, 2))
        busyness = np.where((n_gp > 1) & (busy_denominator > 0), ps_sum / busy_denominator, 0.0)
        p_pair = p[:, :, None] + p[:, None, :]
        weighted = (ps[:, :, None] + ps[:, None, :]) / np.where(pair, p_pair, 1.0)
        complexity = np.where(pair, diff * weighted, 0.0).sum(axis=(1, 2)) / n_vc
        strength_numerator = np.where(pair, p_pair * diff**2, 0.0).sum(axis=(1, 2))
        strength = np.where(s_sum > 0, strength_numerator / s_sum, 0.0)
    out = {
        "coarseness": coarseness,
        "contrast": contrast,
        "busyness": busyness,
        "complexity": complexity,
        "strength": strength,
    }
    empty = n_vc == 0
    for values in out.values():
        values[empty] = np.nan
    return out


def _aggregate(s: np.ndarray, n: np.ndarray, suffix: str) -> dict[str, float]:
    features = ngtdm_features(s, n)
    return {f"ngt_{name}_{suffix}": mean_over_valid(values) for name, values in features.items()}


def compute(
    levels: np.ndarray,
    mask: np.ndarray,
    n_levels: int,
    spacing: tuple[float, float, float],
    approaches: Sequence[str] = ("2D", "2_5D", "3D"),
    morph_mask: np.ndarray | None = None,
) -> dict[str, float]:
    """NGTDM features (Chebyshev distance 1) for the requested IBSI aggregation approaches.

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
        Not used by the NGTDM; accepted for the common texture interface.

    Returns
    -------
    dict
        IBSI tag (e.g. ``ngt_coarseness_3D``) -> value (dimensionless).

    References
    ----------
    IBSI 1 reference manual (arXiv:1612.07003), section 3.10.
    """
    prepared = prepare(levels, mask, n_levels, spacing, approaches, morph_mask)
    lv, g = prepared.levels, prepared.n_levels
    result: dict[str, float] = {}
    if {"2D", "2_5D"} & set(prepared.approaches):
        s, n = ngtdm(lv, g, True, prepared.roi_index)
        if "2D" in prepared.approaches:
            result |= _aggregate(s, n, "2D")
        if "2_5D" in prepared.approaches:
            result |= _aggregate(s.sum(axis=0, keepdims=True), n.sum(axis=0, keepdims=True), "2_5D")
    if "3D" in prepared.approaches:
        s, n = ngtdm(lv, g, False, prepared.roi_index)
        result |= _aggregate(s.sum(axis=0, keepdims=True), n.sum(axis=0, keepdims=True), "3D")
    return result
