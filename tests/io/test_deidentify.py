"""De-identification (PS3.15 Annex E): no PHI left, SUV unchanged, references resolvable, stable pseudonyms."""

from __future__ import annotations

import csv
import shutil
from datetime import datetime

import numpy as np
import pydicom
import pytest
from pydicom.datadict import tag_for_keyword

from imagebio.cli.main import main
from imagebio.errors import InvalidParameterError
from imagebio.io.deidentify import BASIC_PROFILE, RETAINED_PATIENT_CHARACTERISTICS, Deidentifier, deidentify_folder
from imagebio.io.dicom import find_series, read_dicom_series
from imagebio.io.pet import read_pet
from imagebio.io.seg import read_seg
from imagebio.io.sr import read_measurement_report
from tests.report._checks import dciodvfy_errors
from tests.report._demo_store import build_demo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """The 1-patient demo store shared with tests/report (built once per test process)."""
    return build_demo(tmp_path_factory)


@pytest.fixture(scope="session")
def demo_subject(demo) -> str:
    return demo.run.done[0]
KEY = "test-key"


@pytest.fixture(scope="module")
def source(demo, demo_subject, tmp_path_factory):
    """An input folder: baseline + follow-up CT, PET and SEG of the demo patient, and its baseline SR."""
    from imagebio.report.export import export_sr
    from imagebio.store import open_store

    root = tmp_path_factory.mktemp("deid_in")
    patient = demo.cohort_dir / "dicom" / demo_subject
    for visit in ("baseline", "followup"):
        for kind in ("CT", "PT", "SEG"):
            shutil.copytree(patient / visit / kind, root / visit / kind)
    store = open_store(demo.store_url)
    try:
        export_sr(store, demo_subject, root / "sr", timepoint="baseline", content_datetime=datetime(2024, 1, 2))
    finally:
        store.close()
    (root / "notes.txt").write_text("not DICOM")
    return root


@pytest.fixture(scope="module")
def deidentified(source, tmp_path_factory):
    out = tmp_path_factory.mktemp("deid_out")
    map_path = tmp_path_factory.mktemp("deid_map") / "map.csv"
    result = deidentify_folder(source, out / "data", KEY, map_path=map_path)
    return result, out / "data", map_path


def _by_modality(files):
    groups = {}
    for path in files:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        groups.setdefault((str(ds.Modality), str(ds.StudyInstanceUID)), []).append(path)
    return groups


def test_profile_keywords_are_dicom_keywords():
    unknown = [k for k in BASIC_PROFILE if tag_for_keyword(k) is None]
    assert unknown == []
    assert set(BASIC_PROFILE.values()) <= {"X", "Z", "D"}
    assert len(BASIC_PROFILE) > 150


def test_no_phi_attribute_survives(source, deidentified):
    result, _, _ = deidentified
    originals = [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted((source / "baseline" / "PT").iterdir())]
    phi_values = {
        str(originals[0].PatientName), str(originals[0].PatientID), str(originals[0].PatientBirthDate),
        str(originals[0].AccessionNumber), str(originals[0].InstitutionName), str(originals[0].StudyDescription),
    }
    assert len(result.written) == 2 * (24 + 24 + 1) + 1
    for path in result.written:
        ds = pydicom.dcmread(path)
        assert ds.PatientIdentityRemoved == "YES"
        for element in ds.iterall():
            keyword = element.keyword
            if keyword in RETAINED_PATIENT_CHARACTERISTICS or keyword not in BASIC_PROFILE:
                continue
            action = BASIC_PROFILE[keyword]
            if keyword in ("PatientID", "PatientName"):
                assert str(element.value).startswith("ANON-"), (path, keyword)
            elif action == "X":
                pytest.fail(f"{keyword} must be removed ({path})")
            elif action == "Z":
                assert element.value in (None, "", []), (path, keyword, element.value)
            elif action == "D":
                assert str(element.value) in ("ANONYMOUS", "ANONYMIZED", "", "None"), (path, keyword)
        assert not any(element.tag.is_private for element in ds.iterall())
        raw = path.read_bytes()
        for value in phi_values:
            assert value.encode() not in raw, (path, value)
    kept = pydicom.dcmread(next(p for p in result.written if "PT_" in str(p.parent)), stop_before_pixels=True)
    assert (kept.PatientSex, kept.PatientWeight, kept.PatientSize) == (
        originals[0].PatientSex, originals[0].PatientWeight, originals[0].PatientSize
    )


