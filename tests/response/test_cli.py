"""``imagebio response``: the table path on the shipped example, and the store path's command parsing.

Expected categories of the example table, from RECIST 1.1 (Eisenhauer 2009):

* P01: targets L1 42 mm, L2 25 mm, node N1 17 mm short axis: baseline sum 84 mm. Follow-ups 30+15+9 = 54 mm
  (-35.7 %) and 28+12+8 = 48 mm (-42.9 %): PR at both (≥ 30 % decrease, section 4.3.1); best PR, also with
  confirmation (second PR 56 days later ≥ 28 days, section 4.6).
* P02: target L1 20 mm. 2024-04-08: 23 mm (+15 %) with an equivocal new lesion: SD at first; 2024-06-03: 24 mm
  (+20 % but only +4 mm, under the 5 mm minimum) and the new lesion now unequivocal: PD, dated back to
  2024-04-08 where the lesion was first seen (section 4.3.3), so that row shows PD revised from SD; best PD.
"""

import csv
import json

import pytest

from imagebio.cli.main import main
from imagebio.response import example_table_path

EXPECTED = {
    ("P01", "2024-01-08"): "baseline",
    ("P01", "2024-03-04"): "PR",
    ("P01", "2024-04-29"): "PR",
    ("P01", "best"): "PR",
    ("P02", "2024-02-12"): "baseline",
    ("P02", "2024-04-08"): "PD",
    ("P02", "2024-06-03"): "PD",
    ("P02", "best"): "PD",
}


def run(args):
    with pytest.raises(SystemExit) as info:
        main(args)
    return info.value.code or 0


@pytest.mark.parametrize("confirm", [False, True])
def test_assess_example_table_writes_one_row_per_time_point_and_a_best_row(tmp_path, confirm):
    out = tmp_path / "out.csv"
    args = ["response", "assess", str(example_table_path()), "--criteria", "recist11", "--out", str(out)]
    assert run(args + (["--confirm"] if confirm else [])) == 0
    with open(out) as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["subject"], r["timepoint"]): r["category"] for r in rows} == EXPECTED
    assert len(rows) == len(EXPECTED)
    revised = next(r for r in rows if (r["subject"], r["timepoint"]) == ("P02", "2024-04-08"))
    assert revised["revised_from"] == "SD"
    assert "NEW1" in revised["reason"]
    assert all(r["reason"] for r in rows)


def test_assess_prints_reasons_and_writes_plots(tmp_path, capsys):
    assert run(["response", "assess", str(example_table_path()), "--plots", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "rule 13" in printed and "P02" in printed
    for name in ("response_recist11_waterfall.png", "response_recist11_spider.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "criteria, extra",
    [
        ("irecist", []),
        ("mrecist", []),
        ("choi", []),
        ("percist", []),
        ("rano2", []),
        ("lugano", ["--set", "basis=ct"]),  # the example has no Deauville scores for PET-based Lugano
        ("volumetric", []),
    ],
)
def test_assess_runs_every_criterion_on_the_example(criteria, extra, capsys):
    assert run(["response", "assess", str(example_table_path()), "--criteria", criteria, "--json", *extra]) == 0
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert payload["criteria"] == criteria
    assert {r["timepoint"] for r in payload["rows"] if r["subject"] == "P01"} >= {"best", "2024-03-04"}


def test_unknown_criterion_is_one_line_and_exit_2(capsys):
    assert run(["response", "assess", str(example_table_path()), "--criteria", "who"]) == 2
    assert "--criteria" in capsys.readouterr().err


def test_missing_table_is_a_typed_error(tmp_path, capsys):
    assert run(["response", "assess", str(tmp_path / "none.csv")]) == 2
    assert "not found" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["response", "--criteria", "recist11", "--db", "{db}", "--json"],  # options before any sub-command
        ["response", "--db", "{db}", "--json"],
        ["response", "store", "--criteria", "recist11", "--db", "{db}", "--json"],
    ],
)
def test_store_path_is_the_default_command(tmp_path, capsys, args):
    db = str(tmp_path / "empty.db")
    assert run([a.replace("{db}", db) for a in args]) == 0
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert payload == {
        "criteria": "recist11", "rows": [], "out": None, "plots": [], "store": payload["store"], "failed": {}
    }
    assert payload["store"].endswith("empty.db")


def test_store_path_unknown_subject_is_a_typed_error(tmp_path, capsys):
    assert run(["response", "--subject", "NOPE", "--db", str(tmp_path / "empty.db")]) == 2
    assert "NOPE" in capsys.readouterr().err


def test_settings_file_and_set_options(tmp_path, capsys):
    """P01's best PR needs a confirming scan: with min_confirmation_days 60 > 56 days it is unconfirmed.

    RECIST 1.1 section 4.6: an unconfirmed response counts as SD when seen at least min_sd_days after baseline
    (2024-03-04 is 56 days after 2024-01-08 >= 42).
    """
    settings = tmp_path / "recist.yaml"
    settings.write_text("confirm: true\nmin_confirmation_days: 60\n")
    assert run(["response", "assess", str(example_table_path()), "--settings", str(settings), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["rows"]
    assert next(r for r in rows if r["subject"] == "P01" and r["timepoint"] == "best")["category"] == "SD"
    args = ["response", "assess", str(example_table_path()), "--settings", str(settings), "--set",
            "min_confirmation_days=28", "--json"]
    assert run(args) == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["rows"]
    assert next(r for r in rows if r["subject"] == "P01" and r["timepoint"] == "best")["category"] == "PR"


def test_bad_set_option_is_a_typed_error(capsys):
    assert run(["response", "assess", str(example_table_path()), "--set", "nonsense"]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err
    assert run(["response", "assess", str(example_table_path()), "--set", "no_such_setting=1"]) == 2
    assert "no_such_setting" in capsys.readouterr().err
