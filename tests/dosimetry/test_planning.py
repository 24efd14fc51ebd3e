"""Y-90 radioembolisation planning: partition model and BSA worked numbers, energy constant, labelling rules."""

from __future__ import annotations

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
