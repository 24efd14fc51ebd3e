"""``imagebio dce`` / ``t1`` / ``dsc`` end to end: DICOM in, maps, ROI statistics, overlays and Measurements out.

Reference values and tolerances:
* digital cohort (``imagebio.phantoms.generate_cohort``): lesion Ktrans / ve / T1 ground truth, checked with the
  OSIPI DCE tolerances (Ktrans atol 0.005 /min + rtol 0.1, ve atol 0.05) and the OSIPI VFA R1 tolerance
  (atol 0.05 /s + rtol 0.05);
* synthetic curves with known parameters (fit-curves), same OSIPI tolerances; DSC: OSIPI CBV atol 1 ml/100ml +
  rtol 0.1, CBF atol 15 ml/100ml/min + rtol 0.1.
"""

import csv

import numpy as np
import pydicom
import pytest

from tests.cli.map_cli import read_rows, roi_stat, run
from tests.io.synthetic_dicom import write_series

KT_ATOL, KT_RTOL, VE_ATOL = 0.005, 0.1, 0.05
R1_ATOL, R1_RTOL = 0.05, 0.05


@pytest.mark.slow
def test_dce_cohort_end_to_end_with_vfa_and_seg(map_cohort, tmp_path):
    root, visit_dir, visit = map_cohort
    db = tmp_path / "store.db"
    assert run(["ingest", root / "dicom", "--db", db])[0] == 0
    out = tmp_path / "dce"
    code, _ = run(["dce", visit_dir / "DCE", "--vfa", visit_dir / "VFA", "--aif", "parker", "--model", "tofts",
                   "--mask", visit_dir / "SEG", "--hct", "0.42", "--out", out, "--db", db])
    assert code == 0
    for lesion in visit["lesions"]:
        kt, ve = lesion["ktrans_per_min"], lesion["ve"]
        assert abs(roi_stat(out, lesion["name"], "ktrans_per_min") - kt) <= KT_ATOL + KT_RTOL * kt
        assert abs(roi_stat(out, lesion["name"], "ve") - ve) <= VE_ATOL
        assert roi_stat(out, lesion["name"], "fit", "success_fraction") == 1.0
    from imagebio.io.masks import read_roi_masks
    from imagebio.io.nifti import read_image

    ktrans = read_image(out / "ktrans_per_min.nii.gz")
    t1 = read_image(out / "t1_s.nii.gz")
    masks = read_roi_masks(visit_dir / "SEG", ktrans)
    for lesion in visit["lesions"]:
        inside = np.asarray(masks[lesion["name"]].array)
        r1 = 1.0 / np.median(np.asarray(t1.array)[inside])
        assert abs(r1 - 1.0 / lesion["t1_s"]) <= R1_ATOL + R1_RTOL / lesion["t1_s"]  # OSIPI VFA R1 tolerance
    # outside the fitted ROIs the maps hold NaN, not zeros
    inside_any = np.any([m.array for m in masks.values()], axis=0)
    assert np.all(np.isnan(np.asarray(ktrans.array)[~inside_any]))
    assert np.all(np.isfinite(np.asarray(ktrans.array)[inside_any]))
    for name in ("ktrans_per_min", "ve", "kep_per_min"):
        assert (out / f"{name}.png").stat().st_size > 1000
    assert (out / "fit_status.nii.gz").exists() and (out / "aif.csv").exists()
    assert {r["roi"] for r in read_rows(out / "fit_success.csv")} == {l["name"] for l in visit["lesions"]}

    from imagebio.store import open_store
    from imagebio.store.queries import measurements_frame

    with open_store(db).session() as session:
        frame = measurements_frame(session, method="dce-tofts")
    means = frame[frame["name"] == "ktrans_per_min_mean"].set_index("roi")["value"]
    for lesion in visit["lesions"]:
        assert means[lesion["name"]] == pytest.approx(roi_stat(out, lesion["name"], "ktrans_per_min"))


@pytest.mark.slow
def test_t1_map_on_cohort_vfa(map_cohort, tmp_path):
    _, visit_dir, visit = map_cohort
    out = tmp_path / "t1"
    assert run(["t1", visit_dir / "VFA", "--mask", visit_dir / "SEG", "--out", out])[0] == 0
    for lesion in visit["lesions"]:
        r1 = 1.0 / lesion["t1_s"]
        assert abs(roi_stat(out, lesion["name"], "r1_per_s") - r1) <= R1_ATOL + R1_RTOL * r1
    assert (out / "t1_s.png").exists()


