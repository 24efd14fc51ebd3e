"""Voxel-wise parametric maps by the basis-function method: 1TCM (K1, k2, vB) and SRTM (R1, k2, BPnd).

Both models are linear in two coefficients once one rate θ is fixed:

* 1TCM: ``C(t) = a·(Cp ⊗ e^(−θt)) + vB·Cb(t)`` with θ = k2 and ``a = (1 − vB)·K1``;
* SRTM: ``C(t) = R1·C_R(t) + b·(C_R ⊗ e^(−θt))`` with θ = k2a = k2/(1 + BPnd) and ``b = k2 − R1·θ``.

For a grid of θ values (log-spaced), every voxel's two coefficients are solved by weighted linear least squares
(one 2×F matrix product over all voxels per θ); the θ with the smallest residual sum of squares wins, among those
with non-negative coefficients (1TCM: a, vB ≥ 0; SRTM: R1 ≥ 0). The θ resolution limits the precision of the
rate (grid spacing ratio ``(θmax/θmin)^(1/(n−1))``, 4.8 % for 100 values over 0.005-0.6 /min), not of the linear
coefficients.

References
----------
Gunn RN, Lammertsma AA, Hume SP, Cunningham VJ. Parametric imaging of ligand-receptor binding in PET using a
simplified reference region model. NeuroImage 1997;6:279-287. Koeppe RA et al. Compartmental analysis of
[11C]flumazenil kinetics. J Cereb Blood Flow Metab 1991;11:735-744 (basis functions for 1TCM K1 maps).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imagebio.errors import InvalidParameterError
from imagebio.pet.kinetics.convolution import KineticGrid, exp_convolve
from imagebio.pet.kinetics.frames import FrameTimes
from imagebio.pet.kinetics.graphical import _check_tac, _chunks, _voxels
from imagebio.pet.kinetics.input_function import InputCurve, InputFunction

__all__ = ["one_tissue_map", "srtm_map", "theta_grid"]


def theta_grid(theta_min_per_min: float, theta_max_per_min: float, n: int) -> np.ndarray:
    """``n`` log-spaced rates between the bounds (/min)."""
    if not 0 < theta_min_per_min < theta_max_per_min or n < 2:
        raise InvalidParameterError("theta range", (theta_min_per_min, theta_max_per_min, n),
                                    "0 < theta_min < theta_max and n ≥ 2")
    return np.geomspace(theta_min_per_min, theta_max_per_min, n)


def _frame_weights(frames: FrameTimes, weights: Sequence[float] | None) -> np.ndarray:
    w = frames.duration_min.copy() if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (frames.n_frames,) or np.any(~np.isfinite(w)) or np.any(w < 0) or not np.any(w > 0):
        raise InvalidParameterError("weights", f"array {w.shape}", f"{frames.n_frames} finite weights ≥ 0")
    return w / w.mean()


def _basis_solve(
    dynamic: np.ndarray,
    frames: FrameTimes,
    fixed_column: np.ndarray,
    basis: np.ndarray,
    weights: np.ndarray,
    mask: np.ndarray | None,
    nonnegative_fixed: bool,
    nonnegative_basis: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, ...]]:
    """Best θ index and the two coefficients (fixed column, basis column) of every voxel; NaN/−1 if none valid."""
    flat, index = _voxels(dynamic, frames, mask)
    n_voxels = flat.shape[1]
    best_theta = np.full(n_voxels, -1, dtype=np.int64)
    coef_fixed = np.full(n_voxels, np.nan)
    coef_basis = np.full(n_voxels, np.nan)
    sqrt_w = np.sqrt(weights)
    designs = [np.column_stack([fixed_column, column]) * sqrt_w[:, None] for column in basis]  # F × 2 each
    projections = [np.linalg.pinv(design) for design in designs]  # 2 × F each
    for chunk in _chunks(index, mask is None):
        y = flat[:, chunk].astype(np.float64) * sqrt_w[:, None]
        total = (y * y).sum(axis=0)
        best_rss = np.full(y.shape[1], np.inf)
        best_i = np.full(y.shape[1], -1, dtype=np.int64)
        best_coef = np.full((2, y.shape[1]), np.nan)
        for i, (design, projection) in enumerate(zip(designs, projections, strict=True)):
            coef = projection @ y
            # residual of a least-squares solution: |y|² − yᵀ·X·coef
            rss = total - ((design.T @ y) * coef).sum(axis=0)
            valid = np.ones(y.shape[1], dtype=bool)
            if nonnegative_fixed:
                valid &= coef[0] >= 0
            if nonnegative_basis:
                valid &= coef[1] >= 0
            better = valid & (rss < best_rss)
            best_rss[better] = rss[better]
            best_i[better] = i
            best_coef[:, better] = coef[:, better]
        best_theta[chunk] = best_i
        coef_fixed[chunk] = best_coef[0]
        coef_basis[chunk] = best_coef[1]
    return best_theta, coef_fixed, coef_basis, np.asarray(dynamic).shape[1:]


def one_tissue_map(
    dynamic: np.ndarray,
    frames: FrameTimes,
    input_function: InputCurve,
    *,
    blood: InputCurve | None = None,
    k2_range_per_min: tuple[float, float] = (0.005, 1.0),
    n_basis: int = 100,
    weights: Sequence[float] | None = None,
    mask: np.ndarray | None = None,
    dt_min: float | None = None,
) -> dict[str, np.ndarray]:
    """Voxel-wise 1TCM maps ``K1`` (mL/cm³/min), ``k2`` (/min), ``vB`` and ``Vt = K1/k2`` (float32, NaN if none).

    Parameters
    ----------
    dynamic : numpy.ndarray
        (frames, z, y, x) frame averages, unit of the input.
    frames : FrameTimes
    input_function : InputCurve
        Plasma input; ``blood`` the whole-blood curve of the vB term (default: the plasma input).
    k2_range_per_min, n_basis
        θ grid (see :func:`theta_grid`).
    weights : sequence of float, optional
        Frame weights (default: durations).
    mask : numpy.ndarray, optional
    """
    grid = KineticGrid(frames, dt_min)
    cp = np.asarray(input_function(grid.t_min), dtype=np.float64)
    cb = grid.frame_average(cp if blood is None else np.asarray(blood(grid.t_min), dtype=np.float64))
    thetas = theta_grid(*k2_range_per_min, n_basis)
    basis = np.stack([grid.frame_average(exp_convolve(cp, theta, grid.dt_min)) for theta in thetas])
    best, vb, a, shape = _basis_solve(dynamic, frames, cb, basis, _frame_weights(frames, weights), mask, True, True)
    ok = best >= 0
    k2 = np.where(ok, thetas[np.clip(best, 0, None)], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        k1 = np.where(ok & (vb < 1), a / (1.0 - vb), np.nan)
        vt = k1 / k2
    return {name: np.asarray(v, dtype=np.float32).reshape(shape) for name, v in
            (("K1", k1), ("k2", k2), ("vB", np.where(ok, vb, np.nan)), ("Vt", vt))}


def srtm_map(
    dynamic: np.ndarray,
    reference_tac: Sequence[float],
    frames: FrameTimes,
    *,
    k2a_range_per_min: tuple[float, float] = (0.005, 0.6),
    n_basis: int = 100,
    weights: Sequence[float] | None = None,
    mask: np.ndarray | None = None,
    dt_min: float | None = None,
) -> dict[str, np.ndarray]:
    """Voxel-wise SRTM maps ``bp_nd``, ``r1`` and ``k2`` (/min) by basis functions (Gunn 1997), float32.

    The reference curve is interpolated linearly between frame mid-times for the convolution, as in
    :func:`imagebio.pet.kinetics.reference_tissue.fit_srtm`.
    """
    reference = _check_tac(reference_tac, frames, "reference_tac")
    grid = KineticGrid(frames, dt_min)
    cr = InputFunction(frames.mid_min, reference)(grid.t_min)
    thetas = theta_grid(*k2a_range_per_min, n_basis)
    basis = np.stack([grid.frame_average(exp_convolve(cr, theta, grid.dt_min)) for theta in thetas])
    best, r1, b, shape = _basis_solve(dynamic, frames, reference, basis, _frame_weights(frames, weights), mask, True,
                                      False)
    ok = best >= 0
    theta = np.where(ok, thetas[np.clip(best, 0, None)], np.nan)
    k2 = b + r1 * theta
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = k2 / theta - 1.0
    return {name: np.asarray(v, dtype=np.float32).reshape(shape) for name, v in
            (("bp_nd", bp), ("r1", r1), ("k2", k2))}
