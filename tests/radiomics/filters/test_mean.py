"""Tests of imagebio.radiomics.filters.mean: IBSI 2 phase-1 tests 1.a.1-1.a.4, 1.b.1 and a brute-force check."""

from __future__ import annotations

import numpy as np
import pytest

from imagebio.errors import InvalidParameterError
from imagebio.radiomics.filters.mean import mean_filter
from imagebio.radiomics.filters.padding import pad

from ._ibsi2 import check_phase1, phase1_ids


@pytest.mark.parametrize("test_id", phase1_ids(("1_",)))
def test_ibsi2_phase1_response_map(test_id):
    deviation = check_phase1(test_id)
    assert deviation <= 1.0, f"{test_id}: max deviation {deviation:.3f} % of the reference range (limit 1 %)"


@pytest.mark.parametrize("padding", ["zero", "nearest", "periodic", "mirror"])
@pytest.mark.parametrize("dimensions", [2, 3])
def test_mean_equals_brute_force_window_mean(rng, padding, dimensions):
    image = rng.normal(size=(5, 6, 7))
    support = 3
    axes = (1, 2) if dimensions == 2 else (0, 1, 2)
    widths = [1 if a in axes else 0 for a in range(3)]
    padded = pad(image, widths, padding)
    windows = np.lib.stride_tricks.sliding_window_view(padded, [support if a in axes else 1 for a in range(3)])
    expected = windows.mean(axis=(-3, -2, -1))
    np.testing.assert_allclose(mean_filter(image, support, dimensions=dimensions, padding=padding), expected,
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("support", [0, 4, 2.5])
def test_even_or_fractional_support_is_rejected(support):
    with pytest.raises(InvalidParameterError):
        mean_filter(np.zeros((3, 3, 3)), support)
