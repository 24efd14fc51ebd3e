"""Checks shared by the report tests: external tools required in CI, images not blank."""

from __future__ import annotations

import base64
import io
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.dicom_validation import dciodvfy_errors, require_tool  # noqa: F401 - re-exported


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
