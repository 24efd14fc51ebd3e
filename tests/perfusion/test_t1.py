import numpy as np
import pytest

from imagebio.errors import InvalidParameterError
from imagebio.perfusion.concentration import spgr_signal
from imagebio.perfusion.t1 import fit_vfa_t1
from tests.perfusion.osipi_data import read_csv, vec, within

# OSIPI test/T1_mapping/t1_data.py: R1 atol 0.05 /s, rtol 0.05
ATOL, RTOL = 0.05, 0.05


def _load(file, r1_to_per_s):
    df = read_csv(file)
    signals = np.stack([vec(x) for x in df["s"]])
    angles = np.stack([vec(x) for x in df["FA"]])
    tr = np.stack([vec(x) for x in df["TR"]])
    assert np.all(tr == tr[0, 0])
    return signals, angles, float(tr[0, 0]), df["R1"].to_numpy() * r1_to_per_s


@pytest.mark.parametrize("method", ["linear", "nonlinear"])
@pytest.mark.parametrize(
    "file, to_per_s, n_cases", [("t1/t1_brain_data.csv", 1.0, 76), ("t1/t1_quiba_data.csv", 1000.0, 45)]
)
def test_vfa_matches_osipi_reference(method, file, to_per_s, n_cases):
    signals, angles, tr, r1_ref = _load(file, to_per_s)
    fit = fit_vfa_t1(signals, angles, tr, method=method)
    assert int(np.sum(within(fit["r1_per_s"], r1_ref, ATOL, RTOL))) == n_cases


def test_b1_correction_recovers_truth_and_uncorrected_is_biased():
    angles = np.array([2.0, 5.0, 10.0, 15.0, 20.0])
    tr = 0.005
    r1 = np.array([0.5, 1.0, 2.0])
    b1 = np.array([0.8, 1.0, 1.2])
    signals = spgr_signal(1000.0, r1[:, None], angles * b1[:, None], tr)
    for method in ("linear", "nonlinear"):
        corrected = fit_vfa_t1(signals, angles, tr, b1=b1, method=method)
        np.testing.assert_allclose(corrected["r1_per_s"], r1, rtol=1e-6)
        np.testing.assert_allclose(corrected["s0"], 1000.0, rtol=1e-6)
        naive = fit_vfa_t1(signals, angles, tr, method=method)
        assert abs(naive["r1_per_s"][0] / r1[0] - 1) > 0.2  # 20 % B1 error -> ~40 % R1 error
    np.testing.assert_allclose(corrected["t1_s"], 1 / r1, rtol=1e-6)


def test_vfa_validation():
    with pytest.raises(InvalidParameterError):
        fit_vfa_t1(np.ones((2, 3)), [2.0, 10.0], 0.005)
    with pytest.raises(InvalidParameterError):
        fit_vfa_t1(np.ones((2, 2)), [2.0, 10.0], [0.005, 0.006], method="linear")
    with pytest.raises(InvalidParameterError):
        fit_vfa_t1(np.ones((2, 2)), [2.0, 10.0], 0.005, method="quadratic")
