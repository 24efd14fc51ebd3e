"""Tests of the ground-truth manifest: lookups and error handling of load_manifest."""

from __future__ import annotations

import json

import pytest

from imagebio.errors import InvalidParameterError, SpecError
from imagebio.phantoms import load_manifest


def test_lookups_find_patients_timepoints_lesions_and_series(cohort):
    manifest, _ = cohort
    patient = manifest.patients[-1]
    assert manifest.patient(patient.patient_id) is patient
    baseline = patient.timepoint("baseline")
    assert baseline.lesion(baseline.lesions[0].name) is baseline.lesions[0]
    folder = manifest.series_folder(patient.patient_id, "followup", "PT")
    assert folder.is_dir() and folder.parent.name == "followup"
    with pytest.raises(InvalidParameterError, match="patient_id"):
        manifest.patient("nobody")
    with pytest.raises(InvalidParameterError, match="week99"):
        patient.timepoint("week99")
    with pytest.raises(InvalidParameterError, match="lesion_99"):
        baseline.lesion("lesion_99")
    with pytest.raises(InvalidParameterError, match="key"):
        manifest.series_folder(patient.patient_id, "baseline", "US")


def test_load_manifest_reports_missing_or_malformed_files(tmp_path):
    with pytest.raises(SpecError, match="no ground truth"):
        load_manifest(tmp_path)
    (tmp_path / "ground_truth.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(SpecError, match="not valid JSON"):
        load_manifest(tmp_path)
    (tmp_path / "ground_truth.json").write_text(json.dumps({"seed": 0}), encoding="utf-8")
    with pytest.raises(SpecError, match="not a digital-cohort manifest"):
        load_manifest(tmp_path)


def test_json_holds_what_a_demo_needs_to_fit(cohort):
    manifest, _ = cohort
    data = json.loads(manifest.ground_truth_path.read_text(encoding="utf-8"))
    dce = data["acquisition"]["dce"]
    for key in ("flip_angle_deg", "tr_s", "relaxivity_per_mM_per_s", "hct", "frame_times_s"):
        assert key in dce
    assert dce["aif"]["model"] == "parker2006" and len(dce["aif"]["plasma_mM_at_frames"]) == dce["n_frames"]
    lesion = data["patients"][0]["timepoints"][0]["lesions"][0]
    for key in ("centre_xyz_mm", "radius_mm", "volume_ml_analytic", "volume_ml_voxelised", "hu", "suv_max",
                "suv_mean", "adc_mm2_per_s", "ktrans_per_min", "ve", "t1_s"):
        assert key in lesion
    pet = data["patients"][0]["timepoints"][0]["pet"]
    for key in ("injected_dose_bq", "injection_datetime", "acquisition_datetime", "patient_weight_kg"):
        assert key in pet
    assert {p["response_category"] for p in data["patients"]} == {"responder", "non_responder", "stable"}
