"""ICRP-107 decay data: packaged table vs the reference numbers, the raw ICRP-107 emissions and radioactivedecay."""

from __future__ import annotations

import json

import pytest

from imagebio.dosimetry.nuclides import (
    MEV_TO_J,
    canonical_nuclide_name,
    get_nuclide,
    radioactivedecay_half_life_s,
)
from imagebio.errors import InvalidParameterError, UnsupportedDataError

from .conftest import DATA

THERAPY_AND_IMAGING = ["Lu-177", "Y-90", "I-131", "Ga-68", "F-18", "Tc-99m", "In-111"]
# the packaged CSV keeps 6 significant digits, so sums recomputed from the raw emissions agree to ~5e-6
CSV_ROUNDING = 1e-5
_TIME_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


@pytest.mark.parametrize("name", ["Lu-177", "Y-90", "I-131", "F-18"])
def test_reference_values(name, reference):
    expected = reference["nuclides_icrp107"][name]
    nuc = get_nuclide(name)
    assert nuc.half_life_s == pytest.approx(expected["half_life_s"], rel=1e-6)
    fields = {
        "electrons_MeV": nuc.electrons_mev,
        "photons_MeV": nuc.photons_mev,
        "beta_minus_mean_MeV": nuc.beta_minus_mev,
        "beta_plus_MeV": nuc.beta_plus_mev,
        "annihilation_MeV": nuc.annihilation_mev,
    }
    for key, value in expected.items():
        if key != "half_life_s":
            assert fields[key] == pytest.approx(value, rel=1e-6), key


def test_lu177_nonpenetrating_energy_in_joule():
    # reference_values.md §3: Δ_np = 0.147923 MeV = 2.36999e-14 J per decay
    assert get_nuclide("Lu-177").nonpenetrating_j == pytest.approx(2.36999e-14, rel=1e-6)
    assert MEV_TO_J == 1.602176634e-13


def _category_sum(emissions: dict, *names: str) -> float:
    lowered = {key.lower(): value for key, value in emissions.items()}
    return sum(energy * yield_ for name in names for energy, yield_ in lowered.get(name.lower(), []))


@pytest.mark.parametrize("name", THERAPY_AND_IMAGING)
def test_packaged_table_matches_raw_icrp107_emissions(name):
    raw = json.loads((DATA / "icrp107" / f"{name}.json").read_text(encoding="utf-8"))
    em = raw["emissions"]
    nuc = get_nuclide(name)
    assert nuc.half_life_s == pytest.approx(raw["half_life"] * _TIME_S[raw["time_unit"]], rel=1e-12)
    electrons = _category_sum(em, "beta-", "beta+", "IE", "auger")
    photons = _category_sum(em, "gamma", "X", "annihilation")
    assert nuc.electrons_mev == pytest.approx(electrons, rel=CSV_ROUNDING)
    assert nuc.photons_mev == pytest.approx(photons, rel=CSV_ROUNDING)
    alphas = _category_sum(em, "alpha", "alpha recoil")
    assert nuc.nonpenetrating_mev == pytest.approx(electrons + alphas, rel=CSV_ROUNDING)


@pytest.mark.parametrize("name", THERAPY_AND_IMAGING)
def test_half_life_agrees_with_radioactivedecay(name):
    # both derive from ICRP-107, so they must agree to round-off of the unit conversion
    assert get_nuclide(name).half_life_s == pytest.approx(radioactivedecay_half_life_s(name), rel=1e-9)


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [("Lu-177", "Lu-177"), ("lu177", "Lu-177"), ("177Lu", "Lu-177"), ("177-Lu", "Lu-177"), ("Tc99m", "Tc-99m"),
     ("99mTc", "Tc-99m"), ("Y90", "Y-90"), ("in-111", "In-111")],
)
def test_name_spellings(spelling, canonical):
    assert canonical_nuclide_name(spelling) == canonical


def test_unknown_and_malformed_names():
    with pytest.raises(UnsupportedDataError, match="Xx-999"):
        get_nuclide("Xx-999")
    with pytest.raises(InvalidParameterError, match="nuclide"):
        get_nuclide("lutetium")
