"""Run the IBSI 1 processing chain and every feature family on one image + ROI mask.

Reference: IBSI 1 reference manual (arXiv:1612.07003), figure 2.1 (processing order): initial rounding,
interpolation (image and ROI), intensity rounding, ROI partial-volume threshold, re-segmentation (range, then
outliers; intensity mask only), discretisation; then morphology, local intensity, statistics, histogram, IVH and
texture features.
"""

from __future__ import annotations

import importlib
import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from imagebio.errors import EmptyMaskError, GeometryMismatchError, InvalidParameterError
from imagebio.radiomics import processing
from imagebio.radiomics.histogram import histogram_features
from imagebio.radiomics.ivh import ivh_features
from imagebio.radiomics.local_intensity import local_intensity_features
from imagebio.radiomics.morphology import morphology_features
from imagebio.radiomics.settings import RadiomicsSettings, load_settings
from imagebio.radiomics.statistics import statistics_features
from imagebio.volume import Volume

__all__ = ["extract_features", "TEXTURE_MODULES"]

#: Texture families (``imagebio.radiomics.texture.<name>``) called when installed, in output order.
TEXTURE_MODULES = ("glcm", "glrlm", "glszm", "gldzm", "ngtdm", "ngldm")


def _as_array(data, what: str) -> tuple[np.ndarray, tuple[float, float, float] | None]:
    if isinstance(data, Volume):
        return np.asarray(data.array), tuple(data.spacing)
    array = np.asarray(data)
    if array.ndim != 3:
        raise InvalidParameterError(what, f"array of shape {array.shape}", "a 3D array (z, y, x) or a Volume")
    return array, None


def _texture_modules() -> list:
    modules = []
    for name in TEXTURE_MODULES:
        try:
            modules.append(importlib.import_module(f"imagebio.radiomics.texture.{name}"))
        except ModuleNotFoundError as exc:
            # Only a missing texture module is tolerated, not a missing dependency inside it.
            if exc.name not in (f"imagebio.radiomics.texture.{name}", "imagebio.radiomics.texture"):
                raise
    return modules


