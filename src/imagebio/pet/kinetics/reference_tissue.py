"""Reference-tissue models for neuro PET (no blood sampling): SRTM and MRTM/MRTM2, regions and voxel-wise maps.

SRTM (Lammertsma & Hume 1996), non-linear, parameters R1 = K1/K1', k2 (/min), BPnd:

``C_T(t) = R1·C_R(t) + (k2 − R1·k2a)·C_R ⊗ e^(−k2a·t)``, ``k2a = k2/(1 + BPnd)``.

The reference curve is known only as frame averages: the convolution uses its piecewise-linear interpolant through
the frame mid-times (0 at injection); the ``R1·C_R`` term uses the frame values themselves.

MRTM (Ichise et al. 2003), linear, for a target and a reference region with one-tissue kinetics:

``C_T(T) = γ1·∫_0^T C_R + γ2·∫_0^T C_T + γ3·C_R(T)``,

``R1 = γ3``, ``k2 = γ1``, ``k2' = γ1/γ3``, ``k2a = −γ2``, ``BPnd = −(γ1/γ2 + 1)``. MRTM2 fixes ``k2'``
(e.g. from a high-binding region's MRTM): ``C_T = R1·(C_R + k2'·∫C_R) − k2a·∫C_T``, ``BPnd = R1·k2'/k2a − 1``.
Integrals to frame mid-times as in :mod:`imagebio.pet.kinetics.graphical`. :func:`mrtm_map` solves the regression
of every voxel at once (batched 3×3 / 2×2 normal equations).

References
----------
Lammertsma AA, Hume SP. Simplified reference tissue model for PET receptor studies. NeuroImage 1996;4:153-158.
Ichise M et al. Linearized reference tissue parametric imaging methods: application to [11C]DASB positron emission
tomography studies of the serotonin transporter in human brain. J Cereb Blood Flow Metab 2003;23:1096-1112.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from imagebio.errors import FitError, InvalidParameterError
from imagebio.pet.kinetics.convolution import KineticGrid, exp_convolve
from imagebio.pet.kinetics.frames import FrameTimes
from imagebio.pet.kinetics.graphical import _check_tac, _chunks, _voxels, tissue_integral_at_mid
from imagebio.pet.kinetics.input_function import InputFunction

__all__ = ["ReferenceTissueFit", "fit_srtm", "mrtm", "mrtm_map", "simulate_srtm"]

_CHUNK_VOXELS = 1 << 16


@dataclasses.dataclass(frozen=True)
class ReferenceTissueFit:
    """Result of SRTM or MRTM.

    Attributes
    ----------
    method : str
        ``"SRTM"``, ``"MRTM"`` or ``"MRTM2"``.
    bp_nd : float
        Non-displaceable binding potential.
    r1 : float
        K1/K1' (dimensionless).
    k2_per_min : float
        Target efflux k2 (/min).
    k2_reference_per_min : float
        Reference efflux k2' (/min) (MRTM: estimated; MRTM2: the fixed value; SRTM: k2/R1).
    fitted : numpy.ndarray
        Model frame values (frames used by the fit).
    standard_errors : dict
        SRTM only: asymptotic SE of ``bp_nd``, ``r1``, ``k2_per_min``.
    """

    method: str
    bp_nd: float
    r1: float
    k2_per_min: float
    k2_reference_per_min: float
    fitted: np.ndarray
    standard_errors: dict[str, float]


def _reference_input(reference: np.ndarray, frames: FrameTimes) -> InputFunction:
    return InputFunction(frames.mid_min, reference)


def simulate_srtm(reference_tac: Sequence[float], frames: FrameTimes, r1: float, k2_per_min: float, bp_nd: float,
                  *, dt_min: float | None = None) -> np.ndarray:
    """Target frame values predicted by SRTM from a reference TAC (see the module docstring)."""
    reference = _check_tac(reference_tac, frames, "reference_tac")
    grid = KineticGrid(frames, dt_min)
    cr = _reference_input(reference, frames)(grid.t_min)
    k2a = k2_per_min / (1.0 + bp_nd)
    return r1 * reference + (k2_per_min - r1 * k2a) * grid.frame_average(exp_convolve(cr, k2a, grid.dt_min))


def fit_srtm(
    tac: Sequence[float],
    reference_tac: Sequence[float],
    frames: FrameTimes,
    *,
    weights: Sequence[float] | None = None,
    dt_min: float | None = None,
) -> ReferenceTissueFit:
    """Fit SRTM (R1, k2, BPnd) by weighted non-linear least squares (weights default to frame durations).

    Bounds: R1 in [0, 10], k2 in [0, 5] /min, BPnd in [−0.9, 50].

    Raises
    ------
    FitError
        Fewer than 4 frames, or no convergence.
    """
    from scipy.optimize import least_squares

    data = _check_tac(tac, frames)
    reference = _check_tac(reference_tac, frames, "reference_tac")
    if frames.n_frames < 4:
        raise FitError(f"SRTM: {frames.n_frames} frames cannot constrain 3 parameters")
    w = frames.duration_min.copy() if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (frames.n_frames,) or np.any(w < 0) or not np.any(w > 0):
        raise InvalidParameterError("weights", f"array {w.shape}", f"{frames.n_frames} weights ≥ 0")
    sqrt_w = np.sqrt(w / w.mean())
    grid = KineticGrid(frames, dt_min)
    cr = _reference_input(reference, frames)(grid.t_min)

    def model(x: np.ndarray) -> np.ndarray:
        r1, k2, bp = x
        k2a = k2 / (1.0 + bp)
        return r1 * reference + (k2 - r1 * k2a) * grid.frame_average(exp_convolve(cr, k2a, grid.dt_min))

    lower, upper = np.array([0.0, 0.0, -0.9]), np.array([10.0, 5.0, 50.0])
    best = None
    for start in ((1.0, 0.1, 1.0), (1.0, 0.5, 3.0), (0.5, 0.05, 0.3)):
        result = least_squares(lambda x: sqrt_w * (model(x) - data), np.array(start), bounds=(lower, upper),
                                method="trf", x_scale="jac", ftol=1e-12, xtol=1e-12, gtol=1e-12, max_nfev=2000)
        if best is None or result.cost < best.cost:
            best = result
    if best is None or not np.all(np.isfinite(best.x)):
        raise FitError("SRTM fit did not converge")
    r1, k2, bp = (float(v) for v in best.x)
    dof = max(frames.n_frames - 3, 1)
    try:
        se = np.sqrt(np.clip(np.diag(np.linalg.inv(best.jac.T @ best.jac) * 2.0 * best.cost / dof), 0.0, None))
    except np.linalg.LinAlgError:
        se = np.full(3, np.nan)
    return ReferenceTissueFit("SRTM", bp, r1, k2, k2 / r1 if r1 > 0 else math.nan, model(best.x),
                              {"r1": float(se[0]), "k2_per_min": float(se[1]), "bp_nd": float(se[2])})


def _first(frames: FrameTimes, t_star_min: float, n_parameters: int) -> int:
    first = int(np.searchsorted(frames.mid_min, float(t_star_min) - 1e-9))
    if frames.n_frames - first <= n_parameters:
        raise FitError(f"t* = {t_star_min} min leaves {frames.n_frames - first} frames for {n_parameters} parameters")
    return first


def mrtm(
    tac: Sequence[float],
    reference_tac: Sequence[float],
    frames: FrameTimes,
    *,
    t_star_min: float = 0.0,
    k2_reference_per_min: float | None = None,
) -> ReferenceTissueFit:
    """MRTM (or MRTM2 when ``k2_reference_per_min`` is given) of a region, ordinary least squares.

    Parameters
    ----------
    tac, reference_tac : sequence of float
        Target and reference frame averages.
    frames : FrameTimes
    t_star_min : float
        Frames with mid-time ≥ t* are used (0: all; MRTM needs none for one-tissue kinetics).
    k2_reference_per_min : float, optional
        Fixed k2' (/min) for MRTM2.
    """
    data = _check_tac(tac, frames)
    reference = _check_tac(reference_tac, frames, "reference_tac")
    int_ref = tissue_integral_at_mid(reference, frames)
    int_tac = tissue_integral_at_mid(data, frames)
    if k2_reference_per_min is None:
        first = _first(frames, t_star_min, 3)
        design = np.column_stack([int_ref, int_tac, reference])[first:]
        gamma, *_ = np.linalg.lstsq(design, data[first:], rcond=None)
        g1, g2, g3 = (float(g) for g in gamma)
        if g2 >= 0 or g3 <= 0:
            raise FitError(f"MRTM: coefficients γ2={g2:.3g}, γ3={g3:.3g} are not physiological (γ2 < 0 < γ3)")
        return ReferenceTissueFit("MRTM", -(g1 / g2 + 1.0), g3, g1, g1 / g3, design @ gamma, {})
    if not k2_reference_per_min > 0:
        raise InvalidParameterError("k2_reference_per_min", k2_reference_per_min, "a positive rate (/min)")
    first = _first(frames, t_star_min, 2)
    design = np.column_stack([reference + k2_reference_per_min * int_ref, int_tac])[first:]
    gamma, *_ = np.linalg.lstsq(design, data[first:], rcond=None)
    r1, g2 = (float(g) for g in gamma)
    if g2 >= 0:
        raise FitError(f"MRTM2: coefficient of ∫C_T is {g2:.3g}; expected < 0")
    k2a = -g2
    return ReferenceTissueFit("MRTM2", r1 * k2_reference_per_min / k2a - 1.0, r1, r1 * k2_reference_per_min,
                              k2_reference_per_min, design @ gamma, {})


def mrtm_map(
    dynamic: np.ndarray,
    reference_tac: Sequence[float],
    frames: FrameTimes,
    *,
    t_star_min: float = 0.0,
    k2_reference_per_min: float | None = None,
    mask: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Voxel-wise MRTM (or MRTM2) maps ``bp_nd``, ``r1`` and ``k2`` (/min), float32, NaN where singular.

    ``dynamic`` is (frames, z, y, x); other arguments as :func:`mrtm`. MRTM2 (fixed k2') is the usual choice for
    parametric maps: it is less noisy.
    """
    reference = _check_tac(reference_tac, frames, "reference_tac")
    int_ref = tissue_integral_at_mid(reference, frames)
    n_parameters = 3 if k2_reference_per_min is None else 2
    first = _first(frames, t_star_min, n_parameters)
    flat, index = _voxels(dynamic, frames, mask)
    out = {name: np.full(flat.shape[1], np.nan, dtype=np.float32) for name in ("bp_nd", "r1", "k2")}
    area_factor = frames.duration_min[:, None]
    if k2_reference_per_min is not None:
        shared = (reference + k2_reference_per_min * int_ref)[first:]
    else:
        shared_a, shared_c = int_ref[first:], reference[first:]
    for chunk in _chunks(index, mask is None):
        values = flat[:, chunk].astype(np.float64)
        area = values * area_factor
        own = (np.cumsum(area, axis=0) - 0.5 * area)[first:]
        y = values[first:]
        if k2_reference_per_min is None:
            columns = [np.broadcast_to(shared_a[:, None], own.shape), own, np.broadcast_to(shared_c[:, None],
                                                                                           own.shape)]
        else:
            columns = [np.broadcast_to(shared[:, None], own.shape), own]
        p = len(columns)
        normal = np.empty((own.shape[1], p, p))
        rhs = np.empty((own.shape[1], p))
        for i in range(p):
            rhs[:, i] = (columns[i] * y).sum(axis=0)
            for j in range(i, p):
                normal[:, i, j] = normal[:, j, i] = (columns[i] * columns[j]).sum(axis=0)
        det = np.linalg.det(normal)
        ok = np.abs(det) > 1e-12 * np.abs(normal).max(axis=(1, 2)) ** p
        gamma = np.full((own.shape[1], p), np.nan)
        if ok.any():
            gamma[ok] = np.linalg.solve(normal[ok], rhs[ok][..., None])[..., 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            if k2_reference_per_min is None:
                g1, g2, g3 = gamma.T
                bp, r1, k2 = -(g1 / g2 + 1.0), g3, g1
            else:
                r1, g2 = gamma.T
                bp, k2 = r1 * k2_reference_per_min / (-g2) - 1.0, r1 * k2_reference_per_min
        out["bp_nd"][chunk], out["r1"][chunk], out["k2"][chunk] = bp, r1, k2
    shape = np.asarray(dynamic).shape[1:]
    return {name: array.reshape(shape) for name, array in out.items()}
