"""Adapters from the analyses of a study spec to the biomarker rooms.

Each adapter reads one visit (time point) of one subject from its DICOM files, calls a room and returns plain
:class:`~imagebio.pipeline.lesions.LesionValue` records plus the series it used (for provenance). Adapters never
write to the store: :mod:`imagebio.pipeline.tasks` does, in the task's transaction.

Kinds (see :data:`imagebio.pipeline.spec.ANALYSIS_KINDS`):

* ``lesion_biomarkers`` — :func:`imagebio.pipeline.lesions.measure_lesions` (volume, HU, SUV, ADC, T1, DCE).
* ``radiomics`` — :func:`imagebio.radiomics.extract_features` (IBSI 1, Zwanenburg et al. Radiology 2020) on CT or
  PET with a named preset and optional overrides.
* ``pet_metrics`` — :func:`imagebio.pet.metrics.lesion_metrics` (SUVmax/peak/mean, MTV, TLG; Boellaard et al.
  EJNMMI 2015 for the SUVpeak and threshold conventions).
* ``response`` (one task per subject) — :func:`imagebio.pipeline.response_run.assess_store` (RECIST 1.1,
  Eisenhauer et al. EJC 2009, and the other criteria of :mod:`imagebio.response`); it records its own values.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from imagebio import units
from imagebio.errors import UnsupportedDataError
from imagebio.pipeline.lesions import LesionValue
from imagebio.pipeline.visit import VisitSeries, load_visit

__all__ = ["ANALYSES", "SUBJECT_ANALYSES", "run_analysis", "filter_visit"]

_MASK_ROLES = ("SEG", "RTSTRUCT")

Adapter = Callable[[Sequence[VisitSeries], Mapping[str, Any], Mapping[str, Any]], "AnalysisOutput"]


@dataclasses.dataclass
class AnalysisOutput:
    """Values of one task and the series (by role) they were measured on."""

    values: list[LesionValue]
    used: dict[str, VisitSeries]


def filter_visit(visit: Sequence[VisitSeries], roles: Sequence[str]) -> list[VisitSeries]:
    """The series of a visit whose role is in ``roles``, plus its mask series (SEG/RTSTRUCT)."""
    wanted = set(roles) | set(_MASK_ROLES)
    return [item for item in visit if item.role in wanted]


def _masks_selected(masks: Mapping[str, Any], select: Mapping[str, Any]) -> dict[str, Any]:
    patterns = select.get("rois")
    if not patterns:
        return dict(masks)
    return {name: mask for name, mask in masks.items() if any(re.fullmatch(p, name) for p in patterns)}


def lesion_biomarkers(visit, settings, select) -> AnalysisOutput:
    """Lesion biomarkers of :func:`imagebio.pipeline.lesions.measure_lesions` on the roles in ``settings['series']``."""
    from imagebio.pipeline.lesions import DceSettings, measure_lesions

    chosen = filter_visit(visit, settings["series"])
    images, masks, used = load_visit(chosen, pet_quantity=settings["pet_quantity"])
    dce = DceSettings(**settings["dce"]) if settings.get("dce") else None
    values = measure_lesions(images, _masks_selected(masks, select), dce)
    return AnalysisOutput(values, used)


def radiomics(visit, settings, select) -> AnalysisOutput:
    """IBSI features of every selected ROI on the CT or PET image, with the resolved preset settings."""
    from imagebio.radiomics import extract_features
    from imagebio.radiomics.settings import RadiomicsSettings

    role = settings["image"]
    chosen = filter_visit(visit, [role])
    if not any(item.role == role for item in chosen):
        raise UnsupportedDataError(f"radiomics on {role}: the visit has no {role} series")
    images, masks, used = load_visit(chosen, pet_quantity=settings["pet_quantity"])
    image = images.ct if role == "CT" else images.pet
    config = RadiomicsSettings.from_dict(dict(settings["resolved"]))
    params = {"preset": settings["preset"], "overrides": dict(settings["overrides"])}
    method = f"radiomics_ibsi_{settings['preset']}"[:64]
    values = []
    for roi, mask in _masks_selected(masks, select).items():
        for tag, value in extract_features(image, mask, settings=config).items():
            values.append(LesionValue(roi, role, tag, float(value), "", method, params))
    return AnalysisOutput(values, used)


def _pet_unit(key: str, suv_unit: str) -> str:
    if key.startswith(("volume_ml", "mtv_ml")):
        return units.ML
    if key.startswith("tlg"):
        return f"{suv_unit}*mL"
    if key == "n_voxels":
        return "voxels"
    return suv_unit


def pet_metrics(visit, settings, select) -> AnalysisOutput:
    """SUV, SUVpeak, MTV and TLG of every selected lesion (:func:`imagebio.pet.metrics.lesion_metrics`)."""
    from imagebio.pet.metrics import LesionMetricSettings, lesion_metrics

    chosen = filter_visit(visit, ["PT"])
    if not any(item.role == "PT" for item in chosen):
        raise UnsupportedDataError("pet_metrics: the visit has no PET series")
    images, masks, used = load_visit(chosen, pet_quantity=settings["pet_quantity"])
    pet = images.pet
    config = LesionMetricSettings(
        **{k: (tuple(v) if isinstance(v, list) else v) for k, v in settings.items() if k != "pet_quantity"}
    )
    params = {k: v for k, v in settings.items()}
    values = []
    for roi, mask in _masks_selected(masks, select).items():
        metrics = lesion_metrics(pet.array, mask.array, pet.spacing, settings=config)
        for key, value in metrics.items():
            number = float(value)
            values.append(
                LesionValue(roi, "PT", key, number if math.isfinite(number) else math.nan,
                            _pet_unit(key, pet.unit), "pet_lesion_metrics", params)
            )
    return AnalysisOutput(values, used)


def response(store, patient_id: str, settings: Mapping[str, Any]) -> int:
    """Response category of one subject at every time point, recorded by
    :func:`imagebio.pipeline.response_run.assess_store` (RECIST 1.1, iRECIST, PERCIST ... on the stored masks).

    Returns the number of values recorded (one per time point plus the best overall response).
    """
    from imagebio.pipeline.response_run import assess_store

    frame = assess_store(store, settings["criteria"], subjects=[patient_id], settings=dict(settings["settings"]))
    error = frame.attrs.get("failed", {}).get(patient_id)
    if error:
        raise UnsupportedDataError(f"response {settings['criteria']} of {patient_id}: {error}")
    return int((frame["subject"] == patient_id).sum())


#: kind → adapter(visit series, settings, selection as dict) -> AnalysisOutput
ANALYSES: dict[str, Adapter] = {
    "lesion_biomarkers": lesion_biomarkers,
    "radiomics": radiomics,
    "pet_metrics": pet_metrics,
}


#: Subject-level kinds → adapter(store, PatientID, settings) -> number of values it recorded itself.
SUBJECT_ANALYSES = {"response": response}


def run_analysis(kind: str, visit: Sequence[VisitSeries], settings: Mapping[str, Any],
                 select: Mapping[str, Any]) -> AnalysisOutput:
    """Run the adapter of ``kind`` on one visit."""
    if kind not in ANALYSES:
        raise UnsupportedDataError(f"analysis kind {kind!r} (known: {', '.join(ANALYSES)})")
    return ANALYSES[kind](visit, settings, select)
