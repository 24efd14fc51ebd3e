"""Grey level distance zone matrix (GLDZM) features, IBSI 1 section 3.9.

Zones are those of the GLSZM (intensity mask). The distance of a voxel to the ROI edge is measured on the
**morphological** mask (IBSI 3.9, "Morphological and intensity masks") with the Manhattan norm: 6-connected steps in
3D, 4-connected steps within the axial slice in 2D, voxels on the edge at distance 1. This equals the IBSI
iterative-erosion definition and is computed in one pass with a chamfer distance transform of the zero-padded mask,
so the image border also counts as ROI edge. A zone's distance is the smallest distance of its voxels.

Aggregation: ``_2D`` per slice averaged, ``_2_5D`` slice matrices merged (N_v summed), ``_3D`` one 3D matrix.

Reference: Zwanenburg A. et al., IBSI 1 reference manual (arXiv:1612.07003), section 3.9; Thibault G. et al.,
IEEE Trans Biomed Eng 2014;61:630-637.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imagebio.radiomics.texture._neighbours import prepare
from imagebio.radiomics.texture.glszm import zone_matrix_features, zones

__all__ = ["FEATURE_NAMES", "compute", "edge_distance", "zone_distances"]

_NAMES = {
    "sde": "small_j",
    "lde": "large_j",
    "lgze": "low_i",
    "hgze": "high_i",
    "sdlge": "small_j_low_i",
    "sdhge": "small_j_high_i",
    "ldlge": "large_j_low_i",
    "ldhge": "large_j_high_i",
    "glnu": "i_nu",
    "glnu_norm": "i_nu_norm",
    "zdnu": "j_nu",
    "zdnu_norm": "j_nu_norm",
    "z_perc": "percentage",
    "gl_var": "i_var",
    "zd_var": "j_var",
    "zd_entr": "entropy",
}
FEATURE_NAMES = tuple(_NAMES)


def edge_distance(mask: np.ndarray, planar: bool) -> np.ndarray:
    """Manhattan distance (in voxel steps) of every ROI voxel to the ROI edge; 1 on the edge, 0 outside.

    Parameters
    ----------
    mask : numpy.ndarray
        Bool (z, y, x) ROI mask, padded by at least one False voxel on each side.
    planar : bool
        Measure within axial slices (4-connected, IBSI 2D) instead of in 3D (6-connected).

    Returns
    -------
    numpy.ndarray
        int32 distances.
    """
    from scipy import ndimage

    structure = ndimage.generate_binary_structure(3, 1)
    if planar:
        structure[0] = structure[2] = False
    return ndimage.distance_transform_cdt(mask, metric=structure).astype(np.int32)


def zone_distances(labels: np.ndarray, distance: np.ndarray, n_zones: int) -> np.ndarray:
    """Distance of each zone to the ROI edge: the smallest edge distance over its voxels (IBSI 3.9).

    Parameters
    ----------
    labels : numpy.ndarray
        Zone label of every voxel (0 outside the ROI), as returned by :func:`imagebio.radiomics.texture.glszm.zones`.
    distance : numpy.ndarray
        Edge distance map of the morphological mask, same shape (:func:`edge_distance`).
    n_zones : int
        Number of zones (labels 1..n_zones).

    Returns
    -------
    numpy.ndarray
        int64 distance (voxel steps, >= 1) of zones 1..n_zones, in label order.
    """
    in_zone = labels > 0
    minimum = np.full(n_zones + 1, np.iinfo(np.int32).max, dtype=np.int32)
    np.minimum.at(minimum, labels[in_zone], distance[in_zone])
    # A zone voxel outside the morphological mask (not expected after IBSI re-segmentation) counts as on the edge.
    return np.maximum(minimum[1:], 1).astype(np.int64)


def compute(
    levels: np.ndarray,
    mask: np.ndarray,
    n_levels: int,
    spacing: tuple[float, float, float],
    approaches: Sequence[str] = ("2D", "2_5D", "3D"),
    morph_mask: np.ndarray | None = None,
) -> dict[str, float]:
    """GLDZM features for the requested IBSI aggregation approaches.

    Parameters
    ----------
    levels : numpy.ndarray
        Integer (z, y, x) discretised grey levels 1..n_levels; values outside ``mask`` are ignored.
    mask : numpy.ndarray
        Boolean intensity ROI mask (defines the zones).
    n_levels : int
        Number of grey levels N_g.
    spacing : tuple of float
        Voxel spacing (z, y, x) in mm; validated only (distances are counted in voxel steps, IBSI default).
    approaches : sequence of str
        Any of ``"2D"``, ``"2_5D"``, ``"3D"`` (tag suffixes ``_2D``, ``_2_5D``, ``_3D``).
    morph_mask : numpy.ndarray, optional
        Morphological ROI mask used for the distance to the ROI edge (defaults to ``mask``).

    Returns
    -------
    dict
        IBSI tag (e.g. ``dzm_sde_3D``) -> value (dimensionless).

    References
    ----------
    IBSI 1 reference manual (arXiv:1612.07003), section 3.9.
    """
    prepared = prepare(levels, mask, n_levels, spacing, approaches, morph_mask)
    lv, g = prepared.levels, prepared.n_levels
    n_z = lv.shape[0]
    voxels_per_slice = np.bincount(np.nonzero(lv)[0], minlength=n_z).astype(float)
    n_v = np.array([voxels_per_slice.sum()])
    result: dict[str, float] = {}
    if {"2D", "2_5D"} & set(prepared.approaches):
        level, _, z, labels = zones(lv, planar=True)
        distance = zone_distances(labels, edge_distance(prepared.morph_mask, planar=True), level.size)
        if "2D" in prepared.approaches:
            per_slice = np.where(voxels_per_slice > 0, voxels_per_slice, np.nan)
            result |= zone_matrix_features("dzm", _NAMES, level, distance, z, n_z, per_slice, g, "2D")
        if "2_5D" in prepared.approaches:
            result |= zone_matrix_features("dzm", _NAMES, level, distance, np.zeros_like(z), 1, n_v, g, "2_5D")
    if "3D" in prepared.approaches:
        level, _, z, labels = zones(lv, planar=False)
        distance = zone_distances(labels, edge_distance(prepared.morph_mask, planar=False), level.size)
        result |= zone_matrix_features("dzm", _NAMES, level, distance, np.zeros_like(z), 1, n_v, g, "3D")
    return result
