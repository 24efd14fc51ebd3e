"""Tests of imagebio.radiomics.filters.padding: IBSI names, aliases and numpy/scipy consistency."""

from __future__ import annotations

import numpy as np
import pytest

from imagebio.errors import InvalidParameterError
from imagebio.radiomics.filters.padding import canonical_padding, ndimage_mode, numpy_pad_mode, pad


@pytest.mark.parametrize(("alias", "name"), [
    ("constant", "zero"), ("edge", "nearest"), ("wrap", "periodic"), ("symmetric", "mirror"), ("reflect", "mirror"),
    ("MIRROR", "mirror"),
])
def test_aliases_map_to_ibsi_names(alias, name):
    assert canonical_padding(alias) == name


def test_unknown_padding_is_rejected():
    with pytest.raises(InvalidParameterError):
        canonical_padding("antireflect")


@pytest.mark.parametrize("padding", ["zero", "nearest", "periodic", "mirror"])
def test_numpy_padding_agrees_with_scipy_boundary_mode(padding):
    from scipy import ndimage

    x = np.array([1.0, 2.0, 4.0, 8.0])
    # a one-hot kernel shifts the signal by 3 voxels: the output shows scipy's boundary extension
    shifted = ndimage.correlate1d(x, np.eye(7)[0], mode=ndimage_mode(padding), cval=0.0)
    np.testing.assert_array_equal(shifted, pad(x, [3], padding)[:4])
    assert numpy_pad_mode(padding) in ("constant", "edge", "wrap", "symmetric")


def test_mirror_repeats_the_edge_voxel():
    np.testing.assert_array_equal(pad(np.array([1.0, 2.0, 3.0]), [2], "mirror"), [2, 1, 1, 2, 3, 3, 2])
