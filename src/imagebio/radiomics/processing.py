"""The IBSI 1 image-processing chain: interpolation, rounding, ROI interpolation, re-segmentation, discretisation.

Every step is a pure function on ``(z, y, x)`` arrays with ``spacing`` (z, y, x) in mm.

Reference: IBSI 1 reference manual (Zwanenburg et al., arXiv:1612.07003), chapter 2 "Image processing":
interpolation (grid centred on the original grid, size ``ceil(extent / new spacing)``), re-segmentation
(range and outlier filtering) and discretisation (fixed bin number / fixed bin size); section 4 (IVH) for the
intensity-volume-histogram discretisation; section 5 / "Radiomics phantom diagnostic features" for diagnostics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from imagebio.errors import EmptyMaskError, InvalidParameterError

__all__ = [
    "interpolation_grid",
    "interpolate_image",
    "interpolate_mask",
    "round_intensities",
    "resegment_range",
    "resegment_outliers",
    "discretise_fixed_bin_number",
    "discretise_fixed_bin_size",
    "ivh_discretise",
    "bounding_box",
    "diagnostic_features",
]

_SPLINE_ORDER = {"nearest": 0, "linear": 1, "cubic": 3}


def interpolation_grid(
    shape: Sequence[int], spacing: Sequence[float], new_spacing: Sequence[float | None]
) -> tuple[tuple[int, ...], np.ndarray, np.ndarray]:
    """IBSI interpolation grid: size, first sample and step, in original voxel-index units.

    Parameters
    ----------
    shape : sequence of int
        Original array shape (z, y, x).
    spacing : sequence of float
        Original spacing (z, y, x) in mm.
    new_spacing : sequence of (float or None)
        New spacing (z, y, x) in mm; ``None`` keeps that axis unchanged (2D in-plane interpolation).

    Returns
    -------
    new_shape : tuple of int
        ``ceil(n * s / s_new)`` per axis.
    start : numpy.ndarray
        Original-index position of the first new grid point, ``((n-1) s - (n_new-1) s_new) / (2 s)``, so that the
        new grid is centred on the original one (IBSI 1 manual, section 2.4).
    step : numpy.ndarray
        ``s_new / s`` per axis.
    """
    new_shape, start, step = [], [], []
    for n, s, s_new in zip(shape, spacing, new_spacing, strict=True):
        if s_new is None or math.isclose(s_new, s, rel_tol=1e-9):
            new_shape.append(int(n))
            start.append(0.0)
            step.append(1.0)
            continue
        # Round before ceil so that e.g. 60 * 3 / 2 computed as 90.0000001 still gives 90.
        n_new = int(math.ceil(round(n * s / s_new, 6)))
        new_shape.append(n_new)
        start.append(((n - 1) * s - (n_new - 1) * s_new) / (2.0 * s))
        step.append(s_new / s)
    return tuple(new_shape), np.asarray(start, dtype=float), np.asarray(step, dtype=float)


def _resample(array: np.ndarray, spacing, new_spacing, order: int) -> tuple[np.ndarray, tuple[float, float, float]]:
    from scipy import ndimage

    new_shape, start, step = interpolation_grid(array.shape, spacing, new_spacing)
    out_spacing = tuple(float(s) if ns is None else float(ns) for s, ns in zip(spacing, new_spacing, strict=True))
    if new_shape == array.shape and np.allclose(step, 1.0) and np.allclose(start, 0.0):
        return array.astype(np.float64, copy=True), out_spacing
    # mode="nearest": IBSI extrapolates beyond the grid edge with the nearest boundary value.
    out = ndimage.affine_transform(
        array.astype(np.float64), step, offset=start, output_shape=new_shape, order=order, mode="nearest",
        prefilter=order > 1,
    )
    return out, out_spacing


def interpolate_image(
    image: np.ndarray,
    spacing: Sequence[float],
    new_spacing: Sequence[float | None],
    interpolator: str = "linear",
) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Resample an image onto the IBSI interpolation grid.

    Parameters
    ----------
    image : numpy.ndarray
        Intensities (z, y, x), any units.
    spacing : sequence of float
        Spacing (z, y, x) in mm.
    new_spacing : sequence of (float or None)
        Target spacing (z, y, x) in mm; ``None`` for z gives in-plane (2D) interpolation.
    interpolator : {"nearest", "linear", "cubic"}
        Nearest neighbour, (bi/tri)linear, or (tri)cubic B-spline.

    Returns
    -------
    image : numpy.ndarray
        Resampled intensities (float64), same units.
    spacing : tuple of float
        The new spacing (z, y, x) in mm.
    """
    if interpolator not in _SPLINE_ORDER:
        raise InvalidParameterError("interpolator", interpolator, f"one of {tuple(_SPLINE_ORDER)}")
    return _resample(np.asarray(image), spacing, new_spacing, _SPLINE_ORDER[interpolator])


