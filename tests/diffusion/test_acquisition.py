"""Multi-b series checks: a missing b-value and all-equal b-values are typed errors that say what is wrong."""

import numpy as np
import pytest

from imagebio.diffusion.acquisition import dwi_series
from imagebio.errors import InvalidParameterError, MissingDicomTagError
from imagebio.volume import Volume


def _frames(b_values):
    return [Volume(np.full((2, 2, 2), 100.0), (1.0, 1.0, 1.0), identifiers={"path": "/data/DWI"},
                   metadata={} if b is None else {"b_value_s_per_mm2": b}) for b in b_values]


def test_stacks_signals_and_b_values():
    series = dwi_series(_frames([0, 50, 400, 800]), "ivim")
    assert series.signal.shape == (2, 2, 2, 4)
    assert series.b_values_s_per_mm2.tolist() == [0, 50, 400, 800]


def test_all_equal_b_values_are_named():
    with pytest.raises(InvalidParameterError, match=r"\[800.0, 800.0\].*at least 2 distinct b-values for the adc"):
        dwi_series(_frames([800, 800]), "adc")
    with pytest.raises(InvalidParameterError, match="at least 3 distinct b-values for the kurtosis"):
        dwi_series(_frames([0, 1000, 1000]), "kurtosis")


def test_missing_b_value_is_named():
    with pytest.raises(MissingDicomTagError, match=r"DiffusionBValue \(0018,9087\).*DWI adc fit"):
        dwi_series(_frames([0, None, 800]), "adc")


def test_unknown_model():
    with pytest.raises(InvalidParameterError, match="model"):
        dwi_series(_frames([0, 800]), "dti")