def extract_features(
    image: Volume | np.ndarray,
    mask: Volume | np.ndarray,
    spacing: Sequence[float] | None = None,
    settings: RadiomicsSettings | str | Path | None = None,
    *,
    families: Sequence[str] | None = None,
) -> dict[str, float]:
    """Compute IBSI 1 features of one ROI.

    Parameters
    ----------
    image : Volume or numpy.ndarray
        Image (z, y, x) in its calibrated units (e.g. HU).
    mask : Volume or numpy.ndarray
        ROI mask on the same grid (non-zero = inside; values are rounded first when
        ``settings.round_initial_intensities``).
    spacing : sequence of float, optional
        Spacing (z, y, x) in mm; required for arrays, taken from ``image`` when it is a ``Volume``.
    settings : RadiomicsSettings, str or Path
        Settings, a preset name (``ibsi_digital_phantom``, ``ibsi_config_a`` … ``ibsi_config_e``) or a YAML file;
        default ``RadiomicsSettings()`` (no interpolation, FBN 32 bins, 3D texture).
    families : sequence of str, optional
        Restrict to feature-tag prefixes, e.g. ``("morph", "stat")``; diagnostics are always returned.
        Default: all families (texture families only when their modules are installed).

    Returns
    -------
    dict
        IBSI tag → value: diagnostics (``img_dim_x_init_img`` …), ``morph_*``, ``loc_*``, ``stat_*``, ``ih_*``,
        ``ivh_*`` and texture tags (``cm_*``, ``rlm_*``, ``szm_*``, ``dzm_*``, ``ngt_*``, ``ngl_*``).
    """
    cfg = RadiomicsSettings() if settings is None else load_settings(settings)
    img, img_spacing = _as_array(image, "image")
    roi, roi_spacing = _as_array(mask, "mask")
    if spacing is None:
        spacing = img_spacing or roi_spacing
    if spacing is None:
        raise InvalidParameterError("spacing", None, "voxel spacing (z, y, x) in mm for array inputs")
    spacing = tuple(float(s) for s in spacing)
    if img.shape != roi.shape:
        raise GeometryMismatchError(f"mask shape {roi.shape} differs from image shape {img.shape}")
    if isinstance(image, Volume) and isinstance(mask, Volume):
        from imagebio.volume import check_same_grid

        check_same_grid(image, mask, "ROI mask")
    if families is None:
        families = cfg.families
    wanted = None if families is None else {f.rstrip("_") for f in families}

    def want(prefix: str) -> bool:
        return wanted is None or prefix in wanted

    if (cfg.round_initial_intensities or cfg.new_spacing_mm is not None or cfg.filter is not None
            or not np.issubdtype(img.dtype, np.integer)):
        img = np.asarray(img, dtype=np.float64)
    # else: integer input (e.g. int16 HU) is converted after cropping to the ROI (memory on large images)
    if cfg.round_initial_intensities:
        img = np.rint(img)
    if roi.dtype != bool:  # a boolean mask needs no float copy (memory on large images)
        roi = np.asarray(roi, dtype=np.float64)
        if cfg.round_initial_intensities:
            roi = np.rint(roi)
        _check_binary_mask(roi)
        roi = roi > 0.5 if cfg.round_initial_intensities else roi != 0
    if not roi.any():
        raise EmptyMaskError("mask", detail="the ROI mask has no voxel")
    _check_finite(img, roi, "")

    features: dict[str, float] = {}
    features.update(processing.diagnostic_features(img, spacing, roi, roi, "init"))

    if cfg.new_spacing_mm is not None:
        new_spacing = cfg.new_spacing_mm
        img, out_spacing = processing.interpolate_image(img, spacing, new_spacing, cfg.image_interpolator)
        if cfg.round_interpolated_intensities:
            img = processing.round_intensities(img)
        roi = processing.interpolate_mask(roi, spacing, new_spacing, cfg.roi_interpolator,
                                          cfg.roi_partial_volume_threshold)
        spacing = out_spacing
        if not roi.any():
            raise EmptyMaskError("mask", detail="no voxel left after ROI interpolation")
        _check_finite(img, roi, " after interpolation (non-finite voxels next to the ROI spread into it)")
    features.update(processing.diagnostic_features(img, spacing, roi, roi, "interp"))

    morph_mask = roi
    int_mask = roi
    lower = upper = None
    if cfg.resegmentation_range is not None:
        lower, upper = cfg.resegmentation_range
        int_mask = processing.resegment_range(img, int_mask, lower, upper)
    if cfg.outlier_sigma is not None:
        int_mask = processing.resegment_outliers(img, int_mask, cfg.outlier_sigma)
    features.update(processing.diagnostic_features(img, spacing, int_mask, morph_mask, "reseg"))
    if not int_mask.any():
        raise EmptyMaskError("intensity mask", detail="no voxel left after re-segmentation")

    if cfg.filter is not None:
        # IBSI 2: masks come from the unfiltered image; intensity features use the filter response map.
        from imagebio.radiomics.filters import response_map_near_roi

        reach_mm = 10.0 * (3.0 * cfg.local_intensity_volume_cm3 / (4.0 * math.pi)) ** (1.0 / 3.0)
        img = response_map_near_roi(img, spacing, cfg.filter, morph_mask, margin_mm=reach_mm)
        lower = None  # re-segmentation bounds are unfiltered intensities: bins of a response start at its minimum
    # Memory: every feature below depends only on ROI voxels and, for the local intensity peak, on voxels within
    # the peak sphere's radius (the filter response is already computed), so the arrays are cropped to the ROI box
    # plus that reach.
    img, int_mask, morph_mask = _crop_to_roi(img, int_mask, morph_mask, spacing, cfg.local_intensity_volume_cm3)
    # A copy, not a view: the whole-image float64 array made above is then freed before the feature families run.
    img = np.array(img, dtype=np.float64)

    if want("morph"):
        features.update(morphology_features(img, int_mask, morph_mask, spacing))
    if want("loc"):
        features.update(local_intensity_features(img, int_mask, spacing, cfg.local_intensity_volume_cm3))
    values = img[int_mask]
    if want("stat"):
        features.update(statistics_features(values))

    if cfg.discretisation == "fbn":
        levels = processing.discretise_fixed_bin_number(img, int_mask, int(cfg.n_bins))
        n_levels = int(cfg.n_bins)
    elif cfg.discretisation == "fbs":
        if cfg.fbs_bin_origin == "zero":
            # PyRadiomics convention: bin edges at multiples of the bin width, the first at or below the minimum.
            lower = math.floor(float(values.min()) / float(cfg.bin_width)) * float(cfg.bin_width)
        levels = processing.discretise_fixed_bin_size(img, int_mask, float(cfg.bin_width), lower)
        n_levels = int(levels[int_mask].max())
    else:
        if np.any(values < 1) or np.any(values != np.rint(values)):
            raise InvalidParameterError("discretisation", "none",
                                        "integer grey levels >= 1 in the ROI (otherwise use 'fbs' or 'fbn')")
        levels = np.where(int_mask, img, 0).astype(np.int64)
        n_levels = int(levels.max())
    if want("ih"):
        features.update(histogram_features(levels[int_mask]))
    if want("ivh"):
        ivh_values, g_min, g_max, interval = processing.ivh_discretise(
            values, cfg.ivh_discretisation, bin_width=cfg.ivh_bin_width, n_bins=cfg.ivh_n_bins,
            resegmentation_range=None if cfg.filter is not None else cfg.resegmentation_range)
        features.update(ivh_features(ivh_values, g_min, g_max, interval))

    texture = [m for m in _texture_modules() if want(_family_prefix(m))]
    if texture:
        # Crop to the morphological-mask box with a one-voxel empty margin: texture matrices only see ROI voxels.
        box = processing.bounding_box(morph_mask)
        crop_levels = np.pad(np.where(int_mask, levels, 0)[box], 1)
        crop_int = np.pad(int_mask[box], 1)
        crop_morph = np.pad(morph_mask[box], 1)
        for module in texture:
            features.update(module.compute(crop_levels, crop_int, n_levels, spacing,
                                           approaches=cfg.texture_approaches, morph_mask=crop_morph))
    undefined = [tag for tag, value in features.items() if not math.isfinite(value)]
    if undefined:
        # Documented behaviour for tiny ROIs (e.g. one voxel: no neighbour pairs, no PCA axes): NaN, not an error.
        warnings.warn(f"{len(undefined)} radiomics features are undefined (NaN) for this ROI of "
                      f"{int(int_mask.sum())} voxel(s), e.g. {', '.join(undefined[:3])}", RuntimeWarning, stacklevel=2)
    return features


