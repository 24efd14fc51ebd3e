"""Dynamic susceptibility contrast (DSC) MRI: Delta R2*, leakage correction, CBV, CBF, MTT and Tmax.

Conventions: concentrations are proportional to Delta R2* (1/s); the tissue and arterial curves must use the
same proportionality, so ``CBV = 100 * kappa * int C_t / int C_a`` (ml/100ml) with ``kappa`` the optional
haematocrit/density factor (1 by default, as in the OSIPI DSC reference). CBF comes from deconvolution of
the tissue curve by the AIF with block-circulant truncated SVD whose cut-off is chosen per voxel by the
oscillation index (oSVD); ``CBF = 6000 * max(r)`` ml/100ml/min where ``r = CBF * R(t)`` in 1/s.

References
----------
Østergaard L et al. High resolution measurement of cerebral blood flow using intravascular tracer bolus
passages. Part I. Magn Reson Med 1996;36:715-725 (SVD deconvolution).
Wu O et al. Tracer arrival timing-insensitive technique for estimating flow in MR perfusion-weighted imaging
using singular value decomposition with a block-circulant deconvolution matrix. Magn Reson Med
2003;50:164-174 (oSVD and the oscillation index).
Boxerman JL, Schmainda KM, Weisskoff RM. Relative cerebral blood volume maps corrected for contrast agent
extravasation significantly correlate with glioma tumor grade. AJNR 2006;27:859-867 (BSW correction).
"""

from __future__ import annotations

import numpy as np

from imagebio.errors import InvalidParameterError
from imagebio.perfusion.models.convolution import check_time

__all__ = [
    "delta_r2star",
    "bsw_leakage_correction",
    "cbv_ml_per_100ml",
    "osvd_deconvolve",
    "fit_dsc",
]


