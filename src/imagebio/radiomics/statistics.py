"""IBSI intensity-based statistical features (``stat_*``).

Reference: IBSI 1 reference manual (arXiv:1612.07003), section 3.3. Computed in 3D over the intensities of the
ROI intensity mask; no bias corrections (population moments); percentiles by linear interpolation.
"""

from __future__ import annotations

import numpy as np

from imagebio.errors import EmptyMaskError

__all__ = ["distribution_features", "statistics_features"]


def distribution_features(values: np.ndarray, prefix: str) -> dict[str, float]:
    """Moment and percentile features shared by ``stat_`` and ``ih_`` (mean, var, skew, kurt, median, min, p10,
    p90, max, iqr, range, mad, rmad, medad, cov, qcod), same units as ``values`` (squared for the variance)."""
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0:
        raise EmptyMaskError("intensity mask", detail=f"no voxel for {prefix}features")
    mean = float(x.mean())
    dev = x - mean
    var = float(np.mean(dev**2))
    p10, p25, median, p75, p90 = (float(v) for v in np.percentile(x, [10, 25, 50, 75, 90]))
    robust = x[(x >= p10) & (x <= p90)]
    return {
        f"{prefix}mean": mean,
        f"{prefix}var": var,
        f"{prefix}skew": float(np.mean(dev**3) / var**1.5) if var > 0 else 0.0,
        f"{prefix}kurt": float(np.mean(dev**4) / var**2 - 3.0) if var > 0 else 0.0,
        f"{prefix}median": median,
        f"{prefix}min": float(x.min()),
        f"{prefix}p10": p10,
        f"{prefix}p90": p90,
        f"{prefix}max": float(x.max()),
        f"{prefix}iqr": p75 - p25,
        f"{prefix}range": float(x.max() - x.min()),
        f"{prefix}mad": float(np.mean(np.abs(dev))),
        f"{prefix}rmad": float(np.mean(np.abs(robust - robust.mean()))),
        f"{prefix}medad": float(np.mean(np.abs(x - median))),
        f"{prefix}cov": float(np.sqrt(var) / mean) if mean != 0 else float("nan"),
        f"{prefix}qcod": float((p75 - p25) / (p75 + p25)) if (p75 + p25) != 0 else float("nan"),
    }


def statistics_features(values: np.ndarray) -> dict[str, float]:
    """All 18 IBSI intensity statistics (``stat_*``) of the ROI intensities ``values`` (image units).

    Adds energy (sum of squares) and root mean square to :func:`distribution_features`.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    out = distribution_features(x, "stat_")
    out["stat_energy"] = float(np.sum(x**2))
    out["stat_rms"] = float(np.sqrt(np.mean(x**2)))
    return out
