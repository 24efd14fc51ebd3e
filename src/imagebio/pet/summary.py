"""One PET series, all its lesions: the metrics table of ``imagebio pet`` as plain rows.

For every lesion mask: SUVmax, SUVmean, SD, min, percentiles, SUVpeak (1 cm³ sphere), MTV/TLG at fixed SUV
thresholds and at % of SUVmax (:func:`imagebio.pet.metrics.lesion_metrics`), and SULpeak. With a liver reference
(mask or centre, :func:`imagebio.pet.reference_regions.liver_reference`): the PERCIST threshold
``1.5 × liver SUL mean + 2 × SD`` and the MTV/TLG above it. Over all lesions: total MTV and TLG at each threshold
and Dmax (:func:`imagebio.pet.metrics.whole_body_burden`).

SUL (PERCIST) values are computed on ``SUL = image × sul_factor``; for an SUVbw image the factor is
``LBM_Janmahasatian / W`` (Wahl 2009), for an SUL image 1. Without a factor (height or sex unknown) the SUL rows
(SULpeak, PERCIST threshold, liver reference) are left out and :attr:`PetMetricTable.notes` says why.

Names: image-unit statistics are prefixed with the image quantity (``suvbw_max``, ``suvbw_peak``, ``suvbw_p90``
for an SUVbw image, the names the demo pipeline records); volumes end in ``_ml`` (mL); TLG is in mL × image unit.

References
----------
Wahl RL et al. From RECIST to PERCIST. J Nucl Med 2009;50 Suppl 1:122S-150S. Boellaard R et al. EANM FDG PET/CT
guideline v2.0. Eur J Nucl Med Mol Imaging 2015;42:328-354. Cottereau AS et al. J Nucl Med 2020;61:40-45 (Dmax).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from imagebio import units
from imagebio.errors import EmptyMaskError, InvalidParameterError
from imagebio.pet.metrics import LesionMetricSettings, lesion_metrics, metabolic_volume, whole_body_burden
from imagebio.pet.peak import suv_peak
from imagebio.pet.reference_regions import ReferenceStats, liver_reference, percist_threshold
from imagebio.volume import Volume

__all__ = [
    "PetMetricRow",
    "PetMetricTable",
    "PetSummarySettings",
    "WHOLE_BODY_ROI",
    "LIVER_ROI",
    "pet_metric_table",
    "quantity_prefix",
    "sul_factor_of",
]

#: ROI names of the rows that are not one lesion.
WHOLE_BODY_ROI = "whole_body"
LIVER_ROI = "liver_reference"

_PREFIX = {
    units.SUV_BW: "suvbw",
    units.SUL: "sul",
    units.SUV_LBM: "suvlbm",
    units.SUV_BSA: "suvbsa",
    units.SUV_IBW: "suvibw",
    units.BQ_PER_ML: "bqml",
}


@dataclasses.dataclass(frozen=True)
class PetSummarySettings:
    """What :func:`pet_metric_table` computes.

    Attributes
    ----------
    lesion : LesionMetricSettings
        Per-lesion thresholds, percentiles and SUVpeak sphere (default SUV 2.5 and 4.0, 41 % and 50 % of SUVmax,
        1 mL partial-voxel sphere).
    liver_diameter_mm : float
        PERCIST liver sphere diameter (30 mm).
    """

    lesion: LesionMetricSettings = dataclasses.field(default_factory=LesionMetricSettings)
    liver_diameter_mm: float = 30.0

    def as_dict(self) -> dict:
        """Plain values, for the settings hash of the Measurements."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class PetMetricRow:
    """One value: ``roi`` (lesion name, ``whole_body`` or ``liver_reference``), ``name``, ``value``, ``unit``."""

    roi: str
    name: str
    value: float
    unit: str


