"""Study spec validation: every mistake is one clear line naming its place in the file, before any work."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from imagebio.cli.main import main
from imagebio.errors import SpecError
from imagebio.pipeline.spec import load_spec, parse_spec

TEMPLATE = Path(__file__).resolve().parents[2] / "src" / "imagebio" / "pipeline" / "templates" / "study_example.yaml"


def base() -> dict:
    return {
        "name": "t",
        "inputs": {"store": "s.db"},
        "analyses": [
            {"name": "lesions", "kind": "lesion_biomarkers"},
            {"name": "rad", "kind": "radiomics", "settings": {"preset": "ibsi_config_a", "bin_width": 25}},
            {"name": "pet", "kind": "pet_metrics"},
        ],
        "outputs": {"csv": "out/m.csv"},
    }


def error_of(data, **kwargs) -> str:
    with pytest.raises(SpecError) as info:
        parse_spec(data, source="study.yaml", **kwargs)
    text = str(info.value)
    assert "\n" not in text
    return text


def test_the_shipped_example_is_valid_and_resolves_paths_next_to_the_file():
    spec = load_spec(TEMPLATE, check_paths=False)
    assert [a.kind for a in spec.analyses] == ["lesion_biomarkers", "radiomics", "pet_metrics", "response"]
    assert spec.analysis("recist").settings["criteria"] == "recist11"
    assert spec.analysis("radiomics_ct").depends_on == ("lesions",)
    assert spec.analysis("radiomics_ct").settings["resolved"]["bin_width"] == 25
    assert spec.analysis("pet").select.modalities == ("PT",)
    assert spec.analysis("lesions").select.modalities == ("CT", "PT", "MR")
    assert spec.csv == TEMPLATE.parent / "results" / "measurements.csv"
    assert spec.store == str(TEMPLATE.parent / "imagebio.db")


def test_wrong_type_names_the_path_and_the_value():
    data = base()
    data["analyses"][1]["settings"]["bin_width"] = "x"
    assert error_of(data) == "study.yaml: analyses[1].settings.bin_width: expected a number, got 'x'"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d.update(analyses_typo=1), "study.yaml: analyses_typo: unknown key 'analyses_typo'"),
        (lambda d: d["inputs"].update(dicom_root=["x"]), "inputs.dicom_root: unknown key"),
        (lambda d: d["analyses"][1]["settings"].update(bin_widht=3), "analyses[1].settings.bin_widht: unknown key"),
        (lambda d: d["analyses"][0].update(setings={}), "analyses[0].setings: unknown key"),
        (lambda d: d["analyses"][1]["settings"].update(preset="ibsi_config_z"), "unknown radiomics preset"),
        (lambda d: d["analyses"][2].update(kind="pet_metric"), "analyses[2].kind: unknown analysis kind 'pet_metric'"),
        (lambda d: d["analyses"][2].update(name="lesions"), "analyses[2].name: duplicate analysis name 'lesions'"),
        (lambda d: d["analyses"][0].update(depends_on=["rad"]), "analyses[0].depends_on[0]: unknown analysis 'rad'"),
        (lambda d: d.update(select={"series_description": "(unclosed"}), "select.series_description: invalid regular"),
        (lambda d: d.update(select={"rois": [3]}), "select.rois[0]: expected a non-empty string, got 3"),
        (lambda d: d["analyses"][0].update(settings={"series": ["CT", "XR"]}), "analyses[0].settings.series[1]"),
        (lambda d: d["analyses"][0].update(settings={"dce": {"hct": "high"}}), "analyses[0].settings.dce.hct"),
        (lambda d: d["analyses"][2].update(settings={"absolute_thresholds": 2.5}), "expected a list of numbers"),
        (lambda d: d["analyses"][1]["settings"].update(discretisation="fbx"), "analyses[1].settings: "),
        (lambda d: d.update(analyses=[]), "analyses: expected a non-empty list"),
        (lambda d: d["outputs"].update(parquet="x"), "outputs.parquet: unknown key"),
        (lambda d: d["analyses"].append({"kind": "response", "settings": {"criteria": "recist2"}}),
         "analyses[3].settings.criteria: expected one of recist11"),
        (lambda d: d["analyses"].append({"kind": "response", "settings": {"confirmm": True}}), "analyses[3].settings: "),
        (lambda d: d["analyses"].extend([{"kind": "response"}, {"kind": "pet_metrics", "name": "p2",
                                                                  "depends_on": ["response"]}]),
         "analyses[4].depends_on[0]: 'response' runs once per subject"),
    ],
)
def test_mistakes_are_reported_with_their_place(edit, expected):
    data = base()
    edit(data)
    assert expected in error_of(data)


def test_missing_input_folder_is_reported(tmp_path):
    data = base()
    data["inputs"]["dicom"] = ["no_such_folder"]
    text = error_of(data, base_dir=tmp_path)
    assert "inputs.dicom[0]" in text and "no_such_folder" in text and "does not exist" in text


def test_settings_are_normalised_so_equal_specs_hash_equal():
    from imagebio.pipeline.tasks import analysis_hashes

    one, two = base(), base()
    two["analyses"][1]["settings"]["bin_width"] = 25.0
    assert analysis_hashes(parse_spec(one)) == analysis_hashes(parse_spec(two))


def test_file_errors(tmp_path):
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("analyses: [\n", encoding="utf-8")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(bad)


def test_cli_run_with_a_typo_fails_in_one_line_before_touching_the_store(tmp_path, capsys):
    data = base()
    data["analyses"][0]["kindd"] = "x"
    spec = tmp_path / "study.yaml"
    spec.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(SystemExit) as info:
        main(["run", str(spec), "--in-process"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "analyses[0].kindd: unknown key 'kindd'" in err
    assert not (tmp_path / "s.db").exists()


def test_init_study_writes_the_commented_example(tmp_path):
    target = tmp_path / "my_study.yaml"
    with pytest.raises(SystemExit) as info:
        main(["init-study", str(target)])
    assert info.value.code in (0, None)
    assert target.read_text(encoding="utf-8") == TEMPLATE.read_text(encoding="utf-8")
    assert yaml.safe_load(target.read_text(encoding="utf-8"))["analyses"]
    with pytest.raises(SystemExit) as info:
        main(["init-study", str(target)])
    assert info.value.code == 2
