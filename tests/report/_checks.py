"""Checks shared by the report tests: external tools required in CI, images not blank."""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest


def require_tool(name: str) -> str | None:
    """Path of an external tool; fails in CI (``$CI`` set) when absent, else returns None (caller skips)."""
    tool = shutil.which(name)
    if tool is None and os.environ.get("CI"):
        pytest.fail(f"{name} is required in CI (run .ci/install-dicom3tools.sh)")
    return tool


def dciodvfy_errors(path: Path) -> list[str]:
    tool = require_tool("dciodvfy")
    if tool is None:
        pytest.skip("dciodvfy not installed and CI not set")
    out = subprocess.run([tool, "-new", str(path)], check=False, capture_output=True, text=True, timeout=60)
    return [line for line in (out.stdout + out.stderr).splitlines() if line.startswith("Error")]


def png_is_not_blank(data: bytes) -> bool:
    """True when a PNG has visible content: more than one grey level across the picture."""
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=float)
    return pixels.std() > 1.0 and (pixels < 250).mean() > 0.002


def embedded_pngs(html: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)]


def pdf_pages_as_png(pdf: Path, out_dir: Path) -> list[Path]:
    """PDF pages rendered to PNG by pdftoppm (skips when absent outside CI)."""
    tool = require_tool("pdftoppm")
    if tool is None:
        pytest.skip("pdftoppm not installed and CI not set")
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([tool, "-png", "-r", "40", str(pdf), str(out_dir / "page")], check=True, timeout=120)
    return sorted(out_dir.glob("page*.png"))
