"""A digital theranostics patient: multi-time-point Lu-177 SPECT (NM multi-frame DICOM) with known kinetics.

:func:`generate_theranostics_patient` writes, for one Lu-177 administration (7.4 GBq):

* 5 quantitative SPECT scans at 4, 24, 48, 96 and 168 h as **NM Image Storage** multi-frame files
  (``NM/tpN/NM.dcm``; tomographic geometry in DetectorInformationSequence; values are integer **counts**,
  Poisson noise optional; the administration in RadiopharmaceuticalInformationSequence, the scan time in
  AcquisitionDate/AcquisitionTime; not decay corrected). Counts = activity per voxel / calibration
  (Bq per count = 1e6/(sensitivity · acquisition duration), 12 cps/MBq, 1800 s);
* later scans are shifted by whole voxels (patient repositioning) so that co-registration matters;
* a CT (``CT/``, CT Image Storage, on the SPECT grid) for tissue density;
* VOIs as a NIfTI label map (``vois.nii.gz``: 1 kidneys, 2 liver, 3 spleen, 4 lesion_1, 5 lesion_2);
* a lesion table (``lesion_response.csv``, :mod:`imagebio.response.table` format) with each lesion's volume at
  baseline and 12 weeks, shrinking as exp(−0.015/Gy · D) (a synthetic dose-response);
* ``PLAN.yaml`` for ``imagebio dosimetry`` and ``ground_truth.json``.

Kinetics. Every organ and lesion follows the uptake-washout bi-exponential
A(t) = a·(e^(−λw t) − e^(−λu t)) (total activity in the region, Bq; λ are effective decay constants including
physical decay), uniformly spread over its voxels; the rest of the body clears mono-exponentially.
The truth is defined by the method (issue 7):

* TIA (Bq·s) = a·(1/λw − 1/λu), analytically;
* mass (g) = Σ ρ(HU)·V over the VOI (Schneider 2000 HU → density, :mod:`imagebio.dosimetry.svalues`);
* organ mean absorbed dose (Gy) = mean over the VOI of the Lanconelli voxel-S-value kernel convolved with the true
  TIA map (4.8 mm Lu-177 soft-tissue kernel, density-scaled by ρ_soft/ρ(HU)),
  :func:`imagebio.dosimetry.kernels.voxel_s_dose_gy`;
* lesion mean absorbed dose (Gy) = TIA × S_sphere(mass) with the Lu-177 sphere S values
  (:func:`imagebio.dosimetry.svalues.sphere_s_value`).

The images have no camera blur (no partial-volume effect): the end-to-end test exercises reading, calibration,
timing, registration, TAC fitting and the dose calculation, not recovery correction.
"""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import UID

from imagebio.phantoms.dicom_writer import (
    Grid,
    PatientInfo,
    SeriesInfo,
    StudyInfo,
    _base_dataset,
    _ds,
    deterministic_uid,
    dicom_time,
    write_ct_series,
)

__all__ = [
    "NM_IMAGE_STORAGE",
    "TheranosticsPatient",
    "THERANOSTICS_GRID",
    "REGIONS",
    "generate_theranostics_patient",
    "true_tia_map_bq_s",
    "write_nm_tomo",
]

NM_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.20")
THERANOSTICS_GRID = Grid(shape_zyx=(48, 56, 72), spacing_zyx_mm=(4.8, 4.8, 4.8),
                         origin_xyz_mm=(-170.4, -132.0, -112.8))
ADMINISTERED_BQ = 7.4e9
ADMINISTRATION = datetime(2026, 3, 2, 9, 0, 0)
SCAN_TIMES_H = (4.0, 24.0, 48.0, 96.0, 168.0)
#: Patient repositioning of each scan, whole voxels (z, y, x).
SCAN_SHIFTS_VOXELS = ((0, 0, 0), (1, 0, -1), (0, 1, 1), (-1, 1, 0), (1, -1, 1))
SENSITIVITY_CPS_PER_MBQ = 12.0
ACQUISITION_DURATION_S = 1800.0
BQ_PER_COUNT = 1e6 / (SENSITIVITY_CPS_PER_MBQ * ACQUISITION_DURATION_S)
LU177_HALF_LIFE_H = 574300.8 / 3600.0

