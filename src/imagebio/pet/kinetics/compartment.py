"""One- and two-tissue compartment models (1TCM, 2TCM) with weighted non-linear least-squares fits.

Model of the PET signal in a region (frame averages):

``C_PET(t) = (1 − vB)·C_T(t) + vB·C_B(t)``,

with ``C_B`` the whole-blood curve (the plasma input unless given) and the tissue curve

* 1TCM: ``C_T = K1·e^(−k2·t) ⊗ Cp``;
* 2TCM: ``C_T = K1/(α2 − α1)·[(k3 + k4 − α1)·e^(−α1·t) + (α2 − k3 − k4)·e^(−α2·t)] ⊗ Cp``,
  ``α1,2 = (k2 + k3 + k4 ∓ √((k2 + k3 + k4)² − 4·k2·k4)) / 2``.

K1 in mL/cm³/min (mL/g/min for unit density), k2..k4 in /min, vB a fraction. Derived: net influx
``Ki = K1·k3/(k2 + k3)`` (irreversible, k4 = 0), total distribution volume ``Vt = K1/k2·(1 + k3/k4)``
(reversible) and ``BPnd = k3/k4``.

Fits minimise ``Σ w_i·(C_model,i − C_i)²`` (``scipy.optimize.least_squares``, trust-region reflective, bounds),
from several starting points, keeping the best. Default weights are the frame durations (counts ∝ duration),
normalised to mean 1.

References
----------
Phelps ME, Huang SC, Hoffman EJ, Selin C, Sokoloff L, Kuhl DE. Tomographic measurement of local cerebral glucose
metabolic rate in humans with (F-18)2-fluoro-2-deoxy-D-glucose. Ann Neurol 1979;6:371-388.
Innis RB et al. Consensus nomenclature for in vivo imaging of reversibly binding radioligands. J Cereb Blood Flow
Metab 2007;27:1533-1539. Gunn RN, Gunn SR, Cunningham VJ. Positron emission tomography compartmental models.
J Cereb Blood Flow Metab 2001;21:635-652.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np

from imagebio.errors import FitError, InvalidParameterError
from imagebio.pet.kinetics.convolution import KineticGrid, exp_convolve
from imagebio.pet.kinetics.frames import FrameTimes
from imagebio.pet.kinetics.input_function import InputCurve

__all__ = [
    "CompartmentFit",
    "fit_one_tissue",
    "fit_two_tissue",
    "simulate_one_tissue",
    "simulate_two_tissue",
    "two_tissue_rates",
]

_PARAMETERS_2TCM = ("K1", "k2", "k3", "k4", "vB")
_DEFAULT_BOUNDS = {"K1": (0.0, 5.0), "k2": (0.0, 5.0), "k3": (0.0, 2.0), "k4": (0.0, 1.0), "vB": (0.0, 1.0)}
# Starting points (K1, k2, k3, k4, vB): a spread over typical brain/tumour values; the best fit is kept.
_STARTS = (
    (0.1, 0.1, 0.05, 0.01, 0.05),
    (0.3, 0.5, 0.1, 0.05, 0.02),
    (0.05, 0.05, 0.02, 0.005, 0.1),
    (0.5, 0.2, 0.3, 0.1, 0.05),
)


@dataclasses.dataclass(frozen=True)
class CompartmentFit:
    """Result of a compartment-model fit.

    Attributes
    ----------
    model : str
        ``"1TCM"`` or ``"2TCM"``.
    parameters : dict
        ``K1`` (mL/cm³/min), ``k2``, ``k3``, ``k4`` (/min), ``vB`` (fraction); fixed ones included.
    standard_errors : dict
        Asymptotic SE of the fitted parameters (``s²·(JᵀWJ)⁻¹``); NaN when not identifiable.
    derived : dict
        ``Ki`` (mL/cm³/min), ``Vt`` (mL/cm³; inf when k4 = 0 with k3 > 0), ``BPnd`` (k3/k4), ``K1_k2``.
    fitted : numpy.ndarray
        Model frame values at the optimum.
    weighted_sse : float
    aic : float
        Akaike information criterion ``n·ln(WSSE/n) + 2p``.
    """

    model: str
    parameters: dict[str, float]
    standard_errors: dict[str, float]
    derived: dict[str, float]
    fitted: np.ndarray
    weighted_sse: float
    aic: float


def two_tissue_rates(k2: float, k3: float, k4: float) -> tuple[float, float]:
    """``α1 ≤ α2`` of the 2TCM impulse response (/min)."""
    s = k2 + k3 + k4
    root = math.sqrt(max(s * s - 4.0 * k2 * k4, 0.0))
    return 0.5 * (s - root), 0.5 * (s + root)


def _tissue_on_grid(cp: np.ndarray, dt: float, k1: float, k2: float, k3: float, k4: float) -> np.ndarray:
    if k3 == 0.0:
        return k1 * exp_convolve(cp, k2, dt)
    a1, a2 = two_tissue_rates(k2, k3, k4)
    if a2 - a1 < 1e-9 * max(a2, 1e-12):
        # α1 = α2 = α (only when k3 = 0 and k2 = k4, handled above; kept as a guard against rounding)
        return k1 * exp_convolve(cp, a1, dt)
    return k1 / (a2 - a1) * ((k3 + k4 - a1) * exp_convolve(cp, a1, dt) + (a2 - k3 - k4) * exp_convolve(cp, a2, dt))


def _derived(p: Mapping[str, float]) -> dict[str, float]:
    k1, k2, k3, k4 = p["K1"], p["k2"], p["k3"], p["k4"]
    ki = k1 * k3 / (k2 + k3) if k2 + k3 > 0 else math.nan
    if k4 > 0:
        vt = k1 / k2 * (1.0 + k3 / k4) if k2 > 0 else math.nan
        bp = k3 / k4
    else:
        vt = math.inf if k3 > 0 else (k1 / k2 if k2 > 0 else math.nan)
        bp = math.inf if k3 > 0 else 0.0
    return {"Ki": ki, "Vt": vt, "BPnd": bp, "K1_k2": k1 / k2 if k2 > 0 else math.nan}


class _Model:
    """Frame-averaged model on a grid, with the input and blood curves sampled once."""

    def __init__(self, frames: FrameTimes, input_function: InputCurve, blood: InputCurve | None, dt_min: float | None):
        self.grid = KineticGrid(frames, dt_min)
        t = self.grid.t_min
        self.cp = np.asarray(input_function(t), dtype=np.float64)
        self.cb_frames = self.grid.frame_average(self.cp if blood is None else np.asarray(blood(t), dtype=np.float64))

    def __call__(self, k1: float, k2: float, k3: float, k4: float, vb: float) -> np.ndarray:
        tissue = self.grid.frame_average(_tissue_on_grid(self.cp, self.grid.dt_min, k1, k2, k3, k4))
        return (1.0 - vb) * tissue + vb * self.cb_frames


def simulate_two_tissue(
    frames: FrameTimes,
    input_function: InputCurve,
    K1: float,
    k2: float,
    k3: float,
    k4: float = 0.0,
    vB: float = 0.0,
    *,
    blood: InputCurve | None = None,
    dt_min: float | None = None,
) -> np.ndarray:
    """Frame-averaged 2TCM PET curve (unit of the input); see the module docstring."""
    for name, value in (("K1", K1), ("k2", k2), ("k3", k3), ("k4", k4)):
        if not value >= 0:
            raise InvalidParameterError(name, value, "a rate constant ≥ 0")
    if not 0 <= vB <= 1:
        raise InvalidParameterError("vB", vB, "a blood fraction in [0, 1]")
    return _Model(frames, input_function, blood, dt_min)(K1, k2, k3, k4, vB)


def simulate_one_tissue(
    frames: FrameTimes,
    input_function: InputCurve,
    K1: float,
    k2: float,
    vB: float = 0.0,
    *,
    blood: InputCurve | None = None,
    dt_min: float | None = None,
) -> np.ndarray:
    """Frame-averaged 1TCM PET curve (unit of the input)."""
    return simulate_two_tissue(frames, input_function, K1, k2, 0.0, 0.0, vB, blood=blood, dt_min=dt_min)


def _weights(frames: FrameTimes, weights: Sequence[float] | None) -> np.ndarray:
    w = frames.duration_min.copy() if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (frames.n_frames,) or np.any(~np.isfinite(w)) or np.any(w < 0) or not np.any(w > 0):
        raise InvalidParameterError("weights", w.tolist() if w.size < 20 else f"array {w.shape}",
                                    f"{frames.n_frames} finite weights ≥ 0, not all 0")
    return w / w.mean()


def _fit(
    model_name: str,
    tac: Sequence[float],
    frames: FrameTimes,
    input_function: InputCurve,
    free: tuple[str, ...],
    fixed: dict[str, float],
    *,
    blood: InputCurve | None,
    weights: Sequence[float] | None,
    bounds: Mapping[str, tuple[float, float]] | None,
    initial: Mapping[str, float] | None,
    dt_min: float | None,
) -> CompartmentFit:
    from scipy.optimize import least_squares

    data = np.asarray(tac, dtype=np.float64)
    if data.shape != (frames.n_frames,) or not np.all(np.isfinite(data)):
        raise InvalidParameterError("tac", f"array of shape {data.shape}", f"{frames.n_frames} finite frame values")
    if data.size <= len(free):
        raise FitError(f"{model_name}: {data.size} frames cannot constrain {len(free)} parameters")
    w = np.sqrt(_weights(frames, weights))
    model = _Model(frames, input_function, blood, dt_min)
    limits = dict(_DEFAULT_BOUNDS)
    limits.update(bounds or {})
    lower = np.array([limits[n][0] for n in free])
    upper = np.array([limits[n][1] for n in free])
    if np.any(lower >= upper):
        raise InvalidParameterError("bounds", {n: limits[n] for n in free}, "lower < upper for every parameter")

    def full(x: np.ndarray) -> dict[str, float]:
        values = dict(fixed)
        values.update(zip(free, (float(v) for v in x), strict=True))
        return values

    def residuals(x: np.ndarray) -> np.ndarray:
        p = full(x)
        return w * (model(p["K1"], p["k2"], p["k3"], p["k4"], p["vB"]) - data)

    starts = [dict(zip(_PARAMETERS_2TCM, s, strict=True)) for s in _STARTS]
    if initial:
        starts.insert(0, {**starts[0], **initial})
    best = None
    for start in starts:
        x0 = np.clip([start[n] for n in free], lower + 1e-9 * (upper - lower), upper - 1e-9 * (upper - lower))
        result = least_squares(residuals, x0, bounds=(lower, upper), method="trf", x_scale="jac",
                               ftol=1e-12, xtol=1e-12, gtol=1e-12, max_nfev=2000)
        if best is None or result.cost < best.cost:
            best = result
    if best is None or not np.all(np.isfinite(best.x)):
        raise FitError(f"{model_name} fit did not converge")
    parameters = full(best.x)
    wsse = float(2.0 * best.cost)
    n, p = data.size, len(free)
    dof = max(n - p, 1)
    try:
        covariance = np.linalg.inv(best.jac.T @ best.jac) * wsse / dof
        se = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    except np.linalg.LinAlgError:
        se = np.full(p, np.nan)
    fitted = model(parameters["K1"], parameters["k2"], parameters["k3"], parameters["k4"], parameters["vB"])
    aic = n * math.log(max(wsse, np.finfo(float).tiny) / n) + 2 * p
    return CompartmentFit(
        model=model_name,
        parameters=parameters,
        standard_errors={name: float(s) for name, s in zip(free, se, strict=True)},
        derived=_derived(parameters),
        fitted=fitted,
        weighted_sse=wsse,
        aic=float(aic),
    )


def fit_two_tissue(
    tac: Sequence[float],
    frames: FrameTimes,
    input_function: InputCurve,
    *,
    k4: float | None = None,
    vB: float | None = None,
    blood: InputCurve | None = None,
    weights: Sequence[float] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    initial: Mapping[str, float] | None = None,
    dt_min: float | None = None,
) -> CompartmentFit:
    """Fit the 2TCM (K1, k2, k3, k4, vB) to a region's frame values.

    Parameters
    ----------
    tac : sequence of float
        Frame-averaged PET concentrations, unit of the input function.
    frames : FrameTimes
    input_function : InputCurve
        Arterial plasma input (e.g. :class:`~imagebio.pet.kinetics.input_function.InputFunction`).
    k4 : float, optional
        Fix k4 (0 for the irreversible FDG model); fitted when None.
    vB : float, optional
        Fix the blood fraction; fitted when None.
    blood : InputCurve, optional
        Whole-blood curve for the vB term (default: the plasma input).
    weights : sequence of float, optional
        Frame weights (default: durations).
    bounds, initial : mapping, optional
        Per-parameter (lower, upper) and starting values overriding the defaults.
    dt_min : float, optional
        Model grid step (see :class:`~imagebio.pet.kinetics.convolution.KineticGrid`).

    Returns
    -------
    CompartmentFit

    Raises
    ------
    FitError
        Fewer frames than free parameters, or no convergence.
    """
    fixed: dict[str, float] = {}
    if k4 is not None:
        fixed["k4"] = float(k4)
    if vB is not None:
        fixed["vB"] = float(vB)
    free = tuple(n for n in _PARAMETERS_2TCM if n not in fixed)
    return _fit("2TCM", tac, frames, input_function, free, fixed, blood=blood, weights=weights, bounds=bounds,
                initial=initial, dt_min=dt_min)


def fit_one_tissue(
    tac: Sequence[float],
    frames: FrameTimes,
    input_function: InputCurve,
    *,
    vB: float | None = None,
    blood: InputCurve | None = None,
    weights: Sequence[float] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    initial: Mapping[str, float] | None = None,
    dt_min: float | None = None,
) -> CompartmentFit:
    """Fit the 1TCM (K1, k2, vB); arguments as :func:`fit_two_tissue`. ``derived["Vt"] = K1/k2``."""
    fixed = {"k3": 0.0, "k4": 0.0}
    if vB is not None:
        fixed["vB"] = float(vB)
    free = tuple(n for n in ("K1", "k2", "vB") if n not in fixed)
    return _fit("1TCM", tac, frames, input_function, free, fixed, blood=blood, weights=weights, bounds=bounds,
                initial=initial, dt_min=dt_min)
