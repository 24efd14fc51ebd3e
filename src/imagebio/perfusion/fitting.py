"""Batched non-linear least squares: Levenberg-Marquardt vectorised across voxels.

Every voxel is an independent small problem (a few parameters, tens to thousands of samples). Instead of a
Python loop of solver calls, all voxels advance together: one model call evaluates every active voxel, the
Jacobian is analytic or a batched forward difference (one model call per parameter), the damped normal
equations are solved with a batched ``numpy.linalg.solve``, and each voxel keeps its own damping factor and
convergence state. Bounds are handled by projection: a trial point is clipped into the box and parameters
sitting on a bound whose gradient points outward are frozen for that step.

Shared by :mod:`imagebio.perfusion` and :mod:`imagebio.diffusion`.

References
----------
Marquardt DW. An algorithm for least-squares estimation of nonlinear parameters. J Soc Ind Appl Math
1963;11:431-441 (scaled damping ``lambda * diag(J^T J)``).
Kanzow C, Yamashita N, Fukushima M. Levenberg-Marquardt methods with strong local convergence properties for
solving nonlinear equations with convex constraints. J Comput Appl Math 2004;172:375-397 (projection).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from imagebio.errors import InvalidParameterError

__all__ = ["LMResult", "levenberg_marquardt", "standard_errors", "aic", "finite_difference_jacobian"]

Model = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``model(params (m, n_p), index (m,)) -> prediction (m, n_obs)``; ``index`` selects the voxels' rows of any
per-voxel data the model closes over."""


@dataclass(frozen=True)
class LMResult:
    """Result of :func:`levenberg_marquardt` for ``n`` voxels and ``n_p`` parameters.

    Attributes
    ----------
    params : array (n, n_p)
        Fitted parameters.
    sse : array (n,)
        Residual sum of squares at the solution.
    jacobian : array (n, n_obs, n_p)
        Model Jacobian at the solution (for standard errors).
    converged : array of bool (n,)
        Whether the voxel met a convergence criterion before ``max_iter``.
    n_iter : array of int (n,)
        Iterations used per voxel.
    """

    params: np.ndarray
    sse: np.ndarray
    jacobian: np.ndarray
    converged: np.ndarray
    n_iter: np.ndarray


def finite_difference_jacobian(
    model: Model,
    params: np.ndarray,
    index: np.ndarray,
    f0: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    rel_step: float = 1e-6,
    abs_step: np.ndarray | None = None,
) -> np.ndarray:
    """Forward-difference Jacobian for a batch, stepping inward at an upper bound; shape (m, n_obs, n_p)."""
    m, n_p = params.shape
    jac = np.empty((m, f0.shape[1], n_p))
    floor = np.full(n_p, 1e-8) if abs_step is None else np.asarray(abs_step, dtype=float)
    for j in range(n_p):
        h = np.maximum(rel_step * np.abs(params[:, j]), floor[j])
        h = np.where(params[:, j] + h > upper[:, j], -h, h)
        shifted = params.copy()
        shifted[:, j] += h
        jac[:, :, j] = (model(shifted, index) - f0) / h[:, None]
    return jac


def _bounds(value: np.ndarray | None, fill: float, n: int, n_p: int, name: str) -> np.ndarray:
    if value is None:
        return np.full((n, n_p), fill)
    arr = np.asarray(value, dtype=float)
    try:
        return np.broadcast_to(arr, (n, n_p)).copy()
    except ValueError as exc:
        raise InvalidParameterError(name, f"shape {arr.shape}", f"broadcastable to ({n}, {n_p})") from exc


