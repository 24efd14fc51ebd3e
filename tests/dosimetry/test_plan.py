"""PLAN.yaml workflow end to end from DICOM on the digital theranostics patient (issue 7 must-show: organ and
lesion doses within 5 % of ground truth), plus outputs, store and plan errors."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from imagebio.dosimetry.plan import load_plan, run_plan, store_results, write_outputs
from imagebio.errors import InvalidParameterError, SpecError


@pytest.fixture(scope="module")
def patient(tmp_path_factory):
    from imagebio.phantoms.theranostics import generate_theranostics_patient

    return generate_theranostics_patient(tmp_path_factory.mktemp("thera"), seed=1)


@pytest.fixture(scope="module")
def result(patient):
    return run_plan(load_plan(patient.plan_path))


@pytest.mark.slow
def test_organ_and_lesion_doses_within_five_percent_of_truth(patient, result):
    """Measured (mean-dose error): seed 0 −0.8…+0.2 %, seed 1 −1.3…+0.2 %, seed 2 −2.0…+0.4 %; lesions lowest
    (registration resampling smooths small hot spheres); masses exact (same CT grid)."""
    truth = patient.truth()["regions"]
    for row in result.rows:
        expected = truth[row["voi"]]
        assert row["mean_dose_gy"] == pytest.approx(expected["mean_dose_gy"], rel=0.05), row["voi"]
        assert row["tia_bq_s"] == pytest.approx(expected["tia_bq_s"], rel=0.05), row["voi"]
        assert row["mass_g"] == pytest.approx(expected["mass_g"], rel=0.05), row["voi"]
        assert row["dose_method"] == ("sphere" if expected["kind"] == "lesion" else "voxel")
    assert {r["voi"] for r in result.rows} == set(truth)


@pytest.mark.slow
def test_bed_cumulative_and_next_cycle(patient, result):
    from imagebio.dosimetry.planning import organ_limits
    from imagebio.dosimetry.radiobiology import bed_gy

    kidneys = result.row("kidneys")
    # previous cycle in the plan: 3 Gy at T_eff 50 h
    assert kidneys["cumulative_dose_gy"] == pytest.approx(kidneys["mean_dose_gy"] + 3.0)
    prior_bed = float(bed_gy(3.0, 2.6, 2.8, 50.0))
    assert kidneys["cumulative_bed_gy"] == pytest.approx(kidneys["bed_gy"] + prior_bed)
    assert kidneys["mean_dose_gy"] < kidneys["bed_gy"] < kidneys["mean_dose_gy"] * 1.2
    limit = organ_limits()["kidney"]
    allowed = result.next_cycle["max_activity_gbq"]
    assert result.next_cycle["limiting_voi"] == "kidneys"
    next_dose = allowed * kidneys["dose_per_gbq_gy"]
    assert kidneys["cumulative_dose_gy"] + next_dose <= limit.dose_gy * (1 + 1e-9)
    assert kidneys["cumulative_bed_gy"] + float(bed_gy(next_dose, 2.6, 2.8, kidneys["effective_half_life_h"])) \
        <= limit.bed_gy * (1 + 1e-9)


@pytest.mark.slow
def test_outputs_and_store(patient, result, tmp_path):
    from imagebio.io.nifti import read_image
    from imagebio.io.rtdose import read_rtdose
    from imagebio.store import open_store
    from imagebio.store.queries import measurements_frame

    paths = write_outputs(result, tmp_path / "out")
    nifti = read_image(paths["dose_nifti"])
    rtdose = read_rtdose(paths["rtdose"])
    np.testing.assert_allclose(nifti.array, result.dose_map.array, rtol=1e-6)
    np.testing.assert_allclose(rtdose.array, result.dose_map.array, atol=result.dose_map.array.max() / 2**31)
    assert rtdose.same_grid(result.dose_map)
    assert paths["dvh_png"].read_bytes()[:4] == b"\x89PNG"
    header = paths["table"].read_text().splitlines()[0].split(",")
    for column in ("voi", "mean_dose_gy", "D50_gy", "D90_gy", "D2_gy", "min_dose_gy", "cumulative_bed_gy"):
        assert column in header
    store = open_store(":memory:")
    n = store_results(result, store)
    with store.session(readonly=True) as session:
        frame = measurements_frame(session)
    assert n == len(frame) > 0
    kidney_dose = frame[(frame["roi"] == "kidneys") & (frame["name"] == "dosimetry.mean_dose_gy")]["value"]
    assert float(kidney_dose.iloc[0]) == pytest.approx(result.row("kidneys")["mean_dose_gy"])


def test_plan_errors(tmp_path):
    bad = tmp_path / "PLAN.yaml"
    bad.write_text("nuclide: Lu-177\n")
    with pytest.raises(SpecError, match="time_points"):
        load_plan(bad)
    bad.write_text(yaml.safe_dump({"nuclide": "Lu-177", "time_points": ["a"], "vois": {"file": "m.nii.gz",
                                   "regions": {"x": {"label": "label_1"}}}, "method": {"tac_model": "quad"}}))
    with pytest.raises(InvalidParameterError, match="method.tac_model"):
        load_plan(bad)


@pytest.mark.slow
def test_three_time_point_protocol_within_five_percent(tmp_path):
    """The issue's 3-time-point case (24, 96, 168 h): AICc cannot rank models with 3 points, so ``auto`` fits the
    exactly determined uptake-washout model. Measured: seeds 0/1/2 mean-dose errors −2.7…+1.3 %."""
    from imagebio.phantoms.theranostics import generate_theranostics_patient

    patient = generate_theranostics_patient(tmp_path / "p3", seed=0, n_scans=3)
    result = run_plan(load_plan(patient.plan_path))
    truth = patient.truth()
    assert truth["scan_times_h"] == [24.0, 96.0, 168.0]
    for row in result.rows:
        assert row["tac_model"] == "uptake_washout"
        assert row["mean_dose_gy"] == pytest.approx(truth["regions"][row["voi"]]["mean_dose_gy"], rel=0.05), row["voi"]


@pytest.mark.slow
def test_dose_response_joined_from_the_lesion_table(patient, result, tmp_path):
    truth = patient.truth()["response"]["lesions"]
    table = result.dose_response.set_index("lesion_id")
    assert set(table.index) == set(truth) == {"lesion_1", "lesion_2"}
    for lesion, expected in truth.items():
        assert table.loc[lesion, "metric"] == "volume_ml"
        # the table stores volumes to 4 decimals (mL)
        assert table.loc[lesion, "percent_change"] == pytest.approx(expected["volume_change_percent"], abs=0.01)
        assert table.loc[lesion, "dose_gy"] == pytest.approx(result.row(lesion)["mean_dose_gy"])
    paths = write_outputs(result, tmp_path / "dr")
    assert paths["dose_response_png"].read_bytes()[:4] == b"\x89PNG"


def test_plan_without_calibration_or_with_off_grid_vois_raises_typed_errors(patient, tmp_path):
    import dataclasses

    from imagebio.errors import GeometryMismatchError
    from imagebio.io.nifti import read_image, write_image

    plan = load_plan(patient.plan_path)
    with pytest.raises(InvalidParameterError, match="calibration"):
        run_plan(dataclasses.replace(plan, calibration=None))
    labels = read_image(patient.vois_path)
    moved = labels.replace(origin=tuple(np.asarray(labels.origin) + np.array([10.0, 0.0, 0.0])))
    off_grid = write_image(moved, tmp_path / "moved.nii.gz")
    with pytest.raises(GeometryMismatchError, match="not on the grid"):
        run_plan(dataclasses.replace(plan, vois_file=off_grid, method=dataclasses.replace(plan.method,
                                                                                         registration="none")))
    raw = yaml.safe_load(patient.plan_path.read_text())
    raw["nuclide"] = "Pu-239"
    bad = tmp_path / "PLAN.yaml"
    bad.write_text(yaml.safe_dump(raw))
    from imagebio.errors import UnsupportedDataError

    with pytest.raises(UnsupportedDataError, match="Pu-239"):
        load_plan(bad)


def test_tac_choice_by_number_of_scans():
    import math

    from imagebio.dosimetry.plan import _fit

    half_life_s = 574300.8
    lam = math.log(2) / (60 * 3600.0)
    curve = lambda t: 1e8 * np.exp(-lam * t)  # noqa: E731
    one = np.array([60 * 3600.0])
    tia, _, model, coefficients, rates = _fit(one, curve(one), "auto", half_life_s)
    # Hänscheid is exact when the scan is at t = T_eff
    assert model == "hanscheid" and tia == pytest.approx(1e8 / lam, rel=1e-12)
    assert rates[0] == pytest.approx(lam) and coefficients[0] / rates[0] == pytest.approx(tia)
    two = np.array([24.0, 96.0]) * 3600
    assert _fit(two, curve(two), "auto", half_life_s)[2] == "mono"
    three = np.array([24.0, 96.0, 168.0]) * 3600
    assert _fit(three, curve(three), "auto", half_life_s)[2] == "uptake_washout"
    with pytest.raises(InvalidParameterError, match="one scan"):
        _fit(two, curve(two), "hanscheid", half_life_s)
