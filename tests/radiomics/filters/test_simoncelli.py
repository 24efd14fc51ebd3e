"""Tests of imagebio.radiomics.filters.simoncelli: IBSI 2 phase-1 tests 8.a.1-8.a.3 and the transfer function."""

from __future__ import annotations

import numpy as np
import pytest

from imagebio.radiomics.filters.simoncelli import simoncelli_transfer, simoncelli_wavelet

from ._ibsi2 import check_phase1, phase1_ids


@pytest.mark.parametrize("test_id", phase1_ids(("8_",)))
def test_ibsi2_phase1_response_map(test_id):
    deviation = check_phase1(test_id)
    assert deviation <= 1.0, f"{test_id}: max deviation {deviation:.3f} % of the reference range (limit 1 %)"


def test_transfer_is_a_band_pass_peaking_at_half_nyquist():
    from scipy import fft

    centric = fft.fftshift(simoncelli_transfer((65,), level=1))  # odd size: the centre sample is frequency 0
    r = np.abs(np.arange(65) - 32) / 32
    assert centric[32] == 0.0
    assert np.all(centric[r < 0.25] == 0.0)
    assert np.isclose(centric[np.argmin(np.abs(r - 0.5))], 1.0)
    level2 = fft.fftshift(simoncelli_transfer((65,), level=2))
    assert np.all(level2[r > 0.5] == 0.0) and level2.max() == pytest.approx(1.0)


@pytest.mark.parametrize("padding", ["periodic", "mirror"])
def test_constant_image_gives_no_response(padding):
    out = simoncelli_wavelet(np.full((8, 9, 10), 5.0), level=1, padding=padding)
    assert out.shape == (8, 9, 10)
    np.testing.assert_allclose(out, 0.0, atol=1e-9)
