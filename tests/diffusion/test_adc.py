import numpy as np
import pytest

from imagebio.diffusion.adc import adc_signal, fit_adc
from imagebio.errors import InvalidParameterError

# QIBA DWI DRO design (README_DWI_DRO.txt, Malyarenko & Pang): ADC 0.1-3.5e-3 mm^2/s, b 0-4000 s/mm^2
QIBA_ADC = np.arange(0.1, 3.6, 0.2) * 1e-3
QIBA_B = np.array([0.0, 100.0, 500.0, 800.0, 2000.0, 4000.0])


def test_noiseless_recovery_batched_shape():
    s0 = np.full((2, 9), 800.0)
    adc = QIBA_ADC.reshape(2, 9)
    fit = fit_adc(adc_signal(s0, adc, QIBA_B), QIBA_B)
    assert fit["adc_mm2_per_s"].shape == (2, 9)
    np.testing.assert_allclose(fit["adc_mm2_per_s"], adc, rtol=1e-10)
    np.testing.assert_allclose(fit["s0"], 800.0, rtol=1e-10)


def test_qiba_like_dro_bias_within_profile_claim():
    """Regenerate the QIBA DWI DRO design at b0 SNR 50 (b = 0, 100, 500, 800; channel noise SD 10; b > 0 is the
    geometric mean of three Rician directions) and hold the mean ADC to the QIBA DWI Profile ice-water bias
    bound, 0.04e-3 of 1.1e-3 mm^2/s (3.6 %), relative to each zone's ADC. The README gives no numeric
    pass/fail of its own."""
    rng = np.random.default_rng(0)
    b = QIBA_B[:4]
    sigma = 10.0
    s0 = 50 * sigma
    clean = adc_signal(np.full((400, QIBA_ADC.size), s0), np.broadcast_to(QIBA_ADC, (400, QIBA_ADC.size)), b)

    def rician(x):
        return np.hypot(x + rng.normal(0, sigma, x.shape), rng.normal(0, sigma, x.shape))

    directions = np.stack([rician(clean) for _ in range(3)])
    noisy = np.exp(np.log(directions).mean(axis=0))
    noisy[..., 0] = directions[0, ..., 0]  # b = 0 is a single magnitude image
    fit = fit_adc(noisy, b)
    bias = np.mean(fit["adc_mm2_per_s"], axis=0) / QIBA_ADC - 1
    # the Rician floor biases high ADC low; the profile's phantom range is 0.1-2.2e-3 (ice water 1.1e-3)
    in_range = QIBA_ADC <= 2.2e-3
    assert np.all(np.abs(bias[in_range]) < 0.036)


def test_weighting_reduces_variance_against_unweighted():
    rng = np.random.default_rng(1)
    b = np.array([0.0, 200.0, 400.0, 600.0, 800.0, 1000.0])
    clean = adc_signal(np.full(4000, 100.0), np.full(4000, 2e-3), b)
    noisy = clean + rng.normal(0, 2.0, clean.shape)
    weighted = fit_adc(noisy, b)["adc_mm2_per_s"]
    plain = fit_adc(noisy, b, weighted=False)["adc_mm2_per_s"]
    assert np.std(weighted) < np.std(plain)


def test_invalid_inputs():
    with pytest.raises(InvalidParameterError):
        fit_adc(np.ones((3, 4)), [0, 100, 200])
    with pytest.raises(InvalidParameterError):
        fit_adc(np.ones((3, 2)), [500, 500])
    with pytest.raises(InvalidParameterError):
        fit_adc(np.ones((3, 2)), [-1, 500])
    # non-positive samples are dropped; a voxel left with one b-value is nan
    fit = fit_adc(np.array([[100.0, 0.0], [100.0, 50.0]]), [0.0, 500.0])
    assert np.isnan(fit["adc_mm2_per_s"][0]) and np.isfinite(fit["adc_mm2_per_s"][1])