#: Regions: label, kind, HU, shape, centre (x, y, z) mm, semi-axes (x, y, z) mm (or radius),
#: uptake-washout amplitude a (MBq), effective washout and uptake half-lives (h).
REGIONS: dict[str, dict] = {
    "kidneys": {"label": 1, "kind": "organ", "tissue": "kidney", "hu": 35.0,
                "ellipsoids": (((55.0, 55.0, -60.0), (28.0, 22.0, 40.0)), ((-55.0, 55.0, -60.0), (28.0, 22.0, 40.0))),
                "a_mbq": 120.0, "t_washout_h": 50.0, "t_uptake_h": 1.5},
    "liver": {"label": 2, "kind": "organ", "tissue": "normal_liver", "hu": 55.0,
              "ellipsoids": (((-65.0, 5.0, 30.0), (70.0, 55.0, 60.0)),),
              "a_mbq": 150.0, "t_washout_h": 70.0, "t_uptake_h": 2.0},
    "spleen": {"label": 3, "kind": "organ", "tissue": "normal_generic", "hu": 50.0,
               "ellipsoids": (((80.0, 35.0, 30.0), (30.0, 25.0, 45.0)),),
               "a_mbq": 30.0, "t_washout_h": 65.0, "t_uptake_h": 2.0},
    "lesion_1": {"label": 4, "kind": "lesion", "tissue": "tumour_generic", "hu": 45.0,
                 "ellipsoids": (((-75.0, 0.0, 40.0), (15.0, 15.0, 15.0)),),
                 "a_mbq": 60.0, "t_washout_h": 90.0, "t_uptake_h": 6.0},
    "lesion_2": {"label": 5, "kind": "lesion", "tissue": "tumour_generic", "hu": 45.0,
                 "ellipsoids": (((0.0, 30.0, -10.0), (12.0, 12.0, 12.0)),),
                 "a_mbq": 25.0, "t_washout_h": 100.0, "t_uptake_h": 8.0},
}
BODY = {"centre": (0.0, 20.0), "semi_axes": (160.0, 115.0), "hu": 40.0, "a_mbq": 800.0, "t_eff_h": 15.0}
SPINE = {"centre": (0.0, 95.0), "radius": 15.0, "hu": 400.0}


@dataclasses.dataclass(frozen=True)
class TheranosticsPatient:
    """Paths of one generated patient."""

    root: Path
    nm_folders: list[Path]
    ct_folder: Path
    vois_path: Path
    plan_path: Path
    truth_path: Path

    def truth(self) -> dict:
        return json.loads(self.truth_path.read_text(encoding="utf-8"))


