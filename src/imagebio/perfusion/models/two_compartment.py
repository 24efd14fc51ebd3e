"""Two-compartment exchange (2CXM) and uptake (2CUM) models.

2CXM: ``vp dCp/dt = Fp (Ca - Cp) - PS (Cp - Ce)``, ``ve dCe/dt = PS (Cp - Ce)``, ``C_t = vp Cp + ve Ce``.
Its impulse response is a sum of two exponentials with rates given by the eigenvalues of the system matrix.
2CUM is the ``ve -> infinity`` limit: ``C_t = Fp [(1 - E) exp(-t/Tp) + E] * Ca`` with ``E = PS / (Fp + PS)``
and ``Tp = vp / (Fp + PS)``.

Units: Fp in ml/100ml/min, PS in 1/min, vp and ve fractions, times in seconds.

Reference: Sourbron SP, Buckley DL. Tracer kinetic modelling in MRI: estimating perfusion and capillary
permeability. Phys Med Biol 2012;57:R1-R33; Brix G et al. Magn Reson Med 2009;62:1270.
"""

from __future__ import annotations

import numpy as np

from imagebio.perfusion.models._common import broadcast_params, flat_input
from imagebio.perfusion.models.convolution import exp_convolve, prepare_input

__all__ = ["two_compartment_exchange_concentration", "two_compartment_uptake_concentration"]

_TINY = 1e-12


def two_compartment_exchange_concentration(
    t_s: np.ndarray,
    cp_mM: np.ndarray,
    fp_ml_per_100ml_per_min: np.ndarray | float,
    ps_per_min: np.ndarray | float,
    ve: np.ndarray | float,
    vp: np.ndarray | float,
    delay_s: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Tissue concentration of the two-compartment exchange model (2CXM).

    Parameters
    ----------
    t_s : array (n_t,)
        Sampling times in seconds.
    cp_mM : array (n_t,)
        Arterial plasma input in mM.
    fp_ml_per_100ml_per_min : array or float
        Plasma flow Fp in ml/100ml/min.
    ps_per_min : array or float
        Permeability-surface area product PS in 1/min.
    ve, vp : array or float
        Interstitial and plasma volume fractions.
    delay_s : array or float
        Arterial delay in seconds.

    Returns
    -------
    array (*shape, n_t)
        Tissue concentration in mM.
    """
    shape, p = broadcast_params(fp=fp_ml_per_100ml_per_min, ps=ps_per_min, ve=ve, vp=vp, delay=delay_s)
    n = p["fp"].size
    t = np.asarray(t_s, dtype=float)
    cp = flat_input(prepare_input(t, cp_mM, p["delay"] if np.any(p["delay"] != 0) else 0.0), n)
    fp = p["fp"] / 6000.0
    ps = p["ps"] / 60.0
    vp_ = np.maximum(p["vp"], _TINY)
    ve_ = np.maximum(p["ve"], _TINY)
    trace = -(fp + ps) / vp_ - ps / ve_
    det = fp * ps / (vp_ * ve_)
    root = np.sqrt(np.maximum(trace * trace - 4.0 * det, 0.0))
    lam1 = (trace - root) / 2.0  # fast (more negative)
    lam2 = (trace + root) / 2.0  # slow
    denom = np.minimum(lam1 - lam2, -_TINY)  # distinct real eigenvalues for any positive parameters
    # e^{Mt} = [e^{l1 t}(M - l2) - e^{l2 t}(M - l1)] / (l1 - l2); projected on w=(vp,ve), b=(Fp/vp,0)
    wmb = -fp * fp / vp_
    coef1 = (wmb - lam2 * fp) / denom
    coef2 = -(wmb - lam1 * fp) / denom
    conc = coef1[:, None] * exp_convolve(t, cp, -lam1) + coef2[:, None] * exp_convolve(t, cp, -lam2)
    return conc.reshape(*shape, t.size)


def two_compartment_uptake_concentration(
    t_s: np.ndarray,
    cp_mM: np.ndarray,
    fp_ml_per_100ml_per_min: np.ndarray | float,
    ps_per_min: np.ndarray | float,
    vp: np.ndarray | float,
    delay_s: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Tissue concentration of the two-compartment uptake model (2CUM).

    Parameters
    ----------
    t_s : array (n_t,)
        Sampling times in seconds.
    cp_mM : array (n_t,)
        Arterial plasma input in mM.
    fp_ml_per_100ml_per_min : array or float
        Plasma flow Fp in ml/100ml/min.
    ps_per_min : array or float
        PS in 1/min.
    vp : array or float
        Plasma volume fraction.
    delay_s : array or float
        Arterial delay in seconds.

    Returns
    -------
    array (*shape, n_t)
        Tissue concentration in mM.
    """
    shape, p = broadcast_params(fp=fp_ml_per_100ml_per_min, ps=ps_per_min, vp=vp, delay=delay_s)
    n = p["fp"].size
    t = np.asarray(t_s, dtype=float)
    cp = flat_input(prepare_input(t, cp_mM, p["delay"] if np.any(p["delay"] != 0) else 0.0), n)
    fp = p["fp"] / 6000.0
    ps = p["ps"] / 60.0
    flow = np.maximum(fp + ps, _TINY)
    extraction = ps / flow
    rate = flow / np.maximum(p["vp"], _TINY)
    conc = fp[:, None] * (
        (1.0 - extraction)[:, None] * exp_convolve(t, cp, rate) + extraction[:, None] * exp_convolve(t, cp, np.zeros(n))
    )
    return conc.reshape(*shape, t.size)