def interpolate_mask(
    mask: np.ndarray,
    spacing: Sequence[float],
    new_spacing: Sequence[float | None],
    interpolator: str = "linear",
    partial_volume_threshold: float = 0.5,
) -> np.ndarray:
    """Resample a ROI mask like an image and keep voxels whose value is ``>= partial_volume_threshold``.

    IBSI 1 manual, section 2.4 ("ROI interpolation"); ``spacing``/``new_spacing`` in mm (z, y, x).
    """
    if interpolator not in _SPLINE_ORDER:
        raise InvalidParameterError("interpolator", interpolator, f"one of {tuple(_SPLINE_ORDER)}")
    values, _ = _resample(np.asarray(mask, dtype=np.float64), spacing, new_spacing, _SPLINE_ORDER[interpolator])
    # Tiny tolerance so that an exact 0.5 computed as 0.49999999 is still kept.
    return values >= partial_volume_threshold - 1e-9


def round_intensities(image: np.ndarray) -> np.ndarray:
    """Round intensities to the nearest integer (IBSI: after interpolation of calibrated CT intensities)."""
    return np.rint(np.asarray(image, dtype=np.float64))


def resegment_range(
    image: np.ndarray, mask: np.ndarray, lower: float | None = None, upper: float | None = None
) -> np.ndarray:
    """Intensity mask restricted to ``lower <= intensity <= upper`` (IBSI 1 section 2.5, range re-segmentation).

    ``lower``/``upper`` are in image units (e.g. HU); ``None`` leaves that side open.
    """
    out = np.asarray(mask, dtype=bool).copy()
    if lower is not None:
        out &= image >= lower
    if upper is not None:
        out &= image <= upper
    return out


def resegment_outliers(image: np.ndarray, mask: np.ndarray, n_sigma: float = 3.0) -> np.ndarray:
    """Intensity mask without outliers outside mean ± ``n_sigma`` SD of the ROI (IBSI 1 section 2.5).

    The mean and (population) SD are those of the intensities inside ``mask``.
    """
    mask = np.asarray(mask, dtype=bool)
    values = image[mask]
    if values.size == 0:
        raise EmptyMaskError("intensity mask", detail="no voxel left before outlier re-segmentation")
    mu, sd = float(values.mean()), float(values.std())
    return mask & (image >= mu - n_sigma * sd) & (image <= mu + n_sigma * sd)


def discretise_fixed_bin_number(image: np.ndarray, mask: np.ndarray, n_bins: int) -> np.ndarray:
    """Fixed bin number discretisation: ``floor(Ng (X - Xmin) / (Xmax - Xmin)) + 1``, ``Xmax`` → ``Ng``.

    ``Xmin``/``Xmax`` are the extreme intensities in ``mask``. Returns an int array with grey levels
    ``1..n_bins`` inside ``mask`` and 0 outside (IBSI 1 section 2.7).
    """
    mask = np.asarray(mask, dtype=bool)
    values = image[mask]
    if values.size == 0:
        raise EmptyMaskError("intensity mask", detail="nothing to discretise")
    lo, hi = float(values.min()), float(values.max())
    out = np.zeros(image.shape, dtype=np.int64)
    if hi == lo:
        out[mask] = 1
        return out
    levels = np.floor(n_bins * (values - lo) / (hi - lo)).astype(np.int64) + 1
    out[mask] = np.minimum(levels, n_bins)
    return out


def discretise_fixed_bin_size(
    image: np.ndarray, mask: np.ndarray, bin_width: float, lower_bound: float | None = None
) -> np.ndarray:
    """Fixed bin size discretisation: ``floor((X - X_min) / w) + 1`` (IBSI 1 section 2.7).

    ``X_min`` is ``lower_bound`` (the lower re-segmentation bound, image units) when given, else the ROI minimum.
    ``bin_width`` in image units. Returns an int array (levels >= 1 inside ``mask``, 0 outside).
    """
    mask = np.asarray(mask, dtype=bool)
    values = image[mask]
    if values.size == 0:
        raise EmptyMaskError("intensity mask", detail="nothing to discretise")
    x_min = float(values.min()) if lower_bound is None else float(lower_bound)
    out = np.zeros(image.shape, dtype=np.int64)
    out[mask] = np.floor((values - x_min) / bin_width).astype(np.int64) + 1
    return out


