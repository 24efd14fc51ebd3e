"""Tests of dynamic frame timing and parametric-map dispatch (imagebio.pet.kinetics.parametric)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from imagebio.errors import InvalidDicomValueError, InvalidParameterError, MissingDicomTagError
from imagebio.pet.kinetics.frames import FrameTimes
from imagebio.pet.kinetics.input_function import FengInputFunction
from imagebio.pet.kinetics.parametric import dynamic_frame_times, parametric_maps
from imagebio.volume import Volume

from . import _feng_reference as ref

START = datetime(2024, 1, 1, 10, 0, 0)


def _frames(times_s, durations_s, first=START):
    return [
        Volume(np.zeros((1, 2, 2), np.float32), spacing=(1.0, 1.0, 1.0), acquisition_time=first,
               identifiers={"path": "/dyn"}, metadata={"frame_time_s": t, "frame_duration_s": d})
        for t, d in zip(times_s, durations_s, strict=True)
    ]


def test_frame_times_count_from_injection():
    frames = dynamic_frame_times(_frames([0, 30, 60], [30, 30, 60]), START - timedelta(seconds=90))
    np.testing.assert_allclose(frames.start_min, [1.5, 2.0, 2.5])
    np.testing.assert_allclose(frames.duration_min, [0.5, 0.5, 1.0])


def test_negative_duration_names_the_frame():
    with pytest.raises(InvalidDicomValueError) as caught:
        dynamic_frame_times(_frames([0, 30, 60], [30, -30, 60]), START)
    assert caught.value.keyword == "ActualFrameDuration" and "frame 1" in str(caught.value)


def test_overlapping_frames_name_the_frame():
    with pytest.raises(InvalidDicomValueError) as caught:
        dynamic_frame_times(_frames([0, 30, 50], [30, 30, 60]), START)
    assert "frame 2" in str(caught.value) and "time order" in str(caught.value)


def test_missing_duration_and_injection_after_the_scan():
    frames = _frames([0, 30], [30, 30])
    frames[1] = frames[1].replace(metadata={"frame_time_s": 30})
    with pytest.raises(MissingDicomTagError) as caught:
        dynamic_frame_times(frames, START)
    assert caught.value.keyword == "ActualFrameDuration" and "frame 1" in str(caught.value)
    with pytest.raises(InvalidDicomValueError) as caught:
        dynamic_frame_times(_frames([0, 30], [30, 30]), START + timedelta(minutes=5))
    assert caught.value.keyword == "RadiopharmaceuticalStartDateTime"


def test_patlak_map_with_automatic_t_star():
    frames = FrameTimes.from_durations(np.array(ref.DURATIONS_S) / 60.0)
    k1 = np.array([0.05, 0.1, 0.15]).reshape(1, 1, 3)
    tac = ref.frame_average(lambda t: ref.two_tissue_pet(t, 1.0, 0.130, 0.062), frames.start_min, frames.duration_min)
    dynamic = tac[:, None, None, None] * k1[None]
    result = parametric_maps(dynamic, frames, "patlak", input_function=FengInputFunction())
    np.testing.assert_allclose(result.maps["ki"], k1 * 0.062 / 0.192, rtol=0.02)
    assert result.t_star_min is not None and result.units["ki"] == "mL/cm3/min"


def test_models_need_their_inputs():
    frames = FrameTimes.from_durations([1.0] * 5)
    dynamic = np.ones((5, 1, 1, 1))
    with pytest.raises(InvalidParameterError):
        parametric_maps(dynamic, frames, "patlak")
    with pytest.raises(InvalidParameterError):
        parametric_maps(dynamic, frames, "srtm", input_function=FengInputFunction())
    with pytest.raises(InvalidParameterError):
        parametric_maps(dynamic, frames, "logan")
    with pytest.raises(InvalidParameterError):
        parametric_maps(dynamic, frames, "2tcm", input_function=FengInputFunction())
