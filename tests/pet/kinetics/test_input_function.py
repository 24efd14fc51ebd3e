"""Tests of input functions (imagebio.pet.kinetics.input_function)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad

from imagebio.errors import EmptyMaskError, InvalidParameterError
from imagebio.pet.kinetics.frames import FrameTimes
from imagebio.pet.kinetics.input_function import (
    FengInputFunction,
    InputFunction,
    image_derived_input,
    read_input_function_csv,
)

from . import _feng_reference as ref


def test_feng_default_assignment_and_closed_form_integral():
    feng = FengInputFunction()
    t = np.array([0.0, 0.1, 0.5, 1.0, 10.0, 60.0])
    np.testing.assert_allclose(feng(t), ref.feng(t), rtol=1e-12)
    assert feng(np.array([-1.0]))[0] == 0.0 and feng(np.array([0.0]))[0] == pytest.approx(0.0, abs=1e-9)
    for end in (0.3, 5.0, 60.0):
        numeric, _ = quad(lambda s: float(ref.feng(s)), 0.0, end, limit=200, points=[0.25])
        assert feng.integral(np.array([end]))[0] == pytest.approx(numeric, rel=1e-9)
    swapped = FengInputFunction(lambda2=-0.1191, lambda3=-0.0104)
    assert swapped(np.array([60.0]))[0] != pytest.approx(feng(np.array([60.0]))[0], rel=1e-3)


def test_sampled_input_is_piecewise_linear_from_zero():
    curve = InputFunction([1.0, 2.0, 4.0], [10.0, 6.0, 2.0])
    np.testing.assert_allclose(curve(np.array([0.0, 0.5, 1.5, 3.0, 10.0])), [0.0, 5.0, 8.0, 4.0, 2.0])
    # areas: 0-1: 5, 1-2: 8, 2-4: 8; after the last sample the value is held
    np.testing.assert_allclose(curve.integral(np.array([1.0, 2.0, 4.0, 5.0, 1.5])), [5.0, 13.0, 21.0, 23.0, 9.5])


def test_sampled_input_rejects_unordered_times():
    with pytest.raises(InvalidParameterError, match="sample 2"):
        InputFunction([0.0, 1.0, 1.0], [0.0, 1.0, 2.0])
    with pytest.raises(InvalidParameterError, match="sample 1 value"):
        InputFunction([0.0, 1.0], [0.0, np.nan])


def test_csv_input(tmp_path):
    path = tmp_path / "aif.csv"
    path.write_text("time_s,plasma_kBq_per_mL\n0,0\n30,120.5\n90,40\n")
    curve = read_input_function_csv(path, time_unit="s", unit="kBq/mL")
    np.testing.assert_allclose(curve.times_min, [0.0, 0.5, 1.5])
    np.testing.assert_allclose(curve.values, [0.0, 120.5, 40.0])
    with pytest.raises(InvalidParameterError, match="column"):
        read_input_function_csv(path, value_column="blood")
    path.write_text("t,c\n0,0\n1,abc\n")
    with pytest.raises(InvalidParameterError, match="line 3"):
        read_input_function_csv(path, time_unit="min")


def test_image_derived_input_is_the_region_mean_at_mid_times():
    frames = FrameTimes.from_durations([1.0, 1.0, 2.0])
    dynamic = np.zeros((3, 4, 5, 6))
    mask = np.zeros((4, 5, 6), bool)
    mask[1:3, 2:4, 2:5] = True
    for i, level in enumerate([100.0, 50.0, 20.0]):
        dynamic[i][mask] = level
    curve = image_derived_input(dynamic, mask, frames, plasma_to_blood_ratio=1.1)
    np.testing.assert_allclose(curve.times_min, [0.5, 1.5, 3.0])
    np.testing.assert_allclose(curve.values, [110.0, 55.0, 22.0])
    with pytest.raises(EmptyMaskError):
        image_derived_input(dynamic, np.zeros_like(mask), frames)
