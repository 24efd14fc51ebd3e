"""Lesion measurements from masks (RECIST conventions stated in imagebio.response.measure)."""

import numpy as np
import pytest

from imagebio.errors import EmptyMaskError, InvalidParameterError
from imagebio.response.measure import axial_diameters, measure_lesion
from imagebio.volume import Volume


def test_square_diagonals_exact():
    # A 3 x 3 voxel square of 1 mm voxels, boundary convention: LD = perpendicular SA = 3 * sqrt(2) mm.
    m = np.zeros((3, 10, 10), bool)
    m[1, 2:5, 2:5] = True
    d = axial_diameters(m, (5.0, 1.0, 1.0))
    assert d.longest_diameter_mm == pytest.approx(3 * np.sqrt(2), abs=1e-12)
    assert d.short_axis_mm == pytest.approx(3 * np.sqrt(2), abs=1e-12)
    assert d.slice_index == 1


def test_line_of_voxels_anisotropic_spacing():
    # 1 x 8 voxels of 0.5 (y) x 0.8 (x) mm: the hull is a 0.5 x 6.4 mm rectangle and the LD its diagonal. The
    # SA (longest chord perpendicular to that diagonal) is checked against a dense sampling of the rectangle.
    m = np.zeros((1, 6, 12), bool)
    m[0, 3, 2:10] = True
    d = axial_diameters(m, (1.0, 0.5, 0.8))
    ld = np.hypot(0.5, 6.4)
    assert d.longest_diameter_mm == pytest.approx(ld, abs=1e-12)
    u = np.array([0.5, 6.4]) / ld
    v = np.array([-u[1], u[0]])
    ys, xs = np.meshgrid(np.linspace(0, 0.5, 401), np.linspace(0, 6.4, 4001), indexing="ij")
    pts = np.stack([ys.ravel(), xs.ravel()], 1)
    t, w = pts @ u, pts @ v
    bins = np.round(t / 0.01).astype(int)
    chord = max(w[bins == b].max() - w[bins == b].min() for b in np.unique(bins)[::50])
    assert d.short_axis_mm == pytest.approx(chord, abs=0.02)


def test_rotated_ellipse_within_one_voxel():
    # Ellipse with axes 60 and 24 mm rotated 45 deg, 0.25 mm voxels: LD and SA within one voxel diagonal.
    n, sp = 400, 0.25
    yy, xx = np.mgrid[0:n, 0:n] * sp
    c = n * sp / 2
    u = ((xx - c) + (yy - c)) / np.sqrt(2)
    v = ((xx - c) - (yy - c)) / np.sqrt(2)
    m = ((u / 30) ** 2 + (v / 12) ** 2 <= 1)[None]
    d = axial_diameters(m, (1.0, sp, sp))
    assert abs(d.longest_diameter_mm - 60) < sp * np.sqrt(2)
    assert abs(d.short_axis_mm - 24) < sp * np.sqrt(2)


def test_slice_with_largest_diameter_is_chosen_and_volume():
    # A sphere of radius 10 mm on 1 mm voxels centred on slice 12: LD measured there (20 mm + < 1 voxel of
    # boundary excess); volume = voxel count x voxel volume exactly; mean HU of a constant image is exact.
    zz, yy, xx = np.mgrid[:25, :30, :30]
    m = (zz - 12) ** 2 + (yy - 15) ** 2 + (xx - 15) ** 2 <= 100
    image = np.where(m, 40.0, -100.0)
    res = measure_lesion(Volume(m.astype(np.uint8), (1.0, 1.0, 1.0)), image=image, enhancing_mask=m & (xx >= 15))
    assert res.slice_index == 12
    assert 20.0 <= res.longest_diameter_mm <= 20.0 + np.sqrt(2)
    assert res.volume_ml == pytest.approx(m.sum() / 1000.0, rel=1e-12)
    assert res.mean_hu == 40.0
    assert 20.0 <= res.viable_diameter_mm <= res.longest_diameter_mm  # half-sphere still spans the diameter


def test_bad_input():
    with pytest.raises(EmptyMaskError):
        axial_diameters(np.zeros((2, 4, 4), bool), (1, 1, 1))
    with pytest.raises(InvalidParameterError, match="spacing"):
        axial_diameters(np.ones((2, 4, 4), bool))
    with pytest.raises(InvalidParameterError, match="spacing"):
        axial_diameters(np.ones((2, 4, 4), bool), (1, 0, 1))
