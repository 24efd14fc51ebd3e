"""Time-activity curves (TAC) and time-integrated activity (TIA).

Times are in s after administration; activities in any activity unit (Bq, MBq); a TIA is then in that unit × s
(Bq·s, MBq·s). Divide a TIA by the administered activity to get the time-integrated activity coefficient (s).

Three ways to integrate:

* :func:`fit_tac` / :func:`fit_tac_best` - least-squares fit (``scipy.optimize.least_squares``) of a sum of
  exponentials to an ROI curve, analytic integral from 0 to ∞, TIA standard deviation from the fit covariance
  (delta method), model choice by the corrected Akaike criterion (AICc), as in Glatting et al. 2007 and the NUKFIT
  approach of Kletting et al. 2013.
* :func:`tia_trapezoid` - trapezoids between the measured points plus a physical-decay tail after the last point
  (works on stacks of voxel curves), and :func:`fit_mono_exponential_voxels`, a vectorised mono-exponential fit.
* single time point - :func:`tia_hanscheid` (Hänscheid et al. 2018) and :func:`tia_single_time_point`
  (prior effective half-life; Madsen et al. 2018, Jackson et al. 2020).

Models (λ are effective decay constants; with ``constrain_to_physical_decay`` each λ ≥ λ_phys, i.e. the biological
clearance is non-negative; k is the number of free parameters):

* ``mono``: a·e^(−λ t); k = 2
* ``bi``: a1·e^(−λ1 t) + a2·e^(−λ2 t), λ1 ≤ λ2, a1, a2 ≥ 0; k = 4
* ``uptake_washout``: a·(e^(−λw t) − e^(−λu t)), λw ≤ λu; k = 3
* ``tri``: a1·e^(−λ1 t) + a2·e^(−λ2 t) − (a1 + a2)·e^(−λu t), λ1 ≤ λ2 ≤ λu (uptake, two washout phases); k = 5

References
----------
Glatting G, Kletting P, Reske SN, Hohl K, Ring C. Choosing the optimal fit function: comparison of the Akaike
information criterion and the F-test. Med Phys 2007;34:4285-4292.
Kletting P et al. Optimized selection of fit functions for biokinetic data (NUKFIT). Med Phys 2013;40:102504.
Hänscheid H, Lapa C, Buck AK, Lassmann M, Werner RA. Dose mapping after endoradiotherapy with 177Lu-DOTATATE/-TOC
by a single measurement after 4 days. J Nucl Med 2018;59:75-81.
Madsen MT, Menda Y, O'Dorisio TM, O'Dorisio MS. Single time point dose estimate for exponential clearance.
Med Phys 2018;45:2318-2324.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence

import numpy as np

from imagebio.errors import FitError, InvalidParameterError

__all__ = [
    "TAC_MODELS",
    "TacFit",
    "TiaEstimate",
    "VoxelMonoFit",
    "aicc",
    "fit_mono_exponential_voxels",
    "fit_tac",
    "fit_tac_best",
    "tia_hanscheid",
    "tia_single_time_point",
    "tia_trapezoid",
]

LN2 = math.log(2.0)

#: Number of free parameters of each model.
TAC_MODELS: dict[str, int] = {"mono": 2, "bi": 4, "uptake_washout": 3, "tri": 5}
_N_AMPLITUDES = {"mono": 1, "bi": 2, "uptake_washout": 1, "tri": 2}
_N_RATES = {"mono": 1, "bi": 2, "uptake_washout": 2, "tri": 3}


@dataclasses.dataclass(frozen=True)
class TacFit:
    """A fitted time-activity curve.

    Attributes
    ----------
    model : str
        One of :data:`TAC_MODELS`.
    coefficients : numpy.ndarray
        Signed amplitudes c_i of A(t) = Σ c_i·e^(−λ_i t), in the activity unit of the data.
    decay_constants_per_s : numpy.ndarray
        Effective decay constants λ_i in 1/s.
    tia : float
        ∫_0^∞ A(t) dt = Σ c_i/λ_i, in activity unit × s.
    tia_sd : float
        Standard deviation of ``tia`` from the parameter covariance (delta method); NaN when the fit has no
        degrees of freedom or the Jacobian is singular. Parameters at a bound make it approximate.
    aicc : float
        Corrected Akaike criterion n·ln(SSR/n) + 2k + 2k(k+1)/(n−k−1); NaN when n ≤ k + 1.
    ssr : float
        Sum of squared residuals (weighted by 1/σ² when σ was given).
    n_points, n_params : int
        Number of data points and of free parameters k.
    parameters : numpy.ndarray
        Free parameters in the fit's own parametrisation (amplitudes, then non-negative rate increments, 1/s).
    covariance : numpy.ndarray
        Covariance of ``parameters``.
    """

    model: str
    coefficients: np.ndarray
    decay_constants_per_s: np.ndarray
    tia: float
    tia_sd: float
    aicc: float
    ssr: float
    n_points: int
    n_params: int
    parameters: np.ndarray
    covariance: np.ndarray

    def predict(self, t_s) -> np.ndarray:
        """Activity at times ``t_s`` (s), in the activity unit of the data."""
        t = np.asarray(t_s, dtype=float)
        return np.tensordot(self.coefficients, np.exp(-np.multiply.outer(self.decay_constants_per_s, t)), axes=1)

    @property
    def effective_half_lives_s(self) -> np.ndarray:
        """ln 2/λ_i in s."""
        return LN2 / self.decay_constants_per_s


@dataclasses.dataclass(frozen=True)
class TiaEstimate:
    """A time-integrated activity (activity unit × s) and its standard deviation (NaN when unknown)."""

    tia: float | np.ndarray
    tia_sd: float | np.ndarray
    method: str


def _split(model: str, p: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Free parameters → (signed coefficients, decay constants). Rates are floor + cumulative increments."""
    n_amp = _N_AMPLITUDES[model]
    amps = p[:n_amp]
    rates = floor + np.cumsum(p[n_amp:])
    if model in ("mono", "bi"):
        return amps, rates
    if model == "uptake_washout":
        return np.array([amps[0], -amps[0]]), rates
    return np.array([amps[0], amps[1], -(amps[0] + amps[1])]), rates