@dataclasses.dataclass(frozen=True)
class PetMetricTable:
    """Rows of :func:`pet_metric_table`, the liver statistics used (if any) and notes on what was left out."""

    rows: list[PetMetricRow]
    liver: ReferenceStats | None
    notes: list[str]

    def value(self, roi: str, name: str) -> float:
        """The value of ``name`` for ``roi`` (raises :class:`InvalidParameterError` when absent)."""
        for row in self.rows:
            if row.roi == roi and row.name == name:
                return row.value
        raise InvalidParameterError("roi/name", (roi, name), "a row of the table")


def quantity_prefix(unit: str) -> str:
    """Name prefix of an image unit: ``suvbw`` for SUVbw, ``sul`` for SUL, ... (``pet`` when unknown)."""
    return _PREFIX.get(unit, "pet")


def sul_factor_of(image: Volume) -> float | None:
    """Factor from the image's unit to SUL: 1 for SUL, ``LBM_Janmahasatian/W`` for SUVbw, else None.

    Weight, height and sex come from ``image.metadata`` (``weight_kg``, ``height_m``, ``sex`` as
    :func:`imagebio.io.pet.read_pet` stores them); None when one is missing.
    """
    from imagebio.io.body_size import SEXES, lbm_janmahasatian_kg

    if image.unit == units.SUL:
        return 1.0
    if image.unit != units.SUV_BW:
        return None
    weight, height, sex = (image.metadata.get(k) for k in ("weight_kg", "height_m", "sex"))
    if not weight or not height or sex not in SEXES:
        return None
    return float(lbm_janmahasatian_kg(float(weight), float(height), str(sex)) / float(weight))


def _unit_of(key: str, image_unit: str) -> str:
    if key == "n_voxels":
        return "voxels"
    if key.startswith(("mtv_ml", "volume_ml")):
        return units.ML
    if key.startswith("tlg"):
        return f"{units.ML}*{image_unit}"
    return image_unit


def _renamed(key: str, prefix: str) -> str:
    return prefix + key[3:] if key.startswith("suv_") else key


