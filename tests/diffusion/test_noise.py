"""Rician noise floor: the expected magnitude against scipy's Rice distribution, and noise-floor fits.

Own tolerances (stated): the expected magnitude agrees with ``scipy.stats.rice.mean`` to 1e-6 relative; on data
equal to the expected magnitude of the true signal (the noise floor without scatter) the corrected fits return
the truth within 0.5 % while the uncorrected ones are off by more than 2 %.
"""

import numpy as np
import pytest
from scipy.stats import rice

from imagebio.diffusion.ivim import fit_ivim, ivim_signal
from imagebio.diffusion.kurtosis import fit_kurtosis, kurtosis_signal
from imagebio.diffusion.noise import rician_bias_corrected, rician_expected_magnitude
from imagebio.errors import InvalidParameterError


def test_expected_magnitude_matches_the_rice_distribution():
    snr = np.array([0.0, 0.3, 1.0, 2.0, 5.0, 10.0, 25.0, 28.0, 40.0])
    for sigma in (1.0, 37.5):
        ours = rician_expected_magnitude(snr * sigma, sigma)
        # scipy's rice.mean overflows above SNR ~ 30; there the mean is sqrt(A^2 + sigma^2) to < 1e-6
        ref = np.where(snr < 30, rice.mean(np.minimum(snr, 30.0), scale=sigma),
                       np.sqrt((snr * sigma) ** 2 + sigma**2))
        np.testing.assert_allclose(ours, ref, rtol=1e-6)
    assert rician_expected_magnitude(0.0, 2.0) == pytest.approx(2.0 * np.sqrt(np.pi / 2))
    assert rician_expected_magnitude(np.array([3.0, -3.0]), 0.0).tolist() == [3.0, 3.0]


def test_expected_magnitude_matches_monte_carlo():
    rng = np.random.default_rng(0)
    a, sigma = 2.0, 1.0
    m = np.abs(a + rng.normal(0, sigma, 400_000) + 1j * rng.normal(0, sigma, 400_000))
    assert rician_expected_magnitude(a, sigma) == pytest.approx(m.mean(), rel=3e-3)
    assert np.mean(m**2) - 2 * sigma**2 == pytest.approx(a * a, rel=1e-2)
    assert rician_bias_corrected(np.array([1.0, 3.0]), 1.0).tolist() == [0.0, pytest.approx(np.sqrt(7.0))]


@pytest.mark.parametrize("sigma", [70.0, 100.0])  # b=0 SNR 14 and 10
def test_kurtosis_noise_floor_fit(sigma):
    b = np.array([0, 500, 1000, 1500, 2000, 2500, 3000.0])
    floor = rician_expected_magnitude(kurtosis_signal(1000.0, 1e-3, 1.0, b), sigma)[None]
    plain = fit_kurtosis(floor, b, method="nonlinear")
    fixed = fit_kurtosis(floor, b, method="nonlinear", noise_sigma=sigma)
    assert fixed["k"][0] == pytest.approx(1.0, rel=5e-3)
    assert fixed["d_mm2_per_s"][0] == pytest.approx(1e-3, rel=5e-3)
    assert abs(plain["k"][0] - 1.0) > 0.02  # the floor inflates K
    assert fixed["fit_status"][0] == 0


@pytest.mark.parametrize("sigma", [60.0, 100.0])  # b=0 SNR 17 and 10
def test_ivim_noise_floor_fit(sigma):
    b = np.array([0, 10, 20, 50, 100, 200, 400, 600, 800, 1000, 1500, 2000.0])
    floor = rician_expected_magnitude(ivim_signal(1000.0, 0.1, 0.05, 1.2e-3, b), sigma)[None]
    plain = fit_ivim(floor, b)
    fixed = fit_ivim(floor, b, noise_sigma=np.array([sigma]))
    assert fixed["d_mm2_per_s"][0] == pytest.approx(1.2e-3, rel=5e-3)
    assert fixed["f"][0] == pytest.approx(0.1, rel=5e-3)
    assert fixed["d_star_mm2_per_s"][0] == pytest.approx(0.05, rel=5e-3)
    assert abs(plain["d_mm2_per_s"][0] / 1.2e-3 - 1.0) > 0.02  # the floor flattens the high-b decay


def test_noise_sigma_validation():
    b = np.array([0, 10, 20, 50, 100, 200, 400, 800.0])
    with pytest.raises(InvalidParameterError, match="noise_sigma"):
        fit_ivim(np.ones((2, b.size)), b, noise_sigma=-1.0)
    with pytest.raises(InvalidParameterError, match="noise_sigma"):
        fit_kurtosis(np.ones((2, 3)), np.array([0, 1000, 2000.0]), noise_sigma=np.ones(3))