def _crop_to_roi(image: np.ndarray, int_mask: np.ndarray, morph_mask: np.ndarray, spacing, volume_cm3: float):
    """Crop image and masks to the morphological-mask box grown by the local-intensity sphere radius + 1 voxel."""
    reach_mm = 10.0 * (3.0 * volume_cm3 / (4.0 * math.pi)) ** (1.0 / 3.0)
    box = processing.bounding_box(morph_mask)
    crop = tuple(slice(max(0, b.start - m), min(n, b.stop + m)) for b, n, m in
                 zip(box, morph_mask.shape, (math.ceil(reach_mm / s) + 1 for s in spacing)))
    return image[crop], int_mask[crop], morph_mask[crop]


def _check_binary_mask(mask: np.ndarray) -> None:
    """Raise when a mask holds values other than 0 and 1 (a label map or a probability map, not one ROI)."""
    if mask.dtype == bool:
        return
    other = (mask != 0) & (mask != 1)
    if other.any():
        found = np.unique(mask[other])[:5].tolist()
        raise InvalidParameterError("mask", f"values {found} besides 0 and 1",
                                    "a binary ROI mask (0/1); split label maps with imagebio.io.masks.read_roi_masks")


def _check_finite(image: np.ndarray, roi: np.ndarray, when: str) -> None:
    """Raise for NaN/inf intensities inside the ROI; warn for those outside it (they may reach neighbourhoods)."""
    bad = ~np.isfinite(image)
    if not bad.any():
        return
    inside = int(np.count_nonzero(bad & roi))
    if inside:
        raise InvalidParameterError("image", f"{inside} non-finite (NaN/inf) voxel(s) inside the ROI{when}",
                                    "finite intensities in the ROI (exclude those voxels from the mask)")
    warnings.warn(f"{int(bad.sum())} non-finite (NaN/inf) voxel(s) outside the ROI; neighbourhood features "
                  "(local intensity peak) touching them are NaN", RuntimeWarning, stacklevel=3)


_PREFIX = {"glcm": "cm", "glrlm": "rlm", "glszm": "szm", "gldzm": "dzm", "ngtdm": "ngt", "ngldm": "ngl"}


def _family_prefix(module) -> str:
    return _PREFIX[module.__name__.rsplit(".", 1)[-1]]
