"""Voxel S-value kernels: reference sums, packaging fidelity, interpolation, convolution, energy, spheres, DVH."""

from __future__ import annotations

import re

import numpy as np
import pytest

from imagebio.dosimetry.kernels import (
    available_voxel_s_kernels,
    cumulative_dvh,
    dvh_metrics,
    interpolate_voxel_s_kernel,
    load_voxel_s_kernel,
    local_deposition_dose_gy,
    scale_dose_by_density,
    voxel_s_dose_gy,
)
from imagebio.dosimetry.nuclides import get_nuclide
from imagebio.dosimetry.svalues import MGY_PER_MBQ_S
from imagebio.errors import UnsupportedDataError

from .conftest import DATA

LANCONELLI = DATA / "lanconelli_voxel_s_values"
FILE_NUCLIDE = {"177Lu": "Lu-177", "90Y": "Y-90", "131I": "I-131"}


def _read_octant(path) -> tuple[str, float, str, np.ndarray]:
    nuc, size, tissue = re.match(r"(\d+[A-Za-z]+)([\d.]+)mm(soft|bone)\.txt", path.name).groups()
    rows = [line.split() for line in path.read_text(encoding="latin-1").splitlines()[2:] if line.strip()]
    octant = np.zeros((6, 6, 6))
    for i, j, k, s in rows:
        octant[int(i), int(j), int(k)] = float(s)
    return FILE_NUCLIDE[nuc], float(size), tissue, octant


@pytest.mark.parametrize("name", ["177Lu4.8mmsoft.txt", "90Y4.8mmsoft.txt", "131I4.8mmsoft.txt"])
def test_full_kernel_sum_and_centre(name, reference):
    expected = reference["lanconelli_kernel_check"]["file_octants"][name]
    nuclide, size, tissue, _ = _read_octant(LANCONELLI / name)
    kernel = load_voxel_s_kernel(nuclide, size, tissue)
    k_mgy = kernel.s_gy_per_bq_s / MGY_PER_MBQ_S
    assert k_mgy.shape == (11, 11, 11)
    assert k_mgy[5, 5, 5] == pytest.approx(expected["octant_center"], rel=1e-6)
    assert k_mgy.sum() == pytest.approx(expected["full_kernel_sum"], rel=1e-6)
    assert not kernel.interpolated


def test_lu177_neighbour_value():
    k_mgy = load_voxel_s_kernel("177Lu", 4.8).s_gy_per_bq_s / MGY_PER_MBQ_S
    for idx in [(5, 5, 6), (5, 6, 5), (6, 5, 5), (4, 5, 5)]:  # S(0,0,1) mirrored onto all six faces
        assert k_mgy[idx] == pytest.approx(2.46e-3, rel=1e-12)


@pytest.mark.parametrize("path", sorted(LANCONELLI.glob("*mm*.txt")), ids=lambda p: p.name)
def test_packaged_kernels_equal_original_files(path):
    nuclide, size, tissue, octant = _read_octant(path)
    kernel = load_voxel_s_kernel(nuclide, size, tissue, interpolate=False)
    # the only difference allowed is the round-off of the mGy/(MBq·s) → Gy/(Bq·s) conversion
    np.testing.assert_allclose(kernel.s_gy_per_bq_s[5:, 5:, 5:] / MGY_PER_MBQ_S, octant, rtol=1e-14, atol=0)


def test_loglog_interpolation_reproduces_source_check():
    """SOURCE.md: 177Lu soft 4.42 mm rebuilt from the 4.0 and 4.8 mm tables gives S(0,0,0) +0.04 %,
    S(0,0,1) −0.16 %, S(1,1,1) +0.8 % (quoted to the digits shown; we require agreement to half the last digit)."""
    rebuilt = interpolate_voxel_s_kernel(load_voxel_s_kernel("Lu-177", 4.0), load_voxel_s_kernel("Lu-177", 4.8), 4.42)
    table = load_voxel_s_kernel("Lu-177", 4.42)
    deviation_percent = 100 * (rebuilt.s_gy_per_bq_s / table.s_gy_per_bq_s - 1)
    assert deviation_percent[5, 5, 5] == pytest.approx(0.04, abs=0.005)
    assert deviation_percent[5, 5, 6] == pytest.approx(-0.16, abs=0.005)
    assert deviation_percent[6, 6, 6] == pytest.approx(0.8, abs=0.05)
    assert load_voxel_s_kernel("Lu-177", 4.42 + 0.1).interpolated


