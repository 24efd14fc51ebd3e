"""Quality of voxel-wise fits: goodness of fit, failure reason codes and per-ROI fit-success summaries.

Every voxel-wise fit of :mod:`imagebio.perfusion` and :mod:`imagebio.diffusion` returns, next to its parameter
maps, ``r_squared``, ``nrmse`` and ``fit_status`` (an ``int8`` map of the codes below). Parameters of failed voxels
(codes in :data:`FAILED_CODES`) are ``nan`` -- never silent zeros; a voxel whose parameter sits on a bound of the
fit (code 2) keeps its values but is flagged, since the estimate is then limited by the box rather than the data.

Codes (documented, stable)
--------------------------
0 ``ok``                 converged, finite, inside the bounds
1 ``not_converged``      the solver hit its iteration limit (or could not reduce the residual further)
2 ``hit_bound``          converged, but a parameter lies on a bound other than a physical zero lower bound
3 ``invalid_input``      non-finite samples, or a non-positive reference signal (e.g. S(b=0) <= 0)
4 ``too_few_points``     fewer usable samples than the model needs (e.g. non-positive DWI signals dropped)
5 ``invalid_result``     the estimate is non-finite or outside the model's domain (e.g. ADC < 0 from a log fit)

Goodness of fit: ``r_squared = 1 - SSE / SST`` with ``SST`` the sum of squares about the curve's mean, and
``nrmse = sqrt(SSE / n) / (max(y) - min(y))`` (RMSE normalised by the data range, dimensionless).

References
----------
OSIPI DCE-DSC-MRI lexicon (Dickie BR et al., Magn Reson Med 2024;91:1761-1773): reporting of fit quality.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from imagebio.errors import InvalidParameterError

__all__ = [
    "FIT_OK",
    "NOT_CONVERGED",
    "HIT_BOUND",
    "INVALID_INPUT",
    "TOO_FEW_POINTS",
    "INVALID_RESULT",
    "FIT_STATUS_CODES",
    "FAILED_CODES",
    "goodness_of_fit",
    "fit_status",
    "at_bound",
    "mask_failed",
    "fit_success_summary",
]

FIT_OK = 0
NOT_CONVERGED = 1
HIT_BOUND = 2
INVALID_INPUT = 3
TOO_FEW_POINTS = 4
INVALID_RESULT = 5

#: code -> short reason, as written to tables and the store
FIT_STATUS_CODES: dict[int, str] = {
    FIT_OK: "ok",
    NOT_CONVERGED: "not_converged",
    HIT_BOUND: "hit_bound",
    INVALID_INPUT: "invalid_input",
    TOO_FEW_POINTS: "too_few_points",
    INVALID_RESULT: "invalid_result",
}

#: codes whose parameters are set to ``nan``
FAILED_CODES: tuple[int, ...] = (NOT_CONVERGED, INVALID_INPUT, TOO_FEW_POINTS, INVALID_RESULT)


def goodness_of_fit(y: np.ndarray, sse: np.ndarray, n_obs: int | np.ndarray | None = None) -> dict[str, np.ndarray]:
    """R² and range-normalised RMSE of fits, from the data and the residual sum of squares.

    Parameters
    ----------
    y : array (n, n_obs)
        Fitted data (same scale as ``sse``); non-finite samples are ignored in SST and the range.
    sse : array (n,)
        Residual sum of squares of each fit.
    n_obs : int or array (n,), optional
        Samples used per fit (default: finite samples per row).

    Returns
    -------
    dict
        ``r_squared`` and ``nrmse`` (n,), ``nan`` where undefined (constant data, no samples).
    """
    y = np.asarray(y, dtype=float)
    sse = np.asarray(sse, dtype=float)
    finite = np.isfinite(y)
    count = finite.sum(axis=1) if n_obs is None else np.broadcast_to(np.asarray(n_obs, dtype=float), sse.shape)
    yz = np.where(finite, y, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = yz.sum(axis=1) / finite.sum(axis=1)
        sst = np.where(finite, (yz - mean[:, None]) ** 2, 0.0).sum(axis=1)
        span = np.where(finite, y, -np.inf).max(axis=1) - np.where(finite, y, np.inf).min(axis=1)
        r2 = np.where(sst > 0, 1.0 - sse / sst, np.nan)
        nrmse = np.where((span > 0) & (count > 0), np.sqrt(sse / count) / span, np.nan)
    return {"r_squared": r2, "nrmse": nrmse}


def at_bound(params: np.ndarray, lower, upper, rel_tol: float = 1e-6) -> np.ndarray:
    """Whether any parameter sits on a bound, ignoring lower bounds of exactly 0 (a physical zero, e.g. vp = 0).

    Parameters
    ----------
    params : array (n, n_p)
    lower, upper : array (n_p,) or (n, n_p)
        Bounds of the fit (infinite bounds are never hit).
    rel_tol : float
        Distance to a bound, relative to ``max(|bound|, 1)``, that counts as on it.
    """
    p = np.asarray(params, dtype=float)
    lo = np.broadcast_to(np.asarray(lower, dtype=float), p.shape)
    hi = np.broadcast_to(np.asarray(upper, dtype=float), p.shape)
    with np.errstate(invalid="ignore"):
        on_lo = np.isfinite(lo) & (lo != 0.0) & (p <= lo + rel_tol * np.maximum(np.abs(lo), 1.0))
        on_hi = np.isfinite(hi) & (p >= hi - rel_tol * np.maximum(np.abs(hi), 1.0))
    return np.any(on_lo | on_hi, axis=-1)


def fit_status(
    n: int,
    *,
    invalid_input: np.ndarray | None = None,
    too_few_points: np.ndarray | None = None,
    converged: np.ndarray | None = None,
    invalid_result: np.ndarray | None = None,
    hit_bound: np.ndarray | None = None,
) -> np.ndarray:
    """Combine failure flags into one ``int8`` code per voxel (most fundamental reason wins).

    Precedence: invalid input (3) > too few points (4) > invalid result (5) > not converged (1) > hit bound (2).
    Every flag is a boolean array (n,) or None (never set).
    """
    status = np.zeros(n, dtype=np.int8)
    ordered = (
        (hit_bound, HIT_BOUND),
        (None if converged is None else ~np.asarray(converged, dtype=bool), NOT_CONVERGED),
        (invalid_result, INVALID_RESULT),
        (too_few_points, TOO_FEW_POINTS),
        (invalid_input, INVALID_INPUT),
    )
    for flag, code in ordered:  # later assignments override earlier ones
        if flag is not None:
            status[np.asarray(flag, dtype=bool).reshape(n)] = code
    return status


def mask_failed(maps: dict[str, np.ndarray], status: np.ndarray, keep: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Set every floating-point map to ``nan`` where ``status`` is a failure code; returns ``maps`` (modified).

    ``fit_status``, boolean maps, integer maps and the names in ``keep`` are left unchanged.
    """
    failed = np.isin(status, FAILED_CODES)
    if not failed.any():
        return maps
    for key, value in maps.items():
        if key in keep or key == "fit_status" or not np.issubdtype(np.asarray(value).dtype, np.floating):
            continue
        maps[key] = np.where(failed, np.nan, value)
    return maps