def pet_metric_table(
    image: Volume,
    lesions: Mapping[str, np.ndarray | Volume],
    *,
    liver_mask: np.ndarray | Volume | None = None,
    liver_centre_mm: Sequence[float] | None = None,
    sul_factor: float | None = None,
    settings: PetSummarySettings | None = None,
) -> PetMetricTable:
    """Metabolism metrics of every lesion of one PET image, whole-body burden and the PERCIST reference.

    Parameters
    ----------
    image : Volume
        Uptake image (SUVbw or SUL; any unit works for the image-unit metrics).
    lesions : mapping of str to mask
        Lesion name → boolean mask (array or Volume) on the image grid.
    liver_mask : array or Volume, optional
        Whole-liver mask: the PERCIST 3 cm sphere goes to its deepest right-lobe point.
    liver_centre_mm : sequence of float, optional
        Liver sphere centre (LPS x, y, z, mm), instead of (or intersected with) the mask.
    sul_factor : float, optional
        Image unit → SUL factor; by default :func:`sul_factor_of` ``(image)``.
    settings : PetSummarySettings, optional

    Returns
    -------
    PetMetricTable

    Raises
    ------
    EmptyMaskError
        No lesion, or a lesion mask without voxel.
    GeometryMismatchError
        A mask is not on the image grid.
    """
    settings = settings or PetSummarySettings()
    if not lesions:
        raise EmptyMaskError("lesions", detail="(no lesion mask given)")
    masks = {name: np.asarray(getattr(m, "array", m), dtype=bool) for name, m in lesions.items()}
    array = np.asarray(image.array, dtype=np.float64)
    spacing = image.spacing
    unit = image.unit or "a.u."
    prefix = quantity_prefix(image.unit)
    notes: list[str] = []
    if sul_factor is None:
        sul_factor = sul_factor_of(image)
    sul_image = None if sul_factor is None else array * sul_factor
    if sul_image is None:
        notes.append(f"SUL metrics left out: no SUL factor for an image in {unit!r} (needs SUVbw with PatientWeight, "
                     "PatientSize and PatientSex)")

    liver = None
    threshold_sul = None
    wants_liver = liver_mask is not None or liver_centre_mm is not None
    if wants_liver and sul_image is None:
        notes.append("PERCIST threshold left out: it is defined on SUL")
    elif wants_liver:
        sul_volume = image.with_array(sul_image.astype(np.float32), unit=units.SUL)
        liver = liver_reference(sul_volume, liver_mask=liver_mask, centre_mm=liver_centre_mm,
                                diameter_mm=settings.liver_diameter_mm)
        threshold_sul = percist_threshold(liver)

    rows: list[PetMetricRow] = []
    for name, mask in masks.items():
        metrics = lesion_metrics(array, mask, spacing, settings=settings.lesion)
        for key, value in metrics.items():
            rows.append(PetMetricRow(name, _renamed(key, prefix), float(value), _unit_of(key, unit)))
        if sul_image is not None and prefix != "sul":
            peak = suv_peak(sul_image, mask, spacing, volume_ml=settings.lesion.peak_volume_ml,
                            method=settings.lesion.peak_method)
            rows.append(PetMetricRow(name, "sul_peak", peak.value, units.SUL))
        if threshold_sul is not None:
            percist = metabolic_volume(sul_image, mask, spacing, threshold_sul)
            rows += [
                PetMetricRow(name, "mtv_ml_percist", percist.volume_ml, units.ML),
                PetMetricRow(name, "tlg_percist", percist.tlg, f"{units.ML}*{units.SUL}"),
                PetMetricRow(name, "sul_mean_percist", percist.suv_mean, units.SUL),
                # PERCIST measurable disease: SULpeak at or above the threshold
                PetMetricRow(name, "percist_measurable", float(_sul_peak_of(rows, name) >= threshold_sul), "boolean"),
            ]

    burdens: list[tuple[str, np.ndarray, dict, str]] = [
        (f"suv{t:g}", array, {"threshold": float(t)}, unit) for t in settings.lesion.absolute_thresholds
    ]
    burdens += [(f"{p:g}pct", array, {"percent_of_max": float(p)}, unit) for p in settings.lesion.percent_thresholds]
    if threshold_sul is not None:
        burdens.append(("percist", sul_image, {"threshold": threshold_sul}, units.SUL))
    dmax = None
    for tag, values, how, burden_unit in burdens:
        burden = whole_body_burden(values, masks, spacing, **how)
        rows.append(PetMetricRow(WHOLE_BODY_ROI, f"total_mtv_ml_{tag}", burden.total_mtv_ml, units.ML))
        rows.append(PetMetricRow(WHOLE_BODY_ROI, f"total_tlg_{tag}", burden.total_tlg, f"{units.ML}*{burden_unit}"))
        dmax = burden.dmax_mm
    if dmax is None:
        dmax = whole_body_burden(array, masks, spacing).dmax_mm
    rows.append(PetMetricRow(WHOLE_BODY_ROI, "n_lesions", float(len(masks)), "lesions"))
    rows.append(PetMetricRow(WHOLE_BODY_ROI, "dmax_mm", dmax, units.MM))

    if liver is not None:
        rows += [
            PetMetricRow(LIVER_ROI, "sul_mean", liver.mean, units.SUL),
            PetMetricRow(LIVER_ROI, "sul_sd", liver.sd, units.SUL),
            PetMetricRow(LIVER_ROI, "n_voxels", float(liver.n_voxels), "voxels"),
            PetMetricRow(LIVER_ROI, "percist_threshold", float(threshold_sul), units.SUL),
        ]
    return PetMetricTable(rows, liver, notes)


def _sul_peak_of(rows: Sequence[PetMetricRow], roi: str) -> float:
    """SULpeak of ``roi`` among ``rows`` (``sul_peak``: computed, or renamed ``suv_peak`` of an SUL image)."""
    for row in reversed(rows):
        if row.roi == roi and row.name == "sul_peak":
            return row.value
    raise InvalidParameterError("rows", roi, "a sul_peak row")
