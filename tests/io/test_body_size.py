"""Anthropometric measures (imagebio.io.body_size) against calculate-suv's unit cases and the formulas' definitions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imagebio.errors import InvalidParameterError
from imagebio.io.body_size import bmi_kg_per_m2, bsa_du_bois_m2, ibw_kg, lbm_james_kg, lbm_janmahasatian_kg

CASES = json.loads(
    (
        Path(__file__).resolve().parents[1] / "data" / "calculate_suv_vendor_metadata" / "synthetic_unit_cases.json"
    ).read_text()
)["cases"]


def _case(name: str) -> dict:
    return next(c for c in CASES if c["name"] == name)


def _body(case: dict) -> tuple[float, float]:
    return case["input"]["PatientWeight"], case["input"]["PatientSize"]


def test_bsa_du_bois_matches_calculate_suv():
    case = _case("BSA Du Bois (cm2), 75 kg, 1.85 m")
    weight, height = _body(case)
    assert bsa_du_bois_m2(weight, height) * 1e4 == pytest.approx(case["expected"]["bsa_cm2"], rel=1e-9)


@pytest.mark.parametrize(
    ("name", "sex"), [("LBM Janmahasatian, male (grams)", "M"), ("LBM Janmahasatian, female (grams)", "F")]
)
def test_lbm_janmahasatian_matches_calculate_suv(name, sex):
    case = _case(name)
    weight, height = _body(case)
    assert lbm_janmahasatian_kg(weight, height, sex) * 1000 == pytest.approx(case["expected"]["lbm_janma_g"], rel=1e-9)


def test_lbm_james_female_matches_calculate_suv():
    case = _case("LBM James, female, 75 kg, 1.85 m (grams)")
    weight, height = _body(case)
    assert lbm_james_kg(weight, height, "F") * 1000 == pytest.approx(case["expected"]["lbm_james_g"], rel=1e-9)


def test_lbm_james_male_constant_120_vs_128():
    # calculate-suv's male James LBM uses 120 (the "Morgan" variant, DICOM SUV Type LBM): 62777.57 g.
    case = _case("LBM James, male, 75 kg, 1.85 m (grams)")
    weight, height = _body(case)
    assert lbm_james_kg(weight, height, "M", male_constant=120.0) * 1000 == pytest.approx(
        case["expected"]["lbm_james_g"], rel=1e-9
    )
    # DICOM LBMJAMES128 and the OncoRay DROs use 128: 61462.7 g for the same body (value given to 0.1 g).
    assert lbm_james_kg(weight, height, "M") * 1000 == pytest.approx(61462.7, abs=0.05)


def test_sex_other_is_mean_of_male_and_female():
    for formula in (
        lambda sex: lbm_james_kg(70.0, 1.75, sex),
        lambda sex: lbm_janmahasatian_kg(70.0, 1.75, sex),
        lambda sex: ibw_kg(1.75, sex),
    ):
        assert formula("O") == pytest.approx(0.5 * (formula("M") + formula("F")), rel=1e-12)


def test_ibw_formula_values():
    # 175 cm: male 48.0 + 1.06·23 = 72.38 kg, female 45.5 + 0.91·23 = 66.43 kg (OncoRay manual's formula).
    assert ibw_kg(1.75, "M") == pytest.approx(72.38, abs=1e-9)
    assert ibw_kg(1.75, "F") == pytest.approx(66.43, abs=1e-9)


def test_bmi():
    assert bmi_kg_per_m2(75.0, 1.85) == pytest.approx(75.0 / 1.85**2, rel=1e-12)


@pytest.mark.parametrize(
    "call",
    [
        lambda: lbm_james_kg(70.0, 1.75, "U"),
        lambda: ibw_kg(1.75, ""),
        lambda: lbm_janmahasatian_kg(0.0, 1.75, "M"),
        lambda: bsa_du_bois_m2(70.0, -1.0),
    ],
)
def test_invalid_inputs_raise(call):
    with pytest.raises(InvalidParameterError):
        call()
