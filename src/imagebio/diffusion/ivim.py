"""Intravoxel incoherent motion (IVIM): bi-exponential fits of DWI signals, batched over voxels.

``S(b) = S0 [f exp(-b D*) + (1 - f) exp(-b D)]`` with D the tissue diffusion coefficient, D* the
pseudo-diffusion coefficient (both mm^2/s) and f the perfusion fraction.

- ``method="segmented"``: D and ``S0 (1 - f)`` from a mono-exponential fit of the high b-values
  (``b >= b_threshold``, where the perfusion term has decayed), f from the b = 0 signal, then D* by a
  one-parameter least-squares fit with D and f held.
- ``method="full"``: all four parameters by bounded Levenberg-Marquardt, started from the segmented solution.

Default bounds are those of the OSIPI TF2.4 IVIM test-suite (signals normalised to S(b=0) = 1):
S0 [0.7, 1.3], f [0, 1], D* [0.005, 0.2], D [0, 0.005] mm^2/s.

References
----------
Le Bihan D et al. Separation of diffusion and perfusion in intravoxel incoherent motion MR imaging.
Radiology 1988;168:497-505. Gurney-Champion OJ et al. Comparison of six fit algorithms for the intra-voxel
incoherent motion model of diffusion-weighted magnetic resonance imaging data of pancreatic cancer patients.
PLoS One 2018;13:e0194590 (segmented vs. full fits). OSIPI TF2.4 IVIM-MRI CodeCollection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imagebio.diffusion.adc import check_b_values, fit_adc
from imagebio.diffusion.noise import check_noise_sigma, rician_bias_corrected, rician_expected_magnitude
from imagebio.errors import InvalidParameterError
from imagebio.perfusion.fitting import levenberg_marquardt, standard_errors
from imagebio.perfusion.quality import at_bound, fit_status, goodness_of_fit, mask_failed

__all__ = ["IvimBounds", "ivim_signal", "fit_ivim"]


@dataclass(frozen=True)
class IvimBounds:
    """Bounds of the IVIM fit; S0 relative to the measured b = 0 signal, diffusivities in mm^2/s."""

    s0: tuple[float, float] = (0.7, 1.3)
    f: tuple[float, float] = (0.0, 1.0)
    d_star_mm2_per_s: tuple[float, float] = (0.005, 0.2)
    d_mm2_per_s: tuple[float, float] = (0.0, 0.005)


def ivim_signal(
    s0: np.ndarray | float,
    f: np.ndarray | float,
    d_star_mm2_per_s: np.ndarray | float,
    d_mm2_per_s: np.ndarray | float,
    b_values_s_per_mm2: np.ndarray,
) -> np.ndarray:
    """Bi-exponential IVIM signal, parameters broadcast over leading axes; returns (..., n_b)."""
    b = np.asarray(b_values_s_per_mm2, dtype=float)
    s0, f, ds, d = (np.asarray(v, dtype=float)[..., None] for v in (s0, f, d_star_mm2_per_s, d_mm2_per_s))
    return s0 * (f * np.exp(-b * ds) + (1.0 - f) * np.exp(-b * d))


def _normalise(signals: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    b0 = b == b.min()
    ref = signals[:, b0].mean(axis=1)
    ref = np.where(ref > 0, ref, np.nan)
    return signals / ref[:, None], ref


def fit_ivim(
    signals: np.ndarray,
    b_values_s_per_mm2: np.ndarray,
    method: str = "full",
    b_threshold_s_per_mm2: float = 200.0,
    bounds: IvimBounds = IvimBounds(),
    max_iter: int = 200,
    noise_sigma: np.ndarray | float | None = None,
) -> dict[str, np.ndarray]:
    """Fit the IVIM model to every voxel at once.

    Parameters
    ----------
    signals : array (..., n_b)
        DWI signals with the b-value axis last. The lowest b-value should be (close to) 0.
    b_values_s_per_mm2 : array (n_b,)
        b-values in s/mm^2.
    method : {"full", "segmented"}
        Fitting strategy (see module docstring).
    b_threshold_s_per_mm2 : float
        Lowest b-value of the perfusion-free segment (needs at least two b-values at or above it).
    bounds : IvimBounds
        Parameter bounds (``s0`` relative to the mean lowest-b signal).
    max_iter : int
        Maximum Levenberg-Marquardt iterations.
    noise_sigma : float or array (...), optional
        Rician noise level (standard deviation per channel, in signal units; scalar or per voxel). When given,
        the non-linear steps fit the expected magnitude ``E[M | S(b), sigma]`` (noise-floor model) and the
        log-linear start uses second-moment corrected signals (:mod:`imagebio.diffusion.noise`).

    Returns
    -------
    dict of arrays shaped ``signals.shape[:-1]``
        ``s0``, ``f``, ``d_star_mm2_per_s``, ``d_mm2_per_s``, ``se_<name>`` (full fit), ``sse``
        (normalised units), ``converged``, and the quality maps ``r_squared``, ``nrmse`` and ``fit_status``
        (codes of :mod:`imagebio.perfusion.quality`; parameters of failed voxels are ``nan``).
    """
    s = np.asarray(signals, dtype=float)
    b = check_b_values(b_values_s_per_mm2, s.shape[-1] if s.ndim else None, minimum=4)
    if method not in ("full", "segmented"):
        raise InvalidParameterError("method", method, "'full' or 'segmented'")
    high = b >= b_threshold_s_per_mm2
    if np.unique(b[high]).size < 2 or np.unique(b[~high]).size < 2:
        raise InvalidParameterError(
            "b_threshold_s_per_mm2", b_threshold_s_per_mm2, "a threshold leaving >= 2 distinct b-values on each side"
        )
    shape = s.shape[:-1]
    sigma = check_noise_sigma(noise_sigma, shape)
    flat, ref = _normalise(s.reshape(-1, b.size), b)
    valid = np.isfinite(ref) & np.all(np.isfinite(flat), axis=1)
    y = np.where(valid[:, None], flat, 0.0)
    n = y.shape[0]
    # noise level in the normalised units of y
    sig_n = None if sigma is None else np.where(valid, sigma.reshape(-1) / np.where(valid, ref, 1.0), 0.0)
    y_start = y if sig_n is None else rician_bias_corrected(y, sig_n[:, None])

    def observed(pred: np.ndarray, index: np.ndarray) -> np.ndarray:
        return pred if sig_n is None else rician_expected_magnitude(pred, sig_n[index][:, None])

    # step 1: D and S0 (1 - f) from the high b-values (weighted log-linear fit, clipped into the bounds)
    mono = fit_adc(y_start[:, high], b[high], weighted=True)
    d = np.clip(np.nan_to_num(mono["adc_mm2_per_s"], nan=1e-3), *bounds.d_mm2_per_s)
    # where the log fit fails (high-b signal at or below zero, e.g. f -> 1) extrapolate the mean high-b signal
    fallback = np.mean(np.maximum(y_start[:, high], 0.0) * np.exp(b[high] * d[:, None]), axis=1)
    intercept = np.where(np.isfinite(mono["s0"]), mono["s0"], fallback)
    s0 = np.clip(y_start[:, b == b.min()].mean(axis=1), *bounds.s0)
    f = np.clip(1.0 - intercept / s0, *bounds.f)

    # step 2: D* with D, f, S0 held, by a one-parameter LM from a grid-search start
    grid = np.geomspace(max(bounds.d_star_mm2_per_s[0], 1e-4), bounds.d_star_mm2_per_s[1], 25)
    trial = s0[:, None, None] * (
        f[:, None, None] * np.exp(-b * grid[:, None]) + (1 - f)[:, None, None] * np.exp(-b * d[:, None, None])
    )
    start_ds = grid[np.argmin(((trial - y_start[:, None, :]) ** 2).sum(-1), axis=1)]

    def star_model(p: np.ndarray, index: np.ndarray) -> np.ndarray:
        return observed(ivim_signal(s0[index], f[index], p[:, 0], d[index], b), index)

    star = levenberg_marquardt(
        star_model,
        start_ds[:, None],
        y,
        lower=[bounds.d_star_mm2_per_s[0]],
        upper=[bounds.d_star_mm2_per_s[1]],
        max_iter=max_iter,
        abs_step=np.array([1e-7]),
    )
    params = np.stack([s0, f, star.params[:, 0], d], axis=1)
    sse = star.sse
    converged = star.converged
    se = np.full((n, 4), np.nan)
    lower = [bounds.s0[0], bounds.f[0], bounds.d_star_mm2_per_s[0], bounds.d_mm2_per_s[0]]
    upper = [bounds.s0[1], bounds.f[1], bounds.d_star_mm2_per_s[1], bounds.d_mm2_per_s[1]]

    if method == "full":

        def full_model(p: np.ndarray, index: np.ndarray) -> np.ndarray:
            return observed(ivim_signal(p[:, 0], p[:, 1], p[:, 2], p[:, 3], b), index)

        res = levenberg_marquardt(
            full_model,
            params,
            y,
            lower=lower,
            upper=upper,
            max_iter=max_iter,
            abs_step=np.array([1e-7, 1e-7, 1e-7, 1e-9]),
        )
        params, sse, converged = res.params, res.sse, res.converged
        se = standard_errors(res.jacobian, res.sse)

    names = ("s0", "f", "d_star_mm2_per_s", "d_mm2_per_s")
    out: dict[str, np.ndarray] = {}
    for j, name in enumerate(names):
        scale = ref if name == "s0" else 1.0
        out[name] = np.where(valid, params[:, j] * scale, np.nan).reshape(shape)
        out[f"se_{name}"] = np.where(valid, se[:, j] * scale, np.nan).reshape(shape)
    out["sse"] = np.where(valid, sse, np.nan).reshape(shape)
    out["converged"] = (converged & valid).reshape(shape)
    quality = goodness_of_fit(y, sse)
    status = fit_status(
        n,
        invalid_input=~valid,
        converged=converged,
        invalid_result=~np.all(np.isfinite(params), axis=1),
        hit_bound=at_bound(params, lower, upper),
    )
    out["r_squared"] = np.where(valid, quality["r_squared"], np.nan).reshape(shape)
    out["nrmse"] = np.where(valid, quality["nrmse"], np.nan).reshape(shape)
    out["fit_status"] = status.reshape(shape)
    return mask_failed(out, out["fit_status"], keep=("sse", "r_squared", "nrmse"))
