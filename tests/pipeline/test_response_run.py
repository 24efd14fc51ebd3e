"""Treatment response from the store on the digital cohort: DICOM → store → RECIST diameters → categories.

Issue 6 must-show: on the digital cohort, every patient's category matches the ground truth the generator wrote.
The generator designs responders with every lesion diameter 32-38 % smaller at the 8-week follow-up,
non-responders 25-32 % larger (sometimes with a new lesion) and stable patients within ±3 %
(``imagebio.phantoms.digital_patients``). By RECIST 1.1 (Eisenhauer 2009, section 4.3.1) that is PR (≥ 30 %
decrease of the sum), PD (≥ 20 % and ≥ 5 mm increase, or a new lesion) and SD; the follow-up is 56 days after
baseline (≥ the 42-day minimum for SD), so the best overall response without confirmation is the same.
"""

import json
import math
import shutil

import numpy as np
import pytest
from sqlalchemy import func, select

from imagebio.cli.main import main
from imagebio.phantoms import generate_cohort
from imagebio.phantoms.dicom_writer import SeriesInfo, write_lesion_seg
from imagebio.phantoms.digital_patients import GRID, lesion_masks
from imagebio.pipeline.response_run import (
    RESPONSE_CODES,
    assess_store,
    lesion_table_from_store,
)
from imagebio.response import assess
from imagebio.store import Measurement, Roi, Subject, ingest_folder, open_store
from imagebio.store.review import User

pytestmark = pytest.mark.slow

INTENDED_RECIST = {"responder": "PR", "non_responder": "PD", "stable": "SD"}
# Seed 1: stable (1 lesion), responder (3 lesions), non-responder with a new lesion, stable (3 lesions).
SEED = 1


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("response_cohort")
    manifest = generate_cohort(root / "cohort", n_patients=4, seed=SEED)
    # RECIST reads CT, PET and the lesion SEG only; dropping the MR series keeps the ingest short.
    for folder in (root / "cohort" / "dicom").glob("*/*/*"):
        if folder.name in ("DWI", "DCE", "VFA"):
            shutil.rmtree(folder)
    store = open_store(root / "imagebio.db")
    ingest_folder(root / "cohort" / "dicom", store)
    result = assess_store(store, "recist11")
    return manifest, store, result, root


def test_cohort_covers_every_category(cohort):
    manifest, *_ = cohort
    categories = {p.response_category for p in manifest.patients}
    assert categories == set(INTENDED_RECIST)
    assert any(les.is_new for p in manifest.patients for les in p.timepoints[-1].lesions)


def test_every_patient_matches_the_generator_ground_truth(cohort):
    manifest, _, result, _ = cohort
    for patient in manifest.patients:
        rows = result[result["subject"] == patient.patient_id]
        intended = INTENDED_RECIST[patient.response_category]
        dated = rows[rows["timepoint"] != "best"].sort_values("timepoint")
        assert list(dated["category"]) == ["baseline", intended], (patient.patient_id, rows["reason"].tolist())
        assert rows.loc[rows["timepoint"] == "best", "category"].item() == intended


def test_new_lesion_is_flagged(cohort):
    manifest, _, result, _ = cohort
    for patient in manifest.patients:
        new = [les.name for les in patient.timepoints[-1].lesions if les.is_new]
        if new:
            reason = result[(result["subject"] == patient.patient_id) & (result["timepoint"] != "best")].iloc[-1]
            assert all(name in reason["reason"] for name in new)


def test_diameters_agree_with_the_spheres(cohort):
    """Voxel-boundary diameters of a voxelised sphere lie within one in-plane voxel diagonal of 2r.

    Bound: the best axial slice is at most half a slice from the centre (chord radius ρ ≥ √(r² − (dz/2)²)), and
    the hull of the voxels whose centres lie within ρ reaches at most half a diagonal beyond, and covers at least
    the disk shrunk by half a diagonal: 2ρ − diag ≤ LD ≤ 2r + diag.
    """
    manifest, store, *_ = cohort
    table = lesion_table_from_store(store, record=False)
    dz, dy, dx = GRID.spacing_zyx_mm
    diag = math.hypot(dy, dx)
    checked = 0
    for patient in manifest.patients:
        for tp in patient.timepoints:
            date = f"{tp.study_date[:4]}-{tp.study_date[4:6]}-{tp.study_date[6:]}"
            for lesion in tp.lesions:
                row = table[(table.subject == patient.patient_id) & (table.timepoint == date)
                            & (table.lesion_id == lesion.name)]
                ld = row["longest_diameter_mm"].item()
                rho = math.sqrt(lesion.radius_mm**2 - (dz / 2) ** 2)
                assert 2 * rho - diag <= ld <= 2 * lesion.radius_mm + diag, (patient.patient_id, lesion.name, ld)
                assert row["short_axis_mm"].item() <= ld
                assert row["volume_ml"].item() == pytest.approx(lesion.volume_ml_voxelised, rel=1e-9)
                assert row["mean_hu"].item() == pytest.approx(lesion.hu)
                checked += 1
    assert checked == sum(len(tp.lesions) for p in manifest.patients for tp in p.timepoints)


