"""The PLAN.yaml workflow: multi-time-point SPECT → TAC per VOI → TIA → absorbed dose, DVH, BED, next cycle.

A plan file names the scans, the VOIs, the nuclide, the calibration and the method (paths relative to the file)::

    patient: THERA-001
    nuclide: Lu-177
    calibration: {bq_per_count: 46.3, source: "NEMA IEC phantom, site QA", date: "2026-03-01"}
    # or {cps_per_mbq: 12, acquisition_duration_s: 1800, source: ..., date: ...}
    administration: {activity_gbq: 7.4, datetime: "2026-03-02T09:00:00"}   # optional, else from DICOM
    time_points: [NM/tp1, NM/tp2, NM/tp3]        # folders (or files), in acquisition order
    ct: CT                                        # optional: density from HU (Schneider 2000)
    vois:
      file: vois.nii.gz                           # label map, DICOM SEG or RTSTRUCT on the first scan's grid
      regions:
        kidneys: {label: label_1, kind: organ, tissue: kidney, limit: kidney}
        lesion_1: {label: label_4, kind: lesion, tissue: tumour_generic}
    method: {registration: rigid, tac_model: auto, organ_dose: voxel, lesion_dose: sphere, tissue: soft}
    limits: {kidney: {bed_gy: 28}}                # optional overrides of the packaged organ limits
    previous_cycles: {kidneys: [{dose_gy: 3.0, effective_half_life_h: 50}]}
    output: dosimetry_out
    response: lesion_response.csv                 # optional: lesion table → dose-response table and plot

Method
------
* ``tac_model``: ``auto`` (lowest AICc among mono, uptake-washout, bi, tri that the number of scans allows;
  Glatting et al. 2007; with 3 scans no model can be ranked (AICc needs n > k + 1) and the uptake-washout
  model, exactly determined by 3 points, is used; with 2 scans mono-exponential; with 1 scan Hänscheid's
  A(t)·2t/ln2, whose implied effective half-life t is used for the BED), one model name, ``hanscheid``, or
  ``trapezoid`` (trapezoids + physical tail).
* Voxel TIA map: inside each VOI, the voxel trapezoid integrals scaled so that their sum equals the VOI's fitted
  TIA (the spatial distribution comes from all scans, the magnitude from the fit); outside the VOIs, trapezoids
  with a physical-decay tail.
* ``organ_dose``: ``voxel`` (Lanconelli voxel-S-value kernel convolution, density-scaled by the CT,
  VOI mean) or ``local`` (local energy deposition of Δ_np).
* ``lesion_dose``: ``sphere`` (TIA × sphere S value of the VOI's mass, Lu-177 only), ``voxel`` or
  ``nonpenetrating`` (TIA·Δ_np/m).
* BED: Lea-Catcheside G of the fitted dose-rate curve (:func:`imagebio.dosimetry.radiobiology.bed_exponential_sum_gy`)
  with the tissue's α/β and repair half-time; cumulative over ``previous_cycles`` (which give dose and T_eff).
* Next cycle: the largest activity keeping every organ with a ``limit`` within its cumulative dose and BED limits
  (:func:`imagebio.dosimetry.planning.max_tolerable_activity_gbq`), at the dose per GBq measured now.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from datetime import datetime
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from imagebio import units
from imagebio.dosimetry.spect import Administration, Calibration, QuantitativeSpect
from imagebio.errors import InvalidParameterError, SpecError
from imagebio.volume import Volume

__all__ = [
    "DosimetryPlan",
    "DosimetryResult",
    "MethodSettings",
    "VoiSpec",
    "load_plan",
    "run_plan",
    "store_results",
    "write_outputs",
]

TAC_CHOICES = ("auto", "mono", "bi", "uptake_washout", "tri", "trapezoid", "hanscheid")
ORGAN_DOSE_CHOICES = ("voxel", "local")
LESION_DOSE_CHOICES = ("sphere", "voxel", "nonpenetrating")
VOI_KINDS = ("organ", "lesion")


@dataclasses.dataclass(frozen=True)
class VoiSpec:
    """One VOI of the plan: ROI name in the mask file, organ/lesion, LQ tissue preset and organ limit key."""

    name: str
    roi: str
    kind: str = "organ"
    tissue: str | None = None
    limit: str | None = None


@dataclasses.dataclass(frozen=True)
class MethodSettings:
    """How doses are computed (see the module docstring)."""

    registration: str = "rigid"
    tac_model: str = "auto"
    organ_dose: str = "voxel"
    lesion_dose: str = "sphere"
    tissue: str = "soft"

    def __post_init__(self) -> None:
        from imagebio.dosimetry.spect import REGISTRATION_MODES

        for name, value, choices in (
            ("method.registration", self.registration, REGISTRATION_MODES),
            ("method.tac_model", self.tac_model, TAC_CHOICES),
            ("method.organ_dose", self.organ_dose, ORGAN_DOSE_CHOICES),
            ("method.lesion_dose", self.lesion_dose, LESION_DOSE_CHOICES),
            ("method.tissue", self.tissue, ("soft", "bone")),
        ):
            if value not in choices:
                raise InvalidParameterError(name, value, f"one of {choices}")


@dataclasses.dataclass(frozen=True)
class DosimetryPlan:
    """A parsed PLAN.yaml (paths resolved against the plan's folder)."""

    source: Path
    nuclide: str
    calibration: Calibration | None
    time_points: list[Path]
    vois_file: Path
    vois: list[VoiSpec]
    method: MethodSettings = MethodSettings()
    ct: Path | None = None
    patient: str = ""
    administration: dict[str, Any] = dataclasses.field(default_factory=dict)
    limits: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    previous_cycles: dict[str, list[dict[str, float]]] = dataclasses.field(default_factory=dict)
    output: Path | None = None
    response: Path | None = None

    def settings(self) -> dict[str, Any]:
        """The settings that determine the numbers (for ``hash_settings``)."""
        return {
            "nuclide": self.nuclide,
            "calibration": None if self.calibration is None else self.calibration.as_dict(),
            "method": dataclasses.asdict(self.method),
            "vois": [dataclasses.asdict(v) for v in self.vois],
            "limits": self.limits,
            "previous_cycles": self.previous_cycles,
        }


def _require(raw: Mapping, key: str, where: Path, what: str):
    if key not in raw or raw[key] in (None, "", []):
        raise SpecError(f"{where}: missing '{key}' ({what})")
    return raw[key]


def load_plan(path: str | PathLike) -> DosimetryPlan:
    """Parse a PLAN.yaml.

    Raises
    ------
    SpecError
        Not YAML, or a required entry is missing or malformed (the message names it).
    InvalidParameterError
        A value is out of its allowed set (method names, calibration...).
    UnsupportedDataError
        The nuclide has no packaged data.
    """
    import yaml

    from imagebio.dosimetry.nuclides import canonical_nuclide_name, get_nuclide

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(f"cannot read plan {path}: {exc}") from exc
    if not isinstance(raw, Mapping):
        raise SpecError(f"{path}: a plan is a YAML mapping (nuclide, calibration, time_points, vois, method)")
    base = path.parent
    nuclide = str(_require(raw, "nuclide", path, "e.g. Lu-177"))
    get_nuclide(nuclide)
    time_points = _require(raw, "time_points", path, "the scans in acquisition order")
    if not isinstance(time_points, list):
        raise SpecError(f"{path}: 'time_points' must be a list of scan folders or files")
    scans = [base / str(t["spect"] if isinstance(t, Mapping) else t) for t in time_points]
    vois_raw = _require(raw, "vois", path, "the mask file and its regions")
    if not isinstance(vois_raw, Mapping) or "file" not in vois_raw or not isinstance(vois_raw.get("regions"), Mapping):
        raise SpecError(f"{path}: 'vois' needs 'file' and a 'regions' mapping name → {{label, kind, tissue}}")
    vois = []
    for name, spec in vois_raw["regions"].items():
        spec = spec or {}
        kind = str(spec.get("kind", "organ"))
        if kind not in VOI_KINDS:
            raise InvalidParameterError(f"vois.regions.{name}.kind", kind, f"one of {VOI_KINDS}")
        tissue = spec.get("tissue")
        limit = spec.get("limit", "kidney" if tissue == "kidney" else None)
        vois.append(VoiSpec(str(name), str(spec.get("label", name)), kind, tissue, limit))
    calibration_raw = raw.get("calibration")
    calibration = None if calibration_raw is None else Calibration.from_mapping(calibration_raw)
    method = MethodSettings(**(raw.get("method") or {}))
    return DosimetryPlan(
        source=path,
        nuclide=canonical_nuclide_name(nuclide),
        calibration=calibration,
        time_points=scans,
        vois_file=base / str(vois_raw["file"]),
        vois=vois,
        method=method,
        ct=None if raw.get("ct") in (None, "") else base / str(raw["ct"]),
        patient=str(raw.get("patient", "") or ""),
        administration=dict(raw.get("administration") or {}),
        limits=dict(raw.get("limits") or {}),
        previous_cycles={str(k): list(v) for k, v in (raw.get("previous_cycles") or {}).items()},
        output=base / str(raw.get("output", "dosimetry_out")),
        response=None if raw.get("response") in (None, "") else base / str(raw["response"]),
    )


@dataclasses.dataclass
class DosimetryResult:
    """What :func:`run_plan` computed: one row per VOI, the dose and TIA maps, next-cycle activity, provenance."""

    plan: DosimetryPlan
    rows: list[dict[str, Any]]
    dose_map: Volume
    tia_map: Volume
    next_cycle: dict[str, Any]
    spect: QuantitativeSpect
    dvh: dict[str, tuple[np.ndarray, np.ndarray]]
    dose_response: Any = None

    def row(self, name: str) -> dict[str, Any]:
        for r in self.rows:
            if r["voi"] == name:
                return r
        raise KeyError(name)


def _administration(plan: DosimetryPlan) -> Administration:
    from imagebio.dosimetry.spect import administration_from_dicom

    given = plan.administration
    if given.get("activity_gbq") is not None and given.get("datetime") is not None:
        when = given["datetime"]
        when = when if isinstance(when, datetime) else datetime.fromisoformat(str(when))
        return Administration(plan.nuclide, float(given["activity_gbq"]) * 1e9, when)
    admin = administration_from_dicom(plan.time_points[0])
    if given.get("activity_gbq") is not None:
        admin = dataclasses.replace(admin, activity_bq=float(given["activity_gbq"]) * 1e9)
    return admin


def _fit(times_s: np.ndarray, activity: np.ndarray, model: str, half_life_s: float):
    """(TIA Bq·s, SD, model name, coefficients, rates 1/s) of one VOI curve."""
    from imagebio.dosimetry.tac import TAC_MODELS, fit_tac, fit_tac_best, tia_hanscheid, tia_trapezoid

    if model == "hanscheid" or (model == "auto" and times_s.size == 1):
        if times_s.size != 1:
            raise InvalidParameterError("method.tac_model", "hanscheid", f"one scan (got {times_s.size})")
        tia = float(tia_hanscheid(activity[0], float(times_s[0])))
        lam = math.log(2.0) / float(times_s[0])  # the formula is exact for T_eff = t: used for the BED
        return tia, float("nan"), "hanscheid", np.array([tia * lam]), np.array([lam])
    if model == "trapezoid":
        tia = float(tia_trapezoid(times_s, activity, half_life_s))
        peak = int(np.argmax(activity))
        tail = times_s[peak:], activity[peak:]
        if tail[0].size >= 2:
            mono = fit_tac(tail[0], tail[1], "mono", half_life_s=half_life_s)
            return tia, float("nan"), "trapezoid", mono.coefficients, mono.decay_constants_per_s
        lam = math.log(2.0) / half_life_s
        return tia, float("nan"), "trapezoid", np.array([tia * lam]), np.array([lam])
    if model == "auto":
        candidates = ("mono", "uptake_washout", "bi", "tri")
        if any(times_s.size > TAC_MODELS[m] + 1 for m in candidates):
            fit, _ = fit_tac_best(times_s, activity, candidates, half_life_s=half_life_s)
        else:  # too few scans to rank models by AICc: the richest model the points determine
            fit = fit_tac(times_s, activity, "uptake_washout" if times_s.size >= 3 else "mono",
                          half_life_s=half_life_s)
    else:
        fit = fit_tac(times_s, activity, model, half_life_s=half_life_s)
    return fit.tia, fit.tia_sd, fit.model, fit.coefficients, fit.decay_constants_per_s


def run_plan(plan: DosimetryPlan, progress: Callable[[int, int], None] | None = None) -> DosimetryResult:
    """Run the whole plan (see the module docstring). Pure computation: writes nothing.

    Raises
    ------
    InvalidParameterError, MissingDicomTagError, UnsupportedDataError, GeometryMismatchError, FitError,
    RoiNotFoundError, EmptyMaskError
    """
    from imagebio.dosimetry.kernels import cumulative_dvh, dvh_metrics, local_deposition_dose_gy, voxel_s_dose_gy
    from imagebio.dosimetry.nuclides import get_nuclide
    from imagebio.dosimetry.planning import max_tolerable_activity_gbq, organ_limits
    from imagebio.dosimetry.radiobiology import bed_exponential_sum_gy, bed_gy, eqd2_gy, tissue_parameters
    from imagebio.dosimetry.spect import load_quantitative_spect, voi_time_activity_bq
    from imagebio.dosimetry.svalues import (
        hu_to_density_g_per_ml,
        nonpenetrating_sphere_s_value,
        sphere_s_value,
    )
    from imagebio.dosimetry.tac import tia_trapezoid
    from imagebio.io.dicom import read_dicom_series
    from imagebio.io.masks import read_roi_masks
    from imagebio.volume import resample_to

    steps = 5
    tick = progress or (lambda done, total: None)
    nuclide = get_nuclide(plan.nuclide)
    spect = load_quantitative_spect(
        plan.time_points, plan.calibration, _administration(plan), nuclide=plan.nuclide,
        registration=plan.method.registration,
    )
    tick(1, steps)
    reference = spect.reference
    all_masks = read_roi_masks(plan.vois_file, reference)
    masks = {}
    for voi in plan.vois:
        if voi.roi not in all_masks:
            from imagebio.errors import RoiNotFoundError

            raise RoiNotFoundError(voi.roi, sorted(all_masks), plan.vois_file)
        masks[voi.name] = all_masks[voi.roi]
    curves = voi_time_activity_bq(spect, masks)

    if plan.ct is not None:
        ct = read_dicom_series(plan.ct)
        if not ct.same_grid(reference):
            ct = resample_to(ct, reference, "linear", default_value=-1000.0)
        density = hu_to_density_g_per_ml(np.asarray(ct.array, dtype=float))
    else:
        density = np.full(reference.shape, 1.04 if plan.method.tissue == "soft" else 1.85)
    voxel_ml = reference.voxel_volume_ml
    tick(2, steps)

    # voxel TIA map: trapezoids everywhere, rescaled inside each VOI to the VOI's fitted TIA
    half_life_s = nuclide.half_life_s
    tia_map = tia_trapezoid(spect.times_s, spect.activity_bq, half_life_s)
    fits = {}
    for voi in plan.vois:
        fits[voi.name] = _fit(spect.times_s, curves[voi.name], plan.method.tac_model, half_life_s)
        inside = np.asarray(masks[voi.name].array, bool)
        shape_sum = float(tia_map[inside].sum())
        if shape_sum > 0:
            tia_map[inside] *= fits[voi.name][0] / shape_sum
        else:
            tia_map[inside] = fits[voi.name][0] / np.count_nonzero(inside)
    tia_map = np.clip(tia_map, 0.0, None)
    tick(3, steps)

    if plan.method.organ_dose == "voxel" or plan.method.lesion_dose == "voxel":
        dose = voxel_s_dose_gy(tia_map, reference.spacing, plan.nuclide, tissue=plan.method.tissue,
                               density_g_per_ml=density)
    else:
        dose = local_deposition_dose_gy(tia_map, reference.spacing, plan.nuclide, density)
    local = local_deposition_dose_gy(tia_map, reference.spacing, plan.nuclide, density)
    tick(4, steps)

    administered_gbq = spect.administration.activity_bq / 1e9
    limits = organ_limits(plan.limits)
    rows, dvh, tolerable = [], {}, {}
    for voi in plan.vois:
        inside = np.asarray(masks[voi.name].array, bool)
        tia, tia_sd, model, coefficients, rates = fits[voi.name]
        mass_g = float(density[inside].sum() * voxel_ml)
        metrics = dvh_metrics(dose, inside, dose_at_volume_percent=(2.0, 50.0, 90.0))
        if voi.kind == "lesion":
            method = plan.method.lesion_dose
            if method == "sphere":
                mean_dose = float(tia * sphere_s_value(mass_g, plan.nuclide))
            elif method == "nonpenetrating":
                mean_dose = float(tia * nonpenetrating_sphere_s_value(mass_g, plan.nuclide))
            else:
                mean_dose = metrics["mean_gy"]
        else:
            method = plan.method.organ_dose
            mean_dose = metrics["mean_gy"] if method == "voxel" else float(local[inside].mean())
        washout = float(np.min(rates))
        teff_h = math.log(2.0) / washout / 3600.0
        row: dict[str, Any] = {
            "voi": voi.name, "kind": voi.kind, "tissue": voi.tissue or "", "volume_ml": inside.sum() * voxel_ml,
            "mass_g": mass_g, "tia_bq_s": tia, "tia_sd_bq_s": tia_sd, "tiac_h": tia / spect.administration.activity_bq
            / 3600.0, "tac_model": model, "effective_half_life_h": teff_h, "dose_method": method,
            "mean_dose_gy": mean_dose, "dose_per_gbq_gy": mean_dose / administered_gbq,
            "voxel_mean_dose_gy": metrics["mean_gy"], "min_dose_gy": metrics["min_gy"],
            "max_dose_gy": metrics["max_gy"], "D2_gy": metrics["D2_gy"], "D50_gy": metrics["D50_gy"],
            "D90_gy": metrics["D90_gy"],
        }
        previous = plan.previous_cycles.get(voi.name, [])
        prev_doses = [float(c["dose_gy"]) for c in previous]
        prev_teff = [float(c.get("effective_half_life_h", teff_h)) for c in previous]
        if voi.tissue:
            lq = tissue_parameters(voi.tissue)
            scale = mean_dose / tia if tia > 0 else 0.0
            _, bed = bed_exponential_sum_gy(
                np.asarray(coefficients) * scale * 3600.0, np.asarray(rates) * 3600.0, lq.alpha_beta_gy,
                lq.repair_half_time_h,
            ) if mean_dose > 0 else (0.0, 0.0)
            prev_bed = sum(float(bed_gy(d, lq.alpha_beta_gy, lq.repair_half_time_h, t))
                           for d, t in zip(prev_doses, prev_teff))
            row.update(bed_gy=bed, eqd2_gy=float(eqd2_gy(bed, lq.alpha_beta_gy)), cumulative_bed_gy=bed + prev_bed,
                       alpha_beta_gy=lq.alpha_beta_gy, repair_half_time_h=lq.repair_half_time_h)
        row["cumulative_dose_gy"] = mean_dose + sum(prev_doses)
        if voi.limit:
            if voi.limit not in limits:
                raise InvalidParameterError(f"vois.regions.{voi.name}.limit", voi.limit, f"one of {sorted(limits)}")
            limit = limits[voi.limit]
            allowed = max_tolerable_activity_gbq(
                voi.name, mean_dose / administered_gbq, limit,
                previous_doses_gy=[*prev_doses, mean_dose], previous_effective_half_lives_h=[*prev_teff, teff_h],
                effective_half_life_h=teff_h,
            )
            tolerable[voi.name] = allowed
            row["next_cycle_max_activity_gbq"] = allowed.activity_gbq
            row["next_cycle_binding_limit"] = allowed.binding
        rows.append(row)
        dvh[voi.name] = cumulative_dvh(dose, inside, bin_width_gy=max(metrics["max_gy"] / 200.0, 1e-6))
    if tolerable:
        binding = min(tolerable.values(), key=lambda a: a.activity_gbq)
        next_cycle = {"max_activity_gbq": binding.activity_gbq, "limiting_voi": binding.organ,
                      "binding_limit": binding.binding,
                      "per_voi": {k: dataclasses.asdict(v) for k, v in tolerable.items()}}
    else:
        next_cycle = {"max_activity_gbq": None, "limiting_voi": None, "binding_limit": None, "per_voi": {}}
    dose_response = None
    if plan.response is not None:
        from imagebio.dosimetry.dose_response import dose_response_table

        lesion_doses = {r["voi"]: r["mean_dose_gy"] for r in rows if r["kind"] == "lesion"}
        dose_response = dose_response_table(lesion_doses, plan.response, subject=plan.patient or None)
    tick(5, steps)
    dose_volume = reference.with_array(dose, unit=units.GY, modality="RTDOSE")
    tia_volume = reference.with_array(tia_map, unit=units.BQ_S, modality="TIA")
    return DosimetryResult(plan, rows, dose_volume, tia_volume, next_cycle, spect, dvh, dose_response)


def _plot_dvh(result: DosimetryResult, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name, (levels, fraction) in result.dvh.items():
        ax.plot(levels, 100.0 * fraction, label=name)
    ax.set_xlabel("absorbed dose (Gy)")
    ax.set_ylabel("volume (%)")
    ax.set_title(f"Cumulative DVH - {result.plan.patient or result.plan.source.name} ({result.plan.nuclide})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_outputs(result: DosimetryResult, out: str | PathLike | None = None) -> dict[str, Path]:
    """Write dose_table.csv, dvh.png, dose_gy.nii.gz, tia_bq_s.nii.gz, rtdose.dcm and summary.json.

    Returns ``{kind: path}``.
    """
    from imagebio.io.nifti import write_image
    from imagebio.io.rtdose import write_rtdose

    folder = Path(out) if out is not None else (result.plan.output or result.plan.source.parent / "dosimetry_out")
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    columns: list[str] = []
    for row in result.rows:
        columns += [c for c in row if c not in columns]
    paths["table"] = folder / "dose_table.csv"
    with open(paths["table"], "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(result.rows)
    paths["dvh_png"] = _plot_dvh(result, folder / "dvh.png")
    paths["dose_nifti"] = write_image(result.dose_map, folder / "dose_gy.nii.gz")
    paths["tia_nifti"] = write_image(result.tia_map, folder / "tia_bq_s.nii.gz")
    ids = result.spect.reference.identifiers
    paths["rtdose"] = write_rtdose(
        result.dose_map, folder / "rtdose.dcm", patient_id=ids.get("patient_id", result.plan.patient),
        study_instance_uid=ids.get("study_uid") or None, frame_of_reference_uid=ids.get("frame_of_reference_uid") or None,
        comment=f"imagebio dosimetry {result.plan.nuclide}",
    )
    if result.dose_response is not None:
        from imagebio.dosimetry.dose_response import plot_dose_response

        paths["dose_response"] = folder / "dose_response.csv"
        result.dose_response.to_csv(paths["dose_response"], index=False)
        paths["dose_response_png"] = plot_dose_response(result.dose_response, folder / "dose_response.png")
    summary = {
        "plan": str(result.plan.source), "nuclide": result.plan.nuclide,
        "administered_activity_gbq": result.spect.administration.activity_bq / 1e9,
        "administration": result.spect.administration.started_at.isoformat(),
        "times_h": (result.spect.times_s / 3600.0).tolist(),
        "calibration": None if result.plan.calibration is None else result.plan.calibration.as_dict(),
        "registration": [None if r is None else r.as_dict() for r in result.spect.registrations],
        "method": dataclasses.asdict(result.plan.method),
        "next_cycle": result.next_cycle, "rows": result.rows,
    }
    paths["summary"] = folder / "summary.json"
    paths["summary"].write_text(json.dumps(summary, indent=1, default=float), encoding="utf-8")
    return paths


_STORED = {
    "tia_bq_s": units.BQ_S, "mass_g": "g", "mean_dose_gy": units.GY, "dose_per_gbq_gy": "Gy/GBq",
    "D2_gy": units.GY, "D50_gy": units.GY, "D90_gy": units.GY, "min_dose_gy": units.GY, "max_dose_gy": units.GY,
    "bed_gy": units.GY, "eqd2_gy": units.GY, "cumulative_bed_gy": units.GY, "cumulative_dose_gy": units.GY,
    "effective_half_life_h": units.H, "next_cycle_max_activity_gbq": "GBq",
}


def store_results(result: DosimetryResult, store) -> int:
    """Record every VOI's numbers as Measurements (one ROI per VOI on the first scan's series).

    Returns the number of values written.
    """
    from imagebio.store.writers import (
        MeasurementRow,
        hash_settings,
        record_measurements,
        upsert_roi,
        upsert_series,
        upsert_subject,
        upsert_timepoint,
    )

    ids = result.spect.reference.identifiers
    settings_hash = hash_settings(result.plan.settings())
    with store.session() as session:
        subject = upsert_subject(session, ids.get("patient_id") or result.plan.patient or "unknown")
        timepoint = upsert_timepoint(session, subject, ids.get("study_uid") or "unknown-study")
        series = upsert_series(session, timepoint, ids.get("series_uid") or "unknown-series",
                               modality=result.spect.reference.modality, path=ids.get("path"))
        rows = []
        for row in result.rows:
            roi = upsert_roi(session, subject, row["voi"], series=series,
                             organ=row["voi"] if row["kind"] == "organ" else None,
                             lesion_id=row["voi"] if row["kind"] == "lesion" else None)
            for key, unit in _STORED.items():
                if key in row and row[key] is not None:
                    rows.append(MeasurementRow(
                        roi_id=roi.id, series_id=series.id, name=f"dosimetry.{key}", value=float(row[key]),
                        unit=unit, method=f"{row['dose_method']}; TAC {row['tac_model']}",
                        parameters={"nuclide": result.plan.nuclide, "plan": str(result.plan.source)},
                        settings_hash=settings_hash,
                    ))
        record_measurements(session, rows)
    return len(rows)
