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
    "OrganLimit",
    "PartitionModelPlan",
    "TolerableActivity",
    "max_dose_for_bed_gy",
    "max_tolerable_activity_gbq",
    "organ_limits",
    "y90_lung_dose_check",
    "y90_max_activity_for_lung_gbq",
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


# ------------------------------------------------------------------------------------ organ-at-risk limits
@dataclasses.dataclass(frozen=True)
class OrganLimit:
    """Cumulative limits of one organ at risk: mean absorbed dose (Gy) and/or BED (Gy), with LQ parameters.

    ``None`` means no limit of that kind. ``dose_gy_per_treatment`` is a per-administration limit (Y-90 lung).
    """

    organ: str
    dose_gy: float | None = None
    bed_gy: float | None = None
    alpha_beta_gy: float | None = None
    repair_half_time_h: float | None = None
    dose_gy_per_treatment: float | None = None
    source: str = ""


def organ_limits(overrides: dict | None = None) -> dict[str, OrganLimit]:
    """The packaged limits (``data/organ_limits.yaml``: kidney 23 Gy / BED 40 Gy (28 Gy with risk factors),
    red marrow 2 Gy, Y-90 lung 30 Gy per treatment / 50 Gy cumulative), updated by ``overrides``
    (``{organ: {field: value}}``; ``{"kidney": {"bed_gy": 28}}`` for a patient with risk factors)."""
    from importlib import resources

    import yaml

    text = resources.files("imagebio.dosimetry").joinpath("data", "organ_limits.yaml").read_text("utf-8")
    table = yaml.safe_load(text)
    for organ, values in (overrides or {}).items():
        if not isinstance(values, dict):
            raise InvalidParameterError(f"limits.{organ}", values, "a mapping such as {dose_gy: 23, bed_gy: 40}")
        table.setdefault(organ, {}).update(values)
    fields = {f.name for f in dataclasses.fields(OrganLimit)} - {"organ"}
    out = {}
    for organ, values in table.items():
        unknown = set(values) - fields - {"bed_gy_with_risk_factors"}
        if unknown:
            raise InvalidParameterError(f"limits.{organ}", sorted(unknown), f"fields among {sorted(fields)}")
        out[organ] = OrganLimit(organ, **{k: v for k, v in values.items() if k in fields})
    return out


def max_dose_for_bed_gy(bed_budget_gy: float, alpha_beta_gy: float, g_factor: float) -> float:
    """Largest dose d (Gy) of one administration with BED(d) = d·(1 + G·d/(α/β)) ≤ ``bed_budget_gy``.

    Solves G/(α/β)·d² + d − B = 0: d = (√(1 + 4·G·B/(α/β)) − 1)/(2·G/(α/β)); 0 when the budget is spent.
    """
    _positive("alpha_beta_gy", alpha_beta_gy)
    if bed_budget_gy <= 0:
        return 0.0
    q = g_factor / alpha_beta_gy
    if q == 0:
        return bed_budget_gy
    return (math.sqrt(1.0 + 4.0 * q * bed_budget_gy) - 1.0) / (2.0 * q)


@dataclasses.dataclass(frozen=True)
class TolerableActivity:
    """Maximum activity of the next cycle allowed by one organ: activity (GBq), the dose it would give (Gy),
    and which limit binds (``"dose"`` or ``"bed"``)."""

    organ: str
    activity_gbq: float
    dose_gy: float
    binding: str


