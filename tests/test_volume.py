"""The Volume type (imagebio.volume)."""

import numpy as np
import pytest

from imagebio.errors import GeometryMismatchError, InvalidParameterError
from imagebio.volume import Volume, check_same_grid, resample_to


def oblique_direction():
    a = np.deg2rad(20)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    b = np.deg2rad(-10)
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    return rz @ rx


def test_sitk_round_trip_is_lossless():
    rng = np.random.default_rng(0)
    volume = Volume(rng.normal(size=(4, 5, 6)).astype(np.float32), spacing=(3.0, 0.7, 0.9),
                    origin=(-10.5, 20.25, 3.0), direction=oblique_direction(), modality="CT", unit="HU")
    back = Volume.from_sitk(volume.to_sitk(), modality="CT", unit="HU")
    np.testing.assert_array_equal(back.array, volume.array)
    assert back.spacing == volume.spacing
    assert back.origin == pytest.approx(volume.origin, abs=1e-12)
    np.testing.assert_allclose(back.direction, volume.direction, atol=1e-12)
    assert back.same_grid(volume)


def test_index_physical_inverse_and_sitk_agree():
    volume = Volume(np.zeros((4, 5, 6)), spacing=(3.0, 0.7, 0.9), origin=(1, 2, 3), direction=oblique_direction())
    image = volume.to_sitk()
    index = np.array([[1, 2, 3], [3, 4, 5]])
    points = volume.index_to_physical(index)
    for (k, j, i), p in zip(index, points):
        np.testing.assert_allclose(p, image.TransformIndexToPhysicalPoint((int(i), int(j), int(k))), atol=1e-9)
    np.testing.assert_allclose(volume.physical_to_index(points), index, atol=1e-9)


def test_volume_is_immutable():
    volume = Volume(np.zeros((2, 2, 2)), spacing=(1, 1, 1))
    with pytest.raises(ValueError):
        volume.array[0, 0, 0] = 1
    with pytest.raises(AttributeError):
        volume.unit = "HU"  # type: ignore[misc]
    assert volume.voxel_volume_ml == pytest.approx(0.001)


def test_invalid_spacing_is_rejected():
    with pytest.raises(InvalidParameterError, match="spacing"):
        Volume(np.zeros((2, 2, 2)), spacing=(1, 0, 1))
    with pytest.raises(InvalidParameterError, match="3D"):
        Volume(np.zeros((2, 2)), spacing=(1, 1, 1))


def test_grid_mismatch_is_an_error_unless_resampled():
    image = Volume(np.zeros((4, 8, 8)), spacing=(2, 1, 1), identifiers={"path": "ct"})
    mask = Volume(np.ones((4, 4, 4)), spacing=(2, 2, 2), identifiers={"path": "mask.nii"})
    with pytest.raises(GeometryMismatchError, match="mask.nii"):
        check_same_grid(image, mask)
    resampled = resample_to(mask, image, interpolator="nearest")
    check_same_grid(image, resampled)
    # the last row and column lie beyond the mask's half-voxel border (continuous index 3.5)
    assert resampled.array.sum() == pytest.approx(4 * 7 * 7)
