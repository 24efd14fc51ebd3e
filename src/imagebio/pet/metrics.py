"""Lesion metabolism metrics on SUV (or SUL) images: SUVmax, SUVmean, SUVpeak, percentiles, MTV, TLG, Dmax.

All functions take the uptake image and masks as arrays (z, y, x) with ``spacing`` (z, y, x) in mm; values keep the
image's unit (SUVbw, SUL, Bq/mL...). Volumes are in mL (1 mL = 1000 mm³).

Metabolic tumour volume (MTV) is the volume of the mask voxels whose value is at or above a threshold:

* absolute: a fixed SUV (2.5 and 4.0 are common; Boellaard 2015, EANM FDG guideline v2.0);
* relative: a fraction of the lesion's SUVmax (41 % per EANM, 50 % also common);
* PERCIST: ``1.5 × liver mean + 2 × liver SD`` on SUL (Wahl 2009; see
  :func:`imagebio.pet.reference_regions.percist_threshold`).

Total lesion glycolysis ``TLG = MTV × SUVmean(MTV)`` (Larson 1999), in mL·(image unit).
Dmax is the largest distance (mm) between the centroids of two lesions (Cottereau 2018, lymphoma).

References
----------
Boellaard R et al. FDG PET/CT: EANM procedure guidelines for tumour imaging: version 2.0. Eur J Nucl Med Mol Imaging
2015;42:328-354. Wahl RL et al. J Nucl Med 2009;50:122S-150S. Larson SM et al. Clin Positron Imaging 1999;2:159-171.
Cottereau AS et al. 18F-FDG PET dissemination features in diffuse large B-cell lymphoma are predictive of outcome.
J Nucl Med 2020;61:40-45 (Dmax).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np

from imagebio.errors import EmptyMaskError, GeometryMismatchError, InvalidParameterError
from imagebio.pet.peak import PeakResult, _check_spacing, sul_peak, suv_peak

__all__ = [
    "LesionMetricSettings",
    "MetabolicVolume",
    "PeakResult",
    "WholeBodyBurden",
    "dmax_mm",
    "lesion_centroids_mm",
    "lesion_metrics",
    "metabolic_volume",
    "relative_threshold",
    "sul_peak",
    "suv_peak",
    "suv_percentiles",
    "suv_statistics",
    "whole_body_burden",
]


def _voxel_ml(spacing: Sequence[float]) -> float:
    return float(np.prod(_check_spacing(spacing))) / 1000.0


def _image_and_mask(image: np.ndarray, mask: np.ndarray, roi: str = "lesion") -> tuple[np.ndarray, np.ndarray]:
    image = np.asarray(image, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if image.shape != mask.shape or image.ndim != 3:
        raise GeometryMismatchError(f"image shape {image.shape} and {roi} mask shape {mask.shape} must be equal 3D "
                                    "shapes")
    if not mask.any():
        raise EmptyMaskError(roi)
    return image, mask


def suv_statistics(image: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """SUVmax, SUVmean, SD (ddof 0), SUVmin and voxel count inside ``mask`` (image unit).

    Raises
    ------
    EmptyMaskError, GeometryMismatchError
    """
    image, mask = _image_and_mask(image, mask)
    values = image[mask]
    return {
        "suv_max": float(values.max()),
        "suv_mean": float(values.mean()),
        "suv_sd": float(values.std()),
        "suv_min": float(values.min()),
        "n_voxels": int(values.size),
    }


def suv_percentiles(image: np.ndarray, mask: np.ndarray, percentiles: Sequence[float] = (50, 90, 95)
                    ) -> dict[str, float]:
    """Percentiles of the values inside ``mask`` (linear interpolation, numpy's default), keyed ``suv_p<q>``."""
    image, mask = _image_and_mask(image, mask)
    q = np.asarray(percentiles, dtype=float)
    if q.size == 0 or np.any((q < 0) | (q > 100)):
        raise InvalidParameterError("percentiles", list(percentiles), "values in [0, 100]")
    values = np.percentile(image[mask], q)
    return {f"suv_p{p:g}": float(v) for p, v in zip(q, values, strict=True)}


def relative_threshold(image: np.ndarray, mask: np.ndarray, percent_of_max: float) -> float:
    """``percent_of_max`` % of the SUVmax inside ``mask`` (e.g. 41 → 0.41·SUVmax)."""
    if not 0 < percent_of_max <= 100:
        raise InvalidParameterError("percent_of_max", percent_of_max, "a percentage in (0, 100]")
    image, mask = _image_and_mask(image, mask)
    return float(image[mask].max()) * percent_of_max / 100.0


@dataclasses.dataclass(frozen=True)
class MetabolicVolume:
    """Voxels of a lesion mask at or above a threshold.

    Attributes
    ----------
    threshold : float
        In the image unit.
    volume_ml : float
        Metabolic tumour volume (mL); 0 when no voxel reaches the threshold.
    suv_mean : float
        Mean of the thresholded voxels (NaN when none).
    tlg : float
        Total lesion glycolysis ``volume_ml × suv_mean`` (mL × image unit; 0 when no voxel).
    n_voxels : int
    """

    threshold: float
    volume_ml: float
    suv_mean: float
    tlg: float
    n_voxels: int


def metabolic_volume(image: np.ndarray, mask: np.ndarray, spacing: Sequence[float], threshold: float
                     ) -> MetabolicVolume:
    """MTV and TLG of the voxels of ``mask`` whose value is ≥ ``threshold``.

    Parameters
    ----------
    image : numpy.ndarray
        Uptake image (z, y, x).
    mask : numpy.ndarray
        Lesion (or search) mask (z, y, x); voxels outside it are never counted.
    spacing : sequence of float
        Voxel size (z, y, x) in mm.
    threshold : float
        In the image unit; see :func:`relative_threshold` and
        :func:`imagebio.pet.reference_regions.percist_threshold`.

    Returns
    -------
    MetabolicVolume
    """
    if not math.isfinite(threshold):
        raise InvalidParameterError("threshold", threshold, "a finite threshold in the image unit")
    image, mask = _image_and_mask(image, mask)
    selected = image[mask & (image >= threshold)]
    n = int(selected.size)
    volume_ml = n * _voxel_ml(spacing)
    mean = float(selected.mean()) if n else math.nan
    return MetabolicVolume(float(threshold), volume_ml, mean, volume_ml * mean if n else 0.0, n)


@dataclasses.dataclass(frozen=True)
class LesionMetricSettings:
    """What :func:`lesion_metrics` computes.

    Attributes
    ----------
    absolute_thresholds : tuple of float
        Fixed thresholds in the image unit (default SUV 2.5 and 4.0).
    percent_thresholds : tuple of float
        Percentages of the lesion SUVmax (default 41 and 50).
    percentiles : tuple of float
        Uptake percentiles to report.
    peak_volume_ml : float
        SUVpeak sphere volume (mL).
    peak_method : {"partial", "ibsi"}
        See :mod:`imagebio.pet.peak`.
    """

    absolute_thresholds: tuple[float, ...] = (2.5, 4.0)
    percent_thresholds: tuple[float, ...] = (41.0, 50.0)
    percentiles: tuple[float, ...] = (50.0, 90.0, 95.0)
    peak_volume_ml: float = 1.0
    peak_method: str = "partial"


def lesion_metrics(
    image: np.ndarray,
    mask: np.ndarray,
    spacing: Sequence[float],
    *,
    settings: LesionMetricSettings | None = None,
    percist_threshold: float | None = None,
) -> dict[str, float]:
    """All metabolism metrics of one lesion, as a flat dict in the image unit.

    Keys: ``suv_max``, ``suv_mean``, ``suv_sd``, ``suv_min``, ``n_voxels``, ``volume_ml`` (mask volume),
    ``suv_peak``, ``suv_peak_at_max`` (sphere on the hottest voxel), ``suv_p<q>``, and for each threshold
    ``mtv_ml_<tag>``, ``tlg_<tag>``, ``suv_mean_<tag>``, ``threshold_<tag>`` with tags ``suv2.5``, ``suv4``,
    ``41pct``, ``50pct`` and ``percist`` (when ``percist_threshold`` is given).

    Parameters
    ----------
    image, mask, spacing
        See :func:`metabolic_volume`.
    settings : LesionMetricSettings, optional
    percist_threshold : float, optional
        PERCIST threshold (image unit, normally SUL), e.g. from
        :func:`imagebio.pet.reference_regions.percist_threshold`.
    """
    settings = settings or LesionMetricSettings()
    image, mask = _image_and_mask(image, mask)
    out: dict[str, float] = dict(suv_statistics(image, mask))
    out["volume_ml"] = out["n_voxels"] * _voxel_ml(spacing)
    peak = suv_peak(image, mask, spacing, volume_ml=settings.peak_volume_ml, method=settings.peak_method)
    out["suv_peak"] = peak.value
    out["suv_peak_at_max"] = peak.value_at_max
    out.update(suv_percentiles(image, mask, settings.percentiles))
    thresholds: dict[str, float] = {f"suv{t:g}": float(t) for t in settings.absolute_thresholds}
    for p in settings.percent_thresholds:
        thresholds[f"{p:g}pct"] = relative_threshold(image, mask, p)
    if percist_threshold is not None:
        thresholds["percist"] = float(percist_threshold)
    for tag, threshold in thresholds.items():
        mtv = metabolic_volume(image, mask, spacing, threshold)
        out[f"threshold_{tag}"] = mtv.threshold
        out[f"mtv_ml_{tag}"] = mtv.volume_ml
        out[f"suv_mean_{tag}"] = mtv.suv_mean
        out[f"tlg_{tag}"] = mtv.tlg
    return out


def _labelled_lesions(lesions: np.ndarray | Sequence[np.ndarray] | Mapping[object, np.ndarray], shape
                      ) -> dict[object, np.ndarray]:
    """Lesion masks keyed by label from a label map (0 = background), a sequence or a mapping of masks."""
    if isinstance(lesions, Mapping):
        items = {key: np.asarray(m, dtype=bool) for key, m in lesions.items()}
    elif isinstance(lesions, np.ndarray) and lesions.ndim == 3:
        labels = np.asarray(lesions)
        if labels.dtype == bool:
            labels = labels.astype(np.int64)
        items = {int(v): labels == v for v in np.unique(labels) if v != 0}
    else:
        items = {i + 1: np.asarray(m, dtype=bool) for i, m in enumerate(lesions)}
    for key, m in items.items():
        if m.shape != tuple(shape):
            raise GeometryMismatchError(f"lesion {key!r} mask shape {m.shape} differs from the image shape {shape}")
    return items


def lesion_centroids_mm(lesions: np.ndarray | Sequence[np.ndarray] | Mapping[object, np.ndarray],
                        spacing: Sequence[float]) -> dict[object, np.ndarray]:
    """Centroid (z, y, x) in mm from voxel [0, 0, 0] of each lesion (label map, sequence or mapping of masks).

    Distances between these centroids are physical distances for any orthonormal image orientation.
    """
    spacing = np.asarray(_check_spacing(spacing))
    first = lesions if isinstance(lesions, np.ndarray) else next(iter(
        lesions.values() if isinstance(lesions, Mapping) else lesions))
    masks = _labelled_lesions(lesions, np.shape(first))
    centroids = {}
    for key, m in masks.items():
        if not m.any():
            raise EmptyMaskError(str(key), detail="(lesion without voxel)")
        centroids[key] = np.argwhere(m).mean(axis=0) * spacing
    return centroids


def dmax_mm(lesions: np.ndarray | Sequence[np.ndarray] | Mapping[object, np.ndarray],
            spacing: Sequence[float]) -> float:
    """Dmax: the largest distance (mm) between the centroids of two lesions (0 for a single lesion).

    References
    ----------
    Cottereau AS et al. J Nucl Med 2020;61:40-45.
    """
    centroids = np.array(list(lesion_centroids_mm(lesions, spacing).values()))
    if len(centroids) < 2:
        return 0.0
    diff = centroids[:, None, :] - centroids[None, :, :]
    return float(np.sqrt((diff**2).sum(axis=-1)).max())


@dataclasses.dataclass(frozen=True)
class WholeBodyBurden:
    """Whole-body tumour burden over all lesions.

    Attributes
    ----------
    total_mtv_ml : float
        Sum of the lesions' MTVs (mL).
    total_tlg : float
        Sum of the lesions' TLGs (mL × image unit).
    n_lesions : int
    dmax_mm : float
        Largest distance between lesion centroids (mm).
    per_lesion : dict
        Label → :class:`MetabolicVolume`.
    """

    total_mtv_ml: float
    total_tlg: float
    n_lesions: int
    dmax_mm: float
    per_lesion: dict[object, MetabolicVolume]


def whole_body_burden(
    image: np.ndarray,
    lesions: np.ndarray | Sequence[np.ndarray] | Mapping[object, np.ndarray],
    spacing: Sequence[float],
    *,
    threshold: float | None = None,
    percent_of_max: float | None = None,
) -> WholeBodyBurden:
    """Total MTV, total TLG and Dmax over all lesions.

    Parameters
    ----------
    image : numpy.ndarray
        Uptake image (z, y, x).
    lesions : label map, sequence of masks or mapping label → mask
        One entry per lesion (a label map uses 0 for background).
    spacing : sequence of float
        Voxel size (z, y, x) in mm.
    threshold : float, optional
        Absolute threshold (image unit) applied to every lesion, e.g. SUV 2.5 or the PERCIST threshold.
    percent_of_max : float, optional
        Per-lesion threshold as a percentage of that lesion's SUVmax (e.g. 41). Give at most one of the two;
        with neither, every mask voxel counts.

    Returns
    -------
    WholeBodyBurden
    """
    if threshold is not None and percent_of_max is not None:
        raise InvalidParameterError("percent_of_max", percent_of_max, "None when an absolute threshold is given")
    image = np.asarray(image, dtype=np.float64)
    masks = _labelled_lesions(lesions, image.shape)
    if not masks:
        raise EmptyMaskError("lesions", detail="(no lesion label)")
    per_lesion: dict[object, MetabolicVolume] = {}
    for key, m in masks.items():
        if percent_of_max is not None:
            level = relative_threshold(image, m, percent_of_max)
        elif threshold is not None:
            level = threshold
        else:
            level = -math.inf
        if math.isinf(level):
            image_m, m = _image_and_mask(image, m, str(key))
            values = image_m[m]
            volume = values.size * _voxel_ml(spacing)
            per_lesion[key] = MetabolicVolume(level, volume, float(values.mean()), volume * float(values.mean()),
                                              int(values.size))
        else:
            per_lesion[key] = metabolic_volume(image, m, spacing, level)
    return WholeBodyBurden(
        total_mtv_ml=float(sum(v.volume_ml for v in per_lesion.values())),
        total_tlg=float(sum(v.tlg for v in per_lesion.values())),
        n_lesions=len(per_lesion),
        dmax_mm=dmax_mm(masks, spacing),
        per_lesion=per_lesion,
    )