@pytest.mark.parametrize("nuclide", ["Lu-177", "Y-90", "I-131"])
def test_loglog_interpolation_keeps_kernel_sum(nuclide):
    """The quantity that sets the dose in a uniform region, the kernel sum, survives interpolation within 1 %
    (measured +0.03 % Lu-177, −0.59 % Y-90, +0.02 % I-131 for 4.42 mm from 4.0/4.8 mm)."""
    rebuilt = interpolate_voxel_s_kernel(load_voxel_s_kernel(nuclide, 4.0), load_voxel_s_kernel(nuclide, 4.8), 4.42)
    tabulated = load_voxel_s_kernel(nuclide, 4.42).s_gy_per_bq_s.sum()
    assert rebuilt.s_gy_per_bq_s.sum() == pytest.approx(tabulated, rel=0.01)


def test_uniform_activity_interior_equals_kernel_sum(reference):
    # reference_values.md §8: uniform 1 MBq·s per voxel ⇒ interior dose = full-kernel sum (mGy)
    expected = reference["lanconelli_kernel_check"]["file_octants"]
    files = [("177Lu4.8mmsoft.txt", "Lu-177"), ("90Y4.8mmsoft.txt", "Y-90"), ("131I4.8mmsoft.txt", "I-131")]
    for name, nuclide in files:
        tia = np.full((21, 21, 21), 1e6)  # Bq·s
        dose_mgy = voxel_s_dose_gy(tia, (4.8, 4.8, 4.8), nuclide) * 1e3
        assert dose_mgy[10, 10, 10] == pytest.approx(expected[name]["full_kernel_sum"], rel=1e-6)


def test_fft_convolution_equals_direct_summation():
    rng = np.random.default_rng(11)
    tia = np.zeros((9, 10, 8))
    tia[2:7, 3:8, 2:6] = rng.uniform(0, 1e7, size=(5, 5, 4))
    kernel = load_voxel_s_kernel("Lu-177", 4.8).s_gy_per_bq_s
    dose = voxel_s_dose_gy(tia, (4.8, 4.8, 4.8), "Lu-177")
    direct = np.zeros_like(tia)
    for src in zip(*np.nonzero(tia)):
        for idx in np.ndindex(tia.shape):
            off = tuple(i - s + 5 for i, s in zip(idx, src))
            if all(0 <= o < 11 for o in off):
                direct[idx] += tia[src] * kernel[off]
    np.testing.assert_allclose(dose, direct, rtol=1e-9, atol=1e-12 * direct.max())


@pytest.mark.parametrize("nuclide", ["Y-90", "Sr-89"])
@pytest.mark.parametrize("tissue", ["soft", "bone"])
def test_energy_conservation_pure_beta(nuclide, tissue):
    """Σ K·ρ·V_voxel = energy absorbed in the 11³ cube per decay. For pure β− emitters (photon yield ~1e-6 MeV)
    whose maximum electron range (11 mm for Y-90 in water) is inside the kernel half-width, it must equal
    the ICRP-107 Δ_np. 1 % allows the bremsstrahlung that escapes (≈0.4 % of the β energy for Y-90 in
    soft tissue) and the 3-digit rounding of the tables."""
    nuc = get_nuclide(nuclide)
    for size in available_voxel_s_kernels()[nuc.name][tissue]:
        kernel = load_voxel_s_kernel(nuclide, size, tissue)
        assert kernel.absorbed_energy_j == pytest.approx(nuc.nonpenetrating_j, rel=0.01), size


