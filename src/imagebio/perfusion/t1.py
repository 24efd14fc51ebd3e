"""Variable-flip-angle (VFA, DESPOT1) T1 mapping from spoiled gradient-echo signals.

Signal model: :func:`imagebio.perfusion.concentration.spgr_signal` with the nominal flip angles scaled by an
optional B1 map (``alpha_eff = b1 * alpha``).

- ``method="linear"``: ``S / sin(a) = E1 S / tan(a) + S0 (1 - E1)`` is a straight line in ``S / tan(a)`` with
  slope ``E1 = exp(-TR R1)``; solved in closed form for all voxels (requires one TR).
- ``method="nonlinear"``: least-squares fit of ``(S0, R1)`` to the signal equation with the batched
  Levenberg-Marquardt solver, started from the linear solution.

References
----------
Fram EK et al. Rapid calculation of T1 using variable flip angle gradient refocused imaging. Magn Reson Imaging
1987;5:201-208. Deoni SCL, Rutt BK, Peters TM. Rapid combined T1 and T2 mapping using gradient recalled
acquisition in the steady state. Magn Reson Med 2003;49:515-526 (DESPOT1).
"""

from __future__ import annotations

import numpy as np

from imagebio.errors import InvalidParameterError
from imagebio.perfusion.concentration import spgr_signal
from imagebio.perfusion.fitting import levenberg_marquardt
from imagebio.perfusion.quality import at_bound, fit_status, goodness_of_fit, mask_failed

__all__ = ["fit_vfa_t1"]

_R1_BOUNDS_PER_S = (1e-3, 100.0)


def _linear(s: np.ndarray, alpha: np.ndarray, tr: float) -> tuple[np.ndarray, np.ndarray]:
    x = s / np.tan(alpha)
    y = s / np.sin(alpha)
    xm, ym = x.mean(-1, keepdims=True), y.mean(-1, keepdims=True)
    sxx = ((x - xm) ** 2).sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = ((x - xm) * (y - ym)).sum(-1) / sxx
        intercept = ym[..., 0] - slope * xm[..., 0]
        r1 = -np.log(slope) / tr
        s0 = intercept / (1.0 - slope)
    valid = (slope > 0) & (slope < 1)
    return np.where(valid, r1, np.nan), np.where(valid, s0, np.nan)


