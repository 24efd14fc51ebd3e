"""The imagebio command line: help, version, and one-line errors with exit status 2."""

import shutil
import subprocess
import sys

import pytest
from pydicom.data import get_testdata_file

from imagebio.cli.main import main

COMMANDS = ["demo", "ingest", "subjects", "series", "roi-stats"]


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    code, out, _ = run_cli([command, "--help"], capsys)
    assert code == 0
    assert "Usage" in out


def test_version(capsys):
    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0 and out.startswith("imagebio ")


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    image = tmp_path / "image"
    image.mkdir()
    shutil.copy(get_testdata_file("MR_truncated.dcm"), image / "a.dcm")
    mask = tmp_path / "mask.nii.gz"
    mask.write_bytes(b"not an image")
    code, _, err = run_cli(["roi-stats", str(image), str(mask)], capsys)
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "truncated" in err and "Traceback" not in err


def test_debug_shows_the_traceback(tmp_path):
    image = tmp_path / "image"
    image.mkdir()
    shutil.copy(get_testdata_file("MR_truncated.dcm"), image / "a.dcm")
    result = subprocess.run(
        [sys.executable, "-m", "imagebio.cli.main", "--debug", "roi-stats", str(image), str(image / "a.dcm")],
        capture_output=True, text=True,
    )
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "UnsupportedDataError" in result.stderr


def test_help_does_not_import_heavy_rooms():
    code = (
        "import sys; from imagebio.cli.main import app; "
        "heavy = [m for m in ('sklearn', 'matplotlib', 'dask', 'fastapi', 'SimpleITK', 'sqlalchemy', 'highdicom', 'pandas') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
