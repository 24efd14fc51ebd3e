"""Fixtures shared by all tests: reference data unpacked once per session."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def suv_dro_root(tmp_path_factory) -> Path:
    """The 14 OncoRay SUV DROs unpacked once per session; returns the folder holding ``DRO_x_y/`` folders."""
    target = tmp_path_factory.mktemp("suv_dro_oncoray")
    with tarfile.open(DATA / "suv_dro_oncoray" / "DRO_shared.tar.gz") as archive:
        archive.extractall(target, filter="data")
    return target / "DRO"
