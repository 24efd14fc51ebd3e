"""IBSI 1 reference tables and matching rule shared by the radiomics tests (data in ``tests/data/ibsi/``)."""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from pathlib import Path

IBSI_DIR = Path(__file__).resolve().parents[1] / "data" / "ibsi"

#: reference table name -> (phantom folder, settings preset)
IBSI_CONFIGS = {
    "digital_phantom": ("ibsi_1_digital_phantom", "ibsi_digital_phantom"),
    "config_A": ("ibsi_1_ct_radiomics_phantom", "ibsi_config_a"),
    "config_B": ("ibsi_1_ct_radiomics_phantom", "ibsi_config_b"),
    "config_C": ("ibsi_1_ct_radiomics_phantom", "ibsi_config_c"),
}

#: per (config, family): [matched, total] — filled by test_ibsi_reference, printed in the terminal summary.
IBSI_SUMMARY: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])


def read_reference_rows(config: str) -> list[dict[str, str]]:
    """Rows of one IBSI 1 reference table that have a reference value (blank = not standardised)."""
    path = IBSI_DIR / "ibsi_1_reference_values" / f"ibsi_1_reference_values_{config}.csv"
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [row for row in csv.DictReader(handle) if row["reference value"].strip()]


def tag_family(tag: str) -> str:
    """Feature family of an IBSI tag (``diag`` for the processing diagnostics)."""
    if tag.endswith(("_img", "_roi")):
        return "diag"
    return tag.split("_")[0]


def round_significant(value: float, digits: int) -> float:
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - int(math.floor(math.log10(abs(value)))))


def significant_digits(text: str) -> int:
    """Significant digits of a reference value as printed (trailing zeros of an integer not counted)."""
    mantissa = text.strip().lstrip("+-").lower().split("e")[0]
    digits = mantissa.replace(".", "").lstrip("0")
    if "." not in mantissa:
        digits = digits.rstrip("0")
    return max(1, len(digits))


def ibsi_match(value: float, reference_text: str, tolerance: float) -> bool:
    """IBSI matching rule: round to 3 significant digits, pass if ``|rounded - reference| <= tolerance``.

    References printed with more digits (exact voxel counts, image maximum 3065) are compared at their own printed
    precision; a relative 1e-9 slack absorbs binary floating-point representation only.
    """
    if not math.isfinite(value):
        return False
    reference = float(reference_text)
    rounded = round_significant(value, max(3, significant_digits(reference_text)))
    return abs(rounded - reference) <= tolerance + 1e-9 * max(1.0, abs(reference))


def load_nifti_volume(folder: str, kind: str):
    """Read ``<folder>/<kind>/*.nii.gz`` of the IBSI data as a :class:`imagebio.volume.Volume` (float64 values)."""
    import SimpleITK as sitk

    from imagebio.volume import Volume

    path = next((IBSI_DIR / folder / kind).glob("*.nii.gz"))
    image = sitk.Cast(sitk.ReadImage(str(path)), sitk.sitkFloat64)
    return Volume.from_sitk(image)
