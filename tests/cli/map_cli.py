"""Helpers shared by the map-command tests (`imagebio dce`, `dwi`, `dsc`, `t1`)."""

from __future__ import annotations

import csv

import pytest

from imagebio.cli.main import main


def run(args, capsys=None):
    """Run the CLI in-process; returns (exit code, captured stderr)."""
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    err = capsys.readouterr().err if capsys is not None else ""
    return info.value.code or 0, err


def read_rows(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def roi_stat(out, roi, name, stat="mean"):
    """One value of a map command's ``roi_statistics.csv``."""
    for row in read_rows(out / "roi_statistics.csv"):
        if row["roi"] == roi and row["map"] == name and row["stat"] == stat:
            return float(row["value"])
    raise KeyError((roi, name, stat))