def levenberg_marquardt(
    model: Model,
    p0: np.ndarray,
    y: np.ndarray,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    jacobian: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    max_iter: int = 100,
    ftol: float = 1e-10,
    xtol: float = 1e-8,
    lambda0: float = 1e-3,
    rel_step: float = 1e-6,
    abs_step: np.ndarray | None = None,
) -> LMResult:
    """Minimise ``sum((y - model(p))^2)`` independently for every voxel, all voxels in lock-step.

    Parameters
    ----------
    model : callable
        ``model(params (m, n_p), index (m,)) -> (m, n_obs)`` for any subset ``index`` of the voxels.
    p0 : array (n, n_p) or (n_p,)
        Starting values (broadcast to all voxels).
    y : array (n, n_obs)
        Data.
    lower, upper : array (n_p,) or (n, n_p), optional
        Box bounds (default unbounded). Starting values are clipped into the box.
    jacobian : callable, optional
        Analytic ``jacobian(params, index) -> (m, n_obs, n_p)``; default is a forward difference.
    max_iter : int
        Maximum number of iterations (trial steps) per voxel.
    ftol, xtol : float
        Convergence when an accepted step reduces the SSE by less than ``ftol`` (relative) or changes
        every parameter by less than ``xtol`` (relative to ``|p| + xtol``).
    lambda0 : float
        Initial damping factor (per voxel; x0.3 on success, x10 on failure).
    rel_step : float
        Relative finite-difference step.
    abs_step : array (n_p,), optional
        Minimum absolute finite-difference step per parameter (default 1e-8).

    Returns
    -------
    LMResult
    """
    y = np.asarray(y, dtype=float)
    if y.ndim != 2:
        raise InvalidParameterError("y", f"shape {y.shape}", "(n_voxels, n_observations)")
    n, n_obs = y.shape
    p = np.array(np.broadcast_to(np.asarray(p0, dtype=float), (n, np.shape(p0)[-1])))
    n_p = p.shape[1]
    lo = _bounds(lower, -np.inf, n, n_p, "lower")
    hi = _bounds(upper, np.inf, n, n_p, "upper")
    if np.any(lo > hi):
        raise InvalidParameterError("lower/upper", "lower > upper", "lower <= upper for every parameter")
    p = np.clip(p, lo, hi)

    def jac_of(params: np.ndarray, idx: np.ndarray, f0: np.ndarray) -> np.ndarray:
        if jacobian is not None:
            return np.asarray(jacobian(params, idx), dtype=float)
        return finite_difference_jacobian(model, params, idx, f0, lo[idx], hi[idx], rel_step, abs_step)

    everyone = np.arange(n)
    f = model(p, everyone)
    resid = y - f
    sse = np.einsum("ij,ij->i", resid, resid)
    jac = jac_of(p, everyone, f)
    lam = np.full(n, lambda0)
    done = ~np.isfinite(sse)
    converged = np.zeros(n, dtype=bool)
    n_iter = np.zeros(n, dtype=int)
    eye = np.eye(n_p)

    for _ in range(max_iter):
        act = np.flatnonzero(~done)
        if act.size == 0:
            break
        n_iter[act] += 1
        J = jac[act]
        r = resid[act]
        jtj = np.einsum("mop,moq->mpq", J, J)
        jtr = np.einsum("mop,mo->mp", J, r)
        pa = p[act]
        # projection: freeze parameters on a bound whose descent direction points out of the box
        frozen = ((pa <= lo[act]) & (jtr < 0)) | ((pa >= hi[act]) & (jtr > 0))
        diag = np.einsum("mpp->mp", jtj)
        scale = np.maximum(diag, 1e-12 * np.maximum(diag.max(axis=1, keepdims=True), 1e-300))
        a = jtj + (lam[act][:, None] * scale)[:, :, None] * eye
        keep = ~frozen
        a = a * (keep[:, :, None] & keep[:, None, :]) + eye * frozen[:, :, None]
        rhs = np.where(frozen, 0.0, jtr)
        try:
            step = np.linalg.solve(a, rhs[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:  # a singular system in the batch: fall back to pseudo-inverses
            step = _safe_solve(a, rhs)
        trial = np.clip(pa + step, lo[act], hi[act])
        f_trial = model(trial, act)
        r_trial = y[act] - f_trial
        sse_trial = np.einsum("ij,ij->i", r_trial, r_trial)
        better = np.isfinite(sse_trial) & (sse_trial < sse[act])

        moved = np.abs(trial - pa) <= xtol * (np.abs(pa) + xtol)
        small_gain = better & ((sse[act] - sse_trial) <= ftol * np.maximum(sse[act], 1e-300))
        stalled = np.all(moved, axis=1) | (lam[act] > 1e12)

        acc = act[better]
        if acc.size:
            p[acc] = trial[better]
            resid[acc] = r_trial[better]
            sse[acc] = sse_trial[better]
            jac[acc] = jac_of(p[acc], acc, f_trial[better])
        lam[act] = np.where(better, np.maximum(lam[act] * 0.3, 1e-12), lam[act] * 10.0)
        finished = small_gain | stalled | (sse[act] == 0)
        converged[act[finished]] = True
        done[act[finished]] = True

    return LMResult(params=p, sse=sse, jacobian=jac, converged=converged, n_iter=n_iter)


def _safe_solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("mpq,mq->mp", np.linalg.pinv(a), b)


def standard_errors(jacobian: np.ndarray, sse: np.ndarray, n_fixed: int = 0) -> np.ndarray:
    """Asymptotic parameter standard errors ``sqrt(diag(s^2 (J^T J)^-1))``, ``s^2 = SSE / (n_obs - n_p)``.

    Parameters
    ----------
    jacobian : array (n, n_obs, n_p)
        Jacobian at the solution.
    sse : array (n,)
        Residual sum of squares.
    n_fixed : int
        Extra degrees of freedom consumed (e.g. a delay chosen by grid search).

    Returns
    -------
    array (n, n_p)
        Standard errors (``nan`` where ``J^T J`` is singular or there are no degrees of freedom left).
    """
    n, n_obs, n_p = jacobian.shape
    dof = n_obs - n_p - n_fixed
    jtj = np.einsum("mop,moq->mpq", jacobian, jacobian)
    cov = np.full_like(jtj, np.nan)
    ok = np.linalg.cond(jtj) < 1e14
    if np.any(ok):
        cov[ok] = np.linalg.inv(jtj[ok])
    s2 = sse / dof if dof > 0 else np.full(n, np.nan)
    var = np.einsum("mpp->mp", cov) * s2[:, None]
    return np.sqrt(np.where(var >= 0, var, np.nan))


def aic(sse: np.ndarray, n_obs: int, n_params: int, corrected: bool = True) -> np.ndarray:
    """Akaike information criterion for Gaussian least squares, ``n log(SSE / n) + 2k`` (+ AICc term).

    Reference: Burnham KP, Anderson DR. Model Selection and Multimodel Inference. 2nd ed. Springer 2002.
    ``k`` counts the model parameters plus one for the noise variance.
    """
    k = n_params + 1
    sse = np.asarray(sse, dtype=float)
    with np.errstate(divide="ignore"):
        value = n_obs * np.log(np.maximum(sse, 1e-300) / n_obs) + 2.0 * k
    if corrected and n_obs - k - 1 > 0:
        value = value + 2.0 * k * (k + 1) / (n_obs - k - 1)
    return value
