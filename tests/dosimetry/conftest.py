"""Shared fixtures for the dosimetry tests: paths to the copied reference data and the worked numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent.parent / "data" / "dosimetry"


@pytest.fixture(scope="session")
def reference() -> dict:
    """``reference_values.json`` (tol_rel 1e-6 unless an entry states otherwise)."""
    return json.loads((DATA / "reference_values.json").read_text(encoding="utf-8"))
