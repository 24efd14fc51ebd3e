"""The main job end to end on the digital cohort: DICOM → store → lesion biomarkers vs ground truth."""

import math

import pytest
from sqlalchemy import func, select

from imagebio.phantoms import load_manifest
from imagebio.pipeline.demo import demo_dce_settings, run_demo
from imagebio.pipeline.lesion_run import run_lesion_biomarkers
from imagebio.store import Measurement, Roi, RunSubject, open_store

pytestmark = pytest.mark.slow

# Acceptance of issue 2: recovered lesion volumes within 2 % of the ground truth. The other biomarkers are exact
# by construction of the phantom (uniform lesions, noise-free signals rounded to integers), so their bounds
# only allow for the integer rounding of the stored DICOM values.
TOLERANCE = {
    "volume": 0.02,
    "hu_mean": 1e-6,
    "suvbw_max": 1e-3,
    "suvbw_mean": 1e-3,
    "adc_mean": 5e-3,
    "t1_median": 5e-3,
    "ktrans": 1e-2,
    "ve": 1e-2,
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return run_demo(tmp_path_factory.mktemp("demo"), n_patients=2, seed=3)


def test_every_subject_measured(demo):
    assert demo.run.failed == {}
    assert len(demo.run.done) == 2
    assert demo.measurements_csv.exists() and demo.summary_csv.exists()


@pytest.mark.parametrize("biomarker", sorted(TOLERANCE))
def test_recovered_values_match_ground_truth(demo, biomarker):
    rows = [r for r in demo.comparison if r["biomarker"] == biomarker]
    manifest = load_manifest(demo.cohort_dir)
    n_lesion_visits = sum(len(tp.lesions) for p in manifest.patients for tp in p.timepoints)
    assert len(rows) == n_lesion_visits
    for row in rows:
        assert not math.isnan(row["measured"]), row
        assert abs(row["relative_error"]) <= TOLERANCE[biomarker], row


def count(store, model):
    with store.session(readonly=True) as session:
        return session.scalar(select(func.count()).select_from(model))


def test_rerun_updates_without_duplicates(demo):
    store = open_store(demo.out_dir / "imagebio.db")
    before = (count(store, Measurement), count(store, Roi))
    manifest = load_manifest(demo.cohort_dir)
    result = run_lesion_biomarkers(store, dce_settings=demo_dce_settings(manifest.acquisition))
    assert result.failed == {}
    assert (count(store, Measurement), count(store, Roi)) == before


def test_a_failing_subject_is_recorded_and_the_others_go_on(demo):
    store = open_store(demo.out_dir / "imagebio.db")
    manifest = load_manifest(demo.cohort_dir)
    broken, healthy = manifest.patients[0].patient_id, manifest.patients[1].patient_id
    pet_folder = manifest.series_folder(broken, "followup", "PT")
    victim = sorted(pet_folder.iterdir())[5]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    try:
        result = run_lesion_biomarkers(store, dce_settings=demo_dce_settings(manifest.acquisition))
    finally:
        victim.write_bytes(data)
    assert result.done == [healthy]
    assert broken in result.failed
    assert victim.name in result.failed[broken] or "slice" in result.failed[broken]
    with store.session(readonly=True) as session:
        statuses = dict(session.execute(select(RunSubject.subject_id, RunSubject.status)
                                        .where(RunSubject.run_id == result.run_id)).all())
    assert sorted(statuses.values()) == ["done", "failed"]


def test_recist_matches_the_intended_response(demo):
    assert demo.response, "the demo assessed no patient"
    for row in demo.response:
        assert row["assessed_recist"] == row["expected_recist"], row


def test_demo_writes_cohort_and_patient_reports(demo):
    # Issue 10: a patient report and a cohort report are produced from the demo (content is checked in
    # tests/report against the store's numbers).
    names = {p.name for p in demo.reports}
    manifest = load_manifest(demo.cohort_dir)
    assert {"cohort.html", "cohort.pdf"} <= names
    for patient in manifest.patients:
        assert f"patient_{patient.patient_id}.html" in names and f"patient_{patient.patient_id}.pdf" in names
    for path in demo.reports:
        assert path.stat().st_size > 10_000, path
    html = (demo.out_dir / "reports" / f"patient_{manifest.patients[0].patient_id}.html").read_text()
    assert "data:image/png;base64," in html
