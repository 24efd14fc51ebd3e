"""Tests of imagebio.radiomics.filters.riesz: IBSI 2 phase-1 tests 9.a, 9.b.1, 10.b.1 and the order-0 identity."""

from __future__ import annotations

import numpy as np
import pytest

from imagebio.errors import InvalidParameterError
from imagebio.radiomics.filters.log import laplacian_of_gaussian
from imagebio.radiomics.filters.riesz import riesz_log, riesz_multiplier

from ._ibsi2 import check_phase1, phase1_ids


@pytest.mark.parametrize("test_id", phase1_ids(("9_", "10_")))
def test_ibsi2_phase1_response_map(test_id):
    deviation = check_phase1(test_id)
    assert deviation <= 1.0, f"{test_id}: max deviation {deviation:.3f} % of the reference range (limit 1 %)"


def test_order_zero_leaves_the_log_unchanged(rng):
    image = rng.normal(size=(10, 11, 12))
    spacing = (1.0, 1.0, 1.0)  # sigma 1 mm -> radius 4, padded sizes 18, 19, 20
    np.testing.assert_allclose(riesz_log(image, spacing, 1.0, (0, 0, 0), padding="mirror"),
                               laplacian_of_gaussian(image, spacing, 1.0, padding="mirror"), atol=1e-9)


def test_first_order_multiplier_is_odd_imaginary_and_unit_modulus_on_its_axis():
    from scipy import fft

    m = fft.fftshift(riesz_multiplier((5, 7, 9), (0, 0, 1)))  # order given (z, y, x): first order along x
    assert m[2, 3, 4] == 0  # zero frequency
    np.testing.assert_allclose(m.real, 0.0, atol=1e-15)
    np.testing.assert_allclose(m, -np.flip(m, axis=2), atol=1e-15)
    np.testing.assert_allclose(np.abs(np.delete(m[2, 3, :], 4)), 1.0)
    assert np.all(np.abs(m) <= 1.0 + 1e-12)


def test_invalid_order_is_rejected():
    with pytest.raises(InvalidParameterError):
        riesz_log(np.zeros((4, 4, 4)), (1.0, 1.0, 1.0), 1.0, (1, 0))
