"""Tests of imagebio.radiomics.filters.wavelets: IBSI 2 phase-1 tests 5.a, 6.a, 7.a, decimated transform, à trous."""

from __future__ import annotations

import numpy as np
import pytest

from imagebio.errors import InvalidParameterError
from imagebio.radiomics.filters.wavelets import separable_wavelet, upsample_filter, wavelet_support_radius

from ._ibsi2 import check_phase1, phase1_ids


@pytest.mark.parametrize("test_id", phase1_ids(("5_", "6_", "7_")))
def test_ibsi2_phase1_response_map(test_id):
    deviation = check_phase1(test_id)
    assert deviation <= 1.0, f"{test_id}: max deviation {deviation:.3f} % of the reference range (limit 1 %)"


def test_a_trous_upsampling_inserts_zeros_around_the_centre():
    np.testing.assert_array_equal(upsample_filter(np.array([1.0, 2.0]), 2), [1, 0, 2, 0, 0])
    np.testing.assert_array_equal(upsample_filter(np.array([1.0, 2.0, 3.0]), 3), [1, 0, 0, 0, 2, 0, 0, 0, 3])
    assert wavelet_support_radius("haar", "LLL", 2) == (3, 3, 3)
    assert wavelet_support_radius("db2", "LH", 1) == (0, 2, 2)


def test_decimated_level_one_matches_pywavelets(rng):
    import pywt

    image = rng.normal(size=(8, 10, 12))
    ours = separable_wavelet(image, "db2", "HLL", decimated=True, padding="periodic")
    # sub-band "HLL" = high-pass along x (first pywt axis here), low-pass along y and z
    expected = pywt.dwtn(image, "db2", mode="periodization", axes=(2, 1, 0))["daa"]
    np.testing.assert_allclose(ours, expected)
    assert ours.shape == (4, 5, 6)


def test_undecimated_level_one_low_pass_of_a_constant_is_scaled_constant():
    image = np.full((6, 7, 8), 3.0)
    out = separable_wavelet(image, "coif1", "LLL", padding="mirror")
    # the decomposition low-pass filter sums to sqrt(2) along each of the three axes
    np.testing.assert_allclose(out, 3.0 * 2.0**1.5)
    assert np.allclose(separable_wavelet(image, "coif1", "LHL", padding="mirror"), 0.0, atol=1e-12)


def test_rotation_invariant_response_commutes_with_right_angle_rotations(rng):
    image = rng.normal(size=(10, 10, 10))
    kwargs = {"level": 2, "rotation_invariant": True, "padding": "periodic"}
    out = separable_wavelet(np.rot90(image, axes=(1, 2)), "db2", "HLH", **kwargs)
    np.testing.assert_allclose(out, np.rot90(separable_wavelet(image, "db2", "HLH", **kwargs), axes=(1, 2)),
                               atol=1e-12)


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"subband": "LXL"}, "subband"), ({"level": 0}, "level"), ({"wavelet": "gaus1"}, "wavelet"),
    ({"decimated": True, "rotation_invariant": True}, "rotation_invariant"),
])
def test_invalid_parameters_are_rejected(kwargs, name):
    args = {"wavelet": "haar", "subband": "LLH"} | kwargs
    with pytest.raises(InvalidParameterError) as info:
        separable_wavelet(np.zeros((4, 4, 4)), **args)
    assert info.value.name == name
