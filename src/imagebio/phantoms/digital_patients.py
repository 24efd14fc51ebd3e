"""Digital patients: the design of a small synthetic longitudinal, multimodal cohort with known ground truth.

Each patient has an abdomen-like body (an ellipsoid of soft tissue inside a subcutaneous fat shell, with a
liver) and one to three spherical lesions. Every patient is scanned at baseline and at an eight-week follow-up;
each visit has, on one shared grid and Frame of Reference:

* CT (HU), FDG PET (Bq/mL, SUVbw known per lesion), multi-b DWI (ADC known), DCE-MRI (Tofts Ktrans/ve with the
  Parker AIF and the SPGR signal equation), and a DICOM SEG of the lesions referencing the CT.

Lesion values are uniform, so SUVmax = SUVmean, ADC, Ktrans and ve are exact over the SEG masks. Lesions keep
their names across visits; patients are responders (diameter -32 to -38 %, SUV, Ktrans down, ADC up),
non-responders (diameter +25 to +32 %, optionally a new lesion) or stable. All values, dates and UIDs derive from
the seed, so the same seed gives byte-identical files.

This module designs patients and renders their images as arrays (pure functions, no files);
:func:`imagebio.phantoms.cohort.generate_cohort` writes them as DICOM with ``ground_truth.json``.

References
----------
Tofts PS et al. J Magn Reson Imaging 1999;10:223-232 (Tofts model); Parker GJM et al. Magn Reson Med
2006;56:993-1000 (population AIF); Haase A. Magn Reson Med 1990;13:77-89 (SPGR signal); Le Bihan D et al.
Radiology 1986;161:401-407 (mono-exponential DWI); Boellaard R et al. EJNMMI 2015;42:328-354 (SUVbw);
Eisenhauer EA et al. Eur J Cancer 2009;45:228-247 (RECIST 1.1 thresholds used to design the response categories).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np

from imagebio.errors import InvalidParameterError
from imagebio.phantoms.dicom_writer import Grid, dicom_date

__all__ = [
    "GRID",
    "RESPONSE_CATEGORIES",
    "TIMEPOINTS",
    "TISSUES",
    "DWI_B_VALUES_S_PER_MM2",
    "DceProtocol",
    "DCE_PROTOCOL",
    "LesionDesign",
    "VisitDesign",
    "PatientDesign",
    "design_patient",
    "lesion_masks",
    "tissue_labels",
    "parameter_maps",
    "dwi_signals",
    "dce_class_concentrations",
    "dce_signals",
]

#: Shared grid of every series: 24 axial slices of 112 × 112 pixels, 2.5 mm slices, 1.75 mm pixels; the body
#: centre is at (0, 0, -150) mm LPS. Voxels are small enough that every lesion (radius >= 14.5 mm) voxelises to
#: within 2 % of its sphere volume (1.8 % worst over 934 lesions of seeds 0-29).
GRID = Grid(shape_zyx=(24, 112, 112), spacing_zyx_mm=(2.5, 1.75, 1.75), origin_xyz_mm=(-97.125, -97.125, -178.75))
BODY_CENTRE_XYZ_MM = (0.0, 0.0, -150.0)
#: Semi-axes (x, y, z) in mm of the outer body ellipsoid; the soft-tissue ellipsoid is ``FAT_THICKNESS_MM`` smaller.
BODY_SEMI_AXES_MM = (95.0, 75.0, 400.0)
FAT_THICKNESS_MM = 8.0
LIVER_CENTRE_XYZ_MM = (-50.0, -25.0, -150.0)
LIVER_SEMI_AXES_MM = (28.0, 30.0, 120.0)
#: In-plane lesion slots (x, y) in mm relative to the body centre; far enough apart (>= 58 mm) that the largest
#: lesions (radius <= 25 mm, jitter <= 2 mm) never touch, and clear of the liver.
LESION_SLOTS_XY_MM = ((-25.0, 30.0), (38.0, 28.0), (30.0, -30.0))
LESION_JITTER_MM = 2.0

TIMEPOINTS = (("baseline", 0), ("followup", 56))
RESPONSE_CATEGORIES = ("responder", "non_responder", "stable")

FDG_HALF_LIFE_S = 6586.2
PET_FRAME_DURATION_S = 180.0
DWI_B_VALUES_S_PER_MM2 = (0.0, 100.0, 500.0, 800.0)

#: Tissue classes (label value, properties). ``s0_dwi`` is the b = 0 signal, ``s0_dce`` the SPGR equilibrium
#: signal (proton density × gain), ``t1_s`` the pre-contrast T1; fat is fat-suppressed on DWI.
TISSUES: dict[str, dict[str, float]] = {
    "air": {"label": 0, "hu": -1000.0, "suv_bw": 0.0, "adc_mm2_per_s": 0.0, "s0_dwi": 0.0, "t1_s": 1.0,
            "s0_dce": 0.0, "ktrans_per_min": 0.0, "ve": 0.0},
    "fat": {"label": 1, "hu": -100.0, "suv_bw": 0.3, "adc_mm2_per_s": 0.5e-3, "s0_dwi": 300.0, "t1_s": 0.35,
            "s0_dce": 150000.0, "ktrans_per_min": 0.0, "ve": 0.0},
    "soft_tissue": {"label": 2, "hu": 40.0, "suv_bw": 0.8, "adc_mm2_per_s": 1.4e-3, "s0_dwi": 6000.0,
                    "t1_s": 1.2, "s0_dce": 200000.0, "ktrans_per_min": 0.05, "ve": 0.12},
    "liver": {"label": 3, "hu": 60.0, "suv_bw": 2.0, "adc_mm2_per_s": 1.1e-3, "s0_dwi": 5000.0, "t1_s": 0.8,
              "s0_dce": 200000.0, "ktrans_per_min": 0.1, "ve": 0.25},
}
LESION_S0_DWI = 7000.0
LESION_S0_DCE = 200000.0


@dataclass(frozen=True)
class DceProtocol:
    """DCE-MRI acquisition and contrast-agent parameters.

    Frames are acquired every ``temporal_resolution_s`` from 0 s; the Parker AIF (plasma, ``Cb / (1 - Hct)``)
    starts at ``aif_delay_s``. Tissue curves are Tofts convolutions of the AIF sampled every ``model_step_s``
    (linear between samples), then sampled at the frames. The default ``model_step_s`` equals the frame
    interval: the AIF at the frame times, which is the input a fit of the frames sees, so a Tofts fit with
    ``plasma_mM_at_frames`` recovers Ktrans and ve exactly. (With the continuous AIF, ``model_step_s=0.5``, the
    coarsely sampled first pass makes such a fit underestimate Ktrans by about 15 % at 10 s frames.)
    """

    n_frames: int = 30
    temporal_resolution_s: float = 10.0
    flip_angle_deg: float = 15.0
    tr_s: float = 0.004
    te_s: float = 0.0015
    relaxivity_per_mM_per_s: float = 4.5
    hct: float = 0.42
    aif_delay_s: float = 30.0
    model_step_s: float = 10.0
    vfa_flip_angles_deg: tuple[float, ...] = (2.0, 5.0, 10.0, 15.0)

    @property
    def frame_times_s(self) -> np.ndarray:
        """Frame acquisition times in s from the series start."""
        return np.arange(self.n_frames) * self.temporal_resolution_s


DCE_PROTOCOL = DceProtocol()


@dataclass(frozen=True)
class LesionDesign:
    """A lesion at one visit (values uniform over the sphere)."""

    name: str
    centre_xyz_mm: tuple[float, float, float]
    radius_mm: float
    hu: float
    suv_bw: float
    adc_mm2_per_s: float
    ktrans_per_min: float
    ve: float
    t1_s: float
    is_new: bool = False


@dataclass(frozen=True)
class VisitDesign:
    """One visit: times, PET injection, patient weight on that day, and the lesions present."""

    name: str
    days_from_baseline: int
    ct_datetime: datetime
    injection_datetime: datetime
    pet_datetime: datetime
    dwi_datetime: datetime
    dce_datetime: datetime
    injected_dose_bq: float
    weight_kg: float
    lesions: tuple[LesionDesign, ...]


@dataclass(frozen=True)
class PatientDesign:
    """One digital patient as designed (no files)."""

    patient_id: str
    patient_name: str
    sex: str
    age_years: int
    height_m: float
    birth_date: str
    response_category: str
    visits: tuple[VisitDesign, ...]


def _round(value: float, digits: int) -> float:
    return float(round(float(value), digits))


def _category(index: int, seed: int) -> str:
    shift = int(np.random.default_rng([seed, 104729]).integers(len(RESPONSE_CATEGORIES)))
    return RESPONSE_CATEGORIES[(index + shift) % len(RESPONSE_CATEGORIES)]


def _baseline_lesion(rng: np.random.Generator, name: str, slot: int, category: str) -> LesionDesign:
    sx, sy = LESION_SLOTS_XY_MM[slot]
    jitter = rng.uniform(-LESION_JITTER_MM, LESION_JITTER_MM, 3)
    cx, cy, cz = BODY_CENTRE_XYZ_MM
    centre = (_round(cx + sx + jitter[0], 2), _round(cy + sy + jitter[1], 2), _round(cz + jitter[2], 2))
    # Radii chosen so that even a shrunken follow-up lesion keeps a radius >= 14.5 mm (>= 5.8 voxels along z).
    radius = {"responder": (23.5, 24.5), "non_responder": (16.0, 17.0), "stable": (16.0, 20.0)}[category]
    return LesionDesign(
        name=name,
        centre_xyz_mm=centre,
        radius_mm=_round(rng.uniform(*radius), 2),
        hu=float(rng.integers(18, 31)),
        suv_bw=_round(rng.uniform(5.0, 12.0), 2),
        adc_mm2_per_s=_round(rng.uniform(0.70e-3, 1.0e-3), 6),
        ktrans_per_min=_round(rng.uniform(0.15, 0.35), 3),
        ve=_round(rng.uniform(0.25, 0.45), 3),
        t1_s=_round(rng.uniform(1.4, 1.6), 3),
    )


def _followup_lesion(rng: np.random.Generator, lesion: LesionDesign, category: str) -> LesionDesign:
    # (diameter, SUV, ADC, Ktrans) multiplicative ranges and HU shift per category.
    changes = {
        "responder": ((0.62, 0.68), (0.35, 0.55), (1.30, 1.50), (0.40, 0.60), (-10, -4)),
        "non_responder": ((1.25, 1.32), (1.15, 1.40), (0.85, 0.95), (1.10, 1.30), (-2, 3)),
        "stable": ((0.97, 1.03), (0.93, 1.07), (0.97, 1.03), (0.95, 1.05), (-2, 3)),
    }[category]
    diameter, suv, adc, ktrans, hu = changes
    return replace(
        lesion,
        radius_mm=_round(lesion.radius_mm * rng.uniform(*diameter), 2),
        suv_bw=_round(lesion.suv_bw * rng.uniform(*suv), 2),
        adc_mm2_per_s=_round(lesion.adc_mm2_per_s * rng.uniform(*adc), 6),
        ktrans_per_min=_round(lesion.ktrans_per_min * rng.uniform(*ktrans), 3),
        ve=_round(lesion.ve * rng.uniform(0.95, 1.05), 3),
        hu=lesion.hu + float(rng.integers(*hu)),
        is_new=False,
    )


def design_patient(index: int, seed: int = 0) -> PatientDesign:
    """Design patient ``index`` of the cohort with ``seed`` (pure; no files).

    Patient ``i`` depends only on ``(seed, i)``, so a larger cohort extends a smaller one with the same seed.
    Response categories cycle through :data:`RESPONSE_CATEGORIES` from a seeded start.
    """
    if index < 0:
        raise InvalidParameterError("index", index, "a patient index >= 0")
    rng = np.random.default_rng([seed, index])
    category = _category(index, seed)
    patient_id = f"DP{seed:03d}-{index + 1:03d}"
    sex = "F" if rng.random() < 0.5 else "M"
    height = _round(rng.uniform(1.55, 1.75) if sex == "F" else rng.uniform(1.65, 1.90), 2)
    age = int(rng.integers(40, 81))
    weight0 = _round(rng.uniform(55.0, 100.0), 1)
    baseline_day = datetime(2023, 1, 2) + timedelta(days=int(rng.integers(0, 365)))
    birth_date = dicom_date(baseline_day - timedelta(days=int(365.25 * age + rng.integers(1, 300))))

    n_lesions = int(rng.integers(1, 3 if category == "non_responder" else 4))
    slots = [int(s) for s in rng.permutation(len(LESION_SLOTS_XY_MM))]
    baseline_lesions = tuple(
        _baseline_lesion(rng, f"lesion_{i + 1}", slots[i], category) for i in range(n_lesions)
    )
    followup_lesions = [_followup_lesion(rng, les, category) for les in baseline_lesions]
    if category == "non_responder" and rng.random() < 0.5:
        new = _baseline_lesion(rng, f"lesion_{n_lesions + 1}", slots[n_lesions], "non_responder")
        followup_lesions.append(replace(new, is_new=True))

    visits = []
    for (name, day), lesions in zip(TIMEPOINTS, (baseline_lesions, tuple(followup_lesions))):
        date = baseline_day + timedelta(days=day)
        injection = date + timedelta(hours=8, minutes=int(rng.integers(0, 120)), seconds=int(rng.integers(0, 60)))
        uptake = timedelta(minutes=int(rng.integers(55, 71)), seconds=int(rng.integers(0, 60)))
        pet_start = injection + uptake
        dwi_start = date + timedelta(hours=13, minutes=int(rng.integers(0, 60)), seconds=int(rng.integers(0, 60)))
        weight = weight0 if day == 0 else _round(weight0 + rng.uniform(-3.0, 1.0), 1)
        dose_bq = float(round(rng.uniform(3.5, 4.5) * weight * 10.0)) * 1e5  # 3.5-4.5 MBq/kg, to 0.1 MBq
        visits.append(
            VisitDesign(
                name=name,
                days_from_baseline=day,
                ct_datetime=pet_start - timedelta(minutes=3),
                injection_datetime=injection,
                pet_datetime=pet_start,
                dwi_datetime=dwi_start,
                dce_datetime=dwi_start + timedelta(minutes=10),
                injected_dose_bq=dose_bq,
                weight_kg=weight,
                lesions=lesions,
            )
        )
    return PatientDesign(
        patient_id=patient_id,
        patient_name=f"Digital^Patient{index + 1:03d}",
        sex=sex,
        age_years=age,
        height_m=height,
        birth_date=birth_date,
        response_category=category,
        visits=tuple(visits),
    )


def _inside_ellipsoid(grid: Grid, centre: tuple[float, ...], semi_axes: tuple[float, ...]) -> np.ndarray:
    z, y, x = grid.voxel_centres_mm()
    return (
        ((x - centre[0]) / semi_axes[0]) ** 2
        + ((y - centre[1]) / semi_axes[1]) ** 2
        + ((z - centre[2]) / semi_axes[2]) ** 2
    ) <= 1.0


def tissue_labels(grid: Grid = GRID) -> np.ndarray:
    """Tissue label map (z, y, x), values = ``TISSUES[name]["label"]`` (air 0, fat 1, soft tissue 2, liver 3)."""
    labels = np.zeros(grid.shape_zyx, dtype=np.uint8)
    labels[_inside_ellipsoid(grid, BODY_CENTRE_XYZ_MM, BODY_SEMI_AXES_MM)] = TISSUES["fat"]["label"]
    inner = tuple(a - FAT_THICKNESS_MM for a in BODY_SEMI_AXES_MM)
    labels[_inside_ellipsoid(grid, BODY_CENTRE_XYZ_MM, inner)] = TISSUES["soft_tissue"]["label"]
    labels[_inside_ellipsoid(grid, LIVER_CENTRE_XYZ_MM, LIVER_SEMI_AXES_MM)] = TISSUES["liver"]["label"]
    return labels


def lesion_masks(lesions: tuple[LesionDesign, ...], grid: Grid = GRID) -> dict[str, np.ndarray]:
    """Boolean (z, y, x) mask per lesion: the voxels whose centre lies inside the sphere."""
    z, y, x = grid.voxel_centres_mm()
    masks = {}
    for lesion in lesions:
        cx, cy, cz = lesion.centre_xyz_mm
        masks[lesion.name] = ((x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2) <= lesion.radius_mm**2
    return masks


_MAP_KEYS = ("hu", "suv_bw", "adc_mm2_per_s", "s0_dwi", "t1_s", "s0_dce", "ktrans_per_min", "ve")


def _class_table(lesions: tuple[LesionDesign, ...]) -> dict[str, np.ndarray]:
    """Per-class property vectors: tissue classes by label, then one class per lesion."""
    tissues = sorted(TISSUES.values(), key=lambda t: t["label"])
    table = {key: [t[key] for t in tissues] for key in _MAP_KEYS}
    for lesion in lesions:
        table["hu"].append(lesion.hu)
        table["suv_bw"].append(lesion.suv_bw)
        table["adc_mm2_per_s"].append(lesion.adc_mm2_per_s)
        table["s0_dwi"].append(LESION_S0_DWI)
        table["t1_s"].append(lesion.t1_s)
        table["s0_dce"].append(LESION_S0_DCE)
        table["ktrans_per_min"].append(lesion.ktrans_per_min)
        table["ve"].append(lesion.ve)
    return {key: np.asarray(values, dtype=float) for key, values in table.items()}


def _class_map(labels: np.ndarray, masks: dict[str, np.ndarray]) -> np.ndarray:
    classes = labels.astype(np.int16)
    for i, mask in enumerate(masks.values()):
        classes[mask] = len(TISSUES) + i
    return classes


def parameter_maps(
    lesions: tuple[LesionDesign, ...], grid: Grid = GRID
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Class map, per-class property table and lesion masks of one visit.

    Returns
    -------
    classes : numpy.ndarray
        (z, y, x) class index: tissue label, or ``len(TISSUES) + i`` inside lesion ``i``.
    table : dict of str to numpy.ndarray
        Property (``hu``, ``suv_bw``, ``adc_mm2_per_s``, ``s0_dwi``, ``t1_s``, ``s0_dce``, ``ktrans_per_min``,
        ``ve``) → value per class; ``table[key][classes]`` is the voxel map.
    masks : dict of str to numpy.ndarray
        Lesion masks as from :func:`lesion_masks`.
    """
    masks = lesion_masks(lesions, grid)
    return _class_map(tissue_labels(grid), masks), _class_table(lesions), masks