def fit_vfa_t1(
    signals: np.ndarray,
    flip_angles_deg: np.ndarray,
    tr_s: float | np.ndarray,
    b1: np.ndarray | float | None = None,
    method: str = "nonlinear",
    max_iter: int = 100,
) -> dict[str, np.ndarray]:
    """Fit T1 (R1) and S0 from variable-flip-angle SPGR signals, all voxels at once.

    Parameters
    ----------
    signals : array (..., n_fa)
        Signal per flip angle (last axis).
    flip_angles_deg : array (n_fa,) or (..., n_fa)
        Nominal flip angles in degrees (shared or per voxel).
    tr_s : float or array (n_fa,)
        Repetition time(s) in seconds. ``method="linear"`` needs a single TR.
    b1 : array (...) or float, optional
        Relative transmit field (actual / nominal flip angle); ``None`` means 1.
    method : {"nonlinear", "linear"}
        Fitting method (see module docstring).
    max_iter : int
        Maximum iterations of the non-linear fit.

    Returns
    -------
    dict
        ``r1_per_s``, ``t1_s``, ``s0`` (arrays shaped ``signals.shape[:-1]``), ``converged``, and the quality maps
        ``r_squared``, ``nrmse`` (signal domain) and ``fit_status`` (codes of :mod:`imagebio.perfusion.quality`:
        3 non-finite samples, 5 no valid linear solution, 1 not converged, 2 R1 on a bound).
        Voxels without a valid solution get ``nan``.
    """
    s = np.asarray(signals, dtype=float)
    fa = np.asarray(flip_angles_deg, dtype=float)
    if s.ndim < 1 or s.shape[-1] < 2 or fa.shape[-1] != s.shape[-1]:
        raise InvalidParameterError("flip_angles_deg", f"{fa.shape[-1]} angles", f"{s.shape[-1]} >= 2, one per signal")
    if method not in ("linear", "nonlinear"):
        raise InvalidParameterError("method", method, "'linear' or 'nonlinear'")
    tr = np.asarray(tr_s, dtype=float)
    if np.any(tr <= 0):
        raise InvalidParameterError("tr_s", tr_s, "positive repetition time(s) in seconds")
    scale = 1.0 if b1 is None else np.asarray(b1, dtype=float)[..., None]
    alpha = np.deg2rad(fa) * scale
    alpha = np.broadcast_to(alpha, s.shape)
    shape = s.shape[:-1]
    flat_s = s.reshape(-1, s.shape[-1])
    flat_a = alpha.reshape(-1, s.shape[-1])

    finite_input = np.all(np.isfinite(flat_s), axis=1)
    flat_s = np.where(finite_input[:, None], flat_s, 0.0)
    tr_single = float(tr.reshape(-1)[0])
    if method == "linear" and not np.allclose(tr, tr_single):
        raise InvalidParameterError("tr_s", tr_s, "a single TR for the linear (DESPOT1) method")
    r1_lin, s0_lin = _linear(flat_s, flat_a, float(np.mean(tr)))
    if method == "linear":
        out = {"r1_per_s": r1_lin, "s0": s0_lin, "converged": np.isfinite(r1_lin)}
        valid_result = np.isfinite(r1_lin)
        hit = np.zeros_like(valid_result)
        with np.errstate(invalid="ignore", over="ignore"):
            sse = np.sum((flat_s - spgr_signal(s0_lin[:, None], r1_lin[:, None], np.rad2deg(flat_a), tr)) ** 2, axis=1)
    else:
        good = np.isfinite(r1_lin) & (r1_lin > 0)
        r1_start = np.where(good, np.clip(r1_lin, *_R1_BOUNDS_PER_S), 1.0)
        e1 = np.exp(-np.mean(tr) * r1_start)
        ratio = np.sin(flat_a) * (1 - e1)[:, None] / (1 - np.cos(flat_a) * e1[:, None])
        s0_start = np.where(good, s0_lin, np.max(flat_s, axis=1) / np.max(ratio, axis=1))
        # fit log(S0) so that S0 is scale-free and positive
        scale_s = np.maximum(np.max(np.abs(flat_s), axis=1), 1e-300)
        y = flat_s / scale_s[:, None]

        def model(p: np.ndarray, index: np.ndarray) -> np.ndarray:
            return spgr_signal(np.exp(p[:, :1]), p[:, 1:2], np.rad2deg(flat_a[index]), tr)

        p0 = np.stack([np.log(np.maximum(s0_start / scale_s, 1e-12)), r1_start], axis=1)
        res = levenberg_marquardt(
            model, p0, y, lower=[-30.0, _R1_BOUNDS_PER_S[0]], upper=[30.0, _R1_BOUNDS_PER_S[1]], max_iter=max_iter
        )
        out = {"r1_per_s": res.params[:, 1], "s0": np.exp(res.params[:, 0]) * scale_s, "converged": res.converged}
        valid_result = np.all(np.isfinite(res.params), axis=1)
        hit = at_bound(res.params[:, 1:], [_R1_BOUNDS_PER_S[0]], [_R1_BOUNDS_PER_S[1]])
        sse = res.sse * scale_s * scale_s
    out.update(goodness_of_fit(flat_s, sse))
    out["fit_status"] = fit_status(
        flat_s.shape[0],
        invalid_input=~finite_input,
        converged=out["converged"] | ~valid_result,
        invalid_result=~valid_result,
        hit_bound=hit,
    )
    out["converged"] = out["converged"] & finite_input
    with np.errstate(divide="ignore"):
        out["t1_s"] = 1.0 / out["r1_per_s"]
    mask_failed(out, out["fit_status"], keep=("r_squared", "nrmse"))
    return {k: v.reshape(shape) for k, v in out.items()}
