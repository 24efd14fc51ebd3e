"""Diffusion kurtosis (DKI) along one direction or of the powder-averaged signal, batched over voxels.

``S(b) = S0 exp(-b D + b^2 D^2 K / 6)`` (Jensen et al.), with apparent diffusivity D in mm^2/s and apparent
kurtosis K (dimensionless). ``log S`` is quadratic in b, so a weighted linear least-squares fit
(weights ``S^2``) gives ``(log S0, D, D^2 K / 6)`` in closed form; ``method="nonlinear"`` refines it with the
batched Levenberg-Marquardt solver on the signal itself.

References
----------
Jensen JH, Helpern JA, Ramani A, Lu H, Kaczynski K. Diffusional kurtosis imaging: the quantification of
non-gaussian water diffusion by means of magnetic resonance imaging. Magn Reson Med 2005;53:1432-1440.
Veraart J et al. NeuroImage 2013;81:335-346 (weighted linear least squares).
"""

from __future__ import annotations

import numpy as np

from imagebio.diffusion.adc import check_b_values
from imagebio.errors import InvalidParameterError
from imagebio.perfusion.fitting import levenberg_marquardt

__all__ = ["kurtosis_signal", "fit_kurtosis"]


def kurtosis_signal(
    s0: np.ndarray | float, d_mm2_per_s: np.ndarray | float, k: np.ndarray | float, b_values_s_per_mm2: np.ndarray
) -> np.ndarray:
    """DKI signal ``S0 exp(-b D + b^2 D^2 K / 6)``; parameters broadcast over leading axes, returns (..., n_b)."""
    b = np.asarray(b_values_s_per_mm2, dtype=float)
    s0, d, kk = (np.asarray(v, dtype=float)[..., None] for v in (s0, d_mm2_per_s, k))
    return s0 * np.exp(-b * d + (b * d) ** 2 * kk / 6.0)


def fit_kurtosis(
    signals: np.ndarray,
    b_values_s_per_mm2: np.ndarray,
    method: str = "wls",
    k_bounds: tuple[float, float] = (0.0, 3.0),
    max_iter: int = 100,
) -> dict[str, np.ndarray]:
    """Fit apparent diffusivity and kurtosis to every voxel at once.

    Parameters
    ----------
    signals : array (..., n_b)
        Signals, b-value axis last (at least three distinct b-values; b up to ~2000-2500 s/mm^2).
    b_values_s_per_mm2 : array (n_b,)
        b-values in s/mm^2.
    method : {"wls", "nonlinear"}
        Closed-form weighted log-quadratic fit, or that followed by a bounded non-linear fit.
    k_bounds : (float, float)
        Bounds applied to K in the non-linear fit (and used to clip the WLS start).
    max_iter : int
        Maximum iterations of the non-linear fit.

    Returns
    -------
    dict of arrays shaped ``signals.shape[:-1]``
        ``s0``, ``d_mm2_per_s``, ``k`` and ``converged``.
    """
    s = np.asarray(signals, dtype=float)
    b = check_b_values(b_values_s_per_mm2, s.shape[-1] if s.ndim else None, minimum=3)
    if np.unique(b).size < 3:
        raise InvalidParameterError("b_values_s_per_mm2", b.tolist(), "at least three distinct b-values")
    if method not in ("wls", "nonlinear"):
        raise InvalidParameterError("method", method, "'wls' or 'nonlinear'")
    shape = s.shape[:-1]
    flat = s.reshape(-1, b.size)
    usable = flat > 0
    w = np.where(usable, flat * flat, 0.0)
    log_s = np.log(np.where(usable, flat, 1.0))
    design = np.stack([np.ones_like(b), -b, b * b / 6.0], axis=1)  # coefficients: log S0, D, D^2 K
    ata = np.einsum("ni,ij,ik->njk", w, design, design)
    atb = np.einsum("ni,ij,ni->nj", w, design, log_s)
    ok = np.linalg.cond(ata) < 1e14
    coef = np.full((flat.shape[0], 3), np.nan)
    if np.any(ok):
        coef[ok] = np.linalg.solve(ata[ok], atb[ok][:, :, None])[:, :, 0]
    s0 = np.exp(coef[:, 0])
    d = coef[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        k = coef[:, 2] / (d * d)
    converged = ok & np.isfinite(k) & (d > 0)

    if method == "nonlinear":
        scale = np.maximum(np.max(np.abs(flat), axis=1), 1e-300)
        y = flat / scale[:, None]
        start = np.stack(
            [
                np.where(converged, s0 / scale, 1.0),
                np.where(converged, np.clip(d, 1e-6, 0.01), 1e-3),
                np.where(converged, np.clip(k, *k_bounds), 0.5),
            ],
            axis=1,
        )

        def model(p: np.ndarray, index: np.ndarray) -> np.ndarray:
            return kurtosis_signal(p[:, 0], p[:, 1], p[:, 2], b)

        res = levenberg_marquardt(
            model,
            start,
            y,
            lower=[0.0, 0.0, k_bounds[0]],
            upper=[np.inf, 0.01, k_bounds[1]],
            max_iter=max_iter,
            abs_step=np.array([1e-7, 1e-9, 1e-6]),
        )
        s0, d, k = res.params[:, 0] * scale, res.params[:, 1], res.params[:, 2]
        converged = res.converged

    return {
        "s0": s0.reshape(shape),
        "d_mm2_per_s": d.reshape(shape),
        "k": k.reshape(shape),
        "converged": converged.reshape(shape),
    }