def _design(model: str, rates: np.ndarray, t: np.ndarray) -> np.ndarray:
    e = np.exp(-np.outer(t, rates))
    if model in ("mono", "bi"):
        return e
    if model == "uptake_washout":
        return (e[:, 0] - e[:, 1])[:, None]
    return np.column_stack([e[:, 0] - e[:, 2], e[:, 1] - e[:, 2]])


def aicc(ssr: float, n_points: int, n_params: int) -> float:
    """Corrected Akaike information criterion for a least-squares fit.

    AICc = n·ln(SSR/n) + 2k + 2k(k+1)/(n−k−1) (Glatting et al. 2007, eq. 3). NaN when n ≤ k + 1.
    """
    n, k = n_points, n_params
    if n - k - 1 <= 0:
        return float("nan")
    return n * math.log(ssr / n) + 2 * k + 2 * k * (k + 1) / (n - k - 1)


def _check_curve(t_s, activity, sigma) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    t = np.asarray(t_s, dtype=float).ravel()
    a = np.asarray(activity, dtype=float).ravel()
    if t.shape != a.shape:
        raise InvalidParameterError("activity", a.shape, f"one value per time point (t_s has shape {t.shape})")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(a))):
        raise InvalidParameterError("activity", a, "finite times and activities")
    if np.any(t < 0) or np.any(np.diff(t) <= 0):
        raise InvalidParameterError("t_s", t, "strictly increasing times ≥ 0 s after administration")
    s = None
    if sigma is not None:
        s = np.broadcast_to(np.asarray(sigma, dtype=float), a.shape).astype(float)
        if np.any(~(s > 0)):
            raise InvalidParameterError("sigma", sigma, "positive standard deviations of the activities")
    return t, a, s