def max_tolerable_activity_gbq(
    organ: str,
    dose_per_gbq_gy: float,
    limit: OrganLimit,
    *,
    previous_doses_gy: tuple[float, ...] | list[float] = (),
    previous_effective_half_lives_h: tuple[float, ...] | list[float] = (),
    effective_half_life_h: float | None = None,
) -> TolerableActivity:
    """Largest next-cycle activity that keeps an organ within its cumulative dose and BED limits.

    The next cycle is assumed to give the measured dose per GBq with the measured effective half-life
    (instant uptake, mono-exponential clearance for the BED; Dale 1985, Bodei et al. 2008); previous cycles add
    their dose and their BED (:func:`imagebio.dosimetry.radiobiology.bed_multi_cycle_gy`).

    Parameters
    ----------
    dose_per_gbq_gy : float
        Mean absorbed dose per administered GBq measured this cycle, Gy/GBq.
    limit : OrganLimit
    previous_doses_gy, previous_effective_half_lives_h : sequences
        Doses (Gy) and effective half-lives (h) of earlier cycles (half-lives needed for a BED limit).
    effective_half_life_h : float, optional
        Effective half-life of this cycle (h); needed for a BED limit.
    """
    from imagebio.dosimetry.radiobiology import bed_multi_cycle_gy, g_factor_monoexponential

    _positive("dose_per_gbq_gy", dose_per_gbq_gy)
    candidates = []
    spent = float(sum(previous_doses_gy))
    if limit.dose_gy is not None:
        candidates.append((max(limit.dose_gy - spent, 0.0), "dose"))
    if limit.dose_gy_per_treatment is not None:
        candidates.append((limit.dose_gy_per_treatment, "dose per treatment"))
    if limit.bed_gy is not None:
        if limit.alpha_beta_gy is None or limit.repair_half_time_h is None or effective_half_life_h is None:
            raise InvalidParameterError(
                "effective_half_life_h", effective_half_life_h,
                f"an effective half-life and LQ parameters for the BED limit of {organ}",
            )
        prior_bed = 0.0
        if len(previous_doses_gy):
            if len(previous_effective_half_lives_h) != len(previous_doses_gy):
                raise InvalidParameterError(
                    "previous_effective_half_lives_h", previous_effective_half_lives_h,
                    "one effective half-life per previous dose",
                )
            prior_bed = bed_multi_cycle_gy(
                list(previous_doses_gy), limit.alpha_beta_gy, limit.repair_half_time_h,
                list(previous_effective_half_lives_h),
            )
        g = g_factor_monoexponential(limit.repair_half_time_h, effective_half_life_h)
        candidates.append((max_dose_for_bed_gy(limit.bed_gy - prior_bed, limit.alpha_beta_gy, g), "bed"))
    if not candidates:
        raise InvalidParameterError(f"limits.{organ}", limit, "a dose_gy or bed_gy limit")
    dose, binding = min(candidates)
    return TolerableActivity(organ, dose / dose_per_gbq_gy, dose, binding)


def y90_lung_dose_check(
    lung_dose_gy: float,
    previous_lung_dose_gy: float = 0.0,
    *,
    per_treatment_limit_gy: float = 30.0,
    cumulative_limit_gy: float = 50.0,
) -> dict[str, float | bool]:
    """Y-90 radioembolisation lung dose against 30 Gy per treatment and 50 Gy cumulative (Ho et al. 1997).

    Returns ``{"lung_dose_gy", "cumulative_lung_dose_gy", "within_per_treatment_limit", "within_cumulative_limit",
    "ok"}``.
    """
    if lung_dose_gy < 0 or previous_lung_dose_gy < 0:
        raise InvalidParameterError("lung_dose_gy", (lung_dose_gy, previous_lung_dose_gy), "doses ≥ 0 Gy")
    total = lung_dose_gy + previous_lung_dose_gy
    single = lung_dose_gy <= per_treatment_limit_gy
    cumulative = total <= cumulative_limit_gy
    return {
        "lung_dose_gy": lung_dose_gy,
        "cumulative_lung_dose_gy": total,
        "within_per_treatment_limit": single,
        "within_cumulative_limit": cumulative,
        "ok": single and cumulative,
    }


def y90_max_activity_for_lung_gbq(
    lung_shunt: float,
    *,
    lung_mass_kg: float = 1.0,
    previous_lung_dose_gy: float = 0.0,
    per_treatment_limit_gy: float = 30.0,
    cumulative_limit_gy: float = 50.0,
    k_gy_kg_per_gbq: float = Y90_GY_KG_PER_GBQ,
) -> float:
    """Largest Y-90 activity (GBq) whose lung dose K·A·LSF/M_L stays within both lung limits (inf if LSF = 0)."""
    _check_fraction("lung_shunt", lung_shunt)
    _positive("lung_mass_kg", lung_mass_kg)
    allowed = min(per_treatment_limit_gy, cumulative_limit_gy - previous_lung_dose_gy)
    if lung_shunt == 0:
        return math.inf
    return max(allowed, 0.0) * lung_mass_kg / (k_gy_kg_per_gbq * lung_shunt)
