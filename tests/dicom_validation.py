"""External validators shared by tests: required in CI (``$CI`` set, installed by ``.ci/install-dicom3tools.sh``),
skipped locally when absent."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def require_tool(name: str) -> str | None:
    """Path of an external tool; fails in CI when absent, else returns None (the caller skips)."""
    tool = shutil.which(name)
    if tool is None and os.environ.get("CI"):
        pytest.fail(f"{name} is required in CI (run .ci/install-dicom3tools.sh)")
    return tool


def dciodvfy_errors(path: Path) -> list[str]:
    """The ``Error`` lines dciodvfy (dicom3tools) prints for one DICOM file; skips when the tool is absent."""
    tool = require_tool("dciodvfy")
    if tool is None:
        pytest.skip("dciodvfy not installed and CI not set")
    out = subprocess.run([tool, "-new", str(path)], check=False, capture_output=True, text=True, timeout=60)
    return [line for line in (out.stdout + out.stderr).splitlines() if line.startswith("Error")]
