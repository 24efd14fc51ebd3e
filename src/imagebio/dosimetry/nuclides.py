"""Radionuclide decay data for dosimetry: half-lives and mean energies emitted per decay.

The numbers come from ICRP Publication 107 (2008), *Nuclear Decay Data for Dosimetric Calculations*,
as repackaged by the OpenGATE ``icrp107-database`` 0.0.3 (LGPL-3.0) and summed per emission category
(Σ E·yield) into ``data/icrp107_mean_energy_per_decay.csv`` (see ``data/SOURCE.md``).

Energies are in **MeV per decay**, which is the same number as MeV per Bq·s of cumulated activity.
``Nuclide.nonpenetrating_j`` gives the non-penetrating energy in J per decay (= J/(Bq·s) = Gy·kg/(Bq·s)).

*Non-penetrating* follows the MIRD convention: β−, β+ kinetic energy, internal-conversion and Auger
electrons, α and α-recoil are taken as absorbed where emitted; *penetrating* are γ, X-ray and
annihilation photons.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import re
from functools import lru_cache
from importlib import resources

import numpy as np

from imagebio.errors import InvalidParameterError, UnsupportedDataError

__all__ = [
    "MEV_TO_J",
    "Nuclide",
    "available_nuclides",
    "canonical_nuclide_name",
    "decay_constant_per_s",
    "decay_factor",
    "get_nuclide",
    "radioactivedecay_half_life_s",
]

#: Joule per MeV (CODATA 2018, exact since the 2019 SI redefinition).
MEV_TO_J = 1.602176634e-13

_DATA_FILE = "icrp107_mean_energy_per_decay.csv"
_TIME_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "y": 365.25 * 86400.0}
_NAME_PATTERN = re.compile(r"^\s*(?:([A-Za-z]{1,2})[\s_-]*(\d{1,3})(m?)|(\d{1,3})(m?)[\s_-]*([A-Za-z]{1,2}))\s*$")


@dataclasses.dataclass(frozen=True)
class Nuclide:
    """Decay data of one radionuclide (ICRP-107).

    Attributes
    ----------
    name : str
        Canonical name, e.g. ``"Lu-177"``, ``"Tc-99m"``.
    half_life_s : float
        Physical half-life in s.
    beta_minus_mev, beta_plus_mev, conversion_electron_mev, auger_mev, alpha_mev, alpha_recoil_mev : float
        Mean energy per decay of each non-penetrating category, MeV (= MeV/(Bq·s)).
    gamma_mev, xray_mev, annihilation_mev : float
        Mean energy per decay of each photon category, MeV.
    electrons_mev : float
        β−, β+, conversion and Auger electrons, MeV per decay.
    photons_mev : float
        γ, X-ray and annihilation photons (penetrating), MeV per decay.
    nonpenetrating_mev : float
        Electrons plus α and α-recoil, MeV per decay.
    total_mev : float
        All emissions, MeV per decay.
    """

    name: str
    half_life_s: float
    beta_minus_mev: float
    beta_plus_mev: float
    conversion_electron_mev: float
    auger_mev: float
    alpha_mev: float
    alpha_recoil_mev: float
    gamma_mev: float
    xray_mev: float
    annihilation_mev: float
    electrons_mev: float
    photons_mev: float
    nonpenetrating_mev: float
    total_mev: float

    @property
    def decay_constant_per_s(self) -> float:
        """Physical decay constant λ = ln 2 / T½ in 1/s."""
        return math.log(2.0) / self.half_life_s

    @property
    def nonpenetrating_j(self) -> float:
        """Non-penetrating energy per decay Δ_np in J (= J/(Bq·s), i.e. Gy·kg per Bq·s)."""
        return self.nonpenetrating_mev * MEV_TO_J

    @property
    def penetrating_j(self) -> float:
        """Photon energy per decay in J."""
        return self.photons_mev * MEV_TO_J


def canonical_nuclide_name(name: str) -> str:
    """Return the canonical ``"Xx-NNN"`` spelling of a nuclide name.

    Accepts ``"Lu-177"``, ``"lu177"``, ``"177Lu"``, ``"177-Lu"``, ``"Tc99m"``, ``"99mTc"``.
    """
    match = _NAME_PATTERN.match(str(name))
    if match is None:
        raise InvalidParameterError("nuclide", name, "a nuclide name such as 'Lu-177', '177Lu' or 'Tc-99m'")
    if match.group(1):
        symbol, mass, meta = match.group(1), match.group(2), match.group(3)
    else:
        symbol, mass, meta = match.group(6), match.group(4), match.group(5)
    return f"{symbol.capitalize()}-{int(mass)}{meta.lower()}"


@lru_cache(maxsize=1)
def _table() -> dict[str, Nuclide]:
    text = resources.files("imagebio.dosimetry").joinpath("data", _DATA_FILE).read_text(encoding="utf-8")
    table = {}
    for row in csv.DictReader(text.splitlines()):
        f = {key: float(value) for key, value in row.items() if key not in ("nuclide", "half_life_unit")}
        # the CSV's half_life_s column is rounded to 6 digits; rebuild it from the ICRP value and unit
        half_life_s = f["half_life"] * _TIME_UNIT_S[row["half_life_unit"]]
        table[row["nuclide"]] = Nuclide(
            name=row["nuclide"],
            half_life_s=half_life_s,
            beta_minus_mev=f["beta_minus_MeV"],
            beta_plus_mev=f["beta_plus_MeV"],
            conversion_electron_mev=f["ce_IE_MeV"],
            auger_mev=f["auger_MeV"],
            alpha_mev=f["alpha_MeV"],
            alpha_recoil_mev=f["alpha_recoil_MeV"],
            gamma_mev=f["gamma_MeV"],
            xray_mev=f["xray_MeV"],
            annihilation_mev=f["annihilation_MeV"],
            electrons_mev=f["electrons_total_MeV"],
            photons_mev=f["photons_total_MeV"],
            nonpenetrating_mev=f["nonpenetrating_total_MeV"],
            total_mev=f["total_MeV"],
        )
    return table


def available_nuclides() -> list[str]:
    """Names of the nuclides with packaged ICRP-107 data."""
    return sorted(_table())


def get_nuclide(name: str) -> Nuclide:
    """ICRP-107 decay data for a nuclide.

    Parameters
    ----------
    name : str
        Nuclide name in any spelling accepted by :func:`canonical_nuclide_name`.

    Returns
    -------
    Nuclide
        Half-life (s) and mean energies per decay (MeV).

    Raises
    ------
    UnsupportedDataError
        If the nuclide is not in the packaged table.

    References
    ----------
    ICRP Publication 107, Ann ICRP 2008;38(3).
    """
    key = canonical_nuclide_name(name)
    table = _table()
    if key not in table:
        available = ", ".join(sorted(table))
        raise UnsupportedDataError(f"no packaged ICRP-107 decay data for {key!r}; available: {available}")
    return table[key]


def decay_constant_per_s(half_life_s: float) -> float:
    """λ = ln 2 / T½ in 1/s for a half-life in s."""
    if not half_life_s > 0:
        raise InvalidParameterError("half_life_s", half_life_s, "a positive half-life in s")
    return math.log(2.0) / half_life_s


def decay_factor(elapsed_s, half_life_s: float):
    """Fraction of activity left after ``elapsed_s`` seconds: exp(−ln2·t/T½). Works on arrays."""
    return np.exp(-decay_constant_per_s(half_life_s) * np.asarray(elapsed_s, dtype=float))


def radioactivedecay_half_life_s(name: str) -> float:
    """Half-life in s from the ``radioactivedecay`` package (ICRP-107 decay dataset), for cross-checks.

    ``radioactivedecay`` is an optional dependency (extra ``dosimetry``); it is imported here only.
    """
    try:
        import radioactivedecay as rd
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise UnsupportedDataError("radioactivedecay is not installed (pip install 'imagebio[dosimetry]')") from exc
    return float(rd.Nuclide(canonical_nuclide_name(name)).half_life("s"))
