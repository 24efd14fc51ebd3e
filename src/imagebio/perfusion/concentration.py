"""SPGR signal equation and conversion of DCE-MRI signal to contrast-agent concentration.

Spoiled gradient echo (SPGR / FLASH) steady state: ``S = S0 sin(a) (1 - E1) / (1 - cos(a) E1)`` with
``E1 = exp(-TR R1)``; fast-exchange linear relaxivity ``R1(t) = R10 + r1 C(t)``.

References
----------
Haase A. Snapshot FLASH MRI. Magn Reson Med 1990;13:77-89 (signal equation).
Schabel MC, Parker DL. Uncertainty and bias in contrast concentration measurements using spoiled gradient
echo pulse sequences. Phys Med Biol 2008;53:2345-2373 (inversion used here).
"""

from __future__ import annotations

import numpy as np

from imagebio.errors import InvalidParameterError

__all__ = ["spgr_signal", "spgr_r1", "signal_to_concentration", "concentration_to_signal"]


def spgr_signal(
    s0: np.ndarray | float,
    r1_per_s: np.ndarray | float,
    flip_angle_deg: np.ndarray | float,
    tr_s: np.ndarray | float,
) -> np.ndarray:
    """Steady-state SPGR signal ``S0 sin(a) (1 - E1) / (1 - cos(a) E1)``, ``E1 = exp(-TR R1)``.

    Parameters
    ----------
    s0 : array or float
        Equilibrium signal (proton density times receive gain), arbitrary units.
    r1_per_s : array or float
        Longitudinal relaxation rate R1 in 1/s.
    flip_angle_deg : array or float
        Flip angle in degrees.
    tr_s : array or float
        Repetition time in seconds.

    Returns
    -------
    array
        Signal, broadcast over the inputs.
    """
    alpha = np.deg2rad(np.asarray(flip_angle_deg, dtype=float))
    e1 = np.exp(-np.asarray(tr_s, dtype=float) * np.asarray(r1_per_s, dtype=float))
    return np.asarray(s0, dtype=float) * np.sin(alpha) * (1.0 - e1) / (1.0 - np.cos(alpha) * e1)


def spgr_r1(
    signal_over_s0: np.ndarray,
    flip_angle_deg: np.ndarray | float,
    tr_s: np.ndarray | float,
) -> np.ndarray:
    """Invert the SPGR equation for R1 (1/s) given ``S / S0``.

    Values for which no real R1 exists (``S/S0 >= sin(a)``, i.e. saturation beyond full recovery)
    give ``nan``.
    """
    alpha = np.deg2rad(np.asarray(flip_angle_deg, dtype=float))
    y = np.asarray(signal_over_s0, dtype=float) / np.sin(alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        e1 = (1.0 - y) / (1.0 - y * np.cos(alpha))
        r1 = -np.log(e1) / np.asarray(tr_s, dtype=float)
    return np.where((e1 > 0) & (e1 < 1), r1, np.nan)


def signal_to_concentration(
    signal: np.ndarray,
    t1_base_s: np.ndarray | float,
    flip_angle_deg: np.ndarray | float,
    tr_s: np.ndarray | float,
    r1_relaxivity_per_mM_per_s: float,
    n_baseline: int = 1,
    skip_first: int = 0,
) -> np.ndarray:
    """Convert an SPGR signal time course to concentration (mM) assuming linear relaxivity.

    ``S0`` is estimated from the mean pre-contrast signal and the known baseline T1; each sample is then
    inverted for R1 and ``C = (R1 - R10) / r1``.

    Parameters
    ----------
    signal : array (..., n_t)
        Signal time courses (last axis is time).
    t1_base_s : array or float
        Pre-contrast T1 in seconds, broadcast over the leading axes of ``signal``.
    flip_angle_deg, tr_s : array or float
        Sequence flip angle (degrees) and repetition time (seconds).
    r1_relaxivity_per_mM_per_s : float
        Longitudinal relaxivity r1 in 1/(mM s).
    n_baseline : int
        Number of pre-contrast frames, counted from the first frame (skipped frames included).
    skip_first : int
        Number of leading frames excluded from the baseline (e.g. not yet at steady state). Their
        concentration is still computed.

    Returns
    -------
    array (..., n_t)
        Concentration in mM (``nan`` where the signal cannot be inverted).
    """
    s = np.asarray(signal, dtype=float)
    if s.ndim < 1 or s.shape[-1] < 1:
        raise InvalidParameterError("signal", f"shape {s.shape}", "an array with time on the last axis")
    if not 0 <= skip_first < n_baseline <= s.shape[-1]:
        raise InvalidParameterError(
            "n_baseline", (n_baseline, skip_first), f"0 <= skip_first < n_baseline <= {s.shape[-1]} frames"
        )
    if r1_relaxivity_per_mM_per_s <= 0:
        raise InvalidParameterError("r1_relaxivity_per_mM_per_s", r1_relaxivity_per_mM_per_s, "> 0")
    t1 = np.asarray(t1_base_s, dtype=float)
    if np.any(t1 <= 0):
        raise InvalidParameterError("t1_base_s", "values <= 0", "positive T1 in seconds")
    r10 = 1.0 / t1
    fa = np.asarray(flip_angle_deg, dtype=float)
    tr = np.asarray(tr_s, dtype=float)
    baseline = s[..., skip_first:n_baseline].mean(axis=-1)
    s0 = baseline / spgr_signal(1.0, r10, fa, tr)
    r1 = spgr_r1(s / s0[..., None], fa[..., None] if fa.ndim else fa, tr[..., None] if tr.ndim else tr)
    r10_t = r10[..., None] if r10.ndim else r10
    return (r1 - r10_t) / r1_relaxivity_per_mM_per_s


def concentration_to_signal(
    conc_mM: np.ndarray,
    s0: np.ndarray | float,
    t1_base_s: np.ndarray | float,
    flip_angle_deg: float,
    tr_s: float,
    r1_relaxivity_per_mM_per_s: float,
) -> np.ndarray:
    """Forward model: concentration (..., n_t) to SPGR signal with linear relaxivity.

    ``s0`` and ``t1_base_s`` broadcast over the leading axes of ``conc_mM``.
    """
    c = np.asarray(conc_mM, dtype=float)
    r10 = 1.0 / np.asarray(t1_base_s, dtype=float)
    r10 = r10[..., None] if r10.ndim else r10
    s0_arr = np.asarray(s0, dtype=float)
    s0_arr = s0_arr[..., None] if s0_arr.ndim else s0_arr
    return spgr_signal(s0_arr, r10 + r1_relaxivity_per_mM_per_s * c, flip_angle_deg, tr_s)