def _labels(grid: Grid, shift_voxels: tuple[int, int, int] = (0, 0, 0)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(label map, body mask, spine mask) with the patient moved by whole voxels (z, y, x)."""
    z, y, x = grid.voxel_centres_mm()
    dz, dy, dx = (s * sp for s, sp in zip(shift_voxels, grid.spacing_zyx_mm))
    x, y, z = x - dx, y - dy, z - dz
    shape = grid.shape_zyx
    body = np.broadcast_to(((x - BODY["centre"][0]) / BODY["semi_axes"][0]) ** 2
                           + ((y - BODY["centre"][1]) / BODY["semi_axes"][1]) ** 2 <= 1.0, shape)
    spine = np.broadcast_to((x - SPINE["centre"][0]) ** 2 + (y - SPINE["centre"][1]) ** 2 <= SPINE["radius"] ** 2,
                            shape)
    labels = np.zeros(shape, np.uint8)
    for region in REGIONS.values():  # later regions (lesions) overwrite earlier ones (the liver)
        inside = np.zeros(shape, bool)
        for (cx, cy, cz), (ax, ay, az) in region["ellipsoids"]:
            inside |= ((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2 + ((z - cz) / az) ** 2 <= 1.0
        labels[inside & body] = region["label"]
    return labels, np.asarray(body), np.asarray(spine) & (labels == 0)


def _lambda_per_h(half_life_h: float) -> float:
    return math.log(2.0) / half_life_h


def _region_activity_bq(region: dict, t_h: float) -> float:
    lw, lu = _lambda_per_h(region["t_washout_h"]), _lambda_per_h(region["t_uptake_h"])
    return region["a_mbq"] * 1e6 * (math.exp(-lw * t_h) - math.exp(-lu * t_h))


def _region_tia_bq_s(region: dict) -> float:
    lw, lu = _lambda_per_h(region["t_washout_h"]) / 3600.0, _lambda_per_h(region["t_uptake_h"]) / 3600.0
    return region["a_mbq"] * 1e6 * (1.0 / lw - 1.0 / lu)


def _activity_map_bq(labels: np.ndarray, body: np.ndarray, t_h: float) -> np.ndarray:
    activity = np.zeros(labels.shape)
    for region in REGIONS.values():
        inside = labels == region["label"]
        activity[inside] = _region_activity_bq(region, t_h) / np.count_nonzero(inside)
    rest = body & (labels == 0)
    activity[rest] = BODY["a_mbq"] * 1e6 * math.exp(-_lambda_per_h(BODY["t_eff_h"]) * t_h) / np.count_nonzero(rest)
    return activity


def true_tia_map_bq_s(grid: Grid = THERANOSTICS_GRID) -> np.ndarray:
    """Exact time-integrated activity per voxel (Bq·s) on the first scan's geometry."""
    labels, body, _ = _labels(grid)
    tia = np.zeros(labels.shape)
    for region in REGIONS.values():
        inside = labels == region["label"]
        tia[inside] = _region_tia_bq_s(region) / np.count_nonzero(inside)
    rest = body & (labels == 0)
    tia[rest] = BODY["a_mbq"] * 1e6 * BODY["t_eff_h"] * 3600.0 / math.log(2.0) / np.count_nonzero(rest)
    return tia


def _hu_map(labels: np.ndarray, body: np.ndarray, spine: np.ndarray) -> np.ndarray:
    hu = np.full(labels.shape, -1000.0)
    hu[body] = BODY["hu"]
    hu[spine & body] = SPINE["hu"]
    for region in REGIONS.values():
        hu[labels == region["label"]] = region["hu"]
    return hu


def write_nm_tomo(
    path: Path,
    counts: np.ndarray,
    grid: Grid,
    patient: PatientInfo,
    study: StudyInfo,
    series: SeriesInfo,
    *,
    nuclide_code_meaning: str,
    administered_bq: float,
    administration: datetime,
    half_life_s: float,
    radiopharmaceutical: str,
    frame_duration_ms: int,
) -> Path:
    """Write a reconstructed SPECT volume of counts as one NM Image Storage multi-frame file (RECON TOMO).

    Geometry follows PS3.3 C.8.4.8 (NM Detector module: ImagePositionPatient/ImageOrientationPatient in
    DetectorInformationSequence, SpacingBetweenSlices, SliceVector as FrameIncrementPointer); the administration
    is in RadiopharmaceuticalInformationSequence (C.8.4.10). Counts are stored as uint16 without rescale.
    """
    stored = np.rint(np.asarray(counts, dtype=float))
    if stored.shape != tuple(grid.shape_zyx) or stored.min() < 0 or stored.max() > 65535:
        raise ValueError(f"counts must be {grid.shape_zyx} within 0..65535, got {stored.shape} "
                         f"[{stored.min()}, {stored.max()}]")
    ds = _base_dataset(NM_IMAGE_STORAGE, "NM", patient, study, series, grid)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "RECON TOMO", "EMISSION"]
    for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "SliceLocation", "SliceThickness"):
        delattr(ds, keyword)
    nz = grid.shape_zyx[0]
    ds.NumberOfFrames = nz
    ds.FrameIncrementPointer = 0x00540080  # SliceVector
    ds.SliceVector = list(range(1, nz + 1))
    ds.NumberOfSlices = nz
    ds.SliceThickness = _ds(grid.spacing_zyx_mm[0])
    ds.SpacingBetweenSlices = _ds(grid.spacing_zyx_mm[0])
    detector = Dataset()
    detector.ImagePositionPatient = [_ds(v) for v in grid.slice_position_mm(0)]
    detector.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.DetectorInformationSequence = [detector]
    ds.NumberOfDetectors = 1
    window = Dataset()
    window.EnergyWindowName = "Lu177_208keV"
    ds.EnergyWindowInformationSequence = [window]
    ds.NumberOfEnergyWindows = 1
    ds.ActualFrameDuration = int(frame_duration_ms)
    ds.CorrectedImage = ["ATTN", "SCAT"]  # not DECY: counts reflect the activity at acquisition
    rad = Dataset()
    rad.Radiopharmaceutical = radiopharmaceutical
    rad.RadiopharmaceuticalStartTime = dicom_time(administration)
    rad.RadiopharmaceuticalStartDateTime = administration.strftime("%Y%m%d%H%M%S")
    rad.RadionuclideTotalDose = _ds(administered_bq, 12)
    rad.RadionuclideHalfLife = _ds(half_life_s)
    code = Dataset()
    code.CodeValue = "C-145A4"
    code.CodingSchemeDesignator = "SRT"
    code.CodeMeaning = nuclide_code_meaning
    rad.RadionuclideCodeSequence = [code]
    ds.RadiopharmaceuticalInformationSequence = [rad]
    ds.PixelRepresentation = 0
    ds.PixelData = stored.astype("<u2").tobytes()
    ds["PixelData"].VR = "OW"
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def _truth(grid: Grid, labels: np.ndarray, hu: np.ndarray) -> dict:
    from imagebio.dosimetry.kernels import local_deposition_dose_gy, voxel_s_dose_gy
    from imagebio.dosimetry.svalues import hu_to_density_g_per_ml, sphere_s_value

    density = hu_to_density_g_per_ml(hu)
    voxel_ml = grid.voxel_volume_ml
    tia_map = true_tia_map_bq_s(grid)
    local_map = local_deposition_dose_gy(tia_map, grid.spacing_zyx_mm, "Lu-177", density)
    dose_map = voxel_s_dose_gy(tia_map, grid.spacing_zyx_mm, "Lu-177", tissue="soft",
                               density_g_per_ml=density)
    regions = {}
    for name, region in REGIONS.items():
        inside = labels == region["label"]
        mass_g = float(density[inside].sum() * voxel_ml)
        tia = _region_tia_bq_s(region)
        kernel_dose = float(dose_map[inside].mean())
        entry = {
            "kind": region["kind"], "label": region["label"], "n_voxels": int(inside.sum()),
            "volume_ml": float(inside.sum() * voxel_ml), "mass_g": mass_g, "tia_bq_s": tia,
            "tia_per_administered_s": tia / ADMINISTERED_BQ,
            "kinetics": {"model": "uptake_washout", "a_bq": region["a_mbq"] * 1e6,
                         "t_washout_h": region["t_washout_h"], "t_uptake_h": region["t_uptake_h"]},
            "voxel_kernel_mean_dose_gy": kernel_dose,
            # for comparison only: the Lanconelli Lu-177 kernel holds 3.9 % less energy than ICRP-107 Δ_np at 4.8 mm
            "local_deposition_mean_dose_gy": float(local_map[inside].mean()),
        }
        if region["kind"] == "lesion":
            entry["dose_method"] = "sphere S value (Lu-177, by mass) × TIA"
            entry["mean_dose_gy"] = float(tia * sphere_s_value(mass_g, "Lu-177"))
        else:
            entry["dose_method"] = "voxel S-value kernel (Lanconelli 4.8 mm soft, density-scaled), VOI mean"
            entry["mean_dose_gy"] = kernel_dose
        regions[name] = entry
    return regions


