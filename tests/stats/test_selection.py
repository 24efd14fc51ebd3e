"""Correlation-redundancy filter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from imagebio.errors import InvalidParameterError
from imagebio.stats.selection import CorrelationFilter


def test_drops_one_of_each_redundant_pair():
    rng = np.random.default_rng(0)
    a, b, c = rng.normal(size=(3, 100))
    X = pd.DataFrame({"a": a, "a2": a + rng.normal(0, 0.05, 100), "b": b, "c": c, "c2": -c})
    filt = CorrelationFilter(threshold=0.9).fit(X)
    assert list(filt.get_feature_names_out()) == ["a", "b", "c"]
    # With the outcome, the member of a pair more correlated with y is kept.
    y = X["a2"] + rng.normal(0, 0.01, 100)
    filt_y = CorrelationFilter(threshold=0.9, use_outcome=True).fit(X, y)
    assert "a2" in filt_y.get_feature_names_out() and "a" not in filt_y.get_feature_names_out()


def test_zero_variance_and_missing_raise():
    X = np.column_stack([np.arange(10.0), np.ones(10)])
    with pytest.raises(InvalidParameterError, match="zero-variance"):
        CorrelationFilter().fit(X)
    X2 = np.column_stack([np.arange(10.0), np.r_[np.nan, np.arange(9.0)]])
    with pytest.raises(ValueError, match="NaN"):
        CorrelationFilter().fit(X2)
