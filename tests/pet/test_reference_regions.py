"""Tests of the PERCIST / Deauville reference regions and SUVR (imagebio.pet.reference_regions)."""

from __future__ import annotations

import numpy as np
import pytest

from imagebio.errors import EmptyMaskError, InvalidParameterError
from imagebio.pet.reference_regions import (
    blood_pool_reference,
    cylinder_mask,
    liver_reference,
    percist_threshold,
    sphere_mask,
    suvr,
    suvr_image,
)
from imagebio.volume import Volume


def _body(direction=None):
    # 2 mm voxels, origin away from 0 so index and patient coordinates differ
    shape = (60, 80, 100)
    return Volume(np.zeros(shape, dtype=np.float32), spacing=(2.0, 2.0, 2.0), origin=(-120.0, -90.0, 300.0),
                  direction=np.eye(3) if direction is None else direction, modality="PT", unit="SUL")


def _patient_xyz(volume):
    index = np.stack(np.meshgrid(*[np.arange(n) for n in volume.shape], indexing="ij"), axis=-1)
    return volume.index_to_physical(index)


def test_sphere_and_cylinder_hold_the_voxels_inside():
    volume = _body()
    xyz = _patient_xyz(volume)
    centre = np.array([-30.0, -10.0, 350.0])
    d = xyz - centre
    sphere = sphere_mask(volume, centre, 30.0)
    np.testing.assert_array_equal(sphere, (d**2).sum(-1) <= 15.0**2)
    assert sphere.sum() * 0.008 == pytest.approx(4 / 3 * np.pi * 1.5**3, rel=0.03)
    cylinder = cylinder_mask(volume, centre, 10.0, 20.0)
    np.testing.assert_array_equal(cylinder, (d[..., 0] ** 2 + d[..., 1] ** 2 <= 25.0) & (np.abs(d[..., 2]) <= 10.0))


def test_liver_sphere_goes_to_the_deepest_point_of_the_right_half():
    # x axis flipped: index x grows towards patient right (−x LPS), to check that "right" follows geometry.
    volume = _body(direction=np.diag([-1.0, 1.0, 1.0]))
    xyz = _patient_xyz(volume)
    # liver: an ellipsoid 160 × 100 × 80 mm centred at x = −150 (patient right side of this volume)
    centre = np.array([-150.0, -30.0, 360.0])
    semi = np.array([80.0, 50.0, 40.0])
    liver = ((((xyz - centre) / semi) ** 2).sum(-1)) <= 1.0
    rng = np.random.default_rng(7)
    values = np.where(liver, rng.normal(2.0, 0.2, volume.shape), 0.5)
    # the left part of the liver is hotter: a sphere there would raise the mean
    values[liver & (xyz[..., 0] > centre[0] + 20)] += 1.0
    image = volume.with_array(values.astype(np.float32))
    stats = liver_reference(image, liver_mask=liver)
    assert stats.centre_mm[0] <= centre[0] + 1e-6  # right half (patient right = smaller x)
    full = sphere_mask(volume, stats.centre_mm, 30.0)
    assert stats.n_voxels == full.sum() and np.all(liver[full])  # the whole sphere lies in the liver
    assert stats.mean == pytest.approx(2.0, abs=0.03) and stats.sd == pytest.approx(0.2, rel=0.1)
    assert percist_threshold(stats) == pytest.approx(1.5 * stats.mean + 2 * stats.sd)
    # a user-given centre wins
    chosen = liver_reference(image, centre_mm=(-170.0, -30.0, 360.0))
    assert chosen.centre_mm == (-170.0, -30.0, 360.0) and chosen.n_voxels == full.sum()
    # a liver too thin for a 3 cm sphere is refused
    with pytest.raises(EmptyMaskError, match="liver"):
        liver_reference(image, liver_mask=liver & (np.abs(xyz[..., 2] - 360.0) < 8.0))


def test_blood_pool_from_centre_or_mask():
    volume = _body()
    xyz = _patient_xyz(volume)
    aorta_centre = np.array([-20.0, 0.0, 340.0])
    aorta = ((xyz[..., 0] - aorta_centre[0]) ** 2 + (xyz[..., 1] - aorta_centre[1]) ** 2) <= 12.0**2
    image = volume.with_array(np.where(aorta, 1.6, 0.3).astype(np.float32))
    stats = blood_pool_reference(image, centre_mm=aorta_centre)
    assert stats.mean == pytest.approx(1.6) and stats.sd == pytest.approx(0.0, abs=1e-6)
    assert stats.n_voxels == cylinder_mask(volume, aorta_centre, 10.0, 20.0).sum()
    by_mask = blood_pool_reference(image, mask=aorta)
    assert by_mask.mean == pytest.approx(1.6) and by_mask.n_voxels == aorta.sum()
    assert percist_threshold(blood_pool=stats) == pytest.approx(3.2)
    with pytest.raises(InvalidParameterError):
        blood_pool_reference(image)
    with pytest.raises(InvalidParameterError):
        percist_threshold()


def test_suvr():
    image = np.full((10, 10, 10), 2.0)
    image[:5] = 3.0
    target = np.zeros(image.shape, bool)
    target[:5] = True
    assert suvr(image, target, ~target) == pytest.approx(1.5)
    np.testing.assert_allclose(suvr_image(image, ~target)[0], 1.5)
    with pytest.raises(InvalidParameterError, match="reference"):
        suvr(np.zeros((3, 3, 3)), np.ones((3, 3, 3), bool), np.ones((3, 3, 3), bool))
    with pytest.raises(EmptyMaskError):
        suvr(image, target, np.zeros(image.shape, bool))
