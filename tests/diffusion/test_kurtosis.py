import numpy as np
import pytest

from imagebio.diffusion.kurtosis import fit_kurtosis, kurtosis_signal
from imagebio.errors import InvalidParameterError

B = np.array([0.0, 500.0, 1000.0, 1500.0, 2000.0, 2500.0])


@pytest.mark.parametrize("method", ["wls", "nonlinear"])
def test_noiseless_recovery(method):
    d = np.array([[0.7e-3, 1.0e-3], [1.5e-3, 2.0e-3]])
    k = np.array([[1.2, 0.8], [0.6, 0.3]])
    fit = fit_kurtosis(kurtosis_signal(300.0, d, k, B), B, method=method)
    np.testing.assert_allclose(fit["d_mm2_per_s"], d, rtol=1e-6)
    np.testing.assert_allclose(fit["k"], k, rtol=1e-5)
    np.testing.assert_allclose(fit["s0"], 300.0, rtol=1e-6)
    assert np.all(fit["converged"])


def test_noisy_estimates_unbiased_enough():
    rng = np.random.default_rng(2)
    clean = kurtosis_signal(np.full(2000, 1000.0), 1.0e-3, 0.9, B)
    noisy = clean + rng.normal(0, 10.0, clean.shape)  # b0 SNR 100
    for method in ("wls", "nonlinear"):
        fit = fit_kurtosis(noisy, B, method=method)
        assert abs(np.median(fit["d_mm2_per_s"]) / 1.0e-3 - 1) < 0.03
        assert abs(np.median(fit["k"]) / 0.9 - 1) < 0.05


def test_validation():
    with pytest.raises(InvalidParameterError):
        fit_kurtosis(np.ones((2, 2)), [0.0, 1000.0])
    with pytest.raises(InvalidParameterError):
        fit_kurtosis(np.ones((2, 3)), [0.0, 1000.0, 2000.0], method="dti")