def dwi_signals(classes: np.ndarray, table: dict[str, np.ndarray]) -> list[np.ndarray]:
    """One (z, y, x) trace-weighted volume per b-value of :data:`DWI_B_VALUES_S_PER_MM2`, noise-free."""
    from imagebio.diffusion.adc import adc_signal

    per_class = adc_signal(table["s0_dwi"], table["adc_mm2_per_s"], np.asarray(DWI_B_VALUES_S_PER_MM2))
    return [per_class[:, i][classes] for i in range(len(DWI_B_VALUES_S_PER_MM2))]


def dce_class_concentrations(table: dict[str, np.ndarray], protocol: DceProtocol = DCE_PROTOCOL) -> np.ndarray:
    """Tofts tissue concentration (mM) per class at the frame times, shape (n_classes, n_frames).

    The plasma Parker AIF is sampled every ``protocol.model_step_s`` (see :class:`DceProtocol`).
    """
    from imagebio.perfusion.aif import parker_aif
    from imagebio.perfusion.models.tofts import tofts_concentration

    step = int(round(protocol.temporal_resolution_s / protocol.model_step_s))
    if step < 1 or not math.isclose(step * protocol.model_step_s, protocol.temporal_resolution_s):
        raise InvalidParameterError("model_step_s", protocol.model_step_s, "the frame interval divided by an integer")
    fine_t = np.arange((protocol.n_frames - 1) * step + 1) * protocol.model_step_s
    cp = parker_aif(fine_t, delay_s=protocol.aif_delay_s, hct=protocol.hct)
    conc = tofts_concentration(fine_t, cp, table["ktrans_per_min"], table["ve"])
    return conc[:, ::step]


