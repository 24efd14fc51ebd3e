"""`imagebio pet` and `imagebio kinetics` end to end.

* Digital cohort (imagebio.phantoms, ground truth by construction): SUVmax of every lesion equals the designed SUV
  within the phantom's own tolerance (rel 1e-4, int16 storage); PERCIST liver reference from the designed liver
  SUV 2.0; values recorded in the store.
* OncoRay DRO_0_0 (shared SOURCE.md section 5, exact by construction, tolerance 1e-3 relative): MTV41 = 32.96 mL,
  TLG = 131.84, SUVpeak = 4.00.
* Synthetic dynamic FDG series (tests/pet/kinetics/_dynamic_dicom.py): Patlak Ki map within 2 % of
  K1·k3/(k2 + k3) (issue 4 acceptance); typed errors for bad frames.
"""

from __future__ import annotations

import csv
import json
from datetime import timedelta

import numpy as np
import pydicom
import pytest

from imagebio.cli.main import main
from tests.pet.kinetics._dynamic_dicom import ki_map, write_dynamic_pet, write_input_csv

LIVER_CENTRE = "-50,-25,-150"  # imagebio.phantoms.digital_patients.LIVER_CENTRE_XYZ_MM


def run(args, capsys=None):
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    return info.value.code or 0


def read_table(path):
    with open(path) as handle:
        return {(r["roi"], r["name"]): (float(r["value"]), r["unit"]) for r in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    from imagebio.phantoms import generate_cohort

    return generate_cohort(tmp_path_factory.mktemp("cohort"), n_patients=1, seed=0)


def _janmahasatian_factor(weight_kg, height_m, sex):
    bmi = weight_kg / height_m**2
    male, female = 9270.0 / (6680.0 + 216.0 * bmi), 9270.0 / (8780.0 + 244.0 * bmi)
    return {"M": male, "F": female}.get(sex, (male + female) / 2)


@pytest.mark.slow
def test_cohort_suvmax_equals_ground_truth(cohort, tmp_path):
    patient = cohort.patients[0]
    for visit in patient.timepoints:
        out = tmp_path / f"{visit.name}.csv"
        code = run(["pet", cohort.series_folder(patient.patient_id, visit.name, "PT"),
                    "--mask", cohort.series_folder(patient.patient_id, visit.name, "SEG"),
                    "--liver-centre", LIVER_CENTRE, "--out", out])
        assert code == 0
        table = read_table(out)
        for lesion in visit.lesions:
            value, unit = table[(lesion.name, "suvbw_max")]
            assert unit == "SUVbw"
            assert value == pytest.approx(lesion.suv_max, rel=1e-4), (visit.name, lesion.name)
            assert table[(lesion.name, "n_voxels")][0] == lesion.n_voxels
            assert table[(lesion.name, "volume_ml")][0] == pytest.approx(lesion.volume_ml_voxelised, rel=1e-9)
        assert table[("whole_body", "n_lesions")][0] == len(visit.lesions)
        # designed liver SUVbw 2.0 → SUL 2·f; PERCIST threshold = 1.5 × mean + 2 × SD
        factor = _janmahasatian_factor(visit.pet.patient_weight_kg, patient.height_m, patient.sex)
        assert table[("liver_reference", "sul_mean")][0] == pytest.approx(2.0 * factor, rel=1e-4)
        assert table[("liver_reference", "percist_threshold")][0] == pytest.approx(3.0 * factor, rel=1e-3)


@pytest.mark.slow
def test_cohort_measurements_in_the_store_and_mip(cohort, tmp_path):
    from imagebio.store import open_store
    from imagebio.store.queries import measurements_frame

    patient = cohort.patients[0]
    db = tmp_path / "study.db"
    assert run(["ingest", cohort.root / "dicom", "--db", db]) == 0
    args = ["pet", cohort.series_folder(patient.patient_id, "baseline", "PT"),
            "--mask", cohort.series_folder(patient.patient_id, "baseline", "SEG"), "--db", db,
            "--mip", tmp_path / "mip.png", "--out", tmp_path / "t.csv"]
    assert run(args) == 0
    assert run(args) == 0  # a rerun updates, never duplicates
    assert (tmp_path / "mip.png").read_bytes()[:4] == b"\x89PNG"
    with open_store(db).session(readonly=True) as session:
        frame = measurements_frame(session, subject=patient.patient_id, name="suvbw_max")
    assert len(frame) == len(patient.timepoint("baseline").lesions)
    for lesion in patient.timepoint("baseline").lesions:
        row = frame[frame["roi"] == lesion.name].iloc[0]
        assert row["value"] == pytest.approx(lesion.suv_max, rel=1e-4)
        assert row["unit"] == "SUVbw" and row["timepoint"] == "baseline" and row["method"] == "pet-metrics"


def test_series_not_in_the_store_is_an_error(cohort, tmp_path, capsys):
    patient = cohort.patients[0]
    code = run(["pet", cohort.series_folder(patient.patient_id, "baseline", "PT"),
                "--mask", cohort.series_folder(patient.patient_id, "baseline", "SEG"), "--db", tmp_path / "empty.db",
                "--out", tmp_path / "t.csv"])
    assert code == 2
    assert "not in the store" in capsys.readouterr().err


def test_dro_0_0_mtv41_tlg_suvpeak(suv_dro_root, tmp_path):
    folder = suv_dro_root / "DRO_0_0"
    out = tmp_path / "dro.csv"
    assert run(["pet", folder / "PT", "--mask", folder / "RS" / "RS_dro_0_0.dcm", "--out", out]) == 0
    table = read_table(out)
    assert table[("region_1", "mtv_ml_41pct")][0] == pytest.approx(32.96, rel=1e-3)
    assert table[("region_1", "tlg_41pct")][0] == pytest.approx(131.84, rel=1e-3)
    assert table[("region_1", "suvbw_peak")][0] == pytest.approx(4.00, rel=1e-3)
    assert table[("region_1", "suvbw_max")][0] == pytest.approx(4.00, abs=0.005)


@pytest.mark.parametrize("args", [["--liver-centre", "1,2"], ["--quantity", "suvxyz"], ["--roi", "nope"]])
def test_bad_pet_options_exit_2(args, suv_dro_root, capsys):
    folder = suv_dro_root / "DRO_0_0"
    assert run(["pet", folder / "PT", "--mask", folder / "RS" / "RS_dro_0_0.dcm", *args]) == 2
    err = capsys.readouterr().err
    assert len([line for line in err.splitlines() if line.strip()]) == 1


# --------------------------------------------------------------------------------------------- kinetics
@pytest.fixture(scope="module")
def dynamic(tmp_path_factory):
    root = tmp_path_factory.mktemp("dynamic")
    return write_dynamic_pet(root / "PT", injection_offset_s=60.0), write_input_csv(root / "plasma.csv")


@pytest.mark.parametrize("t_star", [None, 10.0])
def test_kinetics_patlak_ki_within_2_percent(dynamic, tmp_path, t_star):
    from imagebio.io.nifti import read_image

    series, plasma = dynamic
    out = tmp_path / "maps"
    extra = [] if t_star is None else ["--t-star", t_star]
    assert run(["kinetics", series, "--model", "patlak", "--input-function", plasma, "--out", out, *extra]) == 0
    ki = read_image(out / "patlak_ki.nii.gz")
    assert ki.shape == (4, 8, 8)
    np.testing.assert_allclose(ki.array, ki_map(), rtol=0.02)
    with open(out / "frames.csv") as handle:
        frames = list(csv.DictReader(handle))
    assert len(frames) == 20
    assert float(frames[0]["start_min"]) == pytest.approx(1.0)  # injection 60 s before the first frame
    assert float(frames[-1]["duration_min"]) == pytest.approx(5.0)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["maps"]["ki"]["unit"] == "mL/cm3/min"
    if t_star is not None:
        assert summary["t_star_min"] == pytest.approx(t_star)


def _rewrite(folder, tmp_path, change):
    target = tmp_path / "PT"
    target.mkdir()
    for path in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(path)
        change(path.name, ds)
        ds.save_as(target / path.name)
    return target


def _kinetics_error(series, plasma, tmp_path, capsys):
    code = run(["kinetics", series, "--model", "patlak", "--input-function", plasma, "--out", tmp_path / "o"])
    return code, capsys.readouterr().err


def test_kinetics_negative_duration_names_the_frame(dynamic, tmp_path, capsys):
    series, plasma = dynamic

    def negative(name, ds):
        if name.startswith("f05_"):
            ds.ActualFrameDuration = -int(ds.ActualFrameDuration)

    code, err = _kinetics_error(_rewrite(series, tmp_path, negative), plasma, tmp_path, capsys)
    assert code == 2 and "ActualFrameDuration" in err and "frame 5" in err


def test_kinetics_overlapping_frames_name_the_frame(dynamic, tmp_path, capsys):
    series, plasma = dynamic

    def early(name, ds):
        if name.startswith("f09_"):  # frame 9 starts 10 s after frame 8 starts, inside its 60 s
            ds.AcquisitionTime = "093410.000000"

    code, err = _kinetics_error(_rewrite(series, tmp_path, early), plasma, tmp_path, capsys)
    assert code == 2 and "frame 9" in err and "time order" in err


def test_kinetics_without_radiopharmaceutical_sequence(dynamic, tmp_path, capsys):
    series, plasma = dynamic
    code, err = _kinetics_error(
        _rewrite(series, tmp_path, lambda name, ds: delattr(ds, "RadiopharmaceuticalInformationSequence")),
        plasma, tmp_path, capsys)
    assert code == 2 and "RadiopharmaceuticalInformationSequence (0054,0016)" in err


def test_kinetics_model_needs_its_input(dynamic, tmp_path, capsys):
    series, _ = dynamic
    assert run(["kinetics", series, "--model", "srtm", "--out", tmp_path / "o"]) == 2
    assert "--reference-mask" in capsys.readouterr().err
    assert run(["kinetics", series, "--model", "2tcm", "--out", tmp_path / "o"]) == 2


def test_dro_0_0_as_sul(suv_dro_root, tmp_path):
    # 70 kg, 1.75 m, sex O (mean of the male and female Janmahasatian LBM, as io.body_size defines it)
    folder = suv_dro_root / "DRO_0_0"
    out = tmp_path / "sul.csv"
    assert run(["pet", folder / "PT", "--mask", folder / "RS" / "RS_dro_0_0.dcm", "--quantity", "sul",
                "--out", out]) == 0
    table = read_table(out)
    factor = _janmahasatian_factor(70.0, 1.75, "O")
    assert table[("region_1", "sul_max")] == (pytest.approx(4.0 * factor, abs=0.005 * factor), "SUL")
    assert table[("region_1", "sul_peak")][0] == pytest.approx(4.0 * factor, rel=1e-3)


@pytest.mark.slow
def test_cohort_liver_mask_file(cohort, tmp_path):
    from imagebio.io.nifti import write_image
    from imagebio.io.pet import read_pet
    from imagebio.phantoms.digital_patients import LIVER_CENTRE_XYZ_MM, LIVER_SEMI_AXES_MM

    patient = cohort.patients[0]
    pet_folder = cohort.series_folder(patient.patient_id, "baseline", "PT")
    image = read_pet(pet_folder)
    index = np.stack(np.meshgrid(*[np.arange(n) for n in image.shape], indexing="ij"), axis=-1)
    xyz = image.index_to_physical(index)
    inside = (((xyz - np.array(LIVER_CENTRE_XYZ_MM)) / np.array(LIVER_SEMI_AXES_MM)) ** 2).sum(axis=-1) <= 1.0
    liver = tmp_path / "liver.nii.gz"
    write_image(image.with_array(inside.astype(np.uint8), unit=""), liver)
    out = tmp_path / "t.csv"
    assert run(["pet", pet_folder, "--mask", cohort.series_folder(patient.patient_id, "baseline", "SEG"),
                "--liver", liver, "--out", out]) == 0
    table = read_table(out)
    factor = _janmahasatian_factor(patient.timepoint("baseline").pet.patient_weight_kg, patient.height_m, patient.sex)
    assert table[("liver_reference", "sul_mean")][0] == pytest.approx(2.0 * factor, rel=1e-4)
    assert table[("liver_reference", "n_voxels")][0] > 1000  # the 3 cm sphere fits in the liver


def test_kinetics_masks_reach_the_models(tmp_path):
    # plumbing: image-derived input (--blood-mask), reference region (--reference-mask) and --mask give the maps
    # of the room's functions called directly on the same frames
    from imagebio.io.dicom import read_dynamic_series
    import nibabel as nib

    from imagebio.io.nifti import write_image
    from imagebio.pet.kinetics import dynamic_frame_times, image_derived_input, parametric_maps, region_tac
    from tests.pet.kinetics._dynamic_dicom import BLOOD_ROW

    series = write_dynamic_pet(tmp_path / "PT", blood_row=True)
    volumes = read_dynamic_series(series)
    grid = volumes[0]
    blood = np.zeros(grid.shape, np.uint8)
    blood[BLOOD_ROW] = 1
    reference = np.zeros(grid.shape, np.uint8)
    reference[3, 6:, :] = 1
    tissue = np.ones(grid.shape, np.uint8)
    tissue[BLOOD_ROW] = 0
    for name, array in (("blood", blood), ("reference", reference), ("tissue", tissue)):
        write_image(grid.with_array(array, unit=""), tmp_path / f"{name}.nii.gz")
    dynamic = np.stack([v.array for v in volumes])
    frames = dynamic_frame_times(volumes, grid.acquisition_time - timedelta(seconds=60))  # injection 60 s earlier
    cases = [
        ("patlak", ["--blood-mask", tmp_path / "blood.nii.gz", "--t-star", "10"], "ki",
         dict(input_function=image_derived_input(dynamic, blood.astype(bool), frames), t_star_min=10.0)),
        ("srtm", ["--reference-mask", tmp_path / "reference.nii.gz"], "bp_nd",
         dict(reference_tac=region_tac(dynamic, reference.astype(bool)))),
        ("logan", ["--reference-mask", tmp_path / "reference.nii.gz", "--t-star", "15"], "dvr",
         dict(reference_tac=region_tac(dynamic, reference.astype(bool)), t_star_min=15.0)),
    ]
    for model, options, key, direct in cases:
        out = tmp_path / model
        assert run(["kinetics", series, "--model", model, *options, "--mask", tmp_path / "tissue.nii.gz",
                    "--out", out]) == 0
        expected = parametric_maps(dynamic, frames, model, mask=tissue.astype(bool), **direct).maps[key]
        # nibabel: SimpleITK's NIfTI reader turns the NaN of voxels outside --mask into 0
        got = np.asarray(nib.load(out / f"{model}_{key}.nii.gz").dataobj).transpose(2, 1, 0)
        np.testing.assert_allclose(got, expected, rtol=1e-6, equal_nan=True, err_msg=model)
        assert np.isnan(got[BLOOD_ROW]).all() and np.isfinite(got[tissue.astype(bool)]).any()
