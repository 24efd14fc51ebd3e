"""IBSI intensity-volume histogram features (``ivh_*``).

Reference: IBSI 1 reference manual (arXiv:1612.07003), section 3.5. Volume fraction
``nu_i = 1 - (1/N) sum [X < i]``, intensity fraction ``gamma_i = (i - min G) / (max G - min G)``, evaluated at every
discretised intensity of the total range G (present or not).
"""

from __future__ import annotations

import numpy as np

from imagebio.errors import EmptyMaskError

__all__ = ["ivh_features"]


def ivh_features(values: np.ndarray, g_min: float, g_max: float, interval: float = 1.0) -> dict[str, float]:
    """Intensity-volume histogram features.

    Parameters
    ----------
    values : numpy.ndarray
        Discretised ROI intensities ``X_{d,gl}`` (see :func:`imagebio.radiomics.processing.ivh_discretise`).
    g_min, g_max : float
        Total range G (same units).
    interval : float
        Discretisation interval ``w_d`` (same units).

    Returns
    -------
    dict
        ``ivh_v10``, ``ivh_v90`` (volume fraction at >= 10 / 90 % intensity fraction), ``ivh_i10``, ``ivh_i90``
        (lowest intensity with volume fraction <= 10 / 90 %, image units), their differences and ``ivh_auc``
        (trapezoidal area under nu(gamma); not standardised by IBSI).
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0:
        raise EmptyMaskError("intensity mask", detail="no voxel for intensity-volume histogram")
    n_steps = int(round((g_max - g_min) / interval))
    # Work on integer indices of the discretisation grid to avoid float comparisons of bin centres.
    idx = np.rint((x - g_min) / interval).astype(np.int64)
    grid = np.arange(min(0, int(idx.min())), max(n_steps, int(idx.max())) + 1)
    counts_below = np.searchsorted(np.sort(idx), grid, side="left")
    nu = 1.0 - counts_below / x.size
    intensity = g_min + grid * interval
    gamma = grid / n_steps if n_steps > 0 else np.zeros(grid.size)

    def volume_at(fraction: float) -> float:
        hits = np.flatnonzero(gamma >= fraction - 1e-12)
        return float(nu[hits[0]]) if hits.size else 0.0

    def intensity_at(fraction: float) -> float:
        hits = np.flatnonzero(nu <= fraction + 1e-12)
        return float(intensity[hits[0]]) if hits.size else float(intensity[-1])

    v10, v90 = volume_at(0.10), volume_at(0.90)
    i10, i90 = intensity_at(0.10), intensity_at(0.90)
    in_range = (gamma >= 0) & (gamma <= 1)
    auc = float(np.trapezoid(nu[in_range], gamma[in_range])) if n_steps > 0 else 0.0
    return {
        "ivh_v10": v10,
        "ivh_v90": v90,
        "ivh_i10": i10,
        "ivh_i90": i90,
        "ivh_diff_v10_v90": v10 - v90,
        "ivh_diff_i10_i90": i10 - i90,
        "ivh_auc": auc,
    }
