"""Y-90 microsphere radioembolisation activity planning: MIRD single compartment, partition model, BSA method.

Absorbed dose of Y-90 that decays fully in a mass M: D = K·A/M with K the energy per GBq (Gy·kg/GBq = J/GBq).
K = 49.67 Gy·kg/GBq is the value most calculators use (:data:`Y90_GY_KG_PER_GBQ`); vendors and older texts use
≈ 50 or 49.38; ICRP-107 decay data give 49.77 (:func:`y90_energy_constant_gy_kg_per_gbq`). Every function
takes it as a parameter.

References
----------
Ho S, Lau WY, Leung TWT, et al. Partition model for estimating radiation doses from yttrium-90 microspheres
in treating hepatic tumours. Eur J Nucl Med 1996;23:947-952.
Kao YH et al. Post-radioembolization yttrium-90 PET/CT - part 2: dose-response and tumor predictive dosimetry
for resin microspheres. EJNMMI Res 2013;3:57. (and the "MIRD" glass formula.)
Kennedy A et al. Recommendations for radioembolization of hepatic malignancies using yttrium-90 microsphere
brachytherapy: a consensus panel report from the REBOC. Int J Radiat Oncol Biol Phys 2007;68:13-23 (BSA method).
"""

from __future__ import annotations

import dataclasses
import math

from imagebio.dosimetry.nuclides import get_nuclide
from imagebio.errors import InvalidParameterError

__all__ = [
    "Y90_GY_KG_PER_GBQ",
    "PartitionModelPlan",
    "bsa_method_activity_gbq",
    "body_surface_area_m2",
    "lung_shunt_fraction",
    "mird_single_compartment_activity_gbq",
    "partition_model",
    "resin_lsf_activity_factor",
    "y90_energy_constant_gy_kg_per_gbq",
]

#: Energy released by 1 GBq of Y-90 decaying completely, per kg: the conventional 49.67 Gy·kg/GBq.
Y90_GY_KG_PER_GBQ = 49.67


def _check_fraction(name: str, value: float, upper_open: bool = True) -> None:
    if not (0.0 <= value < 1.0 if upper_open else 0.0 <= value <= 1.0):
        raise InvalidParameterError(name, value, "a fraction in [0, 1)" if upper_open else "a fraction in [0, 1]")


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise InvalidParameterError(name, value, "a positive number")


def y90_energy_constant_gy_kg_per_gbq(nuclide: str = "Y-90") -> float:
    """K = Δ_np·T½/ln2 per GBq from ICRP-107 data (J/GBq = Gy·kg/GBq); 49.771 for Y-90."""
    nuc = get_nuclide(nuclide)
    return nuc.nonpenetrating_j * nuc.half_life_s / math.log(2.0) * 1e9


def lung_shunt_fraction(lung_counts: float, liver_counts: float) -> float:
    """LSF = lung counts/(lung + liver counts) from Tc-99m-MAA planar or SPECT counts (geometric means)."""
    if lung_counts < 0 or liver_counts < 0 or lung_counts + liver_counts <= 0:
        raise InvalidParameterError("lung_counts", (lung_counts, liver_counts), "non-negative counts, not both zero")
    return lung_counts / (lung_counts + liver_counts)


def mird_single_compartment_activity_gbq(
    target_dose_gy: float, mass_kg: float, lung_shunt: float = 0.0, k_gy_kg_per_gbq: float = Y90_GY_KG_PER_GBQ
) -> float:
    """Activity for a mean dose to a perfused mass (MIRD single compartment, glass): A = D·M/(K·(1 − LSF))."""
    _positive("target_dose_gy", target_dose_gy)
    _positive("mass_kg", mass_kg)
    _positive("k_gy_kg_per_gbq", k_gy_kg_per_gbq)
    _check_fraction("lung_shunt", lung_shunt)
    return target_dose_gy * mass_kg / (k_gy_kg_per_gbq * (1.0 - lung_shunt))


@dataclasses.dataclass(frozen=True)
class PartitionModelPlan:
    """Result of the partition model: activity (GBq) and mean doses (Gy) to normal liver, tumour and lungs."""

    activity_gbq: float
    normal_liver_dose_gy: float
    tumour_dose_gy: float
    lung_dose_gy: float
    lung_shunt_fraction: float
    tumour_to_normal_ratio: float


