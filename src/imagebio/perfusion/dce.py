"""Voxel-wise and ROI fitting of DCE-MRI tracer-kinetic models, with optional arterial delay.

Models (see :mod:`imagebio.perfusion.models`): ``"tofts"``, ``"extended_tofts"``, ``"patlak"``, ``"2cxm"``,
``"2cum"``. All voxels are fitted at once with :func:`imagebio.perfusion.fitting.levenberg_marquardt`.
Default start values and bounds are those of the OSIPI DCE-DSC-MRI code collection test-suite
(Ktrans/PS 0.6 /min in (0, 5), ve 0.2 in (0, 1), vp 0.01 in (0, 1), Fp 20 ml/100ml/min in (0, 200),
delay 0 s in (-10, 10)).

The arterial delay is fitted in stages because the SSE is multi-modal in the delay: the other parameters are
fitted on a grid of fixed delays (step ``delay_grid_step_s``), and the best grid delay per voxel, together
with each of several start vectors (``multistart``), seeds a fit in which the delay is free; the fit with the
lowest SSE is kept.

References
----------
Sourbron SP, Buckley DL. Classic models for dynamic contrast-enhanced MRI. NMR Biomed 2013;26:1004-1027.
OSIPI DCE-DSC-MRI CodeCollection, test/DCEmodels (Shalom ES, van Houdt PJ, Sourbron S, et al.).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from imagebio.errors import EmptyMaskError, InvalidParameterError
from imagebio.perfusion.fitting import LMResult, aic, levenberg_marquardt, standard_errors
from imagebio.perfusion.models import (
    extended_tofts_concentration,
    patlak_concentration,
    tofts_concentration,
    two_compartment_exchange_concentration,
    two_compartment_uptake_concentration,
)
from imagebio.perfusion.models.convolution import check_time
from imagebio.perfusion.quality import INVALID_INPUT, at_bound, fit_status, goodness_of_fit, mask_failed

__all__ = ["DceModelSpec", "DCE_MODELS", "fit_dce", "fit_roi_curve", "iauc", "select_model", "linear_tofts_start"]


@dataclass(frozen=True)
class DceModelSpec:
    """A DCE model: parameter names (with units), forward function, default start values and bounds."""

    name: str
    param_names: tuple[str, ...]
    forward: Callable[..., np.ndarray]
    p0: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    extra_starts: tuple[tuple[float, ...], ...] = ()


_KT, _VE, _VP, _FP, _PS = "ktrans_per_min", "ve", "vp", "fp_ml_per_100ml_per_min", "ps_per_min"

DCE_MODELS: dict[str, DceModelSpec] = {
    "tofts": DceModelSpec("tofts", (_KT, _VE), tofts_concentration, (0.6, 0.2), (0.0, 0.0), (5.0, 1.0), ((0.1, 0.3),)),
    "extended_tofts": DceModelSpec(
        "extended_tofts",
        (_KT, _VE, _VP),
        extended_tofts_concentration,
        (0.6, 0.2, 0.01),
        (0, 0, 0),
        (5, 1, 1),
        ((0.1, 0.3, 0.05),),
    ),
    "patlak": DceModelSpec("patlak", (_PS, _VP), patlak_concentration, (0.6, 0.01), (0.0, 0.0), (5.0, 1.0)),
    "2cxm": DceModelSpec(
        "2cxm",
        (_FP, _PS, _VE, _VP),
        two_compartment_exchange_concentration,
        (20.0, 0.6, 0.2, 0.01),
        (0.0, 0.0, 0.0, 0.0),
        (200.0, 5.0, 1.0, 1.0),
        ((10.0, 0.05, 0.2, 0.05), (40.0, 0.1, 0.3, 0.1), (5.0, 0.02, 0.1, 0.02)),
    ),
    "2cum": DceModelSpec(
        "2cum",
        (_FP, _PS, _VP),
        two_compartment_uptake_concentration,
        (20.0, 0.6, 0.01),
        (0.0, 0.0, 0.0),
        (200.0, 5.0, 1.0),
        ((10.0, 0.05, 0.05), (40.0, 0.01, 0.1)),
    ),
}

# finite-difference floors per parameter kind, so steps stay meaningful near zero
_ABS_STEP = {_KT: 1e-6, _VE: 1e-6, _VP: 1e-6, _FP: 1e-4, _PS: 1e-6, "delay_s": 1e-3}


def iauc(t_s: np.ndarray, conc_mM: np.ndarray, onset_s: np.ndarray | float, duration_s: float = 60.0) -> np.ndarray:
    """Initial area under the concentration curve from ``onset_s`` to ``onset_s + duration_s`` (mM·s).

    The curve is taken as linear between samples (exact trapezoid over the window).

    Parameters
    ----------
    t_s : array (n_t,)
        Sampling times in seconds.
    conc_mM : array (..., n_t)
        Concentration curves.
    onset_s : array or float
        Bolus arrival time per curve (broadcast over the leading axes).
    duration_s : float
        Window length (60 s for iAUC60).

    Returns
    -------
    array (...)
        Area in mM·s.

    References
    ----------
    Evelhoch JL. Key factors in the acquisition of contrast kinetic data for oncology. J Magn Reson Imaging
    1999;10:254-259.
    """
    t = check_time(t_s)
    c = np.asarray(conc_mM, dtype=float)
    start = np.broadcast_to(np.asarray(onset_s, dtype=float), c.shape[:-1])
    # exact integral of the piecewise-linear curve: cumulative trapezoid plus partial end intervals
    steps = 0.5 * (c[..., 1:] + c[..., :-1]) * np.diff(t)
    cum = np.concatenate([np.zeros(c.shape[:-1] + (1,)), np.cumsum(steps, -1)], -1)

    def integral_to(x: np.ndarray) -> np.ndarray:
        x = np.clip(x, t[0], t[-1])
        i = np.clip(np.searchsorted(t, x, side="right") - 1, 0, t.size - 2)
        ci = np.take_along_axis(c, i[..., None], -1)[..., 0]
        cj = np.take_along_axis(c, i[..., None] + 1, -1)[..., 0]
        dt = t[i + 1] - t[i]
        u = x - t[i]
        cx = ci + (cj - ci) * u / dt
        base = np.take_along_axis(cum, i[..., None], -1)[..., 0]
        return base + 0.5 * (ci + cx) * u

    return integral_to(start + duration_s) - integral_to(start)


def _onset_from_aif(t: np.ndarray, cp: np.ndarray, fraction: float = 0.1) -> float:
    above = np.flatnonzero(cp >= fraction * np.max(cp))
    return float(t[above[0]]) if above.size else float(t[0])


def _cumulative_trapezoid(t: np.ndarray, c: np.ndarray) -> np.ndarray:
    steps = 0.5 * (c[..., 1:] + c[..., :-1]) * np.diff(t)
    return np.concatenate([np.zeros(c.shape[:-1] + (1,)), np.cumsum(steps, axis=-1)], axis=-1)


def linear_tofts_start(
    t_s: np.ndarray, cp_mM: np.ndarray, conc_mM: np.ndarray, extended: bool, lower: np.ndarray, upper: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Linearised least-squares (Murase) estimates of (extended) Tofts parameters, as fit starting values.

    Integrating the model gives ``C(t) = (Ktrans + kep vp) int cp - kep int C + vp cp`` (``vp = 0`` for Tofts),
    linear in ``(Ktrans + kep vp, kep, vp)``; the batched 3x3 (2x2) normal equations are solved per voxel.

    Returns
    -------
    (params, valid)
        ``(n, n_p)`` estimates in the model's units (Ktrans /min, ve, [vp]) clipped into ``[lower, upper]``, and
        whether each voxel's estimate was physical (``kep > 0``, ``Ktrans > 0``) before clipping.

    References
    ----------
    Murase K. Efficient method for calculating kinetic parameters using T1-weighted dynamic contrast-enhanced
    magnetic resonance imaging. Magn Reson Med 2004;51:858-862.
    """
    t = np.asarray(t_s, dtype=float)
    y = np.asarray(conc_mM, dtype=float)
    cp = np.asarray(cp_mM, dtype=float)
    columns = [np.broadcast_to(_cumulative_trapezoid(t, cp), y.shape), -_cumulative_trapezoid(t, y)]
    if extended:
        columns.append(np.broadcast_to(cp, y.shape))
    design = np.stack(columns, axis=-1)  # (n, n_t, q)
    ata = np.einsum("ntp,ntq->npq", design, design)
    atb = np.einsum("ntp,nt->np", design, y)
    q = design.shape[-1]
    coef = np.full((y.shape[0], q), np.nan)
    ok = np.linalg.cond(ata) < 1e12
    if ok.any():
        coef[ok] = np.linalg.solve(ata[ok], atb[ok][:, :, None])[:, :, 0]
    kep_s = coef[:, 1]
    vp = coef[:, 2] if extended else np.zeros(y.shape[0])
    ktrans_s = coef[:, 0] - kep_s * vp
    with np.errstate(divide="ignore", invalid="ignore"):
        ve = ktrans_s / kep_s
    valid = ok & (kep_s > 0) & (ktrans_s > 0) & np.isfinite(ve)
    params = np.column_stack([ktrans_s * 60.0, ve] + ([vp] if extended else []))
    params = np.where(np.isfinite(params), params, lower)
    return np.clip(params, lower, upper), valid