def delta_r2star(signal: np.ndarray, te_s: float, n_baseline: int, skip_first: int = 0) -> np.ndarray:
    """``Delta R2*(t) = -ln(S(t) / S0) / TE`` with S0 the mean of frames ``skip_first .. n_baseline-1``.

    Parameters
    ----------
    signal : array (..., n_t)
        Gradient-echo signal, time last.
    te_s : float
        Echo time in seconds.
    n_baseline : int
        Number of pre-bolus frames counted from the first frame.
    skip_first : int
        Leading frames excluded from the baseline (not yet at steady state).

    Returns
    -------
    array (..., n_t)
        Delta R2* in 1/s (``nan`` where the signal is not positive).
    """
    s = np.asarray(signal, dtype=float)
    if te_s <= 0:
        raise InvalidParameterError("te_s", te_s, "a positive echo time in seconds")
    if not 0 <= skip_first < n_baseline <= s.shape[-1]:
        raise InvalidParameterError(
            "n_baseline", (n_baseline, skip_first), f"0 <= skip_first < n_baseline <= {s.shape[-1]}"
        )
    s0 = s[..., skip_first:n_baseline].mean(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = s / s0
        return np.where((ratio > 0) & (s0 > 0), -np.log(np.where(ratio > 0, ratio, 1.0)) / te_s, np.nan)


def _cumulative_trapezoid(t: np.ndarray, c: np.ndarray) -> np.ndarray:
    steps = 0.5 * (c[..., 1:] + c[..., :-1]) * np.diff(t)
    return np.concatenate([np.zeros(c.shape[:-1] + (1,)), np.cumsum(steps, axis=-1)], axis=-1)


def bsw_leakage_correction(
    t_s: np.ndarray, delta_r2s_per_s: np.ndarray, reference_per_s: np.ndarray
) -> dict[str, np.ndarray]:
    """Boxerman-Schmainda-Weisskoff leakage correction.

    Fits ``dR2*(t) = K1 ref(t) - K2 int_0^t ref`` per voxel by linear least squares, where ``ref`` is the
    average curve of non-enhancing tissue, and returns ``dR2*_corr(t) = dR2*(t) + K2 int_0^t ref``.

    Parameters
    ----------
    t_s : array (n_t,)
        Sampling times in seconds.
    delta_r2s_per_s : array (..., n_t)
        Tissue Delta R2* curves.
    reference_per_s : array (n_t,)
        Whole-brain non-enhancing reference curve.

    Returns
    -------
    dict
        ``corrected`` (..., n_t), ``k1`` (...), ``k2_per_s`` (...) (positive for T1-dominant leakage).
    """
    t = check_time(t_s)
    y = np.asarray(delta_r2s_per_s, dtype=float)
    ref = np.asarray(reference_per_s, dtype=float)
    if ref.shape != t.shape or y.shape[-1] != t.size:
        raise InvalidParameterError("reference_per_s", ref.shape, f"curves with {t.size} samples")
    integral = _cumulative_trapezoid(t, ref)
    design = np.stack([ref, -integral], axis=1)
    coef, *_ = np.linalg.lstsq(design, y.reshape(-1, t.size).T, rcond=None)
    k1 = coef[0].reshape(y.shape[:-1])
    k2 = coef[1].reshape(y.shape[:-1])
    return {"corrected": y + k2[..., None] * integral, "k1": k1, "k2_per_s": k2}


def cbv_ml_per_100ml(t_s: np.ndarray, c_tissue: np.ndarray, c_aif: np.ndarray, kappa: float = 1.0) -> np.ndarray:
    """Cerebral blood volume ``100 kappa int C_t dt / int C_a dt`` in ml/100ml (trapezoidal integrals)."""
    t = check_time(t_s)
    ct = np.asarray(c_tissue, dtype=float)
    ca = np.asarray(c_aif, dtype=float)
    area_a = np.trapezoid(ca, t)
    if not area_a > 0:
        raise InvalidParameterError("c_aif", f"area {area_a}", "an AIF with positive area")
    return 100.0 * kappa * np.trapezoid(ct, t, axis=-1) / area_a


def _oscillation_index(r: np.ndarray) -> np.ndarray:
    peak = np.max(r, axis=-1)
    second = np.abs(r[..., 2:] - 2.0 * r[..., 1:-1] + r[..., :-2]).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(peak > 0, second / (r.shape[-1] * peak), np.inf)


def osvd_deconvolve(
    t_s: np.ndarray,
    c_tissue: np.ndarray,
    c_aif: np.ndarray,
    oi_threshold: float = 0.095,
    thresholds: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Block-circulant SVD deconvolution with per-voxel truncation chosen by the oscillation index (oSVD).

    The AIF is zero-padded to ``L = 2 n_t`` and a circulant matrix ``D_ij = dt a[(i - j) mod L]`` built; its SVD
    is shared by all voxels. For each candidate cut-off (fraction of the largest singular value) the residue
    ``r = D^+ c`` is computed for every voxel, and the smallest cut-off whose oscillation index
    ``OI = sum |r_k - 2 r_{k-1} + r_{k-2}| / (L max r)`` is at most ``oi_threshold`` is kept.

    Parameters
    ----------
    t_s : array (n_t,)
        Uniformly spaced sampling times in seconds.
    c_tissue : array (..., n_t)
        Tissue concentration (or Delta R2*) curves.
    c_aif : array (n_t,)
        Arterial curve in the same units.
    oi_threshold : float
        Maximum oscillation index (Wu et al. 2003 used 0.095).
    thresholds : array, optional
        Candidate cut-offs, relative to the largest singular value (default 40 values from 0.001 to 0.9).

    Returns
    -------
    dict
        ``residue_per_s`` (..., n_t) = CBF·R(t), ``cbf_ml_per_100ml_per_min`` (...), ``tmax_s`` (...),
        ``oscillation_index`` (...) and ``svd_threshold`` (...).
    """
    t = check_time(t_s)
    dt = np.diff(t)
    if not np.allclose(dt, dt[0], rtol=1e-6):
        raise InvalidParameterError("t_s", "non-uniform sampling", "uniformly spaced times for SVD deconvolution")
    dt = float(dt[0])
    ca = np.asarray(c_aif, dtype=float)
    ct = np.asarray(c_tissue, dtype=float)
    if ca.shape != t.shape or ct.shape[-1] != t.size:
        raise InvalidParameterError("c_aif/c_tissue", (ca.shape, ct.shape), f"curves with {t.size} samples")
    n = t.size
    size = 2 * n
    padded = np.concatenate([ca, np.zeros(n)])
    idx = (np.arange(size)[:, None] - np.arange(size)[None, :]) % size
    circ = dt * padded[idx]
    u, sing, vt = np.linalg.svd(circ)
    cand = np.geomspace(1e-3, 0.9, 40) if thresholds is None else np.sort(np.asarray(thresholds, dtype=float))
    flat = ct.reshape(-1, n)
    rhs = u.T @ np.concatenate([flat, np.zeros_like(flat)], axis=1).T  # (L, m)
    best_r = np.zeros((flat.shape[0], size))
    best_oi = np.full(flat.shape[0], np.inf)
    best_thr = np.full(flat.shape[0], np.nan)
    chosen = np.zeros(flat.shape[0], dtype=bool)
    # smallest cut-off first: keep the least-regularised residue that is smooth enough
    for thr in cand:
        keep = sing >= thr * sing[0]
        inv = np.where(keep, 1.0 / sing, 0.0)
        r = (vt.T @ (inv[:, None] * rhs)).T
        oi = _oscillation_index(r)
        take = ~chosen & (oi <= oi_threshold)
        best_r[take], best_oi[take], best_thr[take] = r[take], oi[take], thr
        chosen |= take
        if chosen.all():
            break
    if not chosen.all():  # nothing smooth enough: use the strongest regularisation tried
        rest = ~chosen
        best_r[rest], best_oi[rest], best_thr[rest] = r[rest], oi[rest], cand[-1]
    residue = best_r[:, :n]
    shape = ct.shape[:-1]
    return {
        "residue_per_s": residue.reshape(*shape, n),
        "cbf_ml_per_100ml_per_min": (6000.0 * residue.max(axis=1)).reshape(shape),
        "tmax_s": (t[np.argmax(residue, axis=1)] - t[0]).reshape(shape),
        "oscillation_index": best_oi.reshape(shape),
        "svd_threshold": best_thr.reshape(shape),
    }


def fit_dsc(
    t_s: np.ndarray,
    c_tissue: np.ndarray,
    c_aif: np.ndarray,
    kappa: float = 1.0,
    oi_threshold: float = 0.095,
) -> dict[str, np.ndarray]:
    """CBV, CBF (oSVD), MTT (central volume theorem) and Tmax for every voxel.

    Parameters
    ----------
    t_s : array (n_t,)
        Uniform sampling times in seconds.
    c_tissue : array (..., n_t)
        Tissue concentration or Delta R2* curves (leakage-corrected if needed).
    c_aif : array (n_t,)
        Arterial curve in the same units.
    kappa : float
        Haematocrit/density factor applied to CBV and CBF.
    oi_threshold : float
        Oscillation-index limit of the oSVD.

    Returns
    -------
    dict of arrays (...)
        ``cbv_ml_per_100ml``, ``cbf_ml_per_100ml_per_min``, ``mtt_s`` (= 60 CBV/CBF), ``tmax_s``,
        ``oscillation_index`` and ``fit_status`` (codes of :mod:`imagebio.perfusion.quality`: 3 non-finite
        samples, 1 no SVD cut-off met the oscillation-index limit, 5 CBF <= 0 or non-finite results);
        failed voxels are ``nan``.
    """
    from imagebio.perfusion.quality import fit_status, mask_failed

    ct = np.asarray(c_tissue, dtype=float)
    finite = np.all(np.isfinite(ct), axis=-1)
    ct_clean = np.where(finite[..., None], ct, 0.0)
    cbv = cbv_ml_per_100ml(t_s, ct_clean, c_aif, kappa)
    dec = osvd_deconvolve(t_s, ct_clean, c_aif, oi_threshold)
    cbf = kappa * dec["cbf_ml_per_100ml_per_min"]
    with np.errstate(divide="ignore", invalid="ignore"):
        mtt = np.where(cbf > 0, 60.0 * cbv / cbf, np.nan)
    shape = np.shape(cbv)
    n = int(np.prod(shape))
    status = fit_status(
        n,
        invalid_input=~finite.reshape(n),
        converged=(dec["oscillation_index"] <= oi_threshold).reshape(n),
        invalid_result=~(np.isfinite(cbv) & np.isfinite(cbf) & (cbf > 0)).reshape(n),
    ).reshape(shape)
    out = {
        "cbv_ml_per_100ml": cbv,
        "cbf_ml_per_100ml_per_min": cbf,
        "mtt_s": mtt,
        "tmax_s": dec["tmax_s"],
        "oscillation_index": dec["oscillation_index"],
        "fit_status": status,
    }
    return mask_failed(out, status, keep=("oscillation_index",))