def test_pet_suv_is_unchanged(source, deidentified):
    result, _, _ = deidentified
    groups = _by_modality(result.written)
    before = {
        str(pydicom.dcmread(next((source / v / "PT").iterdir()), stop_before_pixels=True).StudyDate): v
        for v in ("baseline", "followup")
    }
    assert len([k for k in groups if k[0] == "PT"]) == 2
    shifts = set()
    for (modality, _), files in groups.items():
        if modality != "PT":
            continue
        after = read_pet(find_series(files[0].parent))
        header = pydicom.dcmread(files[0], stop_before_pixels=True)
        # identify the visit by its shifted date: the same shift for every date of the patient
        for date, visit in before.items():
            shift = (datetime.strptime(header.StudyDate, "%Y%m%d") - datetime.strptime(date, "%Y%m%d")).days
            original = read_pet(find_series(source / visit / "PT"))
            if after.shape == original.shape and np.array_equal(after.array, original.array):
                shifts.add(shift)
                break
        else:
            pytest.fail("de-identified PET does not give the original SUVbw")
    assert len(shifts) == 1 and shifts.pop() < 0


def test_references_stay_resolvable(deidentified):
    result, _, _ = deidentified
    sops = {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID): p for p in result.written}
    segs = [p for p in result.written if pydicom.dcmread(p, stop_before_pixels=True).Modality == "SEG"]
    assert len(segs) == 2
    for seg_path in segs:
        seg = pydicom.dcmread(seg_path)
        referenced = [
            i.ReferencedSOPInstanceUID for s in seg.ReferencedSeriesSequence for i in s.ReferencedInstanceSequence
        ]
        assert referenced and all(uid in sops for uid in referenced)
        ct = read_dicom_series(find_series(sops[referenced[0]].parent))
        masks = read_seg(seg_path, ct)  # frame of reference and plane positions still match the images
        assert masks and all(m.array.any() for m in masks.values())
    (sr_path,) = [p for p in result.written if pydicom.dcmread(p, stop_before_pixels=True).Modality == "SR"]
    sr = pydicom.dcmread(sr_path)
    evidence = [
        i.ReferencedSOPInstanceUID
        for study in sr.CurrentRequestedProcedureEvidenceSequence
        for series in study.ReferencedSeriesSequence
        for i in series.ReferencedSOPSequence
    ]
    present = [uid for uid in evidence if uid in sops]
    assert present and all(str(pydicom.dcmread(sops[u], stop_before_pixels=True).Modality) in ("CT", "PT", "SEG")
                           for u in present)
    measured = read_measurement_report(sr_path)
    assert {m.segmentation_uid for m in measured} <= set(sops)
    assert {m.lesion_id for m in measured} == {"lesion_1"}


def test_deidentification_adds_no_dciodvfy_error(source, deidentified):
    """Z/D actions keep Type 1/2 attributes present: each object is as valid for its IOD as before (the digital
    PET already carries 3 dciodvfy errors of its own, so the check is "no new error", per file)."""
    result, _, _ = deidentified
    deid = Deidentifier(KEY)
    originals = {}
    for path in source.rglob("*.dcm"):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        originals[deid.new_uid(str(ds.SOPInstanceUID))] = (str(ds.Modality), path)
    checked = set()
    for path in result.written:
        modality, original = originals[str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)]
        if modality in checked and modality not in ("SEG", "SR"):
            continue
        checked.add(modality)
        assert set(dciodvfy_errors(path)) <= set(dciodvfy_errors(original)), (modality, path)
    assert {"CT", "PT", "SEG", "SR"} <= checked
    assert dciodvfy_errors(next(p for p in result.written if "SR_" in str(p.parent))) == []