def _stored(store, name):
    with store.session(readonly=True) as session:
        rows = session.execute(
            select(Roi.name, Measurement.name, Measurement.value, Measurement.parameters, Measurement.unit)
            .join(Roi, Measurement.roi_id == Roi.id)
            .where(Measurement.name == name)
        ).all()
    return rows


def test_categories_and_diameters_are_stored(cohort):
    manifest, store, result, _ = cohort
    follow = _stored(store, "response_recist11")
    assert len(follow) == 2 * len(manifest.patients)  # baseline and follow-up of each patient
    assert {r[0] for r in follow} == {"patient"}
    for _, _, value, parameters, unit in follow:
        assert unit == ""
        assert value == RESPONSE_CODES[parameters["category"]]
        assert parameters["reasons"]
    best = _stored(store, "best_response_recist11")
    assert sorted(p["category"] for *_, p, _ in best) == sorted(
        INTENDED_RECIST[p.response_category] for p in manifest.patients
    )
    n_lesion_visits = sum(len(tp.lesions) for p in manifest.patients for tp in p.timepoints)
    assert len(_stored(store, "longest_diameter")) == n_lesion_visits
    assert all(r[4] == "mm" for r in _stored(store, "short_axis"))


def test_rerun_updates_without_duplicates(cohort):
    _, store, result, _ = cohort
    with store.session(readonly=True) as session:
        before = session.scalar(select(func.count()).select_from(Measurement))
    again = assess_store(store, "recist11")
    with store.session(readonly=True) as session:
        after = session.scalar(select(func.count()).select_from(Measurement))
    assert after == before
    assert again["category"].tolist() == result["category"].tolist()


