"""MIRD absorbed dose from S values: organ level (OpenDose), spheres (lesions), and masses from CT.

D(target) = Σ_sources Ã(source) · S(target ← source)  (MIRD Pamphlet No. 21, Bolch et al. 2009).

Units: TIA in Bq·s, S in Gy/(Bq·s), dose in Gy. OpenDose and Lanconelli tables are in mGy/(MBq·s);
1 mGy/(MBq·s) = 1e-9 Gy/(Bq·s) (:data:`MGY_PER_MBQ_S`).

References
----------
Bolch WE, Eckerman KF, Sgouros G, Thomas SR. MIRD Pamphlet No. 21. J Nucl Med 2009;50:477-484.
Chauvin M et al. OpenDose: open-access resource for nuclear medicine dosimetry. J Nucl Med 2020;61:1514-1519.
Schneider W, Bortfeld T, Schlegel W. Correlation between CT numbers and tissue parameters needed for Monte
Carlo simulations of clinical dose distributions. Phys Med Biol 2000;45:459-478.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from os import PathLike

import numpy as np

from imagebio.dosimetry.nuclides import get_nuclide
from imagebio.errors import EmptyMaskError, GeometryMismatchError, InvalidParameterError, UnsupportedDataError

__all__ = [
    "MGY_PER_MBQ_S",
    "SCHNEIDER_2000_HU_DENSITY",
    "OrganSValue",
    "hu_to_density_g_per_ml",
    "load_opendose_s_values",
    "mass_from_ct_g",
    "mass_scaled_s_value",
    "mird_absorbed_dose_gy",
    "nonpenetrating_sphere_s_value",
    "sphere_s_value",
]

#: 1 mGy/(MBq·s) in Gy/(Bq·s).
MGY_PER_MBQ_S = 1e-9

#: HU → mass density (g/mL) nodes of Schneider et al. 2000 as distributed with GATE/Geant4
#: (``Schneider2000DensitiesTable.txt``); linear between nodes, flat beyond the ends. The step at 100/101 HU
#: (soft tissue → bone line) is in the original table. A scanner-specific calibration should replace it.
SCHNEIDER_2000_HU_DENSITY: tuple[tuple[float, float], ...] = (
    (-1000.0, 0.00121),
    (-98.0, 0.93),
    (-97.0, 0.930486),
    (14.0, 1.03),
    (23.0, 1.031),
    (100.0, 1.1199),
    (101.0, 1.0762),
    (1600.0, 1.9642),
    (3000.0, 2.8),
)


@dataclasses.dataclass(frozen=True)
class OrganSValue:
    """One S(target ← source) value.

    Attributes
    ----------
    target : str
        Target region name.
    s_gy_per_bq_s : float
        S value, Gy/(Bq·s).
    standard_error_gy_per_bq_s : float
        Monte Carlo standard error, Gy/(Bq·s).
    target_mass_g : float
        Mass of the target region in the phantom, g.
    """

    target: str
    s_gy_per_bq_s: float
    standard_error_gy_per_bq_s: float
    target_mass_g: float


def load_opendose_s_values(path: str | PathLike) -> dict[str, OrganSValue]:
    """Read one OpenDose source file (as exported by ``rpt_dosi``) into ``{target: OrganSValue}``.

    The file is a JSON list of rows ``[target, S mGy/(MBq·s), standard error, target mass g]`` (numbers as
    strings) for one nuclide, phantom and source region. OpenDose values are not packaged with imagebio;
    cite Chauvin et al. 2020 when you use them.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            rows = json.load(handle)
        table = {}
        for target, s, se, mass in rows:
            table[str(target)] = OrganSValue(
                target=str(target),
                s_gy_per_bq_s=float(s) * MGY_PER_MBQ_S,
                standard_error_gy_per_bq_s=float(se) * MGY_PER_MBQ_S,
                target_mass_g=float(mass),
            )
    except (OSError, ValueError, TypeError) as exc:
        raise UnsupportedDataError(f"not an OpenDose S-value table ({exc})", path=path) from exc
    return table


