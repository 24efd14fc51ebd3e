"""Tests of the PET MIP figure (imagebio.pet.plots)."""

from __future__ import annotations

import numpy as np
import pytest

from imagebio import units
from imagebio.errors import GeometryMismatchError
from imagebio.pet.plots import coronal_mip, plot_mip
from imagebio.volume import Volume


def _image():
    array = np.ones((10, 12, 14), dtype=np.float32)
    array[4:6, 7, 3:5] = 8.0  # hot spot seen in the coronal projection at rows 4-5, columns 3-4
    return Volume(array, spacing=(3.0, 2.0, 2.0), origin=(0.0, 0.0, 0.0), unit=units.SUV_BW)


def test_coronal_mip_projects_along_y():
    image = _image()
    mip = coronal_mip(image)
    assert mip.shape == (10, 14)
    np.testing.assert_array_equal(mip, image.array.max(axis=1))
    assert mip[4, 3] == 8.0 and mip[0, 0] == 1.0


def test_plot_mip_writes_a_png_with_outlines(tmp_path):
    import matplotlib.image

    image = _image()
    lesion = np.zeros(image.shape, bool)
    lesion[3:7, 6:9, 2:6] = True
    path = plot_mip(image, {"lesion_1": lesion}, tmp_path / "mip.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
    # the outline adds coloured (non-grey) pixels
    rgb = pixels[..., :3]
    assert np.any(np.ptp(rgb, axis=-1) > 0.2)


def test_plot_mip_refuses_a_mask_on_another_grid(tmp_path):
    with pytest.raises(GeometryMismatchError):
        plot_mip(_image(), {"x": np.zeros((2, 2, 2), bool)}, tmp_path / "mip.png")
