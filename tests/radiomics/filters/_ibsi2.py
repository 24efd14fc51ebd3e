"""IBSI 2 reference data and test settings shared by the filter tests (data in ``tests/data/ibsi2/``).

Phase-1 settings: IBSI 2 manual (arXiv:2006.05470) as encoded in oncoray/mirp ``test/ibsi_2_response_map_test.py``;
Riesz orders (x, y, z) as in medical-physics-usz/z-rad's IBSI 2 tests. See ``tests/data/ibsi2/SOURCE.md``.
"""

from __future__ import annotations

import csv
import math
from functools import cache
from pathlib import Path

import numpy as np

from imagebio.radiomics.filters import FilterSettings

DATA = Path(__file__).resolve().parents[2] / "data" / "ibsi2"

#: test id -> maximum deviation in % of the reference range, filled by the tests, printed in the terminal summary
PHASE1_DEVIATIONS: dict[str, float] = {}
#: configuration -> (matched, total, worst |deviation| / tolerance)
PHASE2_RESULTS: dict[str, tuple[int, int, float]] = {}


def _f(**kwargs) -> FilterSettings:
    return FilterSettings(**kwargs)


#: phase-1 test id -> (phantom, filter settings); 4_b_1 and 4_b_2 are held out of the shared data.
PHASE1: dict[str, tuple[str, FilterSettings]] = {
    "1_a_1": ("checkerboard", _f(kind="mean", support_voxels=15, padding="zero")),
    "1_a_2": ("checkerboard", _f(kind="mean", support_voxels=15, padding="nearest")),
    "1_a_3": ("checkerboard", _f(kind="mean", support_voxels=15, padding="periodic")),
    "1_a_4": ("checkerboard", _f(kind="mean", support_voxels=15, padding="mirror")),
    "1_b_1": ("impulse", _f(kind="mean", support_voxels=15, dimensions=2, padding="zero")),
    "2_a": ("impulse", _f(kind="log", sigma_mm=3.0, truncate=4.0, padding="zero")),
    "2_b": ("checkerboard", _f(kind="log", sigma_mm=5.0, truncate=4.0, padding="mirror")),
    "2_c": ("checkerboard", _f(kind="log", sigma_mm=5.0, truncate=4.0, dimensions=2, padding="mirror")),
    "3_a_1": ("impulse", _f(kind="laws", laws_kernel="E5L5S5", padding="zero")),
    "3_a_2": ("impulse", _f(kind="laws", laws_kernel="E5L5S5", rotation_invariant=True, pooling="max",
                            padding="zero")),
    "3_a_3": ("impulse", _f(kind="laws", laws_kernel="E5L5S5", rotation_invariant=True, pooling="max",
                            energy_delta_voxels=7, padding="zero")),
    "3_b_1": ("checkerboard", _f(kind="laws", laws_kernel="E3W5R5", padding="mirror")),
    "3_b_2": ("checkerboard", _f(kind="laws", laws_kernel="E3W5R5", rotation_invariant=True, pooling="max",
                                 padding="mirror")),
    "3_b_3": ("checkerboard", _f(kind="laws", laws_kernel="E3W5R5", rotation_invariant=True, pooling="max",
                                 energy_delta_voxels=7, padding="mirror")),
    "3_c_1": ("checkerboard", _f(kind="laws", laws_kernel="L5S5", dimensions=2, padding="mirror")),
    "3_c_2": ("checkerboard", _f(kind="laws", laws_kernel="L5S5", dimensions=2, rotation_invariant=True,
                                 pooling="max", padding="mirror")),
    "3_c_3": ("checkerboard", _f(kind="laws", laws_kernel="L5S5", dimensions=2, rotation_invariant=True,
                                 pooling="max", energy_delta_voxels=7, padding="mirror")),
    "4_a_1": ("impulse", _f(kind="gabor", sigma_mm=10.0, lambda_mm=4.0, gamma=0.5, theta_rad=math.pi / 3,
                            padding="zero")),
    "4_a_2": ("impulse", _f(kind="gabor", sigma_mm=10.0, lambda_mm=4.0, gamma=0.5, theta_rad=0.0,
                            theta_step_rad=math.pi / 4, rotation_invariant=True, pooling="mean", padding="zero")),
    "5_a_1": ("impulse", _f(kind="wavelet", wavelet="db2", subband="LHL", level=1, padding="zero")),
    "5_a_2": ("impulse", _f(kind="wavelet", wavelet="db2", subband="LHL", level=1, rotation_invariant=True,
                            pooling="mean", padding="zero")),
    "6_a_1": ("sphere", _f(kind="wavelet", wavelet="coif1", subband="HHL", level=1, padding="periodic")),
    "6_a_2": ("sphere", _f(kind="wavelet", wavelet="coif1", subband="HHL", level=1, rotation_invariant=True,
                           pooling="mean", padding="periodic")),
    "7_a_1": ("checkerboard", _f(kind="wavelet", wavelet="haar", subband="LLL", level=2, rotation_invariant=True,
                                 pooling="mean", padding="mirror")),
    "7_a_2": ("checkerboard", _f(kind="wavelet", wavelet="haar", subband="HHH", level=2, rotation_invariant=True,
                                 pooling="mean", padding="mirror")),
    "8_a_1": ("checkerboard", _f(kind="simoncelli", level=1, padding="periodic")),
    "8_a_2": ("checkerboard", _f(kind="simoncelli", level=2, padding="periodic")),
    "8_a_3": ("checkerboard", _f(kind="simoncelli", level=3, padding="periodic")),
    "9_a": ("impulse", _f(kind="riesz_log", sigma_mm=3.0, truncate=4.0, riesz_order=(1, 0, 0), padding="zero")),
    "9_b_1": ("sphere", _f(kind="riesz_log", sigma_mm=3.0, truncate=4.0, riesz_order=(0, 2, 0), padding="zero")),
    "10_b_1": ("pattern_1", _f(kind="riesz_simoncelli", level=1, riesz_order=(0, 2, 0), padding="nearest")),
}


