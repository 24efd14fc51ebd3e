"""Extended Tofts model (Tofts model plus an intravascular term).

``C_t(t) = vp C_p(t) + Ktrans int_0^t C_p(u) exp(-kep (t - u)) du`` with ``kep = Ktrans / ve``.

Reference: Tofts PS. Modeling tracer kinetics in dynamic Gd-DTPA MR imaging. J Magn Reson Imaging
1997;7:91-101; Sourbron SP, Buckley DL. Magn Reson Med 2011;66:735-745.
"""

from __future__ import annotations

import numpy as np

from imagebio.perfusion.models._common import broadcast_params, flat_input
from imagebio.perfusion.models.convolution import exp_convolve, prepare_input

__all__ = ["extended_tofts_concentration"]


def extended_tofts_concentration(
    t_s: np.ndarray,
    cp_mM: np.ndarray,
    ktrans_per_min: np.ndarray | float,
    ve: np.ndarray | float,
    vp: np.ndarray | float,
    delay_s: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Tissue concentration of the extended Tofts model.

    Parameters
    ----------
    t_s : array (n_t,)
        Sampling times in seconds.
    cp_mM : array (n_t,)
        Plasma input function in mM.
    ktrans_per_min : array or float
        Ktrans in 1/min.
    ve : array or float
        Extravascular extracellular volume fraction.
    vp : array or float
        Plasma volume fraction.
    delay_s : array or float
        Arterial delay in seconds.

    Returns
    -------
    array (*shape, n_t)
        Tissue concentration in mM.
    """
    shape, p = broadcast_params(ktrans=ktrans_per_min, ve=ve, vp=vp, delay=delay_s)
    n = p["ktrans"].size
    t = np.asarray(t_s, dtype=float)
    cp = flat_input(prepare_input(t, cp_mM, p["delay"] if np.any(p["delay"] != 0) else 0.0), n)
    ktrans_s = p["ktrans"] / 60.0
    with np.errstate(divide="ignore", invalid="ignore"):
        kep_s = np.where(p["ve"] > 0, ktrans_s / p["ve"], 0.0)
    conc = ktrans_s[:, None] * exp_convolve(t, cp, kep_s) + p["vp"][:, None] * cp
    return conc.reshape(*shape, t.size)