def _grid_start(model: str, t: np.ndarray, a: np.ndarray, w: np.ndarray, floor: float) -> np.ndarray:
    """Best starting point on a grid of rates, amplitudes solved by non-negative least squares."""
    from scipy.optimize import nnls

    grid = floor + np.logspace(-2.5, 1.5, 12)  # rates in units of 1/t_max (times are scaled to max 1)
    best, best_cost = None, np.inf
    for rates in itertools.combinations(grid, _N_RATES[model]):
        rates = np.asarray(rates)  # combinations of a sorted grid are increasing, as the models require
        amps, _ = nnls(_design(model, rates, t) * w[:, None], a * w)
        p = np.concatenate([amps, np.diff(np.concatenate([[floor], rates]))])
        cost = np.sum(((_design(model, rates, t) @ amps - a) * w) ** 2)
        if cost < best_cost:
            best, best_cost = p, cost
    return best


def fit_tac(
    t_s: Sequence[float] | np.ndarray,
    activity: Sequence[float] | np.ndarray,
    model: str = "mono",
    *,
    half_life_s: float | None = None,
    sigma: Sequence[float] | np.ndarray | float | None = None,
    constrain_to_physical_decay: bool = True,
) -> TacFit:
    """Fit one exponential TAC model to an ROI time-activity curve and integrate it from 0 to ∞.

    Parameters
    ----------
    t_s : array_like
        Strictly increasing times after administration, s.
    activity : array_like
        Activity (or activity concentration) at ``t_s``, any unit.
    model : {"mono", "bi", "uptake_washout", "tri"}
        See the module docstring.
    half_life_s : float, optional
        Physical half-life of the nuclide, s. Needed when ``constrain_to_physical_decay`` is true.
    sigma : array_like or float, optional
        Standard deviation of each activity (same unit). When given, residuals are weighted by 1/σ and the
        covariance is absolute; otherwise it is scaled by SSR/(n − k).
    constrain_to_physical_decay : bool
        Bound every λ ≥ ln2/``half_life_s`` (no negative biological clearance).

    Returns
    -------
    TacFit

    Raises
    ------
    InvalidParameterError
        Unknown model, bad times, or fewer points than parameters.
    FitError
        The optimiser did not converge.

    References
    ----------
    Glatting et al., Med Phys 2007;34:4285; Kletting et al., Med Phys 2013;40:102504.
    """
    from scipy.optimize import least_squares

    if model not in TAC_MODELS:
        raise InvalidParameterError("model", model, f"one of {sorted(TAC_MODELS)}")
    t, a, s = _check_curve(t_s, activity, sigma)
    k, n = TAC_MODELS[model], t.size
    if n < k:
        raise InvalidParameterError("activity", f"{n} points", f"at least {k} points for the {model!r} model")
    if constrain_to_physical_decay:
        if half_life_s is None or not half_life_s > 0:
            raise InvalidParameterError("half_life_s", half_life_s, "the physical half-life in s (> 0)")
        floor = LN2 / half_life_s
    else:
        floor = 0.0

    # scale to O(1) numbers: time by the last sample, activity by the largest value
    t_scale, a_scale = t[-1], max(np.max(np.abs(a)), np.finfo(float).tiny)
    ts, as_ = t / t_scale, a / a_scale
    ws = np.ones_like(t) if s is None else a_scale / s
    floor_s = floor * t_scale

    def residuals(p):
        c, r = _split(model, p, floor_s)
        return (np.exp(-np.outer(ts, r)) @ c - as_) * ws

    p0 = _grid_start(model, ts, as_, ws, floor_s)
    lower = np.zeros(k)
    p0 = np.maximum(p0, 1e-9)
    result = least_squares(residuals, p0, bounds=(lower, np.inf), method="trf", x_scale="jac", max_nfev=2000 * k)
    if not result.success:
        raise FitError(f"TAC fit of model {model!r} did not converge: {result.message}")

    # back to physical units: amplitudes × a_scale, rate increments / t_scale
    unscale = np.concatenate([np.full(_N_AMPLITUDES[model], a_scale), np.full(_N_RATES[model], 1.0 / t_scale)])
    p = result.x * unscale
    coefficients, rates = _split(model, p, floor)
    weighted_ssr_scaled = float(np.sum(result.fun**2))
    ssr = weighted_ssr_scaled * (a_scale**2 if s is None else 1.0)

    jac = result.jac / unscale[None, :]
    if s is None:
        jac = jac * a_scale  # residuals in data units
    covariance = np.full((k, k), np.nan)
    dof = n - k
    try:
        inv = np.linalg.inv(jac.T @ jac)
        if s is not None:
            covariance = inv
        elif dof > 0:
            covariance = inv * ssr / dof
    except np.linalg.LinAlgError:
        pass

    tia = float(np.sum(coefficients / rates))
    grad = _tia_gradient(model, p, floor)
    var = float(grad @ covariance @ grad)
    tia_sd = math.sqrt(var) if np.isfinite(var) and var >= 0 else float("nan")
    ssr_for_aic = max(ssr, np.finfo(float).tiny * n)
    return TacFit(
        model=model,
        coefficients=coefficients,
        decay_constants_per_s=rates,
        tia=tia,
        tia_sd=tia_sd,
        aicc=aicc(ssr_for_aic, n, k),
        ssr=ssr,
        n_points=n,
        n_params=k,
        parameters=p,
        covariance=covariance,
    )