def partition_model(
    normal_liver_dose_gy: float,
    tumour_mass_kg: float,
    normal_liver_mass_kg: float,
    tumour_to_normal_ratio: float,
    lung_shunt: float,
    *,
    lung_mass_kg: float = 1.0,
    k_gy_kg_per_gbq: float = Y90_GY_KG_PER_GBQ,
) -> PartitionModelPlan:
    """Activity that gives a target mean dose to the normal liver (partition model of Ho et al. 1996).

    Uses the original model: T/N is the ratio of activity **concentrations** (per kg) in tumour and normal liver
    from Tc-99m-MAA, so

    * A = D_N·(T/N·M_T + M_N)/(K·(1 − LSF))
    * D_T = T/N·D_N
    * D_L = K·A·LSF/M_L (M_L = 1 kg by convention)

    (Kao et al. 2013's variant with an activity ratio is not this one.)

    Parameters
    ----------
    normal_liver_dose_gy : float
        Target mean dose to the normal (non-tumoural) perfused liver, Gy.
    tumour_mass_kg, normal_liver_mass_kg, lung_mass_kg : float
        Masses, kg.
    tumour_to_normal_ratio : float
        T/N activity-concentration ratio.
    lung_shunt : float
        Lung shunt fraction in [0, 1).
    k_gy_kg_per_gbq : float
        Y-90 energy constant.
    """
    _positive("normal_liver_dose_gy", normal_liver_dose_gy)
    _positive("normal_liver_mass_kg", normal_liver_mass_kg)
    _positive("lung_mass_kg", lung_mass_kg)
    _positive("k_gy_kg_per_gbq", k_gy_kg_per_gbq)
    if tumour_mass_kg < 0:
        raise InvalidParameterError("tumour_mass_kg", tumour_mass_kg, "a mass ≥ 0 kg")
    if tumour_to_normal_ratio < 0:
        raise InvalidParameterError("tumour_to_normal_ratio", tumour_to_normal_ratio, "a ratio ≥ 0")
    _check_fraction("lung_shunt", lung_shunt)
    activity = (
        normal_liver_dose_gy
        * (tumour_to_normal_ratio * tumour_mass_kg + normal_liver_mass_kg)
        / (k_gy_kg_per_gbq * (1.0 - lung_shunt))
    )
    return PartitionModelPlan(
        activity_gbq=activity,
        normal_liver_dose_gy=normal_liver_dose_gy,
        tumour_dose_gy=tumour_to_normal_ratio * normal_liver_dose_gy,
        lung_dose_gy=k_gy_kg_per_gbq * activity * lung_shunt / lung_mass_kg,
        lung_shunt_fraction=lung_shunt,
        tumour_to_normal_ratio=tumour_to_normal_ratio,
    )


def body_surface_area_m2(height_m: float, weight_kg: float) -> float:
    """Body surface area, m²: 0.20247·H^0.725·W^0.425 (Du Bois & Du Bois 1916, H in m, W in kg)."""
    _positive("height_m", height_m)
    _positive("weight_kg", weight_kg)
    return 0.20247 * height_m**0.725 * weight_kg**0.425


def bsa_method_activity_gbq(height_m: float, weight_kg: float, tumour_involvement: float) -> float:
    """Resin-microsphere BSA method: A[GBq] = BSA − 0.2 + V_tumour/(V_tumour + V_liver).

    ``tumour_involvement`` is V_tumour/(V_tumour + V_liver) in [0, 1]. No lung-shunt reduction is applied
    (see :func:`resin_lsf_activity_factor`). Reference: Kennedy et al. 2007 (REBOC), resin labelling.
    """
    _check_fraction("tumour_involvement", tumour_involvement, upper_open=False)
    return body_surface_area_m2(height_m, weight_kg) - 0.2 + tumour_involvement


def resin_lsf_activity_factor(lung_shunt: float) -> float:
    """Activity reduction factor of the resin labelling: 1.0 for LSF < 10 %, 0.8 for 10-15 %, 0.6 for 15-20 %.

    Raises
    ------
    InvalidParameterError
        LSF > 20 % (treatment contraindicated by the labelling).
    """
    _check_fraction("lung_shunt", lung_shunt, upper_open=False)
    if lung_shunt > 0.20:
        raise InvalidParameterError("lung_shunt", lung_shunt, "≤ 0.20 (resin labelling: LSF > 20 % is contraindicated)")
    if lung_shunt < 0.10:
        return 1.0
    if lung_shunt <= 0.15:
        return 0.8
    return 0.6