def test_energy_bounds_lu177():
    """Lu-177 also emits photons (0.035 MeV/decay) that partly escape the cube, and conversion/Auger electrons.
    Physical bounds: the kernel holds at least the β− energy and at most everything emitted.
    (Measured: 94.7-98.7 % of Δ_np in soft tissue, i.e. below Δ_np - see the report.)"""
    nuc = get_nuclide("Lu-177")
    for tissue in ("soft", "bone"):
        for size in available_voxel_s_kernels()["Lu-177"][tissue]:
            energy_mev = load_voxel_s_kernel("Lu-177", size, tissue).absorbed_energy_j / 1.602176634e-13
            assert nuc.beta_minus_mev <= energy_mev <= nuc.total_mev, (tissue, size)


def test_convolution_conserves_kernel_energy():
    tia = np.zeros((31, 31, 31))
    tia[12:19, 13:18, 14:17] = 3e9
    kernel = load_voxel_s_kernel("Y-90", 4.0)
    dose = voxel_s_dose_gy(tia, (4.0, 4.0, 4.0), "Y-90", kernel=kernel)
    voxel_kg = kernel.medium_density_g_per_ml * 4.0**3 * 1e-6
    assert dose.sum() * voxel_kg == pytest.approx(tia.sum() * kernel.absorbed_energy_j, rel=1e-9)


def _voxel_sphere(mass_g: float, voxel_mm: float, density: float = 1.04):
    radius_mm = (3 * mass_g / density / (4 * np.pi)) ** (1 / 3) * 10
    n = int(np.ceil(radius_mm / voxel_mm)) + 7
    g = (np.arange(2 * n + 1) - n) * voxel_mm
    z, y, x = np.meshgrid(g, g, g, indexing="ij")
    return x**2 + y**2 + z**2 <= radius_mm**2


def test_density_scaling_and_local_deposition():
    tia = np.zeros((15, 15, 15))
    tia[3:12, 3:12, 3:12] = 1e10
    spacing = (4.8, 4.8, 4.8)
    soft = voxel_s_dose_gy(tia, spacing, "Y-90")
    dense = voxel_s_dose_gy(tia, spacing, "Y-90", density_g_per_ml=2.08)
    np.testing.assert_allclose(dense, soft / 2.0, rtol=1e-12)
    np.testing.assert_allclose(scale_dose_by_density(soft, 1.04, 1.04), soft, rtol=0)
    local = local_deposition_dose_gy(tia, spacing, "Y-90", 1.04)
    voxel_kg = 1.04 * 4.8**3 * 1e-6
    assert local[7, 7, 7] == pytest.approx(1e10 * get_nuclide("Y-90").nonpenetrating_j / voxel_kg, rel=1e-12)
    # deep inside a uniform region kernel convolution and local deposition agree for a pure β emitter (1 %, as above)
    assert soft[7, 7, 7] == pytest.approx(local[7, 7, 7], rel=0.01)


def test_anisotropic_or_untabulated_grids_are_refused():
    with pytest.raises(UnsupportedDataError, match="cubic"):
        voxel_s_dose_gy(np.ones((5, 5, 5)), (4.8, 4.8, 2.4), "Lu-177")
    with pytest.raises(UnsupportedDataError, match="12.0 mm"):
        load_voxel_s_kernel("Lu-177", 12.0)
    with pytest.raises(UnsupportedDataError, match="Tc-99m"):
        load_voxel_s_kernel("Tc-99m", 4.8)