def vfa_signals(
    classes: np.ndarray, table: dict[str, np.ndarray], protocol: DceProtocol = DCE_PROTOCOL
) -> list[np.ndarray]:
    """One pre-contrast SPGR volume per flip angle of the variable-flip-angle T1 acquisition (same TR as DCE).

    S(α) = S0 sin α (1 − E1) / (1 − cos α E1), E1 = exp(−TR/T1) (Fram et al. 1987), noise-free.
    """
    from imagebio.perfusion.concentration import spgr_signal

    r1 = np.where(table["t1_s"] > 0, 1.0 / np.maximum(table["t1_s"], 1e-6), 0.0)
    return [
        spgr_signal(table["s0_dce"], r1, angle, protocol.tr_s)[classes] for angle in protocol.vfa_flip_angles_deg
    ]


def dce_signals(
    classes: np.ndarray, table: dict[str, np.ndarray], protocol: DceProtocol = DCE_PROTOCOL
) -> list[np.ndarray]:
    """One (z, y, x) SPGR signal volume per DCE frame, noise-free (linear relaxivity, fast exchange)."""
    from imagebio.perfusion.concentration import concentration_to_signal

    conc = dce_class_concentrations(table, protocol)
    signal = concentration_to_signal(
        conc, table["s0_dce"], table["t1_s"], protocol.flip_angle_deg, protocol.tr_s,
        protocol.relaxivity_per_mM_per_s,
    )
    return [signal[:, f][classes] for f in range(protocol.n_frames)]
