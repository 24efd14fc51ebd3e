"""Voxel-wise radiomics feature maps: each ROI voxel gets the features of the box neighbourhood around it.

For a voxel ``v`` of the ROI, the neighbourhood is the box of half-widths ``(r_z, r_y, r_x)`` voxels centred on
``v``, intersected with the ROI mask; the value of a feature map at ``v`` is the feature computed on that
neighbourhood exactly as the whole-ROI implementation computes it (``statistics_features`` for ``stat_*``,
``texture.glcm.compute`` for ``cm_*``, with the same number of grey levels). Voxels outside the ROI are NaN.
Such maps are the input of habitat (intra-tumour heterogeneity) analysis.

Method (vectorised, chunked over ROI voxels so that memory stays bounded):

* intensity statistics: the neighbourhood values of a chunk of voxels are gathered into a (voxels × box) array
  (NaN outside the ROI) and the IBSI moments and percentiles are computed row-wise;
* GLCM: for each of the 13 directions ``d`` a pair-code image ``C_d(p) = N(p)·(N_g+1) + N(p+d)`` is formed once
  (``N`` = grey level, 0 outside the ROI). The co-occurrence counts of the neighbourhood of ``v`` are the
  histogram of ``C_d(v+o)`` over the offsets ``o`` with ``o`` and ``o+d`` both in the box, one ``np.bincount``
  per chunk for all voxels and directions; pairs touching a voxel outside the ROI fall in row/column 0 and are
  dropped. The symmetrised counts then go through the same sparse-matrix feature code as whole-ROI extraction.

Work is O(N·|box|·13) for the GLCM counts and memory O(chunk·N_g²).

References
----------
Zwanenburg A. et al., IBSI 1 reference manual (arXiv:1612.07003), sections 3.3 (statistics) and 3.6 (GLCM);
van Griethuysen J.J.M. et al., Cancer Res 2017;77:e104 (voxel-based extraction in PyRadiomics).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from imagebio.errors import EmptyMaskError, GeometryMismatchError, InvalidParameterError
from imagebio.volume import Volume

__all__ = [
    "STAT_FEATURES",
    "feature_maps",
    "first_order_maps",
    "glcm_maps",
    "symmetric_glcm_features",
    "window_radius",
]

#: ``stat_*`` tags available as maps (all 18 IBSI intensity statistics).
STAT_FEATURES = (
    "stat_mean", "stat_var", "stat_skew", "stat_kurt", "stat_median", "stat_min", "stat_p10", "stat_p90",
    "stat_max", "stat_iqr", "stat_range", "stat_mad", "stat_rmad", "stat_medad", "stat_cov", "stat_qcod",
    "stat_energy", "stat_rms",
)

_GLCM_AGGREGATIONS = ("3D_comb", "3D_avg")


def window_radius(
    spacing: Sequence[float], radius_voxels: int | Sequence[int] | None = None, radius_mm: float | None = None
) -> tuple[int, int, int]:
    """Half-widths (z, y, x) in voxels of the neighbourhood box.

    Give either ``radius_voxels`` (an int for a cube, e.g. 2 → 5×5×5, or three ints) or ``radius_mm``: the
    half-width along each axis is ``floor(radius_mm / spacing)`` voxels (so the box spans at most
    ``2 × radius_mm`` per axis; spacing (z, y, x) in mm).
    """
    if (radius_voxels is None) == (radius_mm is None):
        raise InvalidParameterError("radius", (radius_voxels, radius_mm), "exactly one of radius_voxels, radius_mm")
    if radius_mm is not None:
        if not radius_mm > 0:
            raise InvalidParameterError("radius_mm", radius_mm, "a positive radius in mm")
        radius = tuple(math.floor(radius_mm / float(s) + 1e-9) for s in spacing)
    else:
        radius = (radius_voxels,) * 3 if np.isscalar(radius_voxels) else tuple(radius_voxels)
    if len(radius) != 3 or any(int(r) != r or r < 0 for r in radius) or not any(radius):
        raise InvalidParameterError("radius", radius, "three non-negative integer half-widths (z, y, x), not all 0")
    return tuple(int(r) for r in radius)


def _prepare(image: np.ndarray, mask: np.ndarray, radius: tuple[int, int, int], fill):
    """Crop to the ROI box and pad by radius + 1 so that every neighbourhood (and its pair partner) is inside."""
    if image.shape != mask.shape:
        raise GeometryMismatchError(f"mask shape {mask.shape} differs from image shape {image.shape}")
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        raise EmptyMaskError("mask", detail="no voxel for feature maps")
    nz = np.nonzero(mask)
    box = tuple(slice(int(a.min()), int(a.max()) + 1) for a in nz)
    pad = [(r + 1, r + 1) for r in radius]
    crop_mask = np.pad(mask[box], pad)
    crop_image = np.pad(np.where(mask, image, fill)[box], pad, constant_values=fill)
    centres = np.flatnonzero(crop_mask)
    return box, crop_image, crop_mask, centres


def _offsets(radius: tuple[int, int, int]) -> np.ndarray:
    grids = np.meshgrid(*[np.arange(-r, r + 1) for r in radius], indexing="ij")
    return np.stack([g.ravel() for g in grids], axis=1)


def _flat_stride(shape: tuple[int, ...], offsets: np.ndarray) -> np.ndarray:
    return offsets @ np.array([shape[1] * shape[2], shape[2], 1])


def _chunks(n: int, size: int):
    for start in range(0, n, max(1, size)):
        yield slice(start, min(n, start + max(1, size)))


def _percentile_rows(sorted_rows: np.ndarray, count: np.ndarray, q: float) -> np.ndarray:
    """Linear-interpolation percentile (numpy's default) of each row's first ``count`` sorted values."""
    position = q / 100.0 * (count - 1)
    lo = np.floor(position).astype(np.int64)
    hi = np.minimum(lo + 1, count - 1)
    frac = position - lo
    rows = np.arange(sorted_rows.shape[0])
    a, b = sorted_rows[rows, lo], sorted_rows[rows, hi]
    diff = b - a
    # numpy's _lerp: a + d·t, computed from the upper end when t >= 0.5 (same rounding as np.percentile).
    return np.where(frac >= 0.5, b - diff * (1.0 - frac), a + diff * frac)


def _first_order_rows(values: np.ndarray, wanted: set[str]) -> dict[str, np.ndarray]:
    """IBSI intensity statistics of each row of ``values`` (NaN = not in the neighbourhood)."""
    present = ~np.isnan(values)
    count = present.sum(axis=1)
    x0 = np.where(present, values, 0.0)
    mean = x0.sum(axis=1) / count
    dev = np.where(present, values - mean[:, None], 0.0)
    var = (dev**2).sum(axis=1) / count
    out: dict[str, np.ndarray] = {"stat_mean": mean, "stat_var": var}
    with np.errstate(divide="ignore", invalid="ignore"):
        if "stat_skew" in wanted:
            out["stat_skew"] = np.where(var > 0, (dev**3).sum(axis=1) / count / var**1.5, 0.0)
        if "stat_kurt" in wanted:
            out["stat_kurt"] = np.where(var > 0, (dev**4).sum(axis=1) / count / var**2 - 3.0, 0.0)
        energy = (x0**2).sum(axis=1)
        out["stat_energy"] = energy
        out["stat_rms"] = np.sqrt(energy / count)
        out["stat_mad"] = np.abs(dev).sum(axis=1) / count
        out["stat_cov"] = np.where(mean != 0, np.sqrt(var) / np.where(mean != 0, mean, 1.0), np.nan)
        order = {"stat_median", "stat_min", "stat_p10", "stat_p90", "stat_max", "stat_iqr", "stat_range",
                 "stat_rmad", "stat_medad", "stat_qcod"}
        if wanted & order:
            srt = np.sort(values, axis=1)  # NaN sort last
            rows = np.arange(values.shape[0])
            p10, p25, median, p75, p90 = (_percentile_rows(srt, count, q) for q in (10, 25, 50, 75, 90))
            vmin, vmax = srt[:, 0], srt[rows, count - 1]
            robust = present & (values >= p10[:, None]) & (values <= p90[:, None])
            n_robust = robust.sum(axis=1)
            r_mean = np.where(robust, values, 0.0).sum(axis=1) / n_robust
            out.update({
                "stat_median": median, "stat_min": vmin, "stat_p10": p10, "stat_p90": p90, "stat_max": vmax,
                "stat_iqr": p75 - p25, "stat_range": vmax - vmin,
                "stat_rmad": np.where(robust, np.abs(values - r_mean[:, None]), 0.0).sum(axis=1) / n_robust,
                "stat_medad": np.where(present, np.abs(values - median[:, None]), 0.0).sum(axis=1) / count,
                "stat_qcod": np.where(p75 + p25 != 0, (p75 - p25) / np.where(p75 + p25 != 0, p75 + p25, 1.0),
                                      np.nan),
            })
    return {k: v for k, v in out.items() if k in wanted}


def first_order_maps(
    image: np.ndarray,
    mask: np.ndarray,
    radius: tuple[int, int, int],
    features: Sequence[str] = STAT_FEATURES,
    max_chunk_mb: float = 128.0,
) -> dict[str, np.ndarray]:
    """Maps of IBSI intensity statistics (``stat_*``) over box neighbourhoods ∩ ROI.

    Parameters
    ----------
    image : numpy.ndarray
        (z, y, x) intensities in image units (e.g. HU); must be finite inside ``mask``.
    mask : numpy.ndarray
        Boolean ROI mask; neighbourhoods only contain ROI voxels, maps are NaN outside it.
    radius : tuple of int
        Box half-widths (z, y, x) in voxels (see :func:`window_radius`).
    features : sequence of str
        Tags among :data:`STAT_FEATURES`.
    max_chunk_mb : float
        Memory budget of one chunk of gathered neighbourhoods, MiB.

    Returns
    -------
    dict
        Tag → float map of the image shape; units as ``statistics_features`` (image units, squared for
        ``stat_var``, dimensionless for skewness etc.).
    """
    wanted = set(features)
    unknown = wanted - set(STAT_FEATURES)
    if unknown:
        raise InvalidParameterError("features", sorted(unknown), f"tags among {STAT_FEATURES}")
    image = np.asarray(image, dtype=np.float64)
    box, crop, crop_mask, centres = _prepare(image, mask, radius, np.nan)
    if not np.isfinite(crop[crop_mask]).all():
        raise InvalidParameterError("image", "non-finite (NaN/inf) voxels inside the ROI", "finite intensities")
    strides = _flat_stride(crop.shape, _offsets(radius))
    flat = crop.ravel()
    chunk = int(max_chunk_mb * 2**20 / (8 * strides.size * 12))  # ~12 live (voxels x box) float arrays
    parts: dict[str, list[np.ndarray]] = {tag: [] for tag in wanted}
    for part in _chunks(centres.size, chunk):
        values = flat[centres[part, None] + strides[None, :]]
        for tag, column in _first_order_rows(values, wanted).items():
            parts[tag].append(column)
    inner = tuple(slice(r + 1, -(r + 1)) for r in radius)
    shape = crop.shape
    return {tag: _place(image.shape, box, np.concatenate(parts[tag]), centres, shape, inner) for tag in features}


def _place(full_shape, box, values: np.ndarray, centres: np.ndarray, crop_shape, inner) -> np.ndarray:
    crop = np.full(int(np.prod(crop_shape)), np.nan)
    crop[centres] = values
    out = np.full(full_shape, np.nan)
    out[box] = crop.reshape(crop_shape)[inner]
    return out


def symmetric_glcm_features(
    matrix: np.ndarray, i: np.ndarray, j: np.ndarray, count: np.ndarray, n_matrices: int, n_levels: int
) -> dict[str, np.ndarray]:
    """IBSI GLCM features of symmetric matrices ``M + M^T`` given by their upper-triangle pair counts.

    A canonical entry ``(i <= j, count)`` of ``M`` counted both ways stands for the cells ``(i, j)`` and ``(j, i)``
    of the symmetric matrix with value ``count`` each (off-diagonal), or for the cell ``(i, i)`` with value
    ``2 count`` (diagonal); the entries are expanded accordingly and passed to
    :func:`imagebio.radiomics.texture.glcm.sparse_glcm_features` (IBSI 1 section 3.6).

    Parameters
    ----------
    matrix, i, j, count : numpy.ndarray
        Distinct canonical entries: matrix index, grey levels ``1 <= i <= j <= n_levels`` and count.
    n_matrices, n_levels : int
        Number of matrices and of grey levels N_g.

    Returns
    -------
    dict
        Feature name (without ``cm_`` prefix) -> array of length ``n_matrices``; NaN for empty matrices.
    """
    from imagebio.radiomics.texture.glcm import sparse_glcm_features

    m = np.asarray(matrix, dtype=np.int64)
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    count = np.asarray(count, dtype=float)
    off = i != j
    # Expand to the symmetric matrix's distinct cells: (i, j) and (j, i) for off-diagonal entries, (i, i) twice.
    return sparse_glcm_features(
        np.concatenate([m, m[off]]),
        np.concatenate([i, j[off]]),
        np.concatenate([j, i[off]]),
        np.concatenate([np.where(off, count, 2.0 * count), count[off]]),
        n_matrices,
        n_levels,
    )


def glcm_maps(
    levels: np.ndarray,
    mask: np.ndarray,
    n_levels: int,
    radius: tuple[int, int, int],
    aggregation: str = "3D_comb",
    features: Sequence[str] | None = None,
    max_chunk_mb: float = 256.0,
) -> dict[str, np.ndarray]:
    """Maps of IBSI GLCM features (Chebyshev distance 1, symmetric) over box neighbourhoods ∩ ROI.

    Parameters
    ----------
    levels : numpy.ndarray
        Integer (z, y, x) grey levels 1..n_levels inside ``mask`` (values outside are ignored).
    mask : numpy.ndarray
        Boolean ROI mask.
    n_levels : int
        Number of grey levels N_g (as for whole-ROI extraction; enters the normalised inverse differences).
    radius : tuple of int
        Box half-widths (z, y, x) in voxels.
    aggregation : {"3D_comb", "3D_avg"}
        ``3D_comb``: the 13 direction matrices merged; ``3D_avg``: features of each direction averaged over the
        directions that have pairs (IBSI 3.6 aggregation; ``3D_avg`` costs 13× more feature evaluations).
    features : sequence of str, optional
        GLCM feature names without prefix/suffix (``"joint_avg"``, ...); default all 25.
    max_chunk_mb : float
        Memory budget of one chunk (pair keys and dense per-voxel count matrices), MiB.

    Returns
    -------
    dict
        ``cm_<feature>_<aggregation>`` → float map of the image shape (dimensionless), NaN outside the ROI and
        where a neighbourhood has no voxel pair.
    """
    from imagebio.radiomics.texture._neighbours import DIRECTIONS_3D
    from imagebio.radiomics.texture.glcm import FEATURE_NAMES

    if aggregation not in _GLCM_AGGREGATIONS:
        raise InvalidParameterError("aggregation", aggregation, f"one of {_GLCM_AGGREGATIONS}")
    names = tuple(FEATURE_NAMES if features is None else features)
    if set(names) - set(FEATURE_NAMES):
        raise InvalidParameterError("features", sorted(set(names) - set(FEATURE_NAMES)), f"among {FEATURE_NAMES}")
    g = int(n_levels)
    mask = np.asarray(mask, dtype=bool)
    lv = np.where(mask, np.asarray(levels), 0)
    if mask.any() and (lv[mask].min() < 1 or lv[mask].max() > g):
        raise InvalidParameterError("levels", f"range {lv[mask].min()}..{lv[mask].max()}", f"grey levels 1..{g}")
    box, crop, _, centres = _prepare(lv.astype(np.int64), mask, radius, 0)
    n_i = g + 1
    offsets = _offsets(radius)
    strides = _flat_stride(crop.shape, offsets)
    radius_arr = np.array(radius)
    # Pair codes per direction and the window offsets whose partner o + d stays in the box.
    flat = crop.ravel()
    # Canonical pair code min(i, j)·(N_g+1) + max(i, j) per direction (the matrices are symmetrised below);
    # a pair touching a voxel outside the ROI (level 0) gets a sentinel that sorts last and is dropped.
    sentinel = np.iinfo(np.int32).max
    plan = []
    for d in DIRECTIONS_3D:
        d_stride = int(_flat_stride(crop.shape, np.array([d]))[0])
        partner = np.roll(flat, -d_stride)  # padding >= 1 voxel: a wrapped partner is padding (level 0)
        code = np.minimum(flat, partner) * n_i + np.maximum(flat, partner)
        code = np.where((flat > 0) & (partner > 0), code, sentinel).astype(np.int32)
        keep = np.all(np.abs(offsets + np.array(d)) <= radius_arr, axis=1)
        plan.append((code, strides[keep]))
    plan = [(code, shifts) for code, shifts in plan if shifts.size]  # a flat box has no pair along some directions
    groups = [plan] if aggregation == "3D_comb" else [[step] for step in plan]
    keys_per_voxel = max([sum(s.size for _, s in group) for group in groups] + [1])
    chunk = int(max_chunk_mb * 2**20 / (128 * keys_per_voxel))  # keys, runs and feature temporaries per key
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for part in _chunks(centres.size, chunk):
        c = centres[part]
        n_v = c.size
        total = {name: np.zeros(n_v) for name in names}
        n_valid = np.zeros(n_v)
        for group in groups:
            # Each voxel's pair codes in one row; sorting the rows turns equal codes into runs = matrix entries.
            rows = np.sort(np.concatenate([code[c[:, None] + shifts[None, :]] for code, shifts in group], axis=1),
                           axis=1)
            flat_rows = rows.ravel()
            start = np.ones(flat_rows.size, dtype=bool)
            start[1:] = flat_rows[1:] != flat_rows[:-1]
            start[:: rows.shape[1]] = True  # a new row starts a new run
            first = np.flatnonzero(start)
            count = np.diff(np.append(first, flat_rows.size)).astype(float)
            keys = flat_rows[first]
            voxel = first // rows.shape[1]
            real = keys != sentinel
            keys, voxel, count = keys[real], voxel[real], count[real]
            i, j = keys // n_i, keys % n_i
            values = symmetric_glcm_features(voxel, i, j, count, n_v, g)
            valid = ~np.isnan(values[names[0]]) if names else np.zeros(n_v, bool)
            n_valid += valid
            for name in names:
                total[name] += np.where(valid, values[name], 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            for name in names:
                parts[name].append(total[name] / n_valid)  # NaN where no direction has a voxel pair
    inner = tuple(slice(r + 1, -(r + 1)) for r in radius)
    return {f"cm_{name}_{aggregation}": _place(lv.shape, box, np.concatenate(parts[name]), centres, crop.shape,
                                                 inner)
            for name in names}


def feature_maps(
    image: Volume | np.ndarray,
    mask: Volume | np.ndarray,
    spacing: Sequence[float] | None = None,
    *,
    radius_voxels: int | Sequence[int] | None = None,
    radius_mm: float | None = None,
    families: Sequence[str] = ("stat", "cm"),
    settings=None,
    glcm_aggregation: str = "3D_comb",
    max_chunk_mb: float = 256.0,
) -> dict[str, np.ndarray]:
    """Voxel-wise IBSI feature maps of an image inside an ROI (habitat analysis).

    Parameters
    ----------
    image, mask : Volume or numpy.ndarray
        (z, y, x) image in calibrated units and binary ROI mask on the same grid.
    spacing : sequence of float, optional
        Voxel spacing (z, y, x) in mm; required for arrays (taken from a Volume).
    radius_voxels, radius_mm : optional
        Neighbourhood box half-width, in voxels or mm (exactly one; see :func:`window_radius`).
    families : sequence of str
        ``"stat"`` (the 18 intensity statistics, on the raw intensities) and/or ``"cm"`` (GLCM).
    settings : RadiomicsSettings or str, optional
        Discretisation for the GLCM (``fbs``/``fbn`` over the whole ROI first, as PyRadiomics' voxel-based mode
        does; re-segmentation range applied to the mask). Interpolation settings are not applied (maps stay on
        the image grid). Default: ``RadiomicsSettings()`` (FBN 32 bins).
    glcm_aggregation : {"3D_comb", "3D_avg"}
        See :func:`glcm_maps`.
    max_chunk_mb : float
        Memory budget per chunk, MiB.

    Returns
    -------
    dict
        IBSI tag (``stat_mean``, ``cm_joint_avg_3D_comb``, ...) → float64 map with the image's shape, NaN outside
        the ROI.
    """
    from imagebio.radiomics import processing
    from imagebio.radiomics.settings import RadiomicsSettings, load_settings

    cfg = RadiomicsSettings() if settings is None else load_settings(settings)
    img = np.asarray(image.array if isinstance(image, Volume) else image, dtype=np.float64)
    roi = np.asarray(mask.array if isinstance(mask, Volume) else mask)
    if spacing is None:
        spacing = image.spacing if isinstance(image, Volume) else (mask.spacing if isinstance(mask, Volume) else None)
    if spacing is None:
        raise InvalidParameterError("spacing", None, "voxel spacing (z, y, x) in mm for array inputs")
    if img.ndim != 3 or img.shape != roi.shape:
        raise GeometryMismatchError(f"mask shape {roi.shape} differs from image shape {img.shape} (3D expected)")
    if roi.dtype != bool and np.any((roi != 0) & (roi != 1)):
        raise InvalidParameterError("mask", "values besides 0 and 1", "a binary ROI mask")
    roi = roi != 0
    unknown = set(families) - {"stat", "cm"}
    if unknown:
        raise InvalidParameterError("families", sorted(unknown), "'stat' and/or 'cm'")
    radius = window_radius(spacing, radius_voxels, radius_mm)
    if cfg.resegmentation_range is not None:
        roi = processing.resegment_range(img, roi, *cfg.resegmentation_range)
    if not roi.any():
        raise EmptyMaskError("mask", detail="no voxel for feature maps (after re-segmentation)")
    out: dict[str, np.ndarray] = {}
    if "stat" in families:
        out |= first_order_maps(img, roi, radius, max_chunk_mb=max_chunk_mb)
    if "cm" in families:
        if cfg.discretisation == "fbn":
            levels, n_levels = processing.discretise_fixed_bin_number(img, roi, int(cfg.n_bins)), int(cfg.n_bins)
        elif cfg.discretisation == "fbs":
            width = float(cfg.bin_width)
            values = img[roi]
            lower = None if cfg.resegmentation_range is None else cfg.resegmentation_range[0]
            if cfg.fbs_bin_origin == "zero":
                lower = math.floor(float(values.min()) / width) * width
            levels = processing.discretise_fixed_bin_size(img, roi, width, lower)
            n_levels = int(levels[roi].max())
        else:
            levels = np.where(roi, img, 0).astype(np.int64)
            n_levels = int(levels.max())
        out |= glcm_maps(levels, roi, n_levels, radius, glcm_aggregation, max_chunk_mb=max_chunk_mb)
    return out