def test_dce_fit_curves(tmp_path):
    from imagebio.perfusion.aif import parker_aif
    from imagebio.perfusion.models import extended_tofts_concentration, tofts_concentration

    t = np.arange(60) * 4.0
    cp = parker_aif(t, delay_s=20.0, hct=0.45)
    truth = {"a": (0.1, 0.2, 0.02), "b": (0.4, 0.5, 0.05), "c": (0.25, 0.3, 0.01)}
    rows = []
    for cid, (kt, ve, vp) in truth.items():
        c = extended_tofts_concentration(t, cp, kt, ve, vp)
        rows += [{"curve_id": cid, "t_s": ti, "c_tissue_mM": ci, "c_plasma_mM": pi} for ti, ci, pi in zip(t, c, cp)]
    rows.reverse()  # samples in any order
    table = tmp_path / "curves.csv"
    with open(table, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["curve_id", "t_s", "c_tissue_mM", "c_plasma_mM"])
        writer.writeheader()
        writer.writerows(rows)
    out = tmp_path / "fit.csv"
    assert run(["dce", "fit-curves", table, "--model", "etofts", "--out", out])[0] == 0
    result = read_rows(out)
    assert list(result[0]) == ["curve_id", "ktrans_per_min", "ve", "vp"]
    for row in result:
        kt, ve, vp = truth[row["curve_id"]]
        assert float(row["ktrans_per_min"]) == pytest.approx(kt, abs=1e-4)
        assert float(row["ve"]) == pytest.approx(ve, abs=1e-4)
        assert float(row["vp"]) == pytest.approx(vp, abs=1e-4)
    # Tofts with a fitted delay and the quality columns
    delayed = tmp_path / "delayed.csv"
    with open(delayed, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["curve_id", "t_s", "c_tissue_mM", "c_plasma_mM"])
        c = tofts_concentration(t, parker_aif(t, delay_s=25.0, hct=0.45), 0.2, 0.3)
        writer.writerows([["x", ti, ci, pi] for ti, ci, pi in zip(t, c, cp)])
    assert run(["dce", "fit-curves", delayed, "--model", "tofts", "--fit-delay", "--quality", "--out", out])[0] == 0
    (row,) = read_rows(out)
    assert list(row) == ["curve_id", "ktrans_per_min", "ve", "delay_s", "r_squared", "nrmse", "fit_status"]
    assert abs(float(row["ktrans_per_min"]) - 0.2) <= KT_ATOL + KT_RTOL * 0.2
    assert abs(float(row["delay_s"]) - 5.0) <= 1.0  # OSIPI delay tolerance
    assert row["fit_status"] == "0"
    # 2CXM output names
    assert run(["dce", "fit-curves", table, "--model", "2cxm", "--out", out])[0] == 0
    assert list(read_rows(out)[0]) == ["curve_id", "ve", "vp", "fp_ml_per_100ml_per_min", "ps_per_min"]


def test_t1_fit_curves(tmp_path):
    from imagebio.perfusion.concentration import spgr_signal

    angles = [2.0, 5.0, 10.0, 15.0, 20.0]
    table = tmp_path / "vfa.csv"
    with open(table, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["curve_id", "flip_angle_deg", "tr_s", "signal"])
        for cid, r1, s0 in (("wm", 1.2, 900.0), ("gm", 0.7, 1100.0)):
            writer.writerows([[cid, a, 0.005, float(spgr_signal(s0, r1, a, 0.005))] for a in angles])
    out = tmp_path / "t1.csv"
    assert run(["t1", "fit-curves", table, "--out", out])[0] == 0
    rows = {r["curve_id"]: r for r in read_rows(out)}
    assert list(rows["wm"]) == ["curve_id", "r1_per_s", "s0"]
    assert float(rows["wm"]["r1_per_s"]) == pytest.approx(1.2, rel=1e-5)
    assert float(rows["gm"]["s0"]) == pytest.approx(1100.0, rel=1e-5)


def _dsc_curves(t):
    """Gamma-variate AIF (Delta R2*, 1/s) and tissue curves for CBF 60 / 30 ml/100ml/min, MTT 4 s (exponential)."""
    fine = np.arange(0, t[-1] + 1e-9, 0.05)
    arrival = 6.0
    tt = np.clip(fine - arrival, 0, None)
    aif = 40.0 * (tt / 3.0) ** 3 * np.exp(-(tt - 3.0) / 1.0) / np.exp(0) * (tt > 0)
    aif = aif / aif.max() * 40.0
    residue = np.exp(-fine / 4.0)
    curves = {}
    for cbf in (60.0, 30.0):
        curves[cbf] = np.interp(t, fine, cbf / 6000.0 * np.convolve(aif, residue)[: fine.size] * 0.05)
    return np.interp(t, fine, aif), curves


