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
from imagebio.diffusion.noise import check_noise_sigma, rician_bias_corrected, rician_expected_magnitude
from imagebio.errors import InvalidParameterError
from imagebio.perfusion.fitting import levenberg_marquardt
from imagebio.perfusion.quality import at_bound, fit_status, goodness_of_fit, mask_failed

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
    noise_sigma: np.ndarray | float | None = None,
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
    noise_sigma : float or array (...), optional
        Rician noise level (per-channel standard deviation in signal units, scalar or per voxel). The WLS step
        then uses second-moment corrected signals and the non-linear step fits the expected magnitude
        (noise-floor model, :mod:`imagebio.diffusion.noise`); use ``method="nonlinear"`` for the full correction.

    Returns
    -------
    dict of arrays shaped ``signals.shape[:-1]``
        ``s0``, ``d_mm2_per_s``, ``k``, ``converged``, and the quality maps ``r_squared``, ``nrmse``
        (signal domain) and ``fit_status`` (codes of :mod:`imagebio.perfusion.quality`: 3 non-finite samples,
        4 fewer than three distinct usable b-values, 5 no valid solution (D <= 0), 1 not converged, 2 K on a
        bound). Parameters of failed voxels are ``nan``.
    """
    s = np.asarray(signals, dtype=float)
    b = check_b_values(b_values_s_per_mm2, s.shape[-1] if s.ndim else None, minimum=3)
    if np.unique(b).size < 3:
        raise InvalidParameterError("b_values_s_per_mm2", b.tolist(), "at least three distinct b-values")
    if method not in ("wls", "nonlinear"):
        raise InvalidParameterError("method", method, "'wls' or 'nonlinear'")
    shape = s.shape[:-1]
    flat = s.reshape(-1, b.size)
    sigma = check_noise_sigma(noise_sigma, shape)
    sigma = None if sigma is None else sigma.reshape(-1)
    finite_input = np.all(np.isfinite(flat), axis=1)
    flat = np.where(finite_input[:, None], flat, 0.0)
    observed_data = flat
    if sigma is not None:
        flat = rician_bias_corrected(flat, sigma[:, None])
    usable = flat > 0
    n_distinct = np.zeros(usable.shape[0], dtype=int)  # distinct b-values with a usable sample, per voxel
    for level in np.unique(b):
        n_distinct += np.any(usable[:, b == level], axis=1)
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
    valid_solution = converged.copy()
    hit = np.zeros(flat.shape[0], dtype=bool)

    if method == "nonlinear":
        scale = np.maximum(np.max(np.abs(observed_data), axis=1), 1e-300)
        y = observed_data / scale[:, None]
        sig_n = None if sigma is None else sigma / scale
        start = np.stack(
            [
                np.where(converged, s0 / scale, 1.0),
                np.where(converged, np.clip(d, 1e-6, 0.01), 1e-3),
                np.where(converged, np.clip(k, *k_bounds), 0.5),
            ],
            axis=1,
        )

        def model(p: np.ndarray, index: np.ndarray) -> np.ndarray:
            pred = kurtosis_signal(p[:, 0], p[:, 1], p[:, 2], b)
            return pred if sig_n is None else rician_expected_magnitude(pred, sig_n[index][:, None])

        lower, upper = [0.0, 0.0, k_bounds[0]], [np.inf, 0.01, k_bounds[1]]
        res = levenberg_marquardt(
            model, start, y, lower=lower, upper=upper, max_iter=max_iter, abs_step=np.array([1e-7, 1e-9, 1e-6])
        )
        s0, d, k = res.params[:, 0] * scale, res.params[:, 1], res.params[:, 2]
        converged = res.converged
        valid_solution = np.all(np.isfinite(res.params), axis=1) & (d > 0)
        hit = at_bound(res.params, lower, upper)
        sse = res.sse * scale * scale
    else:
        with np.errstate(invalid="ignore", over="ignore"):
            pred = kurtosis_signal(s0, d, k, b)
            sse = np.sum(np.where(usable, (flat - pred) ** 2, 0.0), axis=1)
    quality = goodness_of_fit(np.where(usable | (method == "nonlinear"), observed_data, np.nan), sse)
    status = fit_status(
        flat.shape[0],
        invalid_input=~finite_input,
        too_few_points=n_distinct < 3,
        converged=converged | ~valid_solution,
        invalid_result=~valid_solution,
        hit_bound=hit,
    )
    out = {
        "s0": s0,
        "d_mm2_per_s": d,
        "k": k,
        "converged": converged & finite_input,
        "r_squared": quality["r_squared"],
        "nrmse": quality["nrmse"],
        "fit_status": status,
    }
    mask_failed(out, status, keep=("r_squared", "nrmse"))
    return {key: value.reshape(shape) for key, value in out.items()}