def test_same_key_same_pseudonym_and_uids_other_key_differs(source, deidentified, tmp_path):
    result, _, map_path = deidentified
    again = deidentify_folder(source / "baseline" / "PT", tmp_path / "a", KEY)
    other = deidentify_folder(source / "baseline" / "PT", tmp_path / "b", "another key")
    assert again.pseudonyms == result.pseudonyms
    assert other.pseudonyms != result.pseudonyms
    first_sops = {pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in result.written}
    assert {pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in again.written} <= first_sops
    assert not {pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in other.written} & first_sops
    with open(map_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 and {r["pseudonym"] for r in rows} == set(result.pseudonyms.values())
    assert {r["original_patient_id"] for r in rows} == set(result.pseudonyms)
    assert len({r["date_shift_days"] for r in rows}) == 1


def test_burned_in_annotation_is_flagged_and_not_copied(source, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    ds = pydicom.dcmread(next((source / "baseline" / "CT").iterdir()))
    ds.BurnedInAnnotation = "YES"
    ds.save_as(folder / "burned.dcm")
    result = deidentify_folder(folder, tmp_path / "out", KEY)
    assert result.written == [] and len(result.flagged) == 1 and "BurnedInAnnotation" in result.flagged[0][1]
    result = deidentify_folder(folder, tmp_path / "out2", KEY, allow_flagged=True)
    assert len(result.written) == 1


def test_bad_input(source, tmp_path):
    with pytest.raises(InvalidParameterError, match="outside"):
        deidentify_folder(source, source / "inside", KEY)
    with pytest.raises(InvalidParameterError, match="map"):
        deidentify_folder(source / "baseline" / "PT", tmp_path / "o", KEY, map_path=tmp_path / "o" / "map.csv")
    with pytest.raises(InvalidParameterError, match="key"):
        Deidentifier("")


def test_cli(source, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["deidentify", str(source / "baseline" / "PT"), str(tmp_path / "out"), "--map", str(tmp_path / "m.csv"),
              "--salt", KEY, "--json"])
    assert info.value.code in (0, None)
    import json

    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["written"] == 24 and summary["subjects"] == 1
    assert (tmp_path / "m.csv").exists()
    with pytest.raises(SystemExit) as info:
        main(["deidentify", str(tmp_path / "missing"), str(tmp_path / "out2")])
    assert info.value.code == 2


def test_export_with_deidentify_matches_the_deidentified_images(demo, demo_subject, deidentified, tmp_path, capsys):
    """`imagebio export sr --deidentify KEY`: same pseudonym and UIDs as `imagebio deidentify --salt KEY`."""
    import json

    result, _, _ = deidentified
    with pytest.raises(SystemExit) as info:
        main(["export", "sr", "--subject", demo_subject, "--db", demo.store_url, "--out", str(tmp_path),
              "--timepoint", "baseline", "--deidentify", KEY, "--json"])
    assert info.value.code in (0, None)
    (path,) = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["files"]["baseline"]
    assert demo_subject not in path and result.pseudonyms[demo_subject] in path
    with open(path, "rb") as handle:
        raw = handle.read()
    assert demo_subject.encode() not in raw
    sr = pydicom.dcmread(path)
    assert sr.PatientID == result.pseudonyms[demo_subject] and sr.PatientIdentityRemoved == "YES"
    sops = {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in result.written}
    measured = read_measurement_report(path)
    assert {m.segmentation_uid for m in measured} <= sops  # the SEG it references is the de-identified SEG
    ct_refs = [
        i.ReferencedSOPInstanceUID
        for study in sr.CurrentRequestedProcedureEvidenceSequence
        for series in study.ReferencedSeriesSequence
        for i in series.ReferencedSOPSequence
        if i.ReferencedSOPClassUID == "1.2.840.10008.5.1.4.1.1.2"
    ]
    assert ct_refs and set(ct_refs) <= sops
