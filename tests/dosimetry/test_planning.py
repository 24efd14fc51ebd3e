"""Y-90 radioembolisation planning: partition model and BSA worked numbers, energy constant, labelling rules."""

from __future__ import annotations

import math

import pytest

from imagebio.dosimetry.planning import (
    Y90_GY_KG_PER_GBQ,
    body_surface_area_m2,
    bsa_method_activity_gbq,
    lung_shunt_fraction,
    mird_single_compartment_activity_gbq,
    partition_model,
    resin_lsf_activity_factor,
    y90_energy_constant_gy_kg_per_gbq,
)
from imagebio.errors import InvalidParameterError


def test_energy_constants(reference):
    y90 = reference["y90"]
    assert Y90_GY_KG_PER_GBQ == y90["K_Gy_kg_per_GBq_conventional"]
    assert y90_energy_constant_gy_kg_per_gbq() == pytest.approx(y90["K_from_icrp107_J_per_GBq"], rel=1e-6)


def test_partition_model_worked_example(reference):
    case = reference["y90"]["partition_example"]
    i, e = case["inputs"], case["expected"]
    plan = partition_model(i["D_N_Gy"], i["M_T_kg"], i["M_N_kg"], i["T_over_N"], i["LSF"],
                           lung_mass_kg=i["M_L_kg"], k_gy_kg_per_gbq=i["K"])
    assert plan.activity_gbq == pytest.approx(e["A_GBq"], rel=1e-6)
    assert plan.tumour_dose_gy == pytest.approx(e["D_T_Gy"], rel=1e-6)
    assert plan.lung_dose_gy == pytest.approx(e["D_L_Gy"], rel=1e-6)


def test_bsa_worked_example(reference):
    case = reference["y90"]["bsa_method_example"]
    i, e = case["inputs"], case["expected"]
    assert body_surface_area_m2(i["H_m"], i["W_kg"]) == pytest.approx(e["BSA_m2"], rel=1e-6)
    assert bsa_method_activity_gbq(i["H_m"], i["W_kg"], i["tumour_involvement"]) == pytest.approx(e["A_GBq"], rel=1e-6)


def test_partition_with_unit_ratio_equals_single_compartment():
    plan = partition_model(80.0, 0.2, 1.3, 1.0, 0.06)
    assert plan.activity_gbq == pytest.approx(mird_single_compartment_activity_gbq(80.0, 1.5, 0.06), rel=1e-12)
    # and the energy balance: K·A·(1 − LSF) = D_N·M_N + D_T·M_T
    assert Y90_GY_KG_PER_GBQ * plan.activity_gbq * (1 - 0.06) == pytest.approx(80.0 * 1.5, rel=1e-12)


def test_single_compartment_hand_computed():
    # 120 Gy to 0.5 kg with 5 % shunt: 120·0.5/(49.67·0.95)
    assert mird_single_compartment_activity_gbq(120.0, 0.5, 0.05) == pytest.approx(60.0 / (49.67 * 0.95), rel=1e-12)
    assert mird_single_compartment_activity_gbq(120.0, 0.5, 0.05, k_gy_kg_per_gbq=50.0) == pytest.approx(
        60.0 / (50.0 * 0.95), rel=1e-12
    )


def test_lung_shunt_and_resin_rules(reference):
    assert lung_shunt_fraction(80.0, 920.0) == pytest.approx(0.08)
    assert resin_lsf_activity_factor(0.05) == 1.0
    assert resin_lsf_activity_factor(0.12) == 0.8
    assert resin_lsf_activity_factor(0.18) == 0.6
    assert set(reference["y90"]["resin_LSF_rules"]) == {"<10%", "10-15%", "15-20%", ">20%"}
    with pytest.raises(InvalidParameterError, match="contraindicated"):
        resin_lsf_activity_factor(0.25)
    with pytest.raises(InvalidParameterError, match="lung_shunt"):
        partition_model(40.0, 0.3, 1.2, 4.0, 1.0)


def test_organ_limits_preset_and_overrides(reference):
    from imagebio.dosimetry.planning import organ_limits

    limits = organ_limits()
    expected = reference["organ_limits"]
    assert limits["kidney"].dose_gy == expected["kidney_absorbed_dose_Gy"]
    assert limits["kidney"].bed_gy == expected["kidney_BED_Gy_without_risk_factors"]
    assert limits["red_marrow"].dose_gy == expected["red_marrow_Gy"]
    assert limits["lung_y90"].dose_gy_per_treatment == reference["y90"]["lung_limits_Gy"]["single"]
    assert limits["lung_y90"].dose_gy == reference["y90"]["lung_limits_Gy"]["cumulative"]
    risk = organ_limits({"kidney": {"bed_gy": expected["kidney_BED_Gy_with_risk_factors"]}})
    assert risk["kidney"].bed_gy == 28 and risk["kidney"].dose_gy == 23


def test_max_tolerable_activity_hand_computed():
    from imagebio.dosimetry.planning import OrganLimit, max_tolerable_activity_gbq
    from imagebio.dosimetry.radiobiology import bed_gy

    kidney = OrganLimit("kidney", dose_gy=23.0, bed_gy=28.0, alpha_beta_gy=2.6, repair_half_time_h=2.8)
    # 0.5 Gy/GBq, two previous cycles of 4 Gy (T_eff 40 h): dose budget 15 Gy; BED budget 28 - 2·BED(4)
    out = max_tolerable_activity_gbq("kidney", 0.5, kidney, previous_doses_gy=[4.0, 4.0],
                                     previous_effective_half_lives_h=[40.0, 40.0], effective_half_life_h=40.0)
    prior = 2 * float(bed_gy(4.0, 2.6, 2.8, 40.0))
    g = 2.8 / 42.8
    q = g / 2.6
    d_bed = (math.sqrt(1 + 4 * q * (28.0 - prior)) - 1) / (2 * q)
    assert out.binding == ("bed" if d_bed < 15.0 else "dose")
    assert out.dose_gy == pytest.approx(min(d_bed, 15.0), rel=1e-12)
    assert out.activity_gbq == pytest.approx(out.dose_gy / 0.5, rel=1e-12)
    assert prior + float(bed_gy(out.dose_gy, 2.6, 2.8, 40.0)) == pytest.approx(28.0, rel=1e-9)
    marrow = max_tolerable_activity_gbq("red_marrow", 0.05, OrganLimit("red_marrow", dose_gy=2.0),
                                        previous_doses_gy=[0.6])
    assert marrow.activity_gbq == pytest.approx(1.4 / 0.05) and marrow.binding == "dose"


def test_y90_lung_limits(reference):
    from imagebio.dosimetry.planning import y90_lung_dose_check, y90_max_activity_for_lung_gbq

    single, cumulative = reference["y90"]["lung_limits_Gy"]["single"], reference["y90"]["lung_limits_Gy"]["cumulative"]
    assert y90_lung_dose_check(29.0)["ok"] and not y90_lung_dose_check(31.0)["within_per_treatment_limit"]
    check = y90_lung_dose_check(25.0, previous_lung_dose_gy=30.0)
    assert check["within_per_treatment_limit"] and not check["within_cumulative_limit"] and not check["ok"]
    a = y90_max_activity_for_lung_gbq(0.1, lung_mass_kg=1.0)
    assert 49.67 * a * 0.1 / 1.0 == pytest.approx(single)
    a2 = y90_max_activity_for_lung_gbq(0.1, previous_lung_dose_gy=35.0)
    assert 49.67 * a2 * 0.1 == pytest.approx(cumulative - 35.0)
