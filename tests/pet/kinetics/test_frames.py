"""Tests of dynamic frame timing (imagebio.pet.kinetics.frames)."""

from __future__ import annotations

import numpy as np
import pytest

from imagebio.errors import InvalidParameterError, MissingDicomTagError
from imagebio.pet.kinetics.frames import FrameTimes
from imagebio.volume import Volume


def test_times_from_seconds_and_durations():
    frames = FrameTimes.from_seconds([0, 30, 60, 120], [30, 30, 60, 300])
    np.testing.assert_allclose(frames.mid_min, [0.25, 0.75, 1.5, 4.5])
    np.testing.assert_allclose(frames.end_min, [0.5, 1.0, 2.0, 7.0])
    assert len(frames) == 4
    same = FrameTimes.from_durations(np.array([30, 30, 60, 300]) / 60.0)
    np.testing.assert_allclose(same.start_min, frames.start_min)
    # gaps between frames are allowed
    FrameTimes([0.0, 2.0], [1.0, 1.0])


def test_frames_out_of_order_name_the_frame():
    with pytest.raises(InvalidParameterError, match="frame 2 start_min") as caught:
        FrameTimes([0.0, 1.0, 0.5], [1.0, 1.0, 1.0])
    assert "frame 1" in str(caught.value)  # the frame it should follow
    # overlapping frames are out of order too
    with pytest.raises(InvalidParameterError, match="frame 1 start_min"):
        FrameTimes([0.0, 0.5], [1.0, 1.0])


@pytest.mark.parametrize("duration", [-0.5, 0.0, float("nan")])
def test_non_positive_duration_names_the_frame(duration):
    with pytest.raises(InvalidParameterError, match="frame 1 duration_min"):
        FrameTimes([0.0, 1.0, 2.0], [1.0, duration, 1.0])


def test_bad_shapes_and_negative_start():
    with pytest.raises(InvalidParameterError):
        FrameTimes([0.0, 1.0], [1.0])
    with pytest.raises(InvalidParameterError, match="frame 0 start_min"):
        FrameTimes([-1.0], [1.0])


def test_from_dynamic_volumes_metadata():
    def frame(start_s, duration_s=None):
        meta = {"frame_time_s": start_s}
        if duration_s is not None:
            meta["frame_duration_s"] = duration_s
        return Volume(np.zeros((1, 2, 2)), spacing=(1, 1, 1), metadata=meta)

    frames = FrameTimes.from_volumes([frame(0, 60), frame(60, 120)], injection_offset_min=0.5)
    np.testing.assert_allclose(frames.start_min, [0.5, 1.5])
    np.testing.assert_allclose(frames.duration_min, [1.0, 2.0])
    with pytest.raises(MissingDicomTagError, match="ActualFrameDuration"):
        FrameTimes.from_volumes([frame(0, 60), frame(60)])
    with pytest.raises(InvalidParameterError, match="frame 1 start_min"):
        FrameTimes.from_volumes([frame(60, 60), frame(0, 60)])
