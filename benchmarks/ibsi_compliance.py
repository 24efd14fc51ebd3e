"""Print the IBSI 1 compliance table of imagebio.radiomics: matched / total reference rows per family and config.

Usage: ``python benchmarks/ibsi_compliance.py [--failures]``. Reads the phantoms and reference tables copied in
``tests/data/ibsi/`` (see its SOURCE.md). Matching rule (IBSI / MIRP): round our value to 3 significant digits and
pass if ``|rounded - reference| <= tolerance``; rows without reference value (not standardised) are skipped.
"""

from __future__ import annotations

import csv
import math
import sys
import time
from collections import defaultdict
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "ibsi"
CONFIGS = {
    "digital_phantom": ("ibsi_1_digital_phantom", "ibsi_digital_phantom"),
    "config_A": ("ibsi_1_ct_radiomics_phantom", "ibsi_config_a"),
    "config_B": ("ibsi_1_ct_radiomics_phantom", "ibsi_config_b"),
    "config_C": ("ibsi_1_ct_radiomics_phantom", "ibsi_config_c"),
}
TEXTURE = ("cm", "rlm", "szm", "dzm", "ngt", "ngl")


def round_sig(value: float, digits: int = 3) -> float:
    """Round to ``digits`` significant digits (0 and non-finite values unchanged)."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - int(math.floor(math.log10(abs(value)))))


def significant_digits(text: str) -> int:
    """Significant digits of a reference value as written (trailing zeros of an integer not counted)."""
    mantissa = text.strip().lstrip("+-").lower().split("e")[0]
    digits = mantissa.replace(".", "").lstrip("0")
    if "." not in mantissa:
        digits = digits.rstrip("0")
    return max(1, len(digits))


def ibsi_match(value: float, reference_text: str, tolerance: float) -> bool:
    """IBSI matching rule: round to 3 significant digits, pass if ``|rounded - reference| <= tolerance``.

    Reference values printed with more than 3 significant digits (exact voxel counts such as 125256, image maxima
    such as 3065) are compared at their own precision, otherwise an exact 3065 would round to 3060 and fail.
    """
    if value is None or not math.isfinite(value):
        return False
    reference = float(reference_text)
    rounded = round_sig(value, max(3, significant_digits(reference_text)))
    return abs(rounded - reference) <= tolerance + 1e-9 * max(1.0, abs(reference))


def read_reference(config: str) -> list[dict]:
    path = DATA / "ibsi_1_reference_values" / f"ibsi_1_reference_values_{config}.csv"
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["reference value"].strip()]
    for r in rows:
        r["reference"] = float(r["reference value"])
        r["tol"] = float(r["tolerance"] or 0)
    return rows


def family_of(tag: str) -> str:
    """Feature family of an IBSI tag (``diag`` for the processing diagnostics)."""
    return "diag" if tag.endswith(("_roi", "_img")) else tag.split("_")[0]


def load_phantom(folder: str):
    import SimpleITK as sitk

    image = sitk.GetArrayFromImage(sitk.ReadImage(str(DATA / folder / "image" / "phantom.nii.gz"))).astype(float)
    reader = sitk.ReadImage(str(DATA / folder / "mask" / "mask.nii.gz"))
    mask = sitk.GetArrayFromImage(reader).astype(float)
    spacing = tuple(reversed(reader.GetSpacing()))
    return image, mask, spacing


def main(show_failures: bool = False) -> int:
    from imagebio.radiomics.extractor import extract_features

    table: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    failures = []
    for config, (folder, preset) in CONFIGS.items():
        image, mask, spacing = load_phantom(folder)
        t0 = time.perf_counter()
        features = extract_features(image, mask, spacing, preset)
        elapsed = time.perf_counter() - t0
        print(f"{config}: {len(features)} features in {elapsed:.1f} s")
        for row in read_reference(config):
            fam = family_of(row["tag"])
            counts = table[(config, fam)]
            counts[1] += 1
            if row["tag"] not in features:
                counts[2] += 1
                continue
            if ibsi_match(features[row["tag"]], row["reference value"], row["tol"]):
                counts[0] += 1
            else:
                failures.append((config, row["tag"], features[row["tag"]], row["reference"], row["tol"]))
    families = sorted({f for _, f in table})
    print(f"\n{'family':8s}" + "".join(f"{c:>18s}" for c in CONFIGS))
    for fam in families:
        cells = []
        for config in CONFIGS:
            matched, total, missing = table.get((config, fam), [0, 0, 0])
            cells.append(f"{matched}/{total}" + (f" ({missing} n/a)" if missing else "") if total else "-")
        print(f"{fam:8s}" + "".join(f"{c:>18s}" for c in cells))
    if show_failures:
        print("\nmismatches (config, tag, ours, reference, tolerance):")
        for f in failures:
            print("  ", *f)
    return 0


if __name__ == "__main__":
    sys.exit(main("--failures" in sys.argv))