def mird_absorbed_dose_gy(tia_bq_s: Mapping[str, float] | float, s_gy_per_bq_s: Mapping[str, float] | float) -> float:
    """Mean absorbed dose to one target: D = Σ_s Ã(s)·S(target ← s) (MIRD Pamphlet 21, eq. 9).

    Parameters
    ----------
    tia_bq_s : float or mapping of source name to float
        Time-integrated activity of each source region, Bq·s.
    s_gy_per_bq_s : float or mapping of source name to float
        S(target ← source), Gy/(Bq·s), for the same sources.

    Returns
    -------
    float
        Absorbed dose, Gy.
    """
    if isinstance(tia_bq_s, Mapping) != isinstance(s_gy_per_bq_s, Mapping):
        raise InvalidParameterError(
            "s_gy_per_bq_s", type(s_gy_per_bq_s).__name__, "the same kind (number or mapping) as tia_bq_s"
        )
    if not isinstance(tia_bq_s, Mapping):
        return float(tia_bq_s) * float(s_gy_per_bq_s)
    missing = sorted(set(tia_bq_s) - set(s_gy_per_bq_s))
    if missing:
        raise InvalidParameterError(
            "s_gy_per_bq_s", sorted(s_gy_per_bq_s), f"an S value for every source, missing {missing}"
        )
    return float(sum(float(tia_bq_s[src]) * float(s_gy_per_bq_s[src]) for src in tia_bq_s))


def mass_scaled_s_value(s_reference: float, reference_mass_g: float, mass_g: float) -> float:
    """Scale a self-irradiation S value from a phantom organ mass to the patient's: S·m_ref/m.

    Exact for the non-penetrating (locally absorbed) part; photons scale roughly as m^(−2/3), so this slightly
    over-corrects the photon part (MIRD Pamphlet 21; Stabin & Siegel, Health Phys 2003;85:294).
    Same unit in and out.
    """
    if not (reference_mass_g > 0 and mass_g > 0):
        raise InvalidParameterError("mass_g", (reference_mass_g, mass_g), "positive reference and patient masses in g")
    return s_reference * reference_mass_g / mass_g


def hu_to_density_g_per_ml(
    hu, calibration: tuple[tuple[float, float], ...] | np.ndarray = SCHNEIDER_2000_HU_DENSITY
) -> np.ndarray:
    """Mass density (g/mL) from CT numbers by piecewise-linear interpolation of a calibration curve.

    Parameters
    ----------
    hu : array_like
        CT numbers, HU.
    calibration : sequence of (HU, g/mL) pairs
        Increasing HU nodes; default :data:`SCHNEIDER_2000_HU_DENSITY` (Schneider et al. 2000 as used by GATE).
        Values outside the nodes are clamped to the end densities.
    """
    nodes = np.asarray(calibration, dtype=float)
    if nodes.ndim != 2 or nodes.shape[1] != 2 or np.any(np.diff(nodes[:, 0]) <= 0):
        raise InvalidParameterError("calibration", calibration, "(HU, density g/mL) pairs with increasing HU")
    return np.interp(np.asarray(hu, dtype=float), nodes[:, 0], nodes[:, 1])