def fit_success_summary(
    status: np.ndarray, rois: Mapping[str, np.ndarray] | np.ndarray | None = None
) -> dict[str, dict[str, float]]:
    """Fit success per ROI: voxel count, fraction ok (code 0) and counts per reason.

    Parameters
    ----------
    status : array of int (...)
        ``fit_status`` map.
    rois : dict of str to bool array, or a bool array, optional
        ROI masks on the map's grid (a single array is named ``"roi"``); default: the whole map.

    Returns
    -------
    dict
        ROI name -> ``{"n_voxels", "n_ok", "fraction_ok", "fraction_failed", "<reason>": count, ...}``, where
        ``fraction_failed`` counts the codes of :data:`FAILED_CODES` (so hit-bound voxels are neither).
    """
    codes = np.asarray(status)
    if rois is None:
        rois = {"all": np.ones(codes.shape, dtype=bool)}
    elif not isinstance(rois, Mapping):
        rois = {"roi": rois}
    summary: dict[str, dict[str, float]] = {}
    for name, mask in rois.items():
        m = np.asarray(mask, dtype=bool)
        if m.shape != codes.shape:
            raise InvalidParameterError(f"rois[{name!r}]", f"shape {m.shape}", f"shape {codes.shape}")
        inside = codes[m]
        row: dict[str, float] = {"n_voxels": int(inside.size)}
        for code, reason in FIT_STATUS_CODES.items():
            row[reason] = int(np.count_nonzero(inside == code))
        row["n_ok"] = row["ok"]
        total = max(inside.size, 1)
        row["fraction_ok"] = row["ok"] / total if inside.size else float("nan")
        n_failed = int(np.isin(inside, FAILED_CODES).sum())
        row["fraction_failed"] = n_failed / total if inside.size else float("nan")
        summary[name] = row
    return summary