def _check_model(model: str) -> DceModelSpec:
    if model not in DCE_MODELS:
        raise InvalidParameterError("model", model, f"one of {sorted(DCE_MODELS)}")
    return DCE_MODELS[model]


def _fit_batch(
    spec: DceModelSpec,
    t: np.ndarray,
    cp: np.ndarray,
    y: np.ndarray,
    p0: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    delay_fixed: np.ndarray | None,
    max_iter: int,
):
    """Fit ``y`` (n, n_t); the last parameter is the delay when ``delay_fixed`` is None."""
    free_delay = delay_fixed is None

    def model(params: np.ndarray, index: np.ndarray) -> np.ndarray:
        if free_delay:
            return spec.forward(t, cp, *params[:, :-1].T, delay_s=params[:, -1])
        return spec.forward(t, cp, *params.T, delay_s=delay_fixed[index])

    names = spec.param_names + (("delay_s",) if free_delay else ())
    abs_step = np.array([_ABS_STEP.get(n, 1e-8) for n in names])
    return levenberg_marquardt(model, p0, y, lower, upper, max_iter=max_iter, abs_step=abs_step)


def fit_dce(
    t_s: np.ndarray,
    conc_mM: np.ndarray,
    cp_mM: np.ndarray,
    model: str = "tofts",
    fit_delay: bool = False,
    delay_bounds_s: tuple[float, float] = (-10.0, 10.0),
    delay_grid_step_s: float = 1.0,
    mask: np.ndarray | None = None,
    p0: dict[str, float] | None = None,
    bounds: dict[str, tuple[float, float]] | None = None,
    max_iter: int = 200,
    iauc_onset_s: float | None = None,
    chunk_size: int = 4096,
    multistart: bool = True,
    linear_init: bool = True,
) -> dict[str, np.ndarray]:
    """Fit a DCE tracer-kinetic model to every voxel (or one ROI curve).

    Parameters
    ----------
    t_s : array (n_t,)
        Sampling times in seconds.
    conc_mM : array (..., n_t)
        Tissue concentration curves in mM, time on the last axis (e.g. (z, y, x, n_t) or (n_t,)).
    cp_mM : array (n_t,)
        Arterial **plasma** input in mM (convert blood with :func:`imagebio.perfusion.aif.to_plasma`).
    model : str
        One of :data:`DCE_MODELS`.
    fit_delay : bool
        Fit an arterial delay (s) per voxel.
    delay_bounds_s : (float, float)
        Delay bounds in seconds.
    delay_grid_step_s : float
        Grid step of the delay pre-search in seconds.
    mask : array of bool (...), optional
        Voxels to fit; others are ``nan`` in the maps.
    p0, bounds : dict, optional
        Override start values / bounds by parameter name (e.g. ``{"ve": 0.3}``).
    max_iter : int
        Maximum Levenberg-Marquardt iterations.
    iauc_onset_s : float, optional
        Bolus arrival time for iAUC60; default: first time the AIF reaches 10 % of its peak, plus the fitted
        delay when ``fit_delay``.
    multistart : bool
        Also start from the model's ``extra_starts`` and keep the lowest SSE per voxel (guards against local
        minima, mostly for 2CXM/2CUM); ``False`` uses the single default start (faster).
    linear_init : bool
        For Tofts and extended Tofts without a fitted delay, start each voxel from its linearised least-squares
        (Murase 2004) solution, see :func:`linear_tofts_start` (the default start where it is unphysical).
    chunk_size : int
        Voxels fitted together (bounds memory to roughly ``chunk_size * n_t * 150`` bytes).

    Returns
    -------
    dict of arrays, each shaped like ``conc_mM.shape[:-1]``
        Fitted parameters by name (``ktrans_per_min``, ``ve``, ``vp``, ``fp_ml_per_100ml_per_min``,
        ``ps_per_min``, ``delay_s`` as applicable), their standard errors ``se_<name>``, derived maps
        (``kep_per_min`` for the Tofts models; ``extraction_fraction`` and ``ktrans_per_min`` for 2CXM/2CUM),
        ``iauc60_mM_s``, ``sse``, ``aic`` (corrected AIC), ``converged``, and the fit quality maps
        ``r_squared``, ``nrmse`` and ``fit_status`` (``int8`` codes of :mod:`imagebio.perfusion.quality`;
        -1 outside ``mask``). Parameters of failed voxels (not converged, non-finite input) are ``nan``.

    Raises
    ------
    InvalidParameterError
        Unknown model, mismatched shapes, non-increasing times, or a series too short for the model (fewer
        time points than free parameters + 1).
    """
    spec = _check_model(model)
    t = check_time(t_s)
    conc = np.asarray(conc_mM, dtype=float)
    cp = np.asarray(cp_mM, dtype=float)
    if conc.shape[-1] != t.size or cp.shape != t.shape:
        raise InvalidParameterError("conc_mM/cp_mM", (conc.shape, cp.shape), f"time axis of length {t.size}")
    n_free = len(spec.param_names) + (1 if fit_delay else 0)
    if t.size < n_free + 1:
        raise InvalidParameterError(
            "t_s", f"{t.size} time points", f"at least {n_free + 1} for the {model} model ({n_free} free parameters)"
        )
    shape = conc.shape[:-1]
    flat = conc.reshape(-1, t.size)
    sel = np.ones(flat.shape[0], dtype=bool) if mask is None else np.asarray(mask, dtype=bool).reshape(-1)
    if sel.size != flat.shape[0]:
        raise InvalidParameterError("mask", f"shape {np.shape(mask)}", f"shape {shape}")
    if not sel.any():
        raise EmptyMaskError("mask", detail="(no voxel to fit)")
    y = flat[sel]
    finite = np.all(np.isfinite(y), axis=1)
    y = np.where(finite[:, None], y, 0.0)

    names0 = list(spec.param_names)
    start = np.array([(p0 or {}).get(k, v) for k, v in zip(names0, spec.p0, strict=True)])
    box = [(bounds or {}).get(k, (a, b)) for k, a, b in zip(names0, spec.lower, spec.upper, strict=True)]
    lo = np.array([a for a, _ in box], dtype=float)
    hi = np.array([b for _, b in box], dtype=float)
    unknown = set(p0 or {}) | set(bounds or {})
    unknown -= set(names0) | {"delay_s"}
    if unknown:
        raise InvalidParameterError("p0/bounds", sorted(unknown), f"parameter names of {model}: {names0}")
    d_lo, d_hi = (bounds or {}).get("delay_s", delay_bounds_s)
    if fit_delay and (not d_lo < d_hi or delay_grid_step_s <= 0):
        raise InvalidParameterError("delay_bounds_s", (d_lo, d_hi), "lower < upper and a positive grid step")
    if chunk_size < 1:
        raise InvalidParameterError("chunk_size", chunk_size, "a positive number of voxels")
    onset = _onset_from_aif(t, cp) if iauc_onset_s is None else float(iauc_onset_s)

    starts = [start] + [np.asarray(extra, dtype=float) for extra in spec.extra_starts] if multistart else [start]
    # (extended) Tofts without a delay: the first start is the voxel's linearised least-squares solution (the
    # default start where that is unphysical), which cuts the iterations of the non-linear fit about in half
    linear_init = linear_init and not fit_delay and model in ("tofts", "extended_tofts")

    def best_of_starts(y: np.ndarray, delays: np.ndarray, free_delay: bool) -> LMResult:
        # the SSE of the flow models has several local minima (e.g. vp -> 0): keep the best of a few starts.
        # With free_delay the delay is fitted too, seeded with ``delays`` (the voxel's best grid delay).
        best = None
        for number, s0 in enumerate(starts):
            if number == 0 and linear_init:
                guess, valid = linear_tofts_start(t, cp, y, model == "extended_tofts", lo, hi)
                s0 = np.where(valid[:, None], guess, s0)
            if free_delay:
                seed = np.column_stack([np.tile(s0, (y.shape[0], 1)), delays])
                res = _fit_batch(spec, t, cp, y, seed, np.append(lo, d_lo), np.append(hi, d_hi), None, max_iter)
            else:
                res = _fit_batch(spec, t, cp, y, s0, lo, hi, delays, max_iter)
            if best is None:
                best = res
                continue
            better = res.sse < best.sse
            best = LMResult(
                params=np.where(better[:, None], res.params, best.params),
                sse=np.where(better, res.sse, best.sse),
                jacobian=np.where(better[:, None, None], res.jacobian, best.jacobian),
                converged=np.where(better, res.converged, best.converged),
                n_iter=np.where(better, res.n_iter, best.n_iter),
            )
        return best

    def fit_chunk(y: np.ndarray) -> dict[str, np.ndarray]:
        n = y.shape[0]
        names = list(names0)
        if fit_delay:
            grid = np.arange(d_lo, d_hi + 1e-9, delay_grid_step_s)
            best_sse = np.full(n, np.inf)
            grid_delay = np.zeros(n)
            for d in grid:
                res = _fit_batch(spec, t, cp, y, start, lo, hi, np.full(n, d), max_iter)
                improved = res.sse < best_sse
                best_sse = np.where(improved, res.sse, best_sse)
                grid_delay[improved] = d
            names.append("delay_s")
            res = best_of_starts(y, grid_delay, free_delay=True)
        else:
            res = best_of_starts(y, np.zeros(n), free_delay=False)
        se = standard_errors(res.jacobian, res.sse)

        out: dict[str, np.ndarray] = {}
        for j, name in enumerate(names):
            out[name] = res.params[:, j]
            out[f"se_{name}"] = se[:, j]
        if model in ("tofts", "extended_tofts"):
            with np.errstate(divide="ignore", invalid="ignore"):
                out["kep_per_min"] = np.where(out[_VE] > 0, out[_KT] / out[_VE], np.nan)
        if model in ("2cxm", "2cum"):
            fp_per_min = out[_FP] / 100.0
            total = fp_per_min + out[_PS]
            with np.errstate(divide="ignore", invalid="ignore"):
                out["extraction_fraction"] = np.where(total > 0, out[_PS] / total, np.nan)
            out[_KT] = out["extraction_fraction"] * fp_per_min
        onset_v = onset + (out["delay_s"] if fit_delay and iauc_onset_s is None else 0.0)
        out["iauc60_mM_s"] = iauc(t, y, onset_v)
        out["sse"] = res.sse
        out["aic"] = aic(res.sse, t.size, len(names))
        out["converged"] = res.converged
        out.update(goodness_of_fit(y, res.sse, t.size))
        box_lo = np.append(lo, d_lo) if fit_delay else lo
        box_hi = np.append(hi, d_hi) if fit_delay else hi
        out["fit_status"] = fit_status(
            n,
            converged=res.converged,
            invalid_result=~np.all(np.isfinite(res.params), axis=1),
            hit_bound=at_bound(res.params, box_lo, box_hi),
        )
        return out

    pieces = [fit_chunk(y[i : i + chunk_size]) for i in range(0, y.shape[0], chunk_size)]
    out = {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0]}
    out["converged"] = out["converged"] & finite
    out["fit_status"] = np.where(finite, out["fit_status"], INVALID_INPUT).astype(np.int8)
    mask_failed(out, out["fit_status"], keep=("iauc60_mM_s", "sse", "r_squared", "nrmse"))

    maps: dict[str, np.ndarray] = {}
    for key, values in out.items():
        if values.dtype == bool:
            fill, kept = False, values
        elif key == "fit_status":
            fill, kept = -1, values
        else:
            fill, kept = np.nan, np.where(finite, values, np.nan)
        full = np.full(flat.shape[0], fill, dtype=values.dtype)
        full[sel] = kept
        maps[key] = full.reshape(shape)
    return maps