#: Synthetic lesion response 12 weeks after therapy: V_followup = V_baseline·exp(−RESPONSE_PER_GY·D).
RESPONSE_PER_GY = 0.015
RESPONSE_DAYS = 84


def _write_response_table(path: Path, patient_id: str, regions: dict) -> dict:
    """Lesion table (imagebio.response format) of the lesions at baseline and 12 weeks, shrinking with dose."""
    lines = ["subject,timepoint,lesion_id,organ,role,is_lymph_node,longest_diameter_mm,short_axis_mm,status,"
             "volume_ml"]
    baseline = ADMINISTRATION.date()
    followup = baseline + timedelta(days=RESPONSE_DAYS)
    truth = {}
    for name, entry in regions.items():
        if entry["kind"] != "lesion":
            continue
        organ = "liver" if name == "lesion_1" else "lymph node"
        node = "true" if organ == "lymph node" else "false"
        volume = entry["volume_ml"]
        after = volume * math.exp(-RESPONSE_PER_GY * entry["mean_dose_gy"])
        for when, v in ((baseline, volume), (followup, after)):
            diameter = 2.0 * (3.0 * v * 1000.0 / (4.0 * math.pi)) ** (1.0 / 3.0)
            lines.append(f"{patient_id},{when.isoformat()},{name},{organ},target,{node},{diameter:.2f},"
                         f"{diameter:.2f},present,{v:.4f}")
        truth[name] = {"dose_gy": entry["mean_dose_gy"], "volume_change_percent": 100.0 * (after / volume - 1.0)}
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"model": f"V_followup = V_baseline * exp(-{RESPONSE_PER_GY} /Gy * D), {RESPONSE_DAYS} days",
            "lesions": truth}