def mass_from_ct_g(
    mask: np.ndarray,
    ct_hu: np.ndarray | None,
    spacing: tuple[float, float, float],
    *,
    density_g_per_ml: float | None = None,
    calibration: tuple[tuple[float, float], ...] | np.ndarray = SCHNEIDER_2000_HU_DENSITY,
) -> float:
    """Mass of a region (g) from its voxels: Σ ρ(HU)·V_voxel, or ρ·V with a fixed density.

    Parameters
    ----------
    mask : numpy.ndarray of bool, shape (z, y, x)
    ct_hu : numpy.ndarray, shape (z, y, x), or None
        CT in HU on the mask grid; ignored when ``density_g_per_ml`` is given.
    spacing : (float, float, float)
        Voxel spacing (z, y, x), mm.
    density_g_per_ml : float, optional
        Use this uniform density instead of the CT (e.g. 1.06 g/mL for liver, ICRP 89).
    calibration
        HU → density curve for :func:`hu_to_density_g_per_ml`.
    """
    mask = np.asarray(mask, dtype=bool)
    if not np.any(mask):
        raise EmptyMaskError("mass region", detail="(no voxel to weigh)")
    sp = np.asarray(spacing, dtype=float)
    if sp.shape != (3,) or np.any(~(sp > 0)):
        raise InvalidParameterError("spacing", spacing, "three positive voxel sizes (z, y, x) in mm")
    voxel_ml = float(np.prod(sp)) * 1e-3
    if density_g_per_ml is not None:
        return float(np.count_nonzero(mask) * voxel_ml * density_g_per_ml)
    if ct_hu is None:
        raise InvalidParameterError("ct_hu", None, "a CT in HU or a density_g_per_ml")
    ct_hu = np.asarray(ct_hu)
    if ct_hu.shape != mask.shape:
        raise GeometryMismatchError(f"CT shape {ct_hu.shape} differs from mask shape {mask.shape}")
    return float(np.sum(hu_to_density_g_per_ml(ct_hu[mask], calibration)) * voxel_ml)


@lru_cache(maxsize=1)
def _sphere_table() -> dict:
    text = resources.files("imagebio.dosimetry").joinpath("data", "sphere_s_values_lu177.json").read_text("utf-8")
    return json.loads(text)


def sphere_s_value(mass_g, nuclide: str = "Lu-177", composition: str = "100%/0%") -> np.ndarray:
    """Self-dose S value of a uniform sphere (Gy/(Bq·s)) by log-log interpolation in mass.

    Uses the Monte Carlo sphere table shipped with PyTheranostics (Lu-177; electrons and photons; 15 masses,
    radii 0.1-6 cm, for soft-tissue/cortical-bone mixes ``"100%/0%"`` (ρ 1.03 g/mL) … ``"0%/100%"`` (ρ 1.92)).
    The table states no citation; it agrees with the non-penetrating value Δ_np/m within −2 %/+4 % over
    1-1000 g (see ``tests/dosimetry``).

    Parameters
    ----------
    mass_g : float or array_like
        Sphere mass, g, within the tabulated range.
    nuclide : str
        Only Lu-177 is tabulated.
    composition : str
        Key of the tissue mix.

    Raises
    ------
    UnsupportedDataError
        Another nuclide or composition.
    InvalidParameterError
        Mass outside the table (no extrapolation).
    """
    from imagebio.dosimetry.nuclides import canonical_nuclide_name

    table = _sphere_table()
    if canonical_nuclide_name(nuclide) != table["nuclide"]:
        raise UnsupportedDataError(f"sphere S values are tabulated for {table['nuclide']} only, not {nuclide!r}")
    if composition not in table["spheres"]:
        raise UnsupportedDataError(f"no sphere table for composition {composition!r}; have {sorted(table['spheres'])}")
    masses = np.asarray(table["spheres"][composition]["tumor_mass"], dtype=float)
    s_values = np.asarray(table["spheres"][composition]["total_s_value"], dtype=float)
    m = np.asarray(mass_g, dtype=float)
    if np.any(m < masses[0]) or np.any(m > masses[-1]):
        raise InvalidParameterError("mass_g", mass_g, f"a sphere mass within {masses[0]}-{masses[-1]} g")
    return np.exp(np.interp(np.log(m), np.log(masses), np.log(s_values)))


def nonpenetrating_sphere_s_value(mass_g, nuclide: str) -> np.ndarray:
    """S = Δ_np/m (Gy/(Bq·s)): all electron and α energy absorbed in the sphere, photons ignored.

    Δ_np from ICRP-107 (:func:`imagebio.dosimetry.nuclides.get_nuclide`); ``mass_g`` in g. The usual
    large-sphere limit of the MIRD sphere model (Stabin & Konijnenberg, J Nucl Med 2000;41:149).
    """
    m = np.asarray(mass_g, dtype=float)
    if np.any(~(m > 0)):
        raise InvalidParameterError("mass_g", mass_g, "positive masses in g")
    return get_nuclide(nuclide).nonpenetrating_j / (m * 1e-3)