def ivh_discretise(
    values: np.ndarray,
    method: str = "none",
    *,
    bin_width: float | None = None,
    n_bins: int | None = None,
    resegmentation_range: tuple[float | None, float | None] | None = None,
) -> tuple[np.ndarray, float, float, float]:
    """Intensities for the intensity-volume histogram, with its total range G and interval ``w_d``.

    IBSI 1 manual, section "Intensity-volume histogram features":

    * ``"none"`` (calibrated discrete, e.g. integer HU): values unchanged, ``w_d = 1``; G = re-segmentation range
      (an open upper bound becomes ``max(X)``), else ``[min(X), max(X)]``.
    * ``"fbs"`` (calibrated continuous): bin centres ``X_min + (X_d - 0.5) w_b``, ``w_d = w_b``,
      ``G = [X_min + w_b/2, X_max - w_b/2]`` with ``X_min``/``X_max`` the re-segmentation bounds when given.
    * ``"fbn"`` (arbitrary units): ``X_d`` in ``1..N_g``, ``w_d = 1``, ``G = [1, N_g]``.

    Returns
    -------
    values : numpy.ndarray
        Discretised intensities of the ROI voxels.
    g_min, g_max : float
        Total range G.
    interval : float
        Discretisation interval ``w_d``.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        raise EmptyMaskError("intensity mask", detail="no voxel for the intensity-volume histogram")
    lo, hi = (None, None) if resegmentation_range is None else resegmentation_range
    x_min = float(values.min()) if lo is None else float(lo)
    x_max = float(values.max()) if hi is None else float(hi)
    if method == "none":
        return values, x_min, x_max, 1.0
    if method == "fbs":
        if bin_width is None or bin_width <= 0:
            raise InvalidParameterError("ivh_bin_width", bin_width, "a positive bin width")
        bins = np.floor((values - x_min) / bin_width) + 1
        return x_min + (bins - 0.5) * bin_width, x_min + 0.5 * bin_width, x_max - 0.5 * bin_width, float(bin_width)
    if method == "fbn":
        if n_bins is None or n_bins < 1:
            raise InvalidParameterError("ivh_n_bins", n_bins, "a positive number of bins")
        v_lo, v_hi = float(values.min()), float(values.max())
        if v_hi == v_lo:
            levels = np.ones_like(values)
        else:
            levels = np.minimum(np.floor(n_bins * (values - v_lo) / (v_hi - v_lo)) + 1, n_bins)
        return levels, 1.0, float(n_bins), 1.0
    raise InvalidParameterError("ivh_discretisation", method, "one of ('none', 'fbs', 'fbn')")


def bounding_box(mask: np.ndarray) -> tuple[slice, ...]:
    """Tight bounding box of a non-empty mask, as slices (z, y, x)."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        raise EmptyMaskError("mask", detail="bounding box of an empty mask")
    out = []
    for axis in range(mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        idx = np.flatnonzero(mask.any(axis=other))
        out.append(slice(int(idx[0]), int(idx[-1]) + 1))
    return tuple(out)


def _box_dims(mask: np.ndarray) -> tuple[int, int, int]:
    if not mask.any():
        return (0, 0, 0)
    box = bounding_box(mask)
    return tuple(s.stop - s.start for s in box)


def diagnostic_features(
    image: np.ndarray,
    spacing: Sequence[float],
    intensity_mask: np.ndarray,
    morphological_mask: np.ndarray,
    stage: str,
) -> dict[str, float]:
    """IBSI radiomics-phantom diagnostic features for one processing stage.

    Parameters
    ----------
    image : numpy.ndarray
        Whole image (z, y, x) at that stage.
    spacing : sequence of float
        Spacing (z, y, x) in mm.
    intensity_mask, morphological_mask : numpy.ndarray
        Masks (bool) at that stage.
    stage : {"init", "interp", "reseg"}
        Processing stage; the image diagnostics (``img_dim_*``, ``vox_dim_*``, ``*_int_*_img``) are produced for
        ``init`` and ``interp``, the ROI diagnostics for every stage (suffix ``_<stage>_roi``).

    Returns
    -------
    dict
        IBSI tags (e.g. ``img_dim_x_init_img``, ``int_mask_vox_count_reseg_roi``) → value; dimensions in voxels,
        voxel sizes in mm, intensities in image units.
    """
    if stage not in ("init", "interp", "reseg"):
        raise InvalidParameterError("stage", stage, "one of ('init', 'interp', 'reseg')")
    out: dict[str, float] = {}
    axes = ("z", "y", "x")
    if stage in ("init", "interp"):
        for axis, n, s in zip(axes, image.shape, spacing, strict=True):
            out[f"img_dim_{axis}_{stage}_img"] = float(n)
            out[f"vox_dim_{axis}_{stage}_img"] = float(s)
        out[f"mean_int_{stage}_img"] = float(image.mean())
        out[f"min_int_{stage}_img"] = float(image.min())
        out[f"max_int_{stage}_img"] = float(image.max())
    suffix = f"{stage}_roi"
    int_mask = np.asarray(intensity_mask, dtype=bool)
    morph_mask = np.asarray(morphological_mask, dtype=bool)
    for axis, n in zip(axes, int_mask.shape, strict=True):
        out[f"int_mask_dim_{axis}_{suffix}"] = float(n)
    for prefix, mask in (("int_mask", int_mask), ("morph_mask", morph_mask)):
        for axis, n in zip(axes, _box_dims(mask), strict=True):
            out[f"{prefix}_bb_dim_{axis}_{suffix}"] = float(n)
        out[f"{prefix}_vox_count_{suffix}"] = float(mask.sum())
    values = image[int_mask]
    if values.size:
        out[f"int_mask_mean_int_{suffix}"] = float(values.mean())
        out[f"int_mask_min_int_{suffix}"] = float(values.min())
        out[f"int_mask_max_int_{suffix}"] = float(values.max())
    return out
