"""Exact convolution of a piecewise-linear input with decaying exponentials, batched over voxels.

For an input ``c(t)`` that is linear between samples ``t_i`` and an impulse response ``exp(-k t)``,
``F(t_{i+1}) = e^{-k h} F(t_i) + h [c_i (phi1 - phi2) + c_{i+1} phi2]`` with ``h = t_{i+1} - t_i``,
``x = k h``, ``phi1 = (1 - e^{-x}) / x`` and ``phi2 = (x - 1 + e^{-x}) / x^2``. This is the analytic integral,
not a Riemann sum, so the result does not depend on the sampling interval beyond the linear-input assumption.
With ``k = 0`` it reduces to the trapezoidal cumulative integral.

Reference: Flouri D, Lesnic D, Sourbron SP. Fitting the two-compartment model in DCE-MRI by linear inversion.
Magn Reson Med 2016;76:998-1006 (exact piecewise-linear exponential convolution).
"""

from __future__ import annotations

import numpy as np

from imagebio.errors import InvalidParameterError
from imagebio.perfusion.aif import shift_curve

__all__ = ["exp_convolve", "prepare_input", "check_time"]

_SMALL_X = 1e-4
_FFT_MIN_SAMPLES = 64
_FFT_MAX_CURVES = 64


def check_time(t_s: np.ndarray) -> np.ndarray:
    """Validate a sampling-time vector (1-D, at least two samples, strictly increasing, seconds)."""
    t = np.asarray(t_s, dtype=float)
    if t.ndim != 1 or t.size < 2:
        raise InvalidParameterError("t_s", f"shape {t.shape}", "a 1-D time vector with at least 2 samples (s)")
    if not np.all(np.diff(t) > 0):
        raise InvalidParameterError("t_s", "non-increasing times", "strictly increasing sampling times (s)")
    return t


def prepare_input(t_s: np.ndarray, cp_mM: np.ndarray, delay_s: np.ndarray | float) -> np.ndarray:
    """Return the input delayed by ``delay_s`` (scalar or per voxel) as ``(n_t,)`` or ``(..., n_t)``."""
    t = check_time(t_s)
    cp = np.asarray(cp_mM, dtype=float)
    if cp.shape[-1] != t.size:
        raise InvalidParameterError("cp_mM", f"{cp.shape[-1]} samples", f"{t.size} samples, one per time point")
    delay = np.asarray(delay_s, dtype=float)
    if delay.ndim == 0 and float(delay) == 0.0:
        return cp
    if cp.ndim != 1:
        raise InvalidParameterError("cp_mM", f"shape {cp.shape}", "a 1-D input curve when a delay is applied")
    return shift_curve(t, cp, delay)


def _phi(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``phi1``, ``phi2`` and ``exp(-x)``; Taylor series where ``x`` is tiny (cancellation)."""
    em1 = np.expm1(-x)
    small = np.abs(x) < _SMALL_X
    if not small.any():
        phi1 = -em1 / x
        return phi1, (x + em1) / (x * x), 1.0 + em1
    xs = np.where(small, 1.0, x)
    ems = np.where(small, 0.0, em1)
    phi1 = np.where(small, 1.0 - x / 2.0 + x * x / 6.0, -ems / xs)
    phi2 = np.where(small, 0.5 - x / 6.0 + x * x / 24.0, (xs + ems) / (xs * xs))
    return phi1, phi2, 1.0 + em1


def exp_convolve(t_s: np.ndarray, c: np.ndarray, rate_per_s: np.ndarray) -> np.ndarray:
    """Compute ``F(t) = int_0^t c(u) exp(-k (t - u)) du`` exactly for piecewise-linear ``c``.

    Parameters
    ----------
    t_s : array (n_t,)
        Sampling times in seconds (strictly increasing). The input is taken as zero before ``t_s[0]``
        and ``F(t_s[0]) = 0``.
    c : array (n_t,) or (n, n_t)
        Input curve, shared or one per voxel.
    rate_per_s : array (n,)
        Decay rate ``k`` in 1/s per voxel (``k >= 0``; ``k = 0`` gives the cumulative integral).

    Returns
    -------
    array (n, n_t)
        The convolution, in units of ``c`` times seconds.
    """
    t = np.asarray(t_s, dtype=float)
    k = np.atleast_1d(np.asarray(rate_per_s, dtype=float))
    c = np.asarray(c, dtype=float)
    h = np.diff(t)
    # FFT wins for few long curves (ROI fits); the recurrence wins for many voxels
    if t.size > _FFT_MIN_SAMPLES and k.size <= _FFT_MAX_CURVES and np.allclose(h, h[0], rtol=1e-9, atol=0.0):
        return _exp_convolve_uniform(float(h[0]), t.size, c, k)
    c2 = np.broadcast_to(c, (k.size, t.size)) if c.ndim == 1 else c
    x = k[:, None] * h[None, :]
    phi1, phi2, decay = _phi(x)
    inc = h * (c2[:, :-1] * (phi1 - phi2) + c2[:, 1:] * phi2)
    out = np.empty((k.size, t.size))
    out[:, 0] = 0.0
    acc = np.zeros(k.size)
    # the recurrence is sequential in time but vectorised over voxels
    decay_t = np.ascontiguousarray(decay.T)
    inc_t = np.ascontiguousarray(inc.T)
    for i in range(t.size - 1):
        acc = decay_t[i] * acc + inc_t[i]
        out[:, i + 1] = acc
    return out


def _exp_convolve_uniform(h: float, n_t: int, c: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Same result as the recurrence for uniform sampling, as a discrete convolution done by FFT.

    Unrolling the recurrence, sample ``c_j`` contributes ``w_m`` to ``F(t_{j+m})`` with ``w_0 = h phi2`` and
    ``w_m = h [phi2 e^{-x m} + (phi1 - phi2) e^{-x (m-1)}]`` for ``m >= 1``; the first sample has no rising
    half-hat, so its ``h phi2 e^{-x m}`` share is removed afterwards.
    """
    from scipy.signal import fftconvolve

    x = k * h
    phi1, phi2, _ = _phi(x)
    m = np.arange(n_t)
    decay = np.exp(-np.outer(x, m))  # (n, n_t): e^{-x m}
    w = h * phi2[:, None] * decay
    w[:, 1:] += h * (phi1 - phi2)[:, None] * decay[:, :-1]
    c2 = c[None, :] if c.ndim == 1 else c
    out = fftconvolve(c2, w, axes=-1)[:, :n_t]
    out -= c2[:, :1] * h * phi2[:, None] * decay
    return out
