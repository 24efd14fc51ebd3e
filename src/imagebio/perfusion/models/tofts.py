"""Standard Tofts model.

``C_t(t) = Ktrans int_0^t C_p(u) exp(-kep (t - u)) du`` with ``kep = Ktrans / ve``.

Reference: Tofts PS et al. Estimating kinetic parameters from dynamic contrast-enhanced T1-weighted MRI of a
diffusable tracer: standardized quantities and symbols. J Magn Reson Imaging 1999;10:223-232.
"""

from __future__ import annotations

import numpy as np

from imagebio.perfusion.models._common import broadcast_params, flat_input
from imagebio.perfusion.models.convolution import exp_convolve, prepare_input

__all__ = ["tofts_concentration"]


def tofts_concentration(
    t_s: np.ndarray,
    cp_mM: np.ndarray,
    ktrans_per_min: np.ndarray | float,
    ve: np.ndarray | float,
    delay_s: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Tissue concentration of the standard Tofts model.

    Parameters
    ----------
    t_s : array (n_t,)
        Sampling times in seconds.
    cp_mM : array (n_t,)
        Plasma input function in mM sampled at ``t_s`` (linear between samples).
    ktrans_per_min : array or float
        Volume transfer constant Ktrans in 1/min.
    ve : array or float
        Extravascular extracellular volume fraction (0, 1].
    delay_s : array or float
        Arterial delay in seconds (input shifted later by this amount).

    Returns
    -------
    array (*shape, n_t)
        Tissue concentration in mM, where ``shape`` is the broadcast shape of the parameters.
    """
    shape, p = broadcast_params(ktrans=ktrans_per_min, ve=ve, delay=delay_s)
    n = p["ktrans"].size
    t = np.asarray(t_s, dtype=float)
    cp = flat_input(prepare_input(t, cp_mM, p["delay"] if np.any(p["delay"] != 0) else 0.0), n)
    ktrans_s = p["ktrans"] / 60.0
    with np.errstate(divide="ignore", invalid="ignore"):
        kep_s = np.where(p["ve"] > 0, ktrans_s / p["ve"], 0.0)
    conc = ktrans_s[:, None] * exp_convolve(t, cp, kep_s)
    return conc.reshape(*shape, t.size)