def phase1_ids(prefixes: tuple[str, ...]) -> list[str]:
    """Phase-1 test ids whose filter-number prefix is in ``prefixes`` (e.g. ``("1_",)``)."""
    return [t for t in PHASE1 if t.startswith(prefixes)]


def _read(path: Path) -> tuple[np.ndarray, tuple[float, float, float]]:
    import SimpleITK as sitk

    image = sitk.ReadImage(str(path))
    return sitk.GetArrayFromImage(image).astype(np.float64), tuple(float(s) for s in image.GetSpacing()[::-1])


@cache
def load_phantom(name: str) -> tuple[np.ndarray, tuple[float, float, float]]:
    """IBSI 2 digital phantom (z, y, x) as float64 and its spacing (z, y, x) in mm."""
    return _read(next((DATA / "ibsi_2_digital_phantom" / name / "image").glob("*.nii.gz")))


def load_reference_map(test_id: str) -> np.ndarray:
    """Reference (consensus) response map of a phase-1 test, (z, y, x)."""
    return _read(DATA / "reference_response_maps" / f"{test_id}-ValidCRM.nii.gz")[0]


def max_deviation_percent(response: np.ndarray, reference: np.ndarray) -> float:
    """Largest voxel deviation in % of the reference map's intensity range (IBSI 2 rule: pass if <= 1 %)."""
    assert response.shape == reference.shape
    return float(np.max(np.abs(response - reference)) / (reference.max() - reference.min()) * 100.0)


def check_phase1(test_id: str) -> float:
    """Compute a phase-1 response map, record and return its deviation from the reference."""
    from imagebio.radiomics.filters import apply_filter

    phantom, settings = PHASE1[test_id]
    image, spacing = load_phantom(phantom)
    deviation = max_deviation_percent(apply_filter(image, spacing, settings), load_reference_map(test_id))
    PHASE1_DEVIATIONS[test_id] = deviation
    return deviation


def read_phase2_rows() -> list[dict[str, str]]:
    """Phase-2 reference rows that have a consensus value."""
    with (DATA / "reference_feature_values" / "reference_values.csv").open(encoding="utf-8", newline="") as handle:
        return [row for row in csv.DictReader(handle, delimiter=";") if row["consensus_value"].strip()]