def _tia_gradient(model: str, p: np.ndarray, floor: float) -> np.ndarray:
    """Analytic d TIA / d p for TIA = Σ c_i/λ_i, with c = M·amplitudes and λ = floor + cumsum(increments)."""
    coefficients, rates = _split(model, p, floor)
    n_amp = _N_AMPLITUDES[model]
    mixing = {
        "mono": np.eye(1),
        "bi": np.eye(2),
        "uptake_washout": np.array([[1.0], [-1.0]]),
        "tri": np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]),
    }[model]
    d_amplitudes = mixing.T @ (1.0 / rates)
    d_rates = -coefficients / rates**2
    d_increments = np.cumsum(d_rates[::-1])[::-1]  # λ_j depends on every increment i ≤ j
    return np.concatenate([d_amplitudes, d_increments])[: n_amp + _N_RATES[model]]


def fit_tac_best(
    t_s: Sequence[float] | np.ndarray,
    activity: Sequence[float] | np.ndarray,
    models: Sequence[str] = ("mono", "bi", "uptake_washout", "tri"),
    *,
    half_life_s: float | None = None,
    sigma: Sequence[float] | np.ndarray | float | None = None,
    constrain_to_physical_decay: bool = True,
) -> tuple[TacFit, dict[str, TacFit]]:
    """Fit several TAC models and return the one with the lowest AICc, plus all fits.

    Models with n ≤ k + 1 points (AICc undefined) are skipped. Parameters as in :func:`fit_tac`.

    Returns
    -------
    best : TacFit
    fits : dict of str to TacFit
        Every model that could be ranked.

    Raises
    ------
    FitError
        No model has enough points for AICc, or every fit failed.

    References
    ----------
    Glatting et al., Med Phys 2007;34:4285 (AICc for biokinetic model selection).
    """
    n = np.asarray(t_s).size
    fits: dict[str, TacFit] = {}
    errors = []
    for model in models:
        if model not in TAC_MODELS:
            raise InvalidParameterError("models", model, f"names from {sorted(TAC_MODELS)}")
        if n - TAC_MODELS[model] - 1 <= 0:
            continue
        try:
            fits[model] = fit_tac(
                t_s,
                activity,
                model,
                half_life_s=half_life_s,
                sigma=sigma,
                constrain_to_physical_decay=constrain_to_physical_decay,
            )
        except FitError as exc:
            errors.append(str(exc))
    if not fits:
        raise FitError(
            f"no TAC model could be ranked by AICc with {n} points (each needs n > k + 1; "
            f"k = {dict((m, TAC_MODELS[m]) for m in models)}){'; ' + '; '.join(errors) if errors else ''}"
        )
    best = min(fits.values(), key=lambda f: (f.aicc, f.n_params))
    return best, fits


