import numpy as np
from scipy.integrate import solve_ivp

from imagebio.perfusion.aif import parker_aif
from imagebio.perfusion.models import (
    exp_convolve,
    extended_tofts_concentration,
    patlak_concentration,
    tofts_concentration,
    two_compartment_exchange_concentration,
    two_compartment_uptake_concentration,
)

T = np.arange(0.0, 300.0, 2.0)
CP = parker_aif(T, delay_s=10.0, hct=0.45)


def _ode(fp, ps, ve, vp, uptake=False):
    def rhs(tt, x):
        ca = np.interp(tt, T, CP)
        f, p = fp / 6000.0, ps / 60.0
        dcp = (f * (ca - x[0]) - p * (x[0] - (0.0 if uptake else x[1]))) / vp
        dce = p * x[0] if uptake else p * (x[0] - x[1]) / ve
        return [dcp, dce]

    sol = solve_ivp(rhs, (T[0], T[-1]), [0.0, 0.0], t_eval=T, max_step=0.05, rtol=1e-10, atol=1e-13)
    return vp * sol.y[0] + (sol.y[1] if uptake else ve * sol.y[1])


def test_exp_convolve_exact_for_piecewise_linear_input():
    t = np.array([0.0, 1.0, 3.0, 4.5, 8.0])  # non-uniform
    c = np.array([0.0, 2.0, 1.0, 1.5, 0.0])
    k = np.array([0.0, 0.3, 2.0])
    fine = np.linspace(0, 8, 160001)
    cf = np.interp(fine, t, c)
    for i, ki in enumerate(k):
        ref = [np.trapezoid(cf[fine <= tn] * np.exp(-ki * (tn - fine[fine <= tn])), fine[fine <= tn]) for tn in t]
        np.testing.assert_allclose(exp_convolve(t, c, k)[i], ref, atol=1e-7)


def test_uniform_fft_path_equals_recurrence():
    t = np.arange(0.0, 400.0, 0.5)
    cp = parker_aif(t, delay_s=10.0)
    k = np.array([0.0, 1e-4, 0.01, 0.5, 20.0])
    many = exp_convolve(t, cp, np.repeat(k, 30))[::30]  # > 64 curves: recurrence
    few = exp_convolve(t, cp, k)  # FFT
    np.testing.assert_allclose(few, many, atol=1e-9 * np.abs(many).max())


def test_two_compartment_exchange_matches_ode():
    ours = two_compartment_exchange_concentration(T, CP, 30.0, 0.1, 0.3, 0.05)
    np.testing.assert_allclose(ours, _ode(30.0, 0.1, 0.3, 0.05), atol=1e-6)


def test_two_compartment_uptake_matches_ode_and_2cxm_limit():
    ours = two_compartment_uptake_concentration(T, CP, 25.0, 0.05, 0.05)
    np.testing.assert_allclose(ours, _ode(25.0, 0.05, 1.0, 0.05, uptake=True), atol=1e-6)
    np.testing.assert_allclose(two_compartment_exchange_concentration(T, CP, 25.0, 0.05, 1e5, 0.05), ours, atol=1e-6)


def test_tofts_family_relations_and_broadcasting():
    kt = np.array([[0.1, 0.2], [0.3, 0.05]])
    tofts = tofts_concentration(T, CP, kt, 0.3)
    assert tofts.shape == (2, 2, T.size)
    etm = extended_tofts_concentration(T, CP, kt, 0.3, 0.04)
    np.testing.assert_allclose(etm - tofts, 0.04 * np.broadcast_to(CP, etm.shape), atol=1e-12)
    # Patlak is the ve -> infinity limit of the extended Tofts model
    np.testing.assert_allclose(
        patlak_concentration(T, CP, 0.1, 0.04), extended_tofts_concentration(T, CP, 0.1, 1e7, 0.04), atol=1e-7
    )
    # Tofts with Ktrans = Fp E in the 2CXM-free limit vp -> 0: 2CXM reduces to Tofts with Ktrans = E Fp
    fp, ps, ve = 60.0, 0.2, 0.3
    ktrans = ps * (fp / 100) / (ps + fp / 100)
    np.testing.assert_allclose(
        two_compartment_exchange_concentration(T, CP, fp, ps, ve, 1e-6),
        tofts_concentration(T, CP, ktrans, ve),
        atol=2e-3,
    )


def test_per_voxel_delay_equals_shifted_input():
    delayed = tofts_concentration(T, CP, np.array([0.2, 0.2]), 0.4, delay_s=np.array([0.0, 6.0]))
    shifted_cp = np.concatenate([np.zeros(3), CP[:-3]])
    np.testing.assert_allclose(delayed[1], tofts_concentration(T, shifted_cp, 0.2, 0.4), atol=1e-12)
    np.testing.assert_allclose(delayed[0], tofts_concentration(T, CP, 0.2, 0.4))