def test_cli_store_path_options_before_subcommand(cohort, capsys, tmp_path):
    manifest, store, _, root = cohort
    patient = manifest.patients[1]
    out = tmp_path / "assessment.csv"
    with pytest.raises(SystemExit) as info:
        main(["response", "--criteria", "recist11", "--db", str(root / "imagebio.db"), "--subject",
              patient.patient_id, "--out", str(out), "--plots", str(tmp_path / "plots"), "--json"])
    assert info.value.code in (0, None)
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    categories = {r["timepoint"]: r["category"] for r in payload["rows"]}
    assert categories["best"] == INTENDED_RECIST[patient.response_category]
    assert {r["subject"] for r in payload["rows"]} == {patient.patient_id}
    assert out.exists()
    for name in ("response_recist11_waterfall.png", "response_recist11_spider.png"):
        assert (tmp_path / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _rewrite_followup_seg(manifest, root, patient, keep, empty=()):
    """Rewrite a follow-up SEG (same series UID) with only the lesions in ``keep``; those in ``empty`` blank."""
    tp = patient.timepoints[-1]
    seg = tp.series["SEG"]
    folder = root / "cohort" / seg.folder
    path = next(folder.glob("*.dcm"))
    lesions = tuple(les for les in _designed(patient, tp) if les.name in keep)
    masks = lesion_masks(lesions)
    for name in empty:
        masks[name] = np.zeros_like(masks[name])
    ct_paths = sorted((root / "cohort" / tp.series["CT"].folder).glob("*.dcm"))
    original = path.read_bytes()
    info = SeriesInfo(seg.series_uid, 900, "edited lesions", _parse(tp), ("edited", patient.patient_id))
    write_lesion_seg(masks, ct_paths, path, info)
    return path, original


def _designed(patient, tp):
    from imagebio.phantoms.digital_patients import LesionDesign

    return [
        LesionDesign(les.name, tuple(les.centre_xyz_mm), les.radius_mm, les.hu, les.suv_max, les.adc_mm2_per_s,
                     les.ktrans_per_min, les.ve, les.t1_s, les.is_new)
        for les in tp.lesions
    ]


def _parse(tp):
    from datetime import datetime

    return datetime.strptime(tp.study_date + tp.study_time[:6], "%Y%m%d%H%M%S")


def test_a_lesion_missing_from_the_followup_mask_gives_ne(cohort):
    manifest, store, _, root = cohort
    patient = next(p for p in manifest.patients if p.response_category == "responder")
    names = [les.name for les in patient.timepoints[-1].lesions]
    path, original = _rewrite_followup_seg(manifest, root, patient, keep=names[1:])
    try:
        table = lesion_table_from_store(store, [patient.patient_id], record=False)
    finally:
        path.write_bytes(original)
    missing = table[(table.lesion_id == names[0]) & (table.timepoint == table.timepoint.max())]
    assert missing["status"].item() == "not_evaluated"
    follow = assess(table, "recist11").iloc[1]
    # RECIST 1.1 table 1: not all targets evaluated and no PD → NE.
    assert follow["category"] == "NE"
    assert names[0] in follow["reason"]


def test_an_empty_followup_segment_is_an_absent_lesion(cohort):
    manifest, store, _, root = cohort
    patient = max(manifest.patients, key=lambda p: (p.response_category == "stable", len(p.timepoints[0].lesions)))
    names = [les.name for les in patient.timepoints[-1].lesions]
    assert len(names) > 1
    path, original = _rewrite_followup_seg(manifest, root, patient, keep=names, empty=names[:1])
    try:
        table = lesion_table_from_store(store, [patient.patient_id], record=False)
    finally:
        path.write_bytes(original)
    last = table[table.timepoint == table.timepoint.max()].set_index("lesion_id")
    assert last.loc[names[0], "status"] == "absent"
    assert last.loc[names[0], "longest_diameter_mm"] == 0.0
    assert (last.loc[names[1:], "status"] == "present").all()
    # The gone lesion counts 0 mm in the sum (RECIST 1.1 rule 9): the sum is that of the other targets.
    follow = assess(table, "recist11").iloc[1]
    numbers = json.loads(follow["numbers"])
    assert numbers["sum"] == pytest.approx(last.loc[names[1:], "longest_diameter_mm"].sum(), abs=1e-3)


def test_a_failing_subject_is_recorded_and_the_others_go_on(cohort):
    manifest, store, _, root = cohort
    broken, healthy = manifest.patients[0], manifest.patients[1]
    ct_folder = root / "cohort" / broken.timepoints[-1].series["CT"].folder
    victim = sorted(ct_folder.glob("*.dcm"))[5]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    try:
        result = assess_store(store, "recist11", subjects=[broken.patient_id, healthy.patient_id])
    finally:
        victim.write_bytes(data)
    assert set(result["subject"]) == {healthy.patient_id}
    assert list(result.attrs["failed"]) == [broken.patient_id]
    best = result.loc[result["timepoint"] == "best", "category"].item()
    assert best == INTENDED_RECIST[healthy.response_category]


def test_stored_organ_and_lesion_id_are_used(cohort):
    """A ROI whose stored organ names a node is a lymph node (measured by short axis, RECIST 1.1 rule 12), and a
    stored lesion_id (e.g. from tracking) is the lesion's identity. Runs last: it edits the store."""
    from imagebio.store import Subject, Timepoint, upsert_roi

    manifest, store, _, _ = cohort
    patient = manifest.patients[3]
    with store.session() as session:
        subject = session.scalars(select(Subject).where(Subject.patient_id == patient.patient_id)).one()
        for timepoint in session.scalars(select(Timepoint).where(Timepoint.subject_id == subject.id)):
            upsert_roi(session, subject, "lesion_1", timepoint=timepoint, organ="Lymph node", lesion_id="N1")
    table = lesion_table_from_store(store, [patient.patient_id], record=False)
    node = table[table.lesion_id == "N1"]
    assert len(node) == len(patient.timepoints)
    assert node["is_lymph_node"].all() and (node["role"] == "target").all()
    assert "lesion_1" not in set(table.lesion_id)
    assert not table.loc[table.lesion_id != "N1", "is_lymph_node"].any()


def test_reader_overrides_are_respected_by_reruns(cohort):
    # Issue 11: a reader's lesion match and category override are stored with user and time and a rerun keeps
    # them. RECIST 1.1 rule 21: a new lesion is PD, whatever the target sum does.
    from imagebio.store import Timepoint
    from imagebio.store.overrides import record_category_override, record_lesion_match
    from imagebio.web.security import add_user

    manifest, store, _, _ = cohort
    stable = next(p for p in manifest.patients if p.response_category == "stable")
    with store.session() as session:
        subject = session.scalars(select(Subject).where(Subject.patient_id == stable.patient_id)).one()
        follow_up = session.scalars(
            select(Timepoint).where(Timepoint.subject_id == subject.id).order_by(Timepoint.study_datetime.desc())
        ).first()
        roi = session.scalars(
            select(Roi).where(Roi.timepoint_id == follow_up.id, Roi.name == "lesion_1")
        ).one()
        reader = add_user(session, "reader1", "a long enough password", "analyst", ["*"])
        record_lesion_match(session, roi, None, "not the baseline lesion: a new one", reader)
        follow_up_id = follow_up.id
    result = assess_store(store, "recist11", subjects=[stable.patient_id])
    last = result[result["timepoint"] != "best"].iloc[-1]
    assert last["category"] == "PD" and "new" in last["reason"]

    with store.session() as session:
        reader = session.scalars(select(User).where(User.username == "reader1")).one()
        record_category_override(session, session.get(Timepoint, follow_up_id), "recist11", "SD",
                                 "new lesion is an artefact on review", reader)
    result = assess_store(store, "recist11", subjects=[stable.patient_id])
    last = result[result["timepoint"] != "best"].iloc[-1]
    assert last["category"] == "SD"
    assert "overridden by reader1" in last["reason"] and "computed PD" in last["reason"]