def tia_trapezoid(
    t_s: Sequence[float] | np.ndarray,
    activity: np.ndarray,
    half_life_s: float,
    *,
    start: str = "zero",
    tail: str = "physical",
) -> np.ndarray:
    """TIA by trapezoids between samples plus an exponential tail after the last one. Vectorised.

    Parameters
    ----------
    t_s : array_like, shape (n,)
        Strictly increasing times after administration, s.
    activity : numpy.ndarray, shape (n, ...)
        Activity at each time; trailing axes are any voxel or ROI layout (e.g. (n, z, y, x)).
    half_life_s : float
        Physical half-life, s; the tail after the last point is A_last/λ_phys (physical decay only, the
        conservative choice when biological clearance after the last sample is unknown).
    start : {"zero", "constant", "first"}
        Before the first sample: a line from A(0) = 0 (``"zero"``, uptake), a constant A(t_1) (``"constant"``),
        or nothing (``"first"``: integrate from t_1).
    tail : {"physical", "none"}

    Returns
    -------
    numpy.ndarray
        TIA with shape ``activity.shape[1:]``, activity unit × s.
    """
    t = np.asarray(t_s, dtype=float)
    a = np.asarray(activity, dtype=float)
    if t.ndim != 1 or a.shape[:1] != t.shape:
        raise InvalidParameterError("activity", a.shape, f"first axis of length {t.size} (one per time point)")
    if np.any(t < 0) or np.any(np.diff(t) <= 0):
        raise InvalidParameterError("t_s", t, "strictly increasing times ≥ 0 s")
    if not half_life_s > 0:
        raise InvalidParameterError("half_life_s", half_life_s, "a positive half-life in s")
    widths = np.diff(t).reshape((-1,) + (1,) * (a.ndim - 1))
    total = np.sum(widths * (a[1:] + a[:-1]) / 2.0, axis=0)
    if start == "zero":
        total = total + t[0] * a[0] / 2.0
    elif start == "constant":
        total = total + t[0] * a[0]
    elif start != "first":
        raise InvalidParameterError("start", start, "'zero', 'constant' or 'first'")
    if tail == "physical":
        total = total + a[-1] * half_life_s / LN2
    elif tail != "none":
        raise InvalidParameterError("tail", tail, "'physical' or 'none'")
    return total


@dataclasses.dataclass(frozen=True)
class VoxelMonoFit:
    """Vectorised mono-exponential fit: maps of A0 (activity unit), λ (1/s) and TIA (activity unit × s)."""

    a0: np.ndarray
    decay_constant_per_s: np.ndarray
    tia: np.ndarray


def fit_mono_exponential_voxels(
    t_s: Sequence[float] | np.ndarray,
    activity: np.ndarray,
    half_life_s: float,
    *,
    constrain_to_physical_decay: bool = True,
) -> VoxelMonoFit:
    """Mono-exponential fit of many voxel TACs at once (no per-voxel loop).

    λ comes from a weighted log-linear regression (weights A², which approximates an unweighted fit in linear
    space; non-positive samples get zero weight), clipped to λ ≥ λ_phys when ``constrain_to_physical_decay``
    (and set to λ_phys where fewer than two samples are positive or the fitted λ is not positive, e.g. a rising
    curve without the constraint). A0 is then the
    linear least-squares amplitude for that λ, so that negative noise is kept unbiased.

    Parameters
    ----------
    t_s : array_like, shape (n,)
        Times after administration, s (n ≥ 2).
    activity : numpy.ndarray, shape (n, ...)
        Voxel activities per time point.
    half_life_s : float
        Physical half-life, s.

    Returns
    -------
    VoxelMonoFit
        Arrays of shape ``activity.shape[1:]``; TIA = A0/λ.
    """
    t = np.asarray(t_s, dtype=float)
    a = np.asarray(activity, dtype=float)
    if t.ndim != 1 or t.size < 2 or a.shape[:1] != t.shape:
        raise InvalidParameterError("activity", a.shape, f"first axis of length {t.size} ≥ 2 (one per time point)")
    if not half_life_s > 0:
        raise InvalidParameterError("half_life_s", half_life_s, "a positive half-life in s")
    lam_phys = LN2 / half_life_s
    tt = t.reshape((-1,) + (1,) * (a.ndim - 1))
    positive = a > 0
    w = np.where(positive, a, 0.0) ** 2
    y = np.log(np.where(positive, a, 1.0))
    sw = w.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        t_mean = (w * tt).sum(0) / sw
        y_mean = (w * y).sum(0) / sw
        slope = (w * (tt - t_mean) * (y - y_mean)).sum(0) / (w * (tt - t_mean) ** 2).sum(0)
    lam = -slope
    enough = positive.sum(0) >= 2
    floor = lam_phys if constrain_to_physical_decay else 0.0
    lam = np.where(enough & np.isfinite(lam), np.maximum(lam, floor), lam_phys)
    lam = np.where(lam > 0, lam, lam_phys)
    e = np.exp(-tt * lam)
    a0 = (a * e).sum(0) / (e * e).sum(0)
    return VoxelMonoFit(a0=a0, decay_constant_per_s=lam, tia=a0 / lam)


