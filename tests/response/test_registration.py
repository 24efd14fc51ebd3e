"""Rigid + affine registration recovers a known shift within one voxel."""

import numpy as np
import pytest

from imagebio.response.registration import register_followup_to_baseline, resample_followup
from imagebio.volume import Volume

SHAPE, SPACING = (24, 48, 48), (2.0, 1.5, 1.5)


def blobs(shift_xyz):
    zz, yy, xx = np.meshgrid(*[np.arange(n) * s for n, s in zip(SHAPE, SPACING, strict=False)], indexing="ij")
    image = np.zeros(SHAPE)
    for (cz, cy, cx), r, a in (
        ((20, 30, 35), 12, 100),
        ((30, 45, 25), 8, 60),
        ((14, 20, 22), 6, 80),
        ((28, 52, 50), 10, 40),
    ):
        image += a * np.exp(
            -((zz - cz - shift_xyz[2]) ** 2 + (yy - cy - shift_xyz[1]) ** 2 + (xx - cx - shift_xyz[0]) ** 2)
            / (2 * r**2)
        )
    return image


@pytest.mark.parametrize("affine", [False, True])
def test_known_rigid_shift_recovered_within_one_voxel(affine):
    shift = (4.5, -3.0, 4.0)  # x, y, z mm: 3, 2 and 2 voxels
    baseline = Volume(blobs((0, 0, 0)), SPACING)
    followup = Volume(blobs(shift), SPACING)
    result = register_followup_to_baseline(baseline, followup, affine=affine)
    error = np.abs(np.array(result.translation_mm) - np.array(shift))
    voxel_xyz = np.array(SPACING[::-1])
    assert np.all(error < voxel_xyz), (result.translation_mm, result.stop_condition)
    assert result.correlation > 0.99
    moved = resample_followup(followup, baseline, result.transform)
    inner = (slice(4, -4), slice(6, -6), slice(6, -6))
    assert np.abs(moved.array[inner] - baseline.array[inner]).max() < 0.1 * np.abs(baseline.array).max()