def test_dsc_fit_curves(tmp_path):
    t = np.arange(40) * 1.5
    aif, curves = _dsc_curves(t)
    table = tmp_path / "dsc.csv"
    with open(table, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["curve_id", "t_s", "c_tissue", "c_aif"])
        for cbf, c in curves.items():
            writer.writerows([[f"cbf{cbf:g}", ti, ci, ai] for ti, ci, ai in zip(t, c, aif)])
    out = tmp_path / "dsc_out.csv"
    assert run(["dsc", "fit-curves", table, "--out", out])[0] == 0
    rows = {r["curve_id"]: r for r in read_rows(out)}
    assert list(rows["cbf60"]) == ["curve_id", "cbv_ml_per_100ml", "cbf_ml_per_100ml_per_min", "mtt_s"]
    for cbf in (60.0, 30.0):
        row = rows[f"cbf{cbf:g}"]
        cbv = cbf * 4.0 / 60.0
        assert abs(float(row["cbv_ml_per_100ml"]) - cbv) <= 1 + 0.1 * cbv
        assert abs(float(row["cbf_ml_per_100ml_per_min"]) - cbf) <= 15 + 0.1 * cbf


def _write_dynamic(folder, frames, per_frame, series_extra):
    series_uid = pydicom.uid.generate_uid()
    study_uid = pydicom.uid.generate_uid()
    for index, (frame, extra) in enumerate(zip(frames, per_frame)):
        tags = {**series_extra, **extra}
        write_series(folder / f"f{index:03d}", np.round(frame), modality="MR", series_uid=series_uid,
                     study_uid=study_uid, extra_per_slice=[tags] * frame.shape[0])


def test_dsc_map_from_dicom_with_auto_aif_and_rcbv(tmp_path):
    from imagebio.io.dicom import read_dynamic_series
    from imagebio.io.nifti import write_image

    t = np.arange(40) * 1.5
    aif, curves = _dsc_curves(t)
    te_s = 0.03
    labels = np.zeros((2, 8, 8), dtype=np.uint8)
    labels[:, :, :4] = 1
    labels[:, :, 4:] = 2
    artery = np.zeros_like(labels, dtype=bool)
    artery[0, 0, 0:4] = True
    labels[artery] = 0
    dr2 = np.zeros((2, 8, 8, t.size))
    dr2[labels == 1] = curves[60.0]
    dr2[labels == 2] = curves[30.0]
    dr2[artery] = aif
    signal = 2000.0 * np.exp(-te_s * dr2)
    frames = [signal[..., i] for i in range(t.size)]
    per_frame = [{"TemporalPositionIdentifier": i + 1, "TriggerTime": f"{ti * 1000:.1f}"} for i, ti in enumerate(t)]
    _write_dynamic(tmp_path / "DSC", frames, per_frame, {"EchoTime": "30"})
    reference = read_dynamic_series(tmp_path / "DSC")[0]
    write_image(reference.with_array(labels), tmp_path / "labels.nii.gz")
    out = tmp_path / "dsc"
    code, _ = run(["dsc", tmp_path / "DSC", "--mask", tmp_path / "labels.nii.gz", "--aif-voxels", "4",
                   "--reference-roi", "label_2", "--n-baseline", "4", "--out", out])
    assert code == 0
    chosen = np.asarray(read_image_array(out / "aif_voxels.nii.gz"), dtype=bool)
    assert np.array_equal(chosen, artery)
    listed = read_rows(out / "aif_voxels.csv")  # the chosen voxels are reported, best first
    assert {(int(r["z"]), int(r["y"]), int(r["x"])) for r in listed} == set(zip(*np.nonzero(artery)))
    assert float(listed[0]["time_to_peak_s"]) < 15.0
    for label, cbf in (("label_1", 60.0), ("label_2", 30.0)):
        cbv = cbf * 4.0 / 60.0
        assert abs(roi_stat(out, label, "cbv_ml_per_100ml") - cbv) <= 1 + 0.1 * cbv
        assert abs(roi_stat(out, label, "cbf_ml_per_100ml_per_min") - cbf) <= 15 + 0.1 * cbf
    assert roi_stat(out, "label_1", "rcbv", "median") == pytest.approx(2.0, rel=0.05)
    assert (out / "cbf_ml_per_100ml_per_min.png").exists()


