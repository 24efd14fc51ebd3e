"""Patlak model (irreversible uptake plus plasma volume).

``C_t(t) = vp C_p(t) + Ktrans int_0^t C_p(u) du`` (Ktrans is PS in the 2CUM limit Fp >> PS).

Reference: Patlak CS, Blasberg RG, Fenstermacher JD. J Cereb Blood Flow Metab 1983;3:1-7.
"""

from __future__ import annotations

import numpy as np

from imagebio.perfusion.models._common import broadcast_params, flat_input
from imagebio.perfusion.models.convolution import exp_convolve, prepare_input

__all__ = ["patlak_concentration", "patlak_design", "fit_patlak_linear"]


def patlak_concentration(
    t_s: np.ndarray,
    cp_mM: np.ndarray,
    ktrans_per_min: np.ndarray | float,
    vp: np.ndarray | float,
    delay_s: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Tissue concentration of the Patlak model.

    Parameters
    ----------
    t_s : array (n_t,)
        Sampling times in seconds.
    cp_mM : array (n_t,)
        Plasma input in mM.
    ktrans_per_min : array or float
        Uptake rate (Ktrans, or PS) in 1/min.
    vp : array or float
        Plasma volume fraction.
    delay_s : array or float
        Arterial delay in seconds.

    Returns
    -------
    array (*shape, n_t)
        Tissue concentration in mM.
    """
    shape, p = broadcast_params(ktrans=ktrans_per_min, vp=vp, delay=delay_s)
    n = p["ktrans"].size
    t = np.asarray(t_s, dtype=float)
    cp = flat_input(prepare_input(t, cp_mM, p["delay"] if np.any(p["delay"] != 0) else 0.0), n)
    integral = exp_convolve(t, cp, np.zeros(n))
    conc = p["ktrans"][:, None] / 60.0 * integral + p["vp"][:, None] * cp
    return conc.reshape(*shape, t.size)


def patlak_design(t_s: np.ndarray, cp_mM: np.ndarray) -> np.ndarray:
    """Design matrix ``[int_0^t Cp du / 60, Cp]`` (n_t, 2) so that ``C_t = X @ [Ktrans_per_min, vp]``."""
    t = np.asarray(t_s, dtype=float)
    cp = np.asarray(cp_mM, dtype=float)
    integral = exp_convolve(t, cp, np.zeros(1))[0]
    return np.stack([integral / 60.0, cp], axis=1)


def fit_patlak_linear(
    t_s: np.ndarray, conc_mM: np.ndarray, cp_mM: np.ndarray, delay_s: float = 0.0
) -> dict[str, np.ndarray]:
    """Linear least-squares Patlak fit of every voxel at once (one shared design matrix, many right-hand sides).

    Parameters
    ----------
    t_s : array (n_t,)
        Sampling times in seconds.
    conc_mM : array (..., n_t)
        Tissue concentration curves.
    cp_mM : array (n_t,)
        Plasma input in mM.
    delay_s : float
        Known arterial delay in seconds.

    Returns
    -------
    dict of arrays (...)
        ``ps_per_min`` (Ktrans), ``vp`` and ``sse``. Unconstrained (may be slightly negative with noise).
    """
    t = np.asarray(t_s, dtype=float)
    cp = prepare_input(t, cp_mM, delay_s)
    design = patlak_design(t, cp)
    y = np.asarray(conc_mM, dtype=float)
    flat = y.reshape(-1, t.size)
    coef, *_ = np.linalg.lstsq(design, flat.T, rcond=None)
    resid = flat - (design @ coef).T
    shape = y.shape[:-1]
    return {
        "ps_per_min": coef[0].reshape(shape),
        "vp": coef[1].reshape(shape),
        "sse": np.einsum("ij,ij->i", resid, resid).reshape(shape),
    }
