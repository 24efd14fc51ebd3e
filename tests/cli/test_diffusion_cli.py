"""``imagebio dwi`` end to end: b-values from the DICOM headers, ADC / IVIM / kurtosis maps, curve tables.

Reference values and tolerances: the digital cohort's lesion ADC ground truth (noise-free signals stored as
integers), within 1 % (own tolerance: the uint16 rounding of S(b=800) ~ 3000 moves ADC by < 0.1 %); synthetic
curves with known parameters within 1e-3 relative (noise-free).
"""

import csv

import numpy as np
import pytest

from tests.cli.map_cli import read_rows, roi_stat, run

ADC_RTOL = 0.01


@pytest.mark.slow
def test_dwi_adc_cohort_end_to_end(map_cohort, tmp_path):
    root, visit_dir, visit = map_cohort
    db = tmp_path / "store.db"
    assert run(["ingest", root / "dicom", "--db", db])[0] == 0
    out = tmp_path / "dwi"
    assert run(["dwi", visit_dir / "DWI", "--mask", visit_dir / "SEG", "--out", out, "--db", db])[0] == 0
    for lesion in visit["lesions"]:
        assert roi_stat(out, lesion["name"], "adc_mm2_per_s") == pytest.approx(lesion["adc_mm2_per_s"], rel=ADC_RTOL)
        assert roi_stat(out, lesion["name"], "fit", "success_fraction") == 1.0
        assert roi_stat(out, lesion["name"], "r_squared", "min") > 0.9999
    assert (out / "adc_mm2_per_s.nii.gz").exists() and (out / "adc_mm2_per_s.png").exists()

    from imagebio.store import open_store
    from imagebio.store.queries import measurements_frame

    with open_store(db).session() as session:
        frame = measurements_frame(session, method="dwi-adc")
    medians = frame[frame["name"] == "adc_mm2_per_s_median"].set_index("roi")["value"]
    for lesion in visit["lesions"]:
        assert medians[lesion["name"]] == pytest.approx(lesion["adc_mm2_per_s"], rel=ADC_RTOL)


@pytest.mark.slow
@pytest.mark.parametrize("model, name", [("ivim", "d_mm2_per_s"), ("kurtosis", "d_mm2_per_s")])
def test_dwi_ivim_and_kurtosis_on_a_mono_exponential_cohort(map_cohort, tmp_path, model, name):
    # the cohort's lesions are mono-exponential: IVIM gives f ~ 0 and D = ADC, kurtosis K ~ 0 and D = ADC
    _, visit_dir, visit = map_cohort
    out = tmp_path / model
    assert run(["dwi", visit_dir / "DWI", "--model", model, "--mask", visit_dir / "SEG", "--out", out])[0] == 0
    for lesion in visit["lesions"]:
        assert roi_stat(out, lesion["name"], name, "median") == pytest.approx(lesion["adc_mm2_per_s"], rel=ADC_RTOL)
    other = "f" if model == "ivim" else "k"
    assert abs(roi_stat(out, visit["lesions"][0]["name"], other, "median")) < 0.01


def _write_table(path, curves, b):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["curve_id", "b_s_per_mm2", "signal"])
        for cid, signal in curves.items():
            writer.writerows([[cid, bi, si] for bi, si in zip(b, signal)])


def test_dwi_fit_curves_column_names_and_values(tmp_path):
    from imagebio.diffusion.ivim import ivim_signal
    from imagebio.diffusion.kurtosis import kurtosis_signal

    b = np.array([0, 10, 20, 50, 100, 200, 400, 600, 800, 1000, 1500, 2000.0])
    table = tmp_path / "ivim.csv"
    _write_table(table, {"t1": ivim_signal(1000, 0.1, 0.05, 1.1e-3, b), "t2": ivim_signal(800, 0.3, 0.02, 2e-3, b)}, b)
    out = tmp_path / "out.csv"
    assert run(["dwi", "fit-curves", table, "--model", "ivim", "--out", out])[0] == 0
    rows = {r["curve_id"]: r for r in read_rows(out)}
    assert list(rows["t1"]) == ["curve_id", "d_mm2_per_s", "f", "dstar_mm2_per_s"]
    assert float(rows["t1"]["d_mm2_per_s"]) == pytest.approx(1.1e-3, rel=1e-3)
    assert float(rows["t2"]["f"]) == pytest.approx(0.3, rel=1e-3)
    assert float(rows["t2"]["dstar_mm2_per_s"]) == pytest.approx(0.02, rel=1e-3)

    assert run(["dwi", "fit-curves", table, "--model", "adc", "--quality", "--out", out])[0] == 0
    assert list(read_rows(out)[0]) == ["curve_id", "d_mm2_per_s", "r_squared", "nrmse", "fit_status"]

    kt = tmp_path / "dki.csv"
    bk = np.array([0, 500, 1000, 1500, 2000, 2500.0])
    _write_table(kt, {"k": kurtosis_signal(1000, 1e-3, 0.9, bk)}, bk)
    assert run(["dwi", "fit-curves", kt, "--model", "kurtosis", "--out", out])[0] == 0
    (row,) = read_rows(out)
    assert list(row) == ["curve_id", "d_mm2_per_s", "k"]
    assert float(row["k"]) == pytest.approx(0.9, rel=1e-3)


def test_dwi_all_equal_b_values_are_a_typed_error(tmp_path, capsys):
    table = tmp_path / "flat.csv"
    _write_table(table, {"a": [500.0, 490.0, 510.0]}, [800.0, 800.0, 800.0])
    code, err = run(["dwi", "fit-curves", table, "--model", "adc"], capsys)
    assert code == 2 and "b_values_s_per_mm2" in err and "two distinct b-values" in err


def test_dwi_missing_b_values_in_the_headers(tmp_path, capsys):
    import pydicom

    from tests.io.synthetic_dicom import write_series

    series_uid, study_uid = pydicom.uid.generate_uid(), pydicom.uid.generate_uid()
    for i in range(3):  # frames told apart by time, none has a b-value
        write_series(tmp_path / "DWI" / f"f{i}", np.full((2, 4, 4), 1000 - 100 * i), modality="MR",
                     series_uid=series_uid, study_uid=study_uid,
                     extra_per_slice=[{"TemporalPositionIdentifier": i + 1}] * 2)
    code, err = run(["dwi", tmp_path / "DWI", "--out", tmp_path / "o"], capsys)
    assert code == 2 and "DiffusionBValue (0018,9087)" in err


def test_dwi_noise_sigma_only_for_ivim_and_kurtosis(tmp_path, capsys):
    table = tmp_path / "t.csv"
    _write_table(table, {"a": [1000.0, 600.0, 300.0]}, [0.0, 500.0, 1000.0])
    code, err = run(["dwi", "fit-curves", table, "--model", "adc", "--noise-sigma", "10"], capsys)
    assert code == 2 and "--noise-sigma" in err