def read_image_array(path):
    from imagebio.io.nifti import read_image

    return read_image(path).array


# ------------------------------------------------------------------------------------------------ bad input
def _dce_frames(n, times_s):
    return [np.full((2, 4, 4), 1000.0 + 50 * min(i, 3)) for i in range(n)], [
        {"TemporalPositionIdentifier": i + 1, "TriggerTime": f"{t * 1000:.1f}"} for i, t in enumerate(times_s)]


def test_dce_missing_flip_angle_is_named(tmp_path, capsys):
    frames, per_frame = _dce_frames(10, np.arange(10) * 5.0)
    _write_dynamic(tmp_path / "DCE", frames, per_frame, {"RepetitionTime": "4"})
    code, err = run(["dce", tmp_path / "DCE", "--t1", "1.0", "--out", tmp_path / "o"], capsys)
    assert code == 2
    assert "FlipAngle (0018,1314)" in err and "signal to concentration" in err


def test_dce_missing_repetition_time_is_named(tmp_path, capsys):
    frames, per_frame = _dce_frames(10, np.arange(10) * 5.0)
    _write_dynamic(tmp_path / "DCE", frames, per_frame, {"FlipAngle": "15"})
    code, err = run(["dce", tmp_path / "DCE", "--t1", "1.0", "--out", tmp_path / "o"], capsys)
    assert code == 2 and "RepetitionTime (0018,0080)" in err


def test_dce_non_increasing_frame_times(tmp_path, capsys):
    times = np.arange(10) * 5.0
    times[6] = times[5]  # trigger time repeats while the temporal position advances
    frames, per_frame = _dce_frames(10, times)
    _write_dynamic(tmp_path / "DCE", frames, per_frame, {"FlipAngle": "15", "RepetitionTime": "4"})
    code, err = run(["dce", tmp_path / "DCE", "--t1", "1.0", "--out", tmp_path / "o"], capsys)
    assert code == 2 and "frame 6 at 25 s after frame 5 at 25 s" in err and "strictly increasing" in err


def test_dce_series_too_short_for_the_model(tmp_path, capsys):
    frames, per_frame = _dce_frames(4, np.arange(4) * 5.0)
    _write_dynamic(tmp_path / "DCE", frames, per_frame, {"FlipAngle": "15", "RepetitionTime": "4"})
    code, err = run(["dce", tmp_path / "DCE", "--t1", "1.0", "--model", "etofts", "--out", tmp_path / "o"], capsys)
    assert code == 2 and "4 frames" in err and "at least 5 frames" in err


def test_vfa_missing_repetition_time_is_named(tmp_path, capsys):
    frames = [np.full((2, 4, 4), 100.0 * a) for a in (2, 10, 15)]
    _write_dynamic(tmp_path / "VFA", frames, [{"FlipAngle": f"{a}"} for a in (2, 10, 15)], {})
    code, err = run(["t1", tmp_path / "VFA", "--out", tmp_path / "o"], capsys)
    assert code == 2 and "RepetitionTime (0018,0080)" in err and "variable-flip-angle" in err


def test_dce_needs_one_t1_source_and_known_names(tmp_path, capsys):
    frames, per_frame = _dce_frames(10, np.arange(10) * 5.0)
    _write_dynamic(tmp_path / "DCE", frames, per_frame, {"FlipAngle": "15", "RepetitionTime": "4"})
    code, err = run(["dce", tmp_path / "DCE", "--out", tmp_path / "o"], capsys)
    assert code == 2 and "exactly one source of pre-contrast T1" in err
    code, err = run(["dce", tmp_path / "DCE", "--t1", "1", "--model", "tofts2"], capsys)
    assert code == 2 and "--model" in err
    table = tmp_path / "bad.csv"
    table.write_text("curve_id,t_s,c_tissue_mM\na,0,0\n")
    code, err = run(["dce", "fit-curves", table], capsys)
    assert code == 2 and "c_plasma_mM" in err


def test_help_of_the_room_commands(capsys):
    for command in (["dce", "--help"], ["dce", "map", "--help"], ["dce", "fit-curves", "--help"], ["t1", "--help"],
                    ["dsc", "fit-curves", "--help"]):
        code, _ = run(command)
        assert code == 0
