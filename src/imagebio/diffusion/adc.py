"""Apparent diffusion coefficient (ADC) from diffusion-weighted signals.

Mono-exponential model ``S(b) = S0 exp(-b ADC)``, fitted by weighted linear least squares on ``log S``
with weights ``S^2`` (the first-order variance of ``log S`` is ``sigma^2 / S^2``), solved in closed form for
all voxels at once.

References
----------
Le Bihan D et al. MR imaging of intravoxel incoherent motions. Radiology 1986;161:401-407.
Veraart J et al. Weighted linear least squares estimation of diffusion MRI parameters: strengths,
limitations, and pitfalls. NeuroImage 2013;81:335-346.
QIBA DWI Profile (2019): mono-exponential ADC; ice-water bias tolerance 0.04e-3 of 1.1e-3 mm^2/s.
"""

from __future__ import annotations

import numpy as np

from imagebio.errors import InvalidParameterError
from imagebio.perfusion.quality import fit_status, goodness_of_fit, mask_failed

__all__ = ["adc_signal", "fit_adc", "check_b_values"]


def check_b_values(b_values_s_per_mm2: np.ndarray, n_b: int | None = None, minimum: int = 2) -> np.ndarray:
    """Validate a b-value vector (1-D, finite, non-negative, s/mm^2) and optionally its length."""
    b = np.asarray(b_values_s_per_mm2, dtype=float)
    if b.ndim != 1 or b.size < minimum or not np.all(np.isfinite(b)) or np.any(b < 0):
        raise InvalidParameterError(
            "b_values_s_per_mm2",
            b.tolist() if b.size < 30 else f"{b.size} values",
            f"a 1-D vector of at least {minimum} finite b-values >= 0 in s/mm^2",
        )
    if n_b is not None and b.size != n_b:
        raise InvalidParameterError("b_values_s_per_mm2", f"{b.size} values", f"{n_b}, one per signal sample")
    return b


def adc_signal(s0: np.ndarray | float, adc_mm2_per_s: np.ndarray | float, b_values_s_per_mm2: np.ndarray) -> np.ndarray:
    """Mono-exponential DWI signal ``S0 exp(-b ADC)``.

    Parameters
    ----------
    s0 : array or float
        Signal at b = 0.
    adc_mm2_per_s : array or float
        ADC in mm^2/s, broadcast with ``s0``.
    b_values_s_per_mm2 : array (n_b,)
        b-values in s/mm^2.

    Returns
    -------
    array (..., n_b)
    """
    b = np.asarray(b_values_s_per_mm2, dtype=float)
    s0 = np.asarray(s0, dtype=float)[..., None]
    adc = np.asarray(adc_mm2_per_s, dtype=float)[..., None]
    return s0 * np.exp(-b * adc)


def fit_adc(
    signals: np.ndarray,
    b_values_s_per_mm2: np.ndarray,
    weighted: bool = True,
) -> dict[str, np.ndarray]:
    """Fit the mono-exponential ADC model by (weighted) log-linear least squares, all voxels at once.

    Parameters
    ----------
    signals : array (..., n_b)
        DWI signals (magnitude), b-value on the last axis. Non-positive samples get zero weight.
    b_values_s_per_mm2 : array (n_b,)
        b-values in s/mm^2 (at least two distinct values).
    weighted : bool
        Weight each log-sample by ``S^2`` (default) or fit unweighted.

    Returns
    -------
    dict
        ``adc_mm2_per_s`` (...), ``s0`` (...), ``n_used`` (...) the number of positive samples used, and the fit
        quality maps ``r_squared``, ``nrmse`` (signal domain, usable samples) and ``fit_status`` (codes of
        :mod:`imagebio.perfusion.quality`: 3 non-finite samples, 4 fewer than two distinct usable b-values,
        5 negative ADC). Failed voxels get ``nan``.

    Raises
    ------
    InvalidParameterError
        Fewer than two distinct b-values (e.g. all equal), or one b-value per sample is not given.
    """
    s = np.asarray(signals, dtype=float)
    b = check_b_values(b_values_s_per_mm2, s.shape[-1] if s.ndim else None)
    if np.unique(b).size < 2:
        raise InvalidParameterError("b_values_s_per_mm2", b.tolist(), "at least two distinct b-values")
    finite_input = np.all(np.isfinite(s), axis=-1)
    usable = np.isfinite(s) & (s > 0)
    log_s = np.log(np.where(usable, s, 1.0))
    w = np.where(usable, s * s if weighted else 1.0, 0.0)
    # weighted normal equations of log S = log S0 - b ADC, closed form per voxel
    sw = w.sum(-1)
    sb = (w * b).sum(-1)
    sbb = (w * b * b).sum(-1)
    sy = (w * log_s).sum(-1)
    sby = (w * b * log_s).sum(-1)
    det = sw * sbb - sb * sb
    # det is sw^2 times the weighted variance of b: zero unless two distinct b-values carry weight
    ok = det > 1e-12 * np.maximum(sw * sbb, 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (sw * sby - sb * sy) / det
        intercept = (sbb * sy - sb * sby) / det
    adc = np.where(ok, -slope, np.nan)
    s0 = np.where(ok, np.exp(intercept), np.nan)
    shape = s.shape[:-1]
    flat_s = np.where(usable, s, np.nan).reshape(-1, b.size)
    with np.errstate(invalid="ignore", over="ignore"):
        pred = adc_signal(s0.reshape(-1), adc.reshape(-1), b)
        sse = np.nansum((flat_s - pred) ** 2, axis=1)
    quality = goodness_of_fit(flat_s, sse)
    status = fit_status(
        flat_s.shape[0],
        invalid_input=~finite_input.reshape(-1),
        too_few_points=~ok.reshape(-1),
        invalid_result=(adc < 0).reshape(-1),
    )
    out = {
        "adc_mm2_per_s": adc.reshape(-1),
        "s0": s0.reshape(-1),
        "r_squared": quality["r_squared"],
        "nrmse": quality["nrmse"],
    }
    mask_failed(out, status)
    out = {k: v.reshape(shape) for k, v in out.items()}
    out["n_used"] = usable.sum(-1)
    out["fit_status"] = status.reshape(shape)
    return out
