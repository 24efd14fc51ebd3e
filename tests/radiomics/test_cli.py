"""`imagebio radiomics` (extract and batch), in-process through ``imagebio.cli.main.main``.

The CSV of the default command must hold exactly what ``extract_features`` returns for the same files and settings
(the IBSI diagnostic rows included); the digital-phantom run is additionally checked against IBSI reference values.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from imagebio.cli.main import main
from imagebio.radiomics import extract_features, load_settings

from ._ibsi_tables import IBSI_DIR, ibsi_match, read_reference_rows

PHANTOM = IBSI_DIR / "ibsi_1_digital_phantom"
IMAGE = PHANTOM / "image" / "phantom.nii.gz"
MASK = PHANTOM / "mask" / "mask.nii.gz"


def run_cli(args) -> int:
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    return info.value.code or 0


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_extract_digital_phantom_csv_matches_api_and_ibsi(tmp_path, digital_phantom):
    out = tmp_path / "features.csv"
    assert run_cli(["radiomics", IMAGE, MASK, "--preset", "ibsi-dig", "--out", out]) == 0
    rows = read_csv(out)
    assert list(rows[0]) == ["tag", "value"]
    table = {r["tag"]: float(r["value"]) for r in rows}
    image, mask = digital_phantom
    expected = extract_features(image, mask, settings="ibsi-dig")
    assert table.keys() == expected.keys()
    for tag, value in expected.items():
        assert table[tag] == value or (math.isnan(value) and math.isnan(table[tag])), tag
    assert table["img_dim_x_init_img"] == image.array.shape[2]  # IBSI diagnostic rows are part of the output
    references = read_reference_rows("digital_phantom")
    misses = [r["tag"] for r in references
              if not ibsi_match(table[r["tag"]], r["reference value"], float(r["tolerance"] or 0))]
    assert not misses, misses


def test_extract_same_command_name_and_config_file(tmp_path):
    config = tmp_path / "settings.yaml"
    settings = load_settings("ibsi-dig").to_dict()
    settings["texture_approaches"] = ["3D"]
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    out = tmp_path / "features.csv"
    assert run_cli(["radiomics", "extract", IMAGE, MASK, "--config", config, "--out", out]) == 0
    tags = {r["tag"] for r in read_csv(out)}
    assert "cm_joint_max_3D_avg" in tags and "cm_joint_max_2D_avg" not in tags


def test_extract_to_stdout(capsys):
    assert run_cli(["radiomics", IMAGE, MASK, "--preset", "ibsi-dig"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "tag,value"
    tags = dict(line.split(",", 1) for line in lines[1:])
    assert float(tags["morph_vol_approx"]) == pytest.approx(592.0)  # IBSI digital phantom reference: 592 mm³


def _two_label_map(tmp_path: Path) -> Path:
    import SimpleITK as sitk

    reference = sitk.ReadImage(str(MASK))
    labels = sitk.GetArrayFromImage(reference).astype(np.uint8)
    labels[:, :, :2][labels[:, :, :2] == 1] = 2  # split the phantom ROI into two labels
    image = sitk.GetImageFromArray(labels)
    image.CopyInformation(reference)
    path = tmp_path / "labels.nii.gz"
    sitk.WriteImage(image, str(path))
    return path


def test_extract_several_rois_adds_roi_column_and_roi_selects(tmp_path):
    labels = _two_label_map(tmp_path)
    out = tmp_path / "both.csv"
    assert run_cli(["radiomics", IMAGE, labels, "--preset", "ibsi-dig", "--out", out]) == 0
    rows = read_csv(out)
    assert list(rows[0]) == ["roi", "tag", "value"]
    assert {r["roi"] for r in rows} == {"label_1", "label_2"}
    one = tmp_path / "one.csv"
    assert run_cli(["radiomics", IMAGE, labels, "--preset", "ibsi-dig", "--roi", "label_2", "--out", one]) == 0
    single = {r["tag"]: float(r["value"]) for r in read_csv(one)}
    both = {r["tag"]: float(r["value"]) for r in rows if r["roi"] == "label_2"}
    assert single == pytest.approx(both, nan_ok=True)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--preset", "ibsi-z"], "preset"),
        (["--preset", "ibsi-dig", "--roi", "tumour"], "tumour"),
    ],
)
def test_extract_bad_options_exit_2(extra, message, capsys):
    assert run_cli(["radiomics", IMAGE, MASK, *extra]) == 2
    assert message in capsys.readouterr().err


def test_extract_preset_and_config_together_is_an_error(tmp_path, capsys):
    config = tmp_path / "s.yaml"
    config.write_text(yaml.safe_dump(load_settings("ibsi-dig").to_dict()), encoding="utf-8")
    assert run_cli(["radiomics", IMAGE, MASK, "--preset", "ibsi-dig", "--config", config]) == 2
    assert "one of --preset or --config" in capsys.readouterr().err


@pytest.mark.slow
def test_batch_records_lesion_features_in_the_store(tmp_path):
    from imagebio.phantoms import generate_cohort
    from imagebio.pipeline.visit import VisitSeries, load_visit
    from imagebio.store import hash_settings, ingest_folder, open_store
    from imagebio.store.queries import measurements_frame

    generate_cohort(tmp_path / "cohort", n_patients=1, seed=3)
    db = tmp_path / "study.db"
    store = open_store(db)
    ingest_folder(tmp_path / "cohort" / "dicom", store)
    assert run_cli(["radiomics", "batch", "--db", db, "--preset", "pyradiomics-default"]) == 0
    with store.session(readonly=True) as session:
        frame = measurements_frame(session, method="radiomics:pyradiomics-default")
    assert not frame.empty
    settings_hash = hash_settings(load_settings("pyradiomics-default").to_dict())
    assert set(frame["settings_hash"]) == {settings_hash}
    assert "morph_volume" in set(frame["name"]) and "cm_joint_avg_3D_avg" in set(frame["name"])
    # The stored values are extract_features on the visit's CT and lesion mask.
    from imagebio.cli.radiomics import _stored_visits

    with store.session(readonly=True) as session:
        visits = _stored_visits(session, None)
    _, patient, _, series = visits[0]
    items = [VisitSeries(role, uid, Path(path), sid) for role, uid, path, sid in series if role in ("CT", "SEG")]
    images, masks, _ = load_visit(items)
    roi, mask = next(iter(masks.items()))
    expected = extract_features(images.ct, mask, settings="pyradiomics-default")
    stored = frame[(frame["roi"] == roi) & (frame["subject"] == patient)]
    stored = stored[stored["series"] == images.ct.identifiers["series_uid"]]
    values = dict(zip(stored["name"], stored["value"]))
    assert values["morph_volume"] == pytest.approx(expected["morph_volume"], rel=1e-12)
    assert values["stat_mean"] == pytest.approx(expected["stat_mean"], rel=1e-12)
    n_rows = len(frame)
    # A rerun with two worker processes updates the same rows instead of adding new ones.
    assert run_cli(["radiomics", "batch", "--db", db, "--preset", "pyradiomics-default", "--workers", "2"]) == 0
    with store.session(readonly=True) as session:
        again = measurements_frame(session, method="radiomics:pyradiomics-default")
    assert len(again) == n_rows


@pytest.mark.parametrize(
    "alias, preset",
    [("ibsi-dig", "ibsi_digital_phantom"), ("ibsi-a", "ibsi_config_a"), ("ibsi-b", "ibsi_config_b"),
     ("ibsi-c", "ibsi_config_c"), ("ibsi-d", "ibsi_config_d"), ("ibsi-e", "ibsi_config_e"),
     ("pyradiomics-default", "pyradiomics_default")],
)
def test_preset_aliases_of_the_cli(alias, preset):
    assert load_settings(alias) == load_settings(preset)


def test_pyradiomics_default_bins_start_at_a_multiple_of_the_width(rng):
    # PyRadiomics getBinEdges: first edge floor(min / 25) * 25. ROI from -980 to 0 HU: edges -1000, -975, ...
    # so 0 HU is in bin 41; IBSI FBS from the ROI minimum (-980) would put it in bin 40.
    image = rng.uniform(-980.0, 0.0, (6, 6, 6))
    image[0, 0, 0], image[5, 5, 5] = -980.0, 0.0
    mask = np.ones(image.shape)
    default = load_settings("pyradiomics-default")
    assert (default.new_spacing_mm, default.resegmentation_range, default.bin_width) == (None, None, 25)
    assert default.texture_approaches == ("3D",)
    features = extract_features(image, mask, (1.0, 1.0, 1.0), "pyradiomics-default")
    assert features["ih_max"] == 41
    assert not any(tag.startswith(("ivh_", "loc_", "dzm_")) for tag in features)  # not PyRadiomics features
    ibsi_origin = extract_features(image, mask, (1.0, 1.0, 1.0),
                                   dataclasses.replace(default, fbs_bin_origin="lower_bound"))
    assert ibsi_origin["ih_max"] == 40


def test_extract_dicom_rtstruct_equals_nifti(tmp_path):
    # IBSI validation patient STS_003 (tests/data/ibsi_validation/SOURCE.md): the DICOM CT + RTSTRUCT and the NIfTI
    # conversion hold the same voxels; only the spacing differs in the NIfTI header's float32 precision.
    root = IBSI_DIR.parent / "ibsi_validation"
    dicom, nifti = root / "dicom" / "STS_003" / "CT", root / "nifti" / "STS_003"
    out_dicom, out_nifti = tmp_path / "dicom.csv", tmp_path / "nifti.csv"
    assert run_cli(["radiomics", dicom / "image", dicom / "mask" / "RS.dcm", "--preset", "pyradiomics-default",
                    "--out", out_dicom]) == 0
    assert run_cli(["radiomics", nifti / "CT_image.nii.gz", nifti / "CT_mask.nii.gz", "--preset",
                    "pyradiomics-default", "--out", out_nifti]) == 0
    from_dicom = {r["tag"]: float(r["value"]) for r in read_csv(out_dicom)}
    from_nifti = {r["tag"]: float(r["value"]) for r in read_csv(out_nifti)}
    assert from_dicom.keys() == from_nifti.keys()
    assert from_dicom["int_mask_vox_count_init_roi"] == from_nifti["int_mask_vox_count_init_roi"]
    for tag, value in from_nifti.items():
        assert from_dicom[tag] == pytest.approx(value, rel=1e-6, abs=1e-9, nan_ok=True), tag