def generate_theranostics_patient(out: str | Path, *, seed: int = 0, noise: bool = True,
                                  n_scans: int = 5) -> TheranosticsPatient:
    """Write the digital theranostics patient into ``out`` (see the module docstring).

    Parameters
    ----------
    out : path
        Output folder (created).
    seed : int
        Seed of the Poisson noise.
    noise : bool
        Poisson noise on the counts.
    n_scans : int
        5 (4, 24, 48, 96, 168 h), 4 (4, 24, 96, 168 h) or 3 (24, 96, 168 h).
    """
    from imagebio.dosimetry.nuclides import get_nuclide
    from imagebio.io.nifti import write_image
    from imagebio.volume import Volume

    if n_scans not in (3, 4, 5):
        raise ValueError("n_scans must be 3, 4 or 5")
    indices = {5: (0, 1, 2, 3, 4), 4: (0, 1, 3, 4), 3: (1, 3, 4)}[n_scans]
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    grid = THERANOSTICS_GRID
    rng = np.random.default_rng(seed)
    patient = PatientInfo("THERA-001", "Digital^Theranostics", "M", 67, 78.0, 1.76, "19590101")
    half_life_s = get_nuclide("Lu-177").half_life_s
    nm_folders = []
    ct_study = None
    for number, index in enumerate(indices, start=1):
        # the first scan is never moved: VOIs, CT and truth are on its geometry
        t_h, shift = SCAN_TIMES_H[index], SCAN_SHIFTS_VOXELS[number - 1]
        when = ADMINISTRATION + timedelta(hours=t_h)
        study = StudyInfo(deterministic_uid("thera", seed, "study", index), deterministic_uid("thera", seed, "for", index),
                          when, f"{number:03d}", f"TH{seed:03d}{index}", f"Lu-177 dosimetry scan {number}")
        if ct_study is None:
            ct_study = study
        series = SeriesInfo(deterministic_uid("thera", seed, "nm", index), 10 + number,
                            f"Lu177 SPECT {t_h:g} h", when, ("thera", str(seed), "nm", str(index)))
        labels, body, _ = _labels(grid, shift)
        counts = _activity_map_bq(labels, body, t_h) / BQ_PER_COUNT
        if noise:
            counts = rng.poisson(counts).astype(float)
        folder = root / "NM" / f"tp{number}"
        write_nm_tomo(folder / "NM.dcm", counts, grid, patient, study, series,
                      nuclide_code_meaning="^177^Lutetium", administered_bq=ADMINISTERED_BQ,
                      administration=ADMINISTRATION, half_life_s=half_life_s,
                      radiopharmaceutical="Lu-177 PSMA-617", frame_duration_ms=int(ACQUISITION_DURATION_S * 1000 / 120))
        nm_folders.append(folder)
    labels, body, spine = _labels(grid)
    hu = _hu_map(labels, body, spine)
    ct_series = SeriesInfo(deterministic_uid("thera", seed, "ct"), 2, "CT for attenuation and density",
                           ct_study.study_datetime, ("thera", str(seed), "ct"))
    write_ct_series(root / "CT", hu, grid, patient, ct_study, ct_series)
    reference = Volume(array=labels, spacing=grid.spacing_zyx_mm, origin=grid.origin_xyz_mm, direction=np.eye(3))
    vois_path = write_image(reference, root / "vois.nii.gz")

    regions = _truth(grid, labels, hu)
    truth = {
        "about": "imagebio digital theranostics patient; truth defined by the method (see the module docstring)",
        "nuclide": "Lu-177", "administered_activity_bq": ADMINISTERED_BQ,
        "administration": ADMINISTRATION.isoformat(),
        "scan_times_h": [SCAN_TIMES_H[i] for i in indices],
        "scan_shifts_voxels_zyx": [list(SCAN_SHIFTS_VOXELS[n]) for n in range(len(indices))],
        "calibration": {"bq_per_count": BQ_PER_COUNT, "sensitivity_cps_per_mbq": SENSITIVITY_CPS_PER_MBQ,
                        "acquisition_duration_s": ACQUISITION_DURATION_S},
        "noise": "Poisson on counts" if noise else "none", "seed": seed,
        "regions": regions,
    }
    truth["response"] = _write_response_table(root / "lesion_response.csv", patient.patient_id, regions)
    truth_path = root / "ground_truth.json"
    truth_path.write_text(json.dumps(truth, indent=1), encoding="utf-8")

    plan = {
        "patient": patient.patient_id,
        "nuclide": "Lu-177",
        "calibration": {"cps_per_mbq": SENSITIVITY_CPS_PER_MBQ, "acquisition_duration_s": ACQUISITION_DURATION_S,
                        "source": "digital phantom: 12 cps/MBq planar-equivalent sensitivity, 30 min acquisition",
                        "date": "2026-03-01"},
        "time_points": [f"NM/tp{n}" for n in range(1, len(indices) + 1)],
        "ct": "CT",
        "vois": {"file": "vois.nii.gz", "regions": {
            name: {"label": f"label_{r['label']}", "kind": r["kind"], "tissue": r["tissue"]}
            for name, r in REGIONS.items()}},
        "method": {"registration": "rigid", "tac_model": "auto", "organ_dose": "voxel", "lesion_dose": "sphere",
                   "tissue": "soft"},
        "previous_cycles": {"kidneys": [{"dose_gy": 3.0, "effective_half_life_h": 50.0}]},
        "response": "lesion_response.csv",
        "output": "dosimetry_out",
    }
    import yaml

    plan_path = root / "PLAN.yaml"
    plan_path.write_text(yaml.safe_dump(plan, sort_keys=False), encoding="utf-8")
    return TheranosticsPatient(root, nm_folders, root / "CT", vois_path, plan_path, truth_path)
