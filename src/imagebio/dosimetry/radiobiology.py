"""Linear-quadratic radiobiology for radionuclide therapy: BED with dose-rate and repair, EQD2, several cycles.

For a dose rate Ḋ(t) delivered from t = 0 to ∞ and mono-exponential sublethal-damage repair with constant
μ = ln2/T_rep, the biologically effective dose is

    BED = D + G·D²/(α/β),   G = (2/D²) ∫_0^∞ Ḋ(t) ∫_0^t Ḋ(w)·e^(−μ(t−w)) dw dt   (Lea-Catcheside factor)

For a sum of exponentials Ḋ(t) = Σ_i c_i·e^(−a_i t) (mono-exponential clearance, uptake-washout, the fits of
:mod:`imagebio.dosimetry.tac`) the double integral has the closed form

    G = (2/D²)·Σ_i Σ_j c_i·c_j / ((a_i + a_j)(a_i + μ)),   D = Σ_i c_i/a_i.

With one term (instant uptake, clearance with T_eff) it reduces to G = T_rep/(T_rep + T_eff) (Dale 1985).

References
----------
Dale RG. The application of the linear-quadratic dose-effect equation to fractionated and protracted
radiotherapy. Br J Radiol 1985;58:515-528.
Hobbs RF, Sgouros G. Calculation of the biological effective dose for piecewise defined dose-rate fits.
Med Phys 2009;36:904-907.
Bodei L et al. Long-term evaluation of renal toxicity after peptide receptor radionuclide therapy with
90Y-DOTATOC and 177Lu-DOTATATE: the role of associated risk factors. Eur J Nucl Med Mol Imaging
2008;35:1847-1856.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources

import numpy as np

from imagebio.errors import InvalidParameterError

__all__ = [
    "TissueParameters",
    "bed_exponential_sum_gy",
    "bed_gy",
    "bed_multi_cycle_gy",
    "eqd2_gy",
    "g_factor_exponential_sum",
    "g_factor_monoexponential",
    "tissue_parameters",
]


@dataclasses.dataclass(frozen=True)
class TissueParameters:
    """LQ parameters of one tissue: α/β (Gy), repair half-time (h), α (1/Gy, NaN if not given) and source."""

    alpha_beta_gy: float
    repair_half_time_h: float
    alpha_per_gy: float
    source: str


def tissue_parameters(tissue: str) -> TissueParameters:
    """LQ parameters from the packaged preset ``data/radiobiology_parameters.yaml``.

    Tissues: ``kidney`` (α/β 2.6 Gy, T_rep 2.8 h; Bodei et al. 2008), ``normal_generic``, ``normal_lung``,
    ``normal_liver``, ``tumour_generic``, ``tumour_lung``, ``tumour_liver`` (MIRDCalculation bioeffectRT defaults).
    """
    table = _tissue_table()
    if tissue not in table:
        raise InvalidParameterError("tissue", tissue, f"one of {sorted(table)}")
    return table[tissue]


@lru_cache(maxsize=1)
def _tissue_table() -> dict[str, TissueParameters]:
    import yaml

    text = resources.files("imagebio.dosimetry").joinpath("data", "radiobiology_parameters.yaml").read_text("utf-8")
    return {
        name: TissueParameters(
            alpha_beta_gy=float(row["alpha_beta_gy"]),
            repair_half_time_h=float(row["repair_half_time_h"]),
            alpha_per_gy=float(row.get("alpha_per_gy", "nan")),
            source=str(row["source"]),
        )
        for name, row in yaml.safe_load(text).items()
    }


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise InvalidParameterError(name, value, "a positive number")


def g_factor_monoexponential(repair_half_time_h: float, effective_half_life_h: float) -> float:
    """G = T_rep/(T_rep + T_eff) for instant uptake and mono-exponential clearance (Dale 1985).

    Both half-times in the same unit (h by convention).
    """
    _positive("repair_half_time_h", repair_half_time_h)
    _positive("effective_half_life_h", effective_half_life_h)
    return repair_half_time_h / (repair_half_time_h + effective_half_life_h)


def bed_gy(dose_gy, alpha_beta_gy: float, repair_half_time_h: float, effective_half_life_h: float):
    """BED = D·[1 + D/(α/β)·T_rep/(T_rep + T_eff)] for instant uptake and mono-exponential clearance.

    Parameters
    ----------
    dose_gy : float or array_like
        Absorbed dose of one administration, Gy.
    alpha_beta_gy : float
        α/β, Gy.
    repair_half_time_h, effective_half_life_h : float
        Repair half-time and effective half-life, h (any common unit).

    Returns
    -------
    BED, Gy.

    References
    ----------
    Dale RG, Br J Radiol 1985;58:515; Bodei L et al., EJNMMI 2008;35:1847 (kidney, α/β = 2.6 Gy, T_rep = 2.8 h).
    """
    _positive("alpha_beta_gy", alpha_beta_gy)
    g = g_factor_monoexponential(repair_half_time_h, effective_half_life_h)
    d = np.asarray(dose_gy, dtype=float)
    if np.any(d < 0):
        raise InvalidParameterError("dose_gy", dose_gy, "doses ≥ 0 Gy")
    return d * (1.0 + g * d / alpha_beta_gy)


def g_factor_exponential_sum(
    coefficients: Sequence[float], decay_constants: Sequence[float], repair_half_time: float
) -> float:
    """Lea-Catcheside G factor for Ḋ(t) = Σ c_i·e^(−a_i t) with repair half-time T_rep (closed form above).

    ``decay_constants`` a_i (1/time) and ``repair_half_time`` (time) must use the same time unit;
    the coefficients' unit cancels. Negative coefficients (uptake terms) are allowed as long as
    D = Σ c_i/a_i > 0. Reference: Hobbs & Sgouros, Med Phys 2009;36:904 (general piecewise case).
    """
    c = np.asarray(coefficients, dtype=float)
    a = np.asarray(decay_constants, dtype=float)
    if c.shape != a.shape or c.ndim != 1 or c.size == 0:
        raise InvalidParameterError("coefficients", c, "one coefficient per decay constant")
    if np.any(~(a > 0)):
        raise InvalidParameterError("decay_constants", a, "positive decay constants")
    _positive("repair_half_time", repair_half_time)
    mu = math.log(2.0) / repair_half_time
    dose = float(np.sum(c / a))
    if not dose > 0:
        raise InvalidParameterError("coefficients", c, "a dose-rate curve with positive integral Σ c_i/a_i")
    pair = np.outer(c, c) / (np.add.outer(a, a) * (a + mu)[:, None])
    return float(2.0 * pair.sum() / dose**2)


def bed_exponential_sum_gy(
    coefficients: Sequence[float], decay_constants: Sequence[float], alpha_beta_gy: float, repair_half_time: float
) -> tuple[float, float]:
    """(dose Gy, BED Gy) for a dose rate Σ c_i·e^(−a_i t) in Gy per time unit (same unit as the a_i and T_rep).

    Use it for uptake-washout curves: c = (k, −k), a = (λ_washout, λ_uptake).
    """
    _positive("alpha_beta_gy", alpha_beta_gy)
    c = np.asarray(coefficients, dtype=float)
    a = np.asarray(decay_constants, dtype=float)
    g = g_factor_exponential_sum(c, a, repair_half_time)
    dose = float(np.sum(c / a))
    return dose, dose * (1.0 + g * dose / alpha_beta_gy)


def eqd2_gy(bed, alpha_beta_gy: float):
    """Equivalent dose in 2-Gy fractions: EQD2 = BED/(1 + 2/(α/β)) (Gy)."""
    _positive("alpha_beta_gy", alpha_beta_gy)
    return np.asarray(bed, dtype=float) / (1.0 + 2.0 / alpha_beta_gy)


def bed_multi_cycle_gy(
    doses_gy: Sequence[float],
    alpha_beta_gy: float,
    repair_half_time_h: float,
    effective_half_lives_h: Sequence[float] | float,
) -> float:
    """Total BED of several cycles far apart in time (no interaction between cycles): Σ BED_i (Gy).

    ``effective_half_lives_h`` may be one value for all cycles or one per cycle.
    """
    d = np.asarray(doses_gy, dtype=float).ravel()
    t = np.broadcast_to(np.asarray(effective_half_lives_h, dtype=float), d.shape)
    return float(sum(bed_gy(di, alpha_beta_gy, repair_half_time_h, ti) for di, ti in zip(d, t)))