def tia_hanscheid(activity, t_s):
    """Single-time-point TIA of Hänscheid et al. (2018): Ã ≈ A(t)·2t/ln 2.

    For mono-exponential clearance the ratio to the true TIA is 2λt·e^(−λt)/ln 2: exact at t = T_eff and
    t = 2·T_eff, at most +6.2 % (at t = T_eff/ln 2 ≈ 1.44·T_eff), and within about ±12 % for
    0.75·T_eff ≤ t ≤ 2.5·T_eff. Works on arrays.

    Parameters
    ----------
    activity : float or array_like
        Activity at time ``t_s`` (any unit).
    t_s : float
        Time after administration, s.

    Returns
    -------
    TIA in activity unit × s.

    References
    ----------
    Hänscheid H et al., J Nucl Med 2018;59:75-81.
    """
    if not t_s > 0:
        raise InvalidParameterError("t_s", t_s, "a positive time after administration in s")
    return np.asarray(activity, dtype=float) * 2.0 * t_s / LN2


def tia_single_time_point(activity, t_s: float, effective_half_life_s: float, effective_half_life_sd_s: float = 0.0):
    """Single-time-point TIA with a prior (population) effective half-life: Ã = A(t)·e^(λ t)/λ.

    Assumes instant uptake and mono-exponential clearance with λ = ln2/T_eff. The standard deviation
    propagates only the uncertainty of T_eff (delta method): dÃ/dλ = A·e^(λt)·(t/λ − 1/λ²).

    Parameters
    ----------
    activity : float or array_like
        Activity at ``t_s`` (any unit).
    t_s : float
        Time after administration, s.
    effective_half_life_s : float
        Prior effective half-life T_eff, s.
    effective_half_life_sd_s : float
        Standard deviation of T_eff, s (0: no uncertainty).

    Returns
    -------
    TiaEstimate

    References
    ----------
    Madsen MT et al., Med Phys 2018;45:2318-2324; Jackson PA et al., J Nucl Med 2020;61:1068-1074.
    """
    if not effective_half_life_s > 0:
        raise InvalidParameterError("effective_half_life_s", effective_half_life_s, "a positive half-life in s")
    if t_s < 0:
        raise InvalidParameterError("t_s", t_s, "a time ≥ 0 s after administration")
    a = np.asarray(activity, dtype=float)
    lam = LN2 / effective_half_life_s
    tia = a * np.exp(lam * t_s) / lam
    dtia_dlam = a * np.exp(lam * t_s) * (t_s / lam - 1.0 / lam**2)
    lam_sd = lam * effective_half_life_sd_s / effective_half_life_s  # |dλ/dT| σ_T = λ σ_T / T
    return TiaEstimate(tia=tia, tia_sd=np.abs(dtia_dlam) * lam_sd, method="single time point, prior T_eff")