def fit_roi_curve(
    t_s: np.ndarray, conc_mM: np.ndarray, cp_mM: np.ndarray, model: str = "tofts", **options
) -> dict[str, float]:
    """Fit one ROI-averaged curve (n_t,); returns plain floats (parameters, ``se_<name>``, sse, aic)."""
    conc = np.asarray(conc_mM, dtype=float)
    if conc.ndim != 1:
        raise InvalidParameterError("conc_mM", f"shape {conc.shape}", "a single curve (n_t,)")
    maps = fit_dce(t_s, conc, cp_mM, model=model, **options)
    return {
        k: (bool(v) if v.dtype == bool else int(v) if k == "fit_status" else float(v)) for k, v in maps.items()
    }


def select_model(fits: dict[str, dict[str, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Pick the model with the lowest AIC per voxel.

    Parameters
    ----------
    fits : dict
        Model name -> result of :func:`fit_dce` (same voxel shape).

    Returns
    -------
    (names, akaike_weight)
        Array of chosen model names per voxel and the Akaike weight of the chosen model.
    """
    if not fits:
        raise InvalidParameterError("fits", "{}", "at least one model fit")
    names = list(fits)
    scores = np.stack([np.asarray(fits[k]["aic"], dtype=float) for k in names], axis=0)
    scores = np.where(np.isfinite(scores), scores, np.inf)
    best = np.argmin(scores, axis=0)
    delta = scores - np.min(scores, axis=0)
    weights = np.exp(-0.5 * delta)
    weights = weights / np.sum(weights, axis=0)
    chosen_w = np.take_along_axis(weights, best[None], 0)[0]
    return np.asarray(names, dtype=object)[best], chosen_w
