"""BED with exponential dose rate and repair: worked kidney numbers, closed-form G factor, EQD2, cycles."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from imagebio.dosimetry.radiobiology import (
    bed_exponential_sum_gy,
    bed_gy,
    bed_multi_cycle_gy,
    eqd2_gy,
    g_factor_exponential_sum,
    g_factor_monoexponential,
    tissue_parameters,
)
from imagebio.errors import InvalidParameterError

from .conftest import DATA


def test_kidney_worked_example(reference):
    case = reference["bed"]["kidney_example"]
    inp, exp = case["inputs"], case["expected"]
    assert g_factor_monoexponential(inp["T_rep_h"], inp["T_eff_h"]) == pytest.approx(exp["G"], rel=1e-6)
    assert bed_gy(inp["D_Gy"], inp["alpha_beta_Gy"], inp["T_rep_h"], inp["T_eff_h"]) == pytest.approx(
        exp["BED_Gy"], rel=1e-6
    )
    alt = reference["bed"]["kidney_example_alt_params"]
    i2 = alt["inputs"]
    assert bed_gy(i2["D_Gy"], i2["alpha_beta_Gy"], i2["T_rep_h"], i2["T_eff_h"]) == pytest.approx(
        alt["expected"]["BED_Gy"], rel=1e-6
    )


def test_kidney_parameters_preset_used_in_worked_example(reference):
    kidney = tissue_parameters("kidney")
    inp = reference["bed"]["kidney_example"]["inputs"]
    assert (kidney.alpha_beta_gy, kidney.repair_half_time_h) == (inp["alpha_beta_Gy"], inp["T_rep_h"])


def test_preset_matches_source_tables():
    src = DATA / "radiobiology"
    rows = {}
    for what in ("alphabeta", "trep", "alpha"):
        with open(src / f"mirdcalculation_{what}.csv", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                rows[(what, row["type"], row["site"])] = float(row["value"])
    for kind, prefix in (("n", "normal"), ("t", "tumour")):
        for site in ("generic", "lung", "liver"):
            p = tissue_parameters(f"{prefix}_{site}")
            assert p.alpha_beta_gy == rows[("alphabeta", kind, site)]
            assert p.repair_half_time_h == rows[("trep", kind, "generic")]
            if ("alpha", kind, site) in rows:
                assert p.alpha_per_gy == rows[("alpha", kind, site)]
    kidneys = json.loads((src / "pytheranostics_radiobiology.json").read_text(encoding="utf-8"))["Kidneys"]
    assert tissue_parameters("kidney").alpha_beta_gy == kidneys["alpha_beta"]
    assert tissue_parameters("kidney").repair_half_time_h == kidneys["t_repair"]


def test_exponential_sum_g_reduces_to_dale_for_one_term():
    lam = math.log(2) / 40.0
    assert g_factor_exponential_sum([2.0], [lam], 2.8) == pytest.approx(2.8 / 42.8, rel=1e-12)


def test_uptake_washout_g_against_numerical_double_integral():
    """G = (2/D²)∫Ḋ(t)∫_0^t Ḋ(w)e^(−μ(t−w))dw dt, integrated numerically on a fine grid (recursive form of the
    inner integral, exact for piecewise-exponential steps), must match the closed form to 1e-5."""
    lw, lu, mu = math.log(2) / 50.0, math.log(2) / 2.0, math.log(2) / 2.8
    c = np.array([1.0, -1.0])
    a = np.array([lw, lu])
    dt = 0.002
    t = np.arange(0, 2000.0, dt)
    rate = np.exp(-lw * t) - np.exp(-lu * t)
    decay = math.exp(-mu * dt)
    # inner(t+dt) = inner(t)·e^(−μdt) + ∫ over the step, trapezoid on the product rate·e^(−μ(t+dt−w))
    inner = np.zeros_like(t)
    for i in range(1, t.size):
        inner[i] = inner[i - 1] * decay + 0.5 * dt * (rate[i - 1] * decay + rate[i])
    dose = np.sum(c / a)
    g_numeric = 2.0 * np.trapezoid(rate * inner, t) / dose**2
    assert g_factor_exponential_sum(c, a, 2.8) == pytest.approx(g_numeric, rel=1e-5)
    d, bed = bed_exponential_sum_gy(c * 0.5, a, 2.6, 2.8)
    assert d == pytest.approx(0.5 * dose, rel=1e-12)
    assert bed == pytest.approx(d * (1 + g_numeric * d / 2.6), rel=1e-5)


def test_eqd2_of_two_gray_fractions_is_total_dose():
    alpha_beta = 2.6
    n = 12
    bed_fractionated = n * 2.0 * (1 + 2.0 / alpha_beta)
    assert eqd2_gy(bed_fractionated, alpha_beta) == pytest.approx(24.0, rel=1e-12)


def test_multi_cycle_sum_is_below_single_administration():
    cycles = [6.0, 5.0, 6.5, 5.5]
    total = bed_multi_cycle_gy(cycles, 2.6, 2.8, 40.0)
    assert total == pytest.approx(sum(bed_gy(d, 2.6, 2.8, 40.0) for d in cycles), rel=1e-12)
    assert total < bed_gy(sum(cycles), 2.6, 2.8, 40.0)
    per_cycle_teff = bed_multi_cycle_gy(cycles, 2.6, 2.8, [40.0, 45.0, 50.0, 55.0])
    assert per_cycle_teff < total  # longer T_eff ⇒ lower dose rate ⇒ smaller G


def test_invalid_parameters():
    with pytest.raises(InvalidParameterError, match="alpha_beta_gy"):
        bed_gy(10.0, 0.0, 2.8, 40.0)
    with pytest.raises(InvalidParameterError, match="tissue"):
        tissue_parameters("brain")
    with pytest.raises(InvalidParameterError, match="coefficients"):
        g_factor_exponential_sum([1.0, -2.0], [0.1, 0.2], 2.8)  # negative total dose
