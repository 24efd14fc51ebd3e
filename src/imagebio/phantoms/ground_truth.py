"""Ground truth of the digital-patient cohort, as dataclasses with a JSON round trip.

The generator (:mod:`imagebio.phantoms.digital_patients`) fills these records and writes them to
``ground_truth.json`` next to the DICOM tree; tests and demos read them back with :func:`load_manifest` and compare
what imagebio measures against what was built in. Units are in the field names (mm, mL, s, min, Bq, kg, m).

Layout of ``ground_truth.json``::

    seed, schema_version, notes
    grid         shape_zyx, spacing_zyx_mm, origin_xyz_mm, direction, voxel_volume_ml, anatomy (body, liver)
    tissues      {air, fat, soft_tissue, liver}: hu, suv_bw, adc_mm2_per_s, s0_dwi, t1_s, s0_dce, ktrans_per_min, ve
    acquisition  pet (half-life, frame duration), dwi (b-values), dce (frames, flip angle, TR, relaxivity, Hct,
                 Parker AIF parameters and plasma AIF at the frame times)
    patients[]   patient_id, sex, age_years, weight_kg, height_m, response_category,
                 timepoints[]: name, days_from_baseline, study/frame-of-reference UIDs, series{CT, PT, DWI, DCE, SEG},
                               pet (dose, times, weight, Bq/mL per SUV), lesions[] (see LesionTruth)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from imagebio.errors import InvalidParameterError, SpecError

__all__ = [
    "GROUND_TRUTH_FILENAME",
    "LesionTruth",
    "SeriesTruth",
    "PetTruth",
    "TimepointTruth",
    "PatientTruth",
    "CohortManifest",
    "load_manifest",
]

GROUND_TRUTH_FILENAME = "ground_truth.json"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class LesionTruth:
    """One lesion at one time point. The same ``name`` tracks the same lesion across time points.

    Values are uniform inside the lesion, so SUVmax = SUVmean and every parameter is exact over the SEG mask.
    ``volume_ml_voxelised = n_voxels × voxel volume``, the voxels whose centre lies inside the sphere.
    """

    name: str
    centre_xyz_mm: tuple[float, float, float]
    radius_mm: float
    diameter_mm: float
    volume_ml_analytic: float
    volume_ml_voxelised: float
    n_voxels: int
    hu: float
    suv_max: float
    suv_mean: float
    activity_bq_per_ml: float
    adc_mm2_per_s: float
    s0_dwi: float
    ktrans_per_min: float
    ve: float
    t1_s: float
    is_new: bool = False


@dataclass(frozen=True)
class SeriesTruth:
    """One written series: its UID, folder (relative to the cohort root), modality and number of files."""

    key: str
    modality: str
    series_uid: str
    folder: str
    n_files: int
    sop_class_uid: str


@dataclass(frozen=True)
class PetTruth:
    """FDG injection and acquisition facts (as written in the PET files).

    ``bq_per_ml_per_suv = dose × 2^(-uptake_s / T½) / (patient_weight_kg × 1000)`` converts SUVbw to Bq/mL at
    the series start (DecayCorrection START); ``patient_weight_kg`` is the PatientWeight written for this visit.
    """

    injected_dose_bq: float
    injection_datetime: str
    acquisition_datetime: str
    uptake_time_s: float
    half_life_s: float
    frame_duration_s: float
    patient_weight_kg: float
    decayed_dose_bq: float
    bq_per_ml_per_suv: float


@dataclass(frozen=True)
class TimepointTruth:
    """One visit: identifiers, written series, PET facts and lesions."""

    name: str
    days_from_baseline: int
    study_date: str
    study_time: str
    study_uid: str
    frame_of_reference_uid: str
    series: dict[str, SeriesTruth]
    pet: PetTruth
    lesions: list[LesionTruth]

    def lesion(self, name: str) -> LesionTruth:
        """The lesion called ``name`` (raises :class:`InvalidParameterError` if absent)."""
        for lesion in self.lesions:
            if lesion.name == name:
                return lesion
        raise InvalidParameterError("name", name, f"one of {[les.name for les in self.lesions]}")


@dataclass(frozen=True)
class PatientTruth:
    """One digital patient: demographics, intended response category and its time points."""

    patient_id: str
    patient_name: str
    sex: str
    age_years: int
    weight_kg: float
    height_m: float
    response_category: str
    timepoints: list[TimepointTruth]

    def timepoint(self, name: str) -> TimepointTruth:
        """The time point called ``name`` (raises :class:`InvalidParameterError` if absent)."""
        for tp in self.timepoints:
            if tp.name == name:
                return tp
        raise InvalidParameterError("name", name, f"one of {[tp.name for tp in self.timepoints]}")


@dataclass(frozen=True)
class CohortManifest:
    """Everything the generator built: grid, tissue and acquisition parameters, patients.

    ``root`` is the cohort folder; series folders in :class:`SeriesTruth` are relative to it.
    """

    root: Path
    seed: int
    grid: dict[str, Any]
    tissues: dict[str, dict[str, float]]
    acquisition: dict[str, Any]
    patients: list[PatientTruth]
    schema_version: int = SCHEMA_VERSION
    notes: list[str] = field(default_factory=list)

    @property
    def ground_truth_path(self) -> Path:
        """Path of ``ground_truth.json``."""
        return self.root / GROUND_TRUTH_FILENAME

    def patient(self, patient_id: str) -> PatientTruth:
        """The patient with ``patient_id`` (raises :class:`InvalidParameterError` if absent)."""
        for p in self.patients:
            if p.patient_id == patient_id:
                return p
        raise InvalidParameterError("patient_id", patient_id, f"one of {[p.patient_id for p in self.patients]}")

    def series_folder(self, patient_id: str, timepoint: str, key: str) -> Path:
        """Absolute folder of series ``key`` (``CT``, ``PT``, ``DWI``, ``DCE``, ``SEG``)."""
        tp = self.patient(patient_id).timepoint(timepoint)
        if key not in tp.series:
            raise InvalidParameterError("key", key, f"one of {sorted(tp.series)}")
        return self.root / tp.series[key].folder

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (``root`` is not stored: the file lives in it)."""
        data = asdict(self)
        data.pop("root")
        return data

    def write_json(self) -> Path:
        """Write ``ground_truth.json`` (sorted keys, fixed float formatting) and return its path."""
        text = json.dumps(self.to_dict(), indent=1, sort_keys=True)
        self.ground_truth_path.write_text(text + "\n", encoding="utf-8")
        return self.ground_truth_path

    @classmethod
    def from_dict(cls, data: dict[str, Any], root: Path) -> CohortManifest:
        """Rebuild a manifest from :meth:`to_dict` output."""
        try:
            patients = [
                PatientTruth(
                    **{k: v for k, v in p.items() if k != "timepoints"},
                    timepoints=[_timepoint_from_dict(tp) for tp in p["timepoints"]],
                )
                for p in data["patients"]
            ]
            return cls(
                root=Path(root),
                seed=data["seed"],
                grid=data["grid"],
                tissues=data["tissues"],
                acquisition=data["acquisition"],
                patients=patients,
                schema_version=data.get("schema_version", SCHEMA_VERSION),
                notes=list(data.get("notes", [])),
            )
        except (KeyError, TypeError) as exc:
            raise SpecError(f"{root}: ground truth is not a digital-cohort manifest ({exc})") from exc


def _timepoint_from_dict(tp: dict[str, Any]) -> TimepointTruth:
    lesions = [
        LesionTruth(**{**les, "centre_xyz_mm": tuple(les["centre_xyz_mm"])}) for les in tp["lesions"]
    ]
    series = {key: SeriesTruth(**s) for key, s in tp["series"].items()}
    rest = {k: v for k, v in tp.items() if k not in ("lesions", "series", "pet")}
    return TimepointTruth(**rest, series=series, pet=PetTruth(**tp["pet"]), lesions=lesions)


def load_manifest(root: str | Path) -> CohortManifest:
    """Read ``root/ground_truth.json`` written by :func:`imagebio.phantoms.generate_cohort`."""
    root = Path(root)
    path = root / GROUND_TRUTH_FILENAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SpecError(f"{path}: no ground truth file") from exc
    except json.JSONDecodeError as exc:
        raise SpecError(f"{path}: not valid JSON ({exc})") from exc
    return CohortManifest.from_dict(data, root)
