"""IBSI 1 reference data for the texture tests, read from ``tests/data/ibsi/`` (see the SOURCE.md there).

The digital phantom (CC BY 4.0) and the CT radiomics phantom (CC BY-NC 3.0) come from theibsi/data_sets; the
reference values (CC BY 4.0) are the IBSI 1 consensus table. Matching rule of the IBSI 1 validation: round our value
to 3 significant digits and pass if ``|rounded - reference| <= tolerance``.
"""

from __future__ import annotations

import csv
import functools
import importlib
import math
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "data" / "ibsi"

#: texture module -> IBSI tag prefix
FAMILIES = {"glcm": "cm", "glrlm": "rlm", "glszm": "szm", "gldzm": "dzm", "ngtdm": "ngt", "ngldm": "ngl"}


def _nifti_zyx(path: Path) -> np.ndarray:
    import nibabel

    # NIfTI stores (x, y, z); imagebio arrays are (z, y, x).
    return np.asarray(nibabel.load(str(path)).dataobj, dtype=np.float64).transpose(2, 1, 0)


@functools.cache
def digital_phantom() -> tuple[np.ndarray, np.ndarray]:
    """IBSI 1 digital phantom: integer grey levels 1..6 (z, y, x) and its ROI mask; 2 mm isotropic voxels."""
    folder = DATA / "ibsi_1_digital_phantom"
    image = _nifti_zyx(folder / "image" / "phantom.nii.gz").astype(np.int64)
    mask = _nifti_zyx(folder / "mask" / "mask.nii.gz") > 0.5
    return image, mask


@functools.cache
def ct_phantom_config_a() -> tuple[np.ndarray, np.ndarray, np.ndarray, int, tuple[float, float, float]]:
    """IBSI 1 CT phantom processed as configuration A (no interpolation, so no processing chain is needed).

    Image and mask rounded to integers, intensity mask re-segmented to [-500, 400] HU, fixed bin size 25 HU with
    bins starting at -500 HU (IBSI 1 manual, section 5.2 / table of configurations).

    Returns
    -------
    levels, intensity_mask, morphological_mask, n_levels, spacing_mm
    """
    folder = DATA / "ibsi_1_ct_radiomics_phantom"
    image = np.round(_nifti_zyx(folder / "image" / "phantom.nii.gz"))
    morph = np.round(_nifti_zyx(folder / "mask" / "mask.nii.gz")) > 0
    intensity = morph & (image >= -500) & (image <= 400)
    levels = np.where(intensity, np.floor((image + 500) / 25).astype(np.int64) + 1, 0)
    n_levels = math.ceil((400 - (-500)) / 25)
    import nibabel

    zooms = nibabel.load(str(folder / "image" / "phantom.nii.gz")).header.get_zooms()
    return levels, intensity, morph, n_levels, (float(zooms[2]), float(zooms[1]), float(zooms[0]))


@functools.cache
def reference_rows(table: str) -> dict[str, tuple[float, float]]:
    """``tag -> (reference value, tolerance)`` of one IBSI 1 table (rows without a reference value skipped)."""
    path = DATA / "ibsi_1_reference_values" / f"ibsi_1_reference_values_{table}.csv"
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return {
            row["tag"]: (float(row["reference value"]), float(row["tolerance"] or 0))
            for row in csv.DictReader(handle)
            if row["reference value"].strip()
        }


def round_to_3_significant(value: float) -> float:
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, 2 - math.floor(math.log10(abs(value))))


def ibsi_mismatches(module_name: str, table: str, features: dict[str, float]) -> tuple[list[str], int]:
    """Rows of ``table`` of one family that our ``features`` miss or do not match; and the number of rows."""
    prefix = FAMILIES[module_name] + "_"
    rows = {tag: ref for tag, ref in reference_rows(table).items() if tag.startswith(prefix)}
    failures = []
    for tag, (reference, tolerance) in rows.items():
        value = features.get(tag, float("nan"))
        if not (math.isfinite(value) and abs(round_to_3_significant(value) - reference) <= tolerance):
            failures.append(f"{tag}: ours {value!r}, reference {reference} ± {tolerance}")
    return failures, len(rows)


def texture_module(module_name: str):
    return importlib.import_module(f"imagebio.radiomics.texture.{module_name}")
