"""`imagebio ingest`, `subjects` and `series` against an SQLite store."""

import shutil
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from imagebio.cli.main import main

DATA = Path(__file__).resolve().parents[1] / "data"


def run(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def test_ingest_twice_then_list(tmp_path, capsys):
    folder = tmp_path / "dicom"
    shutil.copytree(DATA / "ibsi_validation" / "dicom" / "STS_003" / "PET", folder / "PET")
    shutil.copy(get_testdata_file("MR_truncated.dcm"), folder / "broken.dcm")
    db = str(tmp_path / "store.db")
    code, out, err = run(["ingest", str(folder), "--db", db], capsys)
    assert code in (0, None)
    assert "2 new series" in out and "1 files skipped" in out
    assert "broken.dcm" in err and "truncated" in err
    code, out, _ = run(["ingest", str(folder), "--db", db], capsys)
    assert "0 new series" in out and "2 already stored" in out
    code, out, _ = run(["subjects", "--db", db], capsys)
    assert "STS_003" in out
    code, out, _ = run(["series", "--db", db, "--modality", "PT"], capsys)
    assert "PT" in out and "RTSTRUCT" not in out


def test_unreachable_store_is_a_one_line_error(tmp_path, capsys):
    code, _, err = run(["subjects", "--db", "postgresql+psycopg://nobody:secret@127.0.0.1:1/none"], capsys)
    assert code == 2
    assert "secret" not in err  # the password is masked in messages
