"""The main job on built-in data: digital patients → DICOM → store → lesion biomarkers → comparison with truth.

Everything goes through the clinical reading path (DICOM scan, SEG masks, PET SUV from headers); the ground truth
written by the generator is read only at the end, to compare.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from imagebio.pipeline.lesion_run import LesionRunResult, run_lesion_biomarkers
from imagebio.pipeline.lesions import DceSettings

__all__ = ["DemoResult", "COMPARISONS", "INTENDED_RECIST", "run_demo", "compare_with_truth", "compare_response"]

#: The generator designs responders with every lesion diameter 32–38 % smaller at follow-up, non-responders
#: 25–32 % larger (sometimes with a new lesion) and stable patients within ±3 %: by RECIST 1.1 (Eisenhauer 2009,
#: 4.3.1) PR, PD and SD.
INTENDED_RECIST = {"responder": "PR", "non_responder": "PD", "stable": "SD"}

#: (measurement name, ground-truth field, what the comparison checks)
COMPARISONS = (
    ("volume", "volume_ml_voxelised", "mL"),
    ("hu_mean", "hu", "HU"),
    ("suvbw_max", "suv_max", "SUVbw"),
    ("suvbw_mean", "suv_mean", "SUVbw"),
    ("adc_mean", "adc_mm2_per_s", "mm2/s"),
    ("t1_median", "t1_s", "s"),
    ("ktrans", "ktrans_per_min", "1/min"),
    ("ve", "ve", ""),
)

Progress = Callable[[str, int, int], None]


@dataclasses.dataclass
class DemoResult:
    """Where the demo wrote its outputs, the run outcome and the truth comparison rows."""

    out_dir: Path
    cohort_dir: Path
    store_url: str
    run: LesionRunResult
    comparison: list[dict]
    response: list[dict] = dataclasses.field(default_factory=list)
    reports: list[Path] = dataclasses.field(default_factory=list)

    @property
    def measurements_csv(self) -> Path:
        return self.out_dir / "measurements.csv"

    @property
    def summary_csv(self) -> Path:
        return self.out_dir / "summary.csv"


def demo_dce_settings(acquisition: dict) -> DceSettings:
    """DCE protocol facts of the digital cohort: contrast agent relaxivity, haematocrit, injection timing.

    T1 is not taken from the truth: it is mapped from the VFA series of each visit.
    """
    dce = acquisition["dce"]
    return DceSettings(
        relaxivity_per_mM_per_s=float(dce["relaxivity_per_mM_per_s"]),
        hct=float(dce["hct"]),
        aif_delay_s=float(dce["aif"]["delay_s"]),
        n_baseline=int(dce.get("n_baseline", 3)),
    )


def compare_with_truth(store, manifest) -> list[dict]:
    """One row per (patient, visit, lesion, biomarker): measured value, truth and relative error."""
    from imagebio.store.queries import measurements_frame

    with store.session(readonly=True) as session:
        frame = measurements_frame(session)
    truth_by_study = {}
    for patient in manifest.patients:
        for tp in patient.timepoints:
            truth_by_study[(patient.patient_id, tp.name)] = tp
    rows = []
    for patient in manifest.patients:
        labels = sorted(patient.timepoints, key=lambda t: t.days_from_baseline)
        measured_patient = frame[frame["subject"] == patient.patient_id]
        store_labels = sorted(
            measured_patient["timepoint"].dropna().unique(),
            key=lambda label: measured_patient[measured_patient["timepoint"] == label]["days_since_baseline"].iloc[0],
        )
        for tp, store_label in zip(labels, store_labels):
            at_visit = measured_patient[measured_patient["timepoint"] == store_label]
            for lesion in tp.lesions:
                of_lesion = at_visit[at_visit["roi"] == lesion.name]
                for name, field, unit in COMPARISONS:
                    hit = of_lesion[of_lesion["name"] == name]
                    truth = float(getattr(lesion, field))
                    measured = float(hit["value"].iloc[0]) if len(hit) else float("nan")
                    rel = (measured - truth) / truth if truth else float("nan")
                    rows.append(
                        {
                            "subject": patient.patient_id,
                            "timepoint": tp.name,
                            "lesion": lesion.name,
                            "biomarker": name,
                            "measured": measured,
                            "truth": truth,
                            "relative_error": rel,
                            "unit": unit,
                            "intended_response": patient.response_category,
                        }
                    )
    return rows


def compare_response(assessment, manifest) -> list[dict]:
    """Per patient: intended response (generator), RECIST 1.1 best overall response assessed from DICOM, reason."""
    rows = []
    for patient in manifest.patients:
        mine = assessment[assessment["subject"] == patient.patient_id]
        best = mine[mine["timepoint"] == "best"]
        dated = mine[mine["timepoint"] != "best"]
        last = dated.iloc[-1] if len(dated) else None
        rows.append(
            {
                "subject": patient.patient_id,
                "intended": patient.response_category,
                "expected_recist": INTENDED_RECIST[patient.response_category],
                "assessed_recist": best["category"].iloc[0] if len(best) else "not assessed",
                "reason": "" if last is None else str(last["reason"]),
            }
        )
    return rows


def run_demo(
    out_dir: str | Path = "demo_output", n_patients: int = 4, seed: int = 0, progress: Progress | None = None
) -> DemoResult:
    """Generate the digital cohort, ingest it, measure lesion biomarkers, export and compare with the truth.

    Parameters
    ----------
    out_dir : str or Path
        Output folder: ``cohort/`` (DICOM + ground_truth.json), ``imagebio.db``, ``measurements.csv``,
        ``summary.csv``, ``response_recist11.csv``, ``reports/`` (cohort and patient reports, HTML + PDF).
    n_patients, seed : int
        Size and seed of the digital cohort (deterministic).
    progress : callable, optional
        ``progress(stage, done, total)`` for the stages ``generate``, ``ingest``, ``measure``, ``response``, ``report``.
    """
    import csv

    from imagebio.phantoms import generate_cohort
    from imagebio.pipeline.response_run import assess_store
    from imagebio.store import ingest_folder, open_store
    from imagebio.store.queries import measurements_frame

    def stage(name: str):
        return None if progress is None else (lambda done, total: progress(name, done, total))

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cohort_dir = out / "cohort"
    manifest = generate_cohort(cohort_dir, n_patients=n_patients, seed=seed, progress=stage("generate"))
    store = open_store(out / "imagebio.db")
    ingest_folder(cohort_dir / "dicom", store, progress=stage("ingest"))
    run = run_lesion_biomarkers(store, dce_settings=demo_dce_settings(manifest.acquisition), progress=stage("measure"))
    assessment = assess_store(store, "recist11", progress=stage("response"))
    assessment.to_csv(out / "response_recist11.csv", index=False)
    with store.session(readonly=True) as session:
        measurements_frame(session).to_csv(out / "measurements.csv", index=False)
    comparison = compare_with_truth(store, manifest)
    with open(out / "summary.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(comparison[0]) if comparison else ["subject"])
        writer.writeheader()
        writer.writerows(comparison)
    reports = write_demo_reports(store, manifest, out / "reports", progress=stage("report"))
    result = DemoResult(
        out, cohort_dir, store.display_url, run, comparison, compare_response(assessment, manifest), reports
    )
    store.close()
    return result


def write_demo_reports(store, manifest, folder: Path, progress=None) -> list[Path]:
    """The cohort report and one patient report per digital patient (self-contained HTML with a PDF beside)."""
    from imagebio.report.cohort import write_cohort_report
    from imagebio.report.patient import write_patient_report

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    cohort = write_cohort_report(store, folder / "cohort.html", pdf=True)
    written += [cohort.html, cohort.pdf]
    for index, patient in enumerate(manifest.patients, start=1):
        result = write_patient_report(store, patient.patient_id, folder / f"patient_{patient.patient_id}.html", pdf=True)
        written += [result.html, result.pdf]
        if progress is not None:
            progress(index, len(manifest.patients))
    return written
