import numpy as np
import pytest
from scipy.optimize import least_squares

from imagebio.errors import InvalidParameterError
from imagebio.perfusion.fitting import aic, levenberg_marquardt, standard_errors

X = np.linspace(0.0, 5.0, 40)


def _biexp(p, index=None):
    return p[:, :1] * np.exp(-p[:, 1:2] * X) + p[:, 2:3] * np.exp(-p[:, 3:4] * X)


def test_matches_scipy_on_noisy_biexponentials():
    rng = np.random.default_rng(0)
    truth = np.column_stack(
        [rng.uniform(1, 2, 50), rng.uniform(2, 4, 50), rng.uniform(0.2, 1, 50), rng.uniform(0.1, 0.5, 50)]
    )
    y = _biexp(truth) + rng.normal(0, 0.01, (50, X.size))
    p0 = np.array([1.0, 3.0, 0.5, 0.3])
    res = levenberg_marquardt(_biexp, p0, y, lower=[0, 0, 0, 0], upper=[10, 10, 10, 10])
    assert np.all(res.converged)
    for i in range(50):
        ref = least_squares(lambda p, i=i: _biexp(p[None])[0] - y[i], p0, bounds=(0, 10), xtol=1e-12, ftol=1e-12)
        assert res.sse[i] <= 2 * ref.cost * (1 + 1e-6)  # scipy cost is SSE/2


def test_bounds_are_respected_and_active_bound_is_reached():
    # data generated with a negative rate: the best bounded solution has the rate on its lower bound
    y = np.exp(0.3 * X)[None, :]

    def model(p, index):
        return p[:, :1] * np.exp(-p[:, 1:2] * X)

    res = levenberg_marquardt(model, [1.0, 1.0], y, lower=[0.0, 0.0], upper=[100.0, 5.0])
    assert res.params[0, 1] == 0.0
    np.testing.assert_allclose(res.params[0, 0], np.mean(y), rtol=1e-6)


def test_analytic_jacobian_path_and_standard_errors():
    rng = np.random.default_rng(1)
    sigma = 0.05
    truth = np.array([2.0, 0.7])
    n = 2000

    def model(p, index):
        return p[:, :1] * np.exp(-p[:, 1:2] * X)

    def jac(p, index):
        e = np.exp(-p[:, 1:2] * X)
        return np.stack([e, -p[:, :1] * X * e], axis=-1)

    y = model(np.tile(truth, (n, 1)), None) + rng.normal(0, sigma, (n, X.size))
    res = levenberg_marquardt(model, [1.0, 1.0], y, jacobian=jac)
    se = standard_errors(res.jacobian, res.sse)
    empirical = res.params.std(axis=0)
    np.testing.assert_allclose(np.median(se, axis=0), empirical, rtol=0.1)


def test_aic_prefers_smaller_model_for_equal_fit():
    assert aic(1.0, 50, 2) < aic(1.0, 50, 4)
    assert aic(0.5, 50, 4) < aic(1.0, 50, 2)


def test_validation():
    with pytest.raises(InvalidParameterError):
        levenberg_marquardt(_biexp, [1, 1, 1, 1], np.ones(5))
    with pytest.raises(InvalidParameterError):
        levenberg_marquardt(_biexp, [1, 1, 1, 1], np.ones((2, X.size)), lower=[1, 1, 1, 1], upper=[0, 0, 0, 0])
