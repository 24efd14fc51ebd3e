"""`imagebio dosimetry`: calculators against the worked numbers of tests/data/dosimetry/reference_values.json,
the kernel export against the tabulated octant, and the PLAN.yaml command with --db."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from imagebio.cli.main import main

REFERENCE = json.loads((Path(__file__).resolve().parents[1] / "data" / "dosimetry" / "reference_values.json")
                       .read_text(encoding="utf-8"))


def run_json(args, capsys) -> dict:
    with pytest.raises(SystemExit) as info:
        main(["dosimetry", *map(str, args), "--json"])
    assert info.value.code in (0, None)
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_bed_worked_examples(capsys):
    for key in ("kidney_example", "kidney_example_alt_params"):
        example = REFERENCE["bed"][key]
        i = example["inputs"]
        out = run_json(["bed", "--dose-gy", i["D_Gy"], "--alpha-beta-gy", i["alpha_beta_Gy"],
                        "--repair-half-life-h", i["T_rep_h"], "--effective-half-life-h", i["T_eff_h"]], capsys)
        assert out["bed_gy"] == pytest.approx(example["expected"]["BED_Gy"], rel=1e-6)
        assert out["eqd2_gy"] == pytest.approx(out["bed_gy"] / (1 + 2 / i["alpha_beta_Gy"]), rel=1e-12)


def test_bed_split_into_fractions(capsys):
    one = run_json(["bed", "--dose-gy", 23, "--alpha-beta-gy", 2.6, "--repair-half-life-h", 2.8,
                    "--effective-half-life-h", 40], capsys)
    four = run_json(["bed", "--dose-gy", 23, "--alpha-beta-gy", 2.6, "--repair-half-life-h", 2.8,
                     "--effective-half-life-h", 40, "--fractions", 4], capsys)
    g = 2.8 / (2.8 + 40)
    assert four["bed_gy"] == pytest.approx(4 * 5.75 * (1 + g * 5.75 / 2.6), rel=1e-12)
    assert four["bed_gy"] < one["bed_gy"]


def test_y90_partition_worked_example_both_ways(capsys):
    example = REFERENCE["y90"]["partition_example"]
    i, e = example["inputs"], example["expected"]
    common = ["y90-partition", "--tumour-mass-kg", i["M_T_kg"], "--normal-mass-kg", i["M_N_kg"], "--tnr",
              i["T_over_N"], "--lung-shunt", i["LSF"], "--lung-mass-kg", i["M_L_kg"], "--gy-kg-per-gbq", i["K"]]
    out = run_json([*common, "--target-normal-gy", i["D_N_Gy"]], capsys)
    assert out["activity_gbq"] == pytest.approx(e["A_GBq"], rel=1e-6)
    assert out["tumour_dose_gy"] == pytest.approx(e["D_T_Gy"], rel=1e-6)
    assert out["lung_dose_gy"] == pytest.approx(e["D_L_Gy"], rel=1e-6)
    assert out["normal_dose_gy"] == pytest.approx(i["D_N_Gy"], rel=1e-12)
    back = run_json([*common, "--activity-gbq", e["A_GBq"]], capsys)
    assert back["normal_dose_gy"] == pytest.approx(i["D_N_Gy"], rel=1e-6)
    assert back["lung_limits_ok"] is True
    with pytest.raises(SystemExit) as info:
        main(["dosimetry", *map(str, common)])
    assert info.value.code == 2


def test_kernel_octant_equals_tabulated_file(tmp_path, capsys):
    out = tmp_path / "kernel.csv"
    with pytest.raises(SystemExit) as info:
        main(["dosimetry", "kernel", "--nuclide", "lu177", "--voxel-mm", "4.8", "--tissue", "soft", "--out", str(out)])
    assert info.value.code in (0, None)
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["i", "j", "k", "s_mgy_per_mbq_s"] and len(rows) == 216
    table = Path(__file__).resolve().parents[1] / "data" / "dosimetry" / "lanconelli_voxel_s_values" / "177Lu4.8mmsoft.txt"
    tabulated = {}
    for line in table.read_text(encoding="latin-1").splitlines()[2:]:
        if line.strip():
            i, j, k, s = line.split()
            tabulated[(int(i), int(j), int(k))] = float(s)
    for r in rows:
        assert float(r["s_mgy_per_mbq_s"]) == pytest.approx(tabulated[(int(r["i"]), int(r["j"]), int(r["k"]))],
                                                            rel=1e-5)
    # 3.9 mm is between tables: interpolated, and S(0,0,0) lies between the neighbouring tabulated centres
    main_args = ["dosimetry", "kernel", "--nuclide", "lu177", "--voxel-mm", "3.9", "--out", str(tmp_path / "k39.csv")]
    with pytest.raises(SystemExit):
        main(main_args)
    centre = float(next(csv.DictReader((tmp_path / "k39.csv").open()))["s_mgy_per_mbq_s"])
    assert tabulated[(0, 0, 0)] < centre


@pytest.mark.slow
def test_plan_command_with_store(tmp_path, capsys):
    from imagebio.phantoms.theranostics import generate_theranostics_patient
    from imagebio.store import open_store
    from imagebio.store.queries import measurements_frame

    patient = generate_theranostics_patient(tmp_path / "patient", seed=2)
    db = tmp_path / "study.db"
    out = run_json([patient.plan_path, "--out", tmp_path / "out", "--db", db], capsys)
    truth = patient.truth()["regions"]
    for row in out["rows"]:
        assert row["mean_dose_gy"] == pytest.approx(truth[row["voi"]]["mean_dose_gy"], rel=0.05)
    assert out["next_cycle"]["limiting_voi"] == "kidneys"
    assert Path(out["files"]["dvh_png"]).exists() and Path(out["files"]["rtdose"]).exists()
    store = open_store(db)
    with store.session(readonly=True) as session:
        frame = measurements_frame(session)
    store.close()
    assert out["stored_values"] == len(frame)
    assert set(frame["roi"]) == set(truth)