def test_dvh_metrics_on_known_distribution():
    dose = np.arange(1.0, 101.0).reshape(4, 5, 5)
    mask = np.ones_like(dose, bool)
    m = dvh_metrics(dose, mask, dose_at_volume_percent=(50, 90, 2), volume_at_dose_gy=(20, 100.5))
    # hottest 50 % = doses 51..100 ⇒ D50 = 51; hottest 90 % = 11..100 ⇒ D90 = 11; hottest 2 % ⇒ 99
    assert (m["D50_gy"], m["D90_gy"], m["D2_gy"]) == (51.0, 11.0, 99.0)
    assert m["V20gy_fraction"] == pytest.approx(0.81)
    assert m["V100.5gy_fraction"] == 0.0
    assert m["mean_gy"] == pytest.approx(50.5)
    levels, frac = cumulative_dvh(dose, mask, bin_width_gy=1.0)
    assert frac[0] == 1.0 and frac[20] == pytest.approx(0.81) and np.all(np.diff(frac) <= 0)


def test_voxel_pipeline_fit_then_convolve():
    """Stack of activity maps → vectorised mono-exponential TIA → kernel dose equals the dose of the exact TIA."""
    from imagebio.dosimetry.tac import fit_mono_exponential_voxels

    h = 3600.0
    t = np.array([4, 24, 96, 168]) * h
    sphere = _voxel_sphere(20.0, 4.8)
    lam = np.where(sphere, np.log(2) / (60 * h), np.log(2) / get_nuclide("Lu-177").half_life_s)
    a0 = np.where(sphere, 5e4, 1e2)  # Bq per voxel
    stack = a0[None] * np.exp(-t[:, None, None, None] * lam[None])
    tia = fit_mono_exponential_voxels(t, stack, get_nuclide("Lu-177").half_life_s).tia
    np.testing.assert_allclose(tia, a0 / lam, rtol=1e-9)
    dose = voxel_s_dose_gy(tia, (4.8,) * 3, "Lu-177")
    np.testing.assert_allclose(dose, voxel_s_dose_gy(a0 / lam, (4.8,) * 3, "Lu-177"), rtol=1e-8)
    metrics = dvh_metrics(dose, sphere, volume_at_dose_gy=(0.0,))
    assert metrics["V0gy_fraction"] == 1.0 and metrics["D90_gy"] <= metrics["D50_gy"] <= metrics["max_gy"]


@pytest.mark.parametrize("nuclide", ["Lu-177", "Y-90", "I-131"])
def test_point_source_reproduces_the_kernel(nuclide):
    """One voxel of activity: the dose map around it is the kernel times the TIA (11³ neighbourhood), zero beyond."""
    tia = np.zeros((21, 23, 25))
    tia[10, 11, 12] = 3.7e9
    kernel = load_voxel_s_kernel(nuclide, 4.8)
    dose = voxel_s_dose_gy(tia, (4.8, 4.8, 4.8), nuclide, kernel=kernel)
    np.testing.assert_allclose(dose[5:16, 6:17, 7:18], 3.7e9 * kernel.s_gy_per_bq_s, rtol=1e-9,
                               atol=1e-12 * dose.max())
    outside = dose.copy()
    outside[5:16, 6:17, 7:18] = 0.0
    assert outside.max() <= 1e-12 * dose.max()


@pytest.mark.parametrize("nuclide", ["Y-90", "Sr-89"])
def test_large_uniform_region_interior_equals_mird_local_deposition(nuclide):
    """Issue 7 must-show: uniform activity in a large region (25³ voxels of 4.8 mm); in the interior the kernel dose
    equals Ã·Δ_np/m (local deposition, MIRD) within 1 %. Holds for the pure β⁻ emitters; for Lu-177 the Lanconelli
    kernel holds only 94.7-98.7 % of Δ_np (see test_energy_bounds_lu177), so the interior dose is ~4-5 % below the
    local-deposition value and is not asserted here (reported as a discrepancy of the reference kernel)."""
    tia = np.zeros((35, 35, 35))
    tia[5:30, 5:30, 5:30] = 2e9
    spacing = (4.8, 4.8, 4.8)
    kernel_dose = voxel_s_dose_gy(tia, spacing, nuclide)
    mird = local_deposition_dose_gy(tia, spacing, nuclide, 1.04)
    interior = (slice(12, 23),) * 3
    np.testing.assert_allclose(kernel_dose[interior], mird[interior], rtol=0.01)
