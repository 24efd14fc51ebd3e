"""Acquisition facts checked before a fit: typed errors that name the missing header or the bad frames."""

import numpy as np
import pytest

from imagebio.errors import InvalidParameterError, MissingDicomTagError
from imagebio.perfusion.acquisition import dynamic_series, echo_time_s, vfa_series
from imagebio.volume import Volume


def _frames(n, **meta_per_frame):
    frames = []
    for i in range(n):
        meta = {key: values[i] for key, values in meta_per_frame.items() if values[i] is not None}
        frames.append(Volume(np.full((2, 3, 3), 100.0 + i), (2.0, 1.0, 1.0), modality="MR",
                             identifiers={"path": "/data/DCE"}, metadata=meta))
    return frames


def test_dynamic_series_stacks_frames_with_times_and_sequence():
    frames = _frames(5, frame_time_s=[0, 5, 10, 15, 20], flip_angle_deg=[15] * 5, repetition_time_ms=[4.0] * 5)
    dyn = dynamic_series(frames)
    assert dyn.signal.shape == (2, 3, 3, 5)
    assert dyn.t_s.tolist() == [0, 5, 10, 15, 20]
    assert dyn.flip_angle_deg == 15 and dyn.tr_s == pytest.approx(0.004)


def test_missing_flip_angle_is_named():
    frames = _frames(4, frame_time_s=[0, 5, 10, 15], flip_angle_deg=[15, 15, None, 15], repetition_time_ms=[4] * 4)
    with pytest.raises(MissingDicomTagError, match=r"FlipAngle \(0018,1314\).*signal to concentration"):
        dynamic_series(frames)


def test_missing_repetition_time_is_named():
    frames = _frames(4, frame_time_s=[0, 5, 10, 15], flip_angle_deg=[15] * 4, repetition_time_ms=[None] * 4)
    with pytest.raises(MissingDicomTagError, match=r"RepetitionTime \(0018,0080\)"):
        dynamic_series(frames)


def test_non_increasing_frame_times_are_named():
    frames = _frames(4, frame_time_s=[0, 5, 5, 15], flip_angle_deg=[15] * 4, repetition_time_ms=[4] * 4)
    with pytest.raises(InvalidParameterError, match=r"frame 2 at 5 s after frame 1 at 5 s.*strictly increasing"):
        dynamic_series(frames)


def test_series_too_short_for_the_model():
    frames = _frames(3, frame_time_s=[0, 5, 10], flip_angle_deg=[15] * 3, repetition_time_ms=[4] * 3)
    with pytest.raises(InvalidParameterError, match=r"DCE series.*3 frames.*at least 5 frames"):
        dynamic_series(frames, min_frames=5)


def test_echo_time_for_dsc():
    frames = _frames(3, frame_time_s=[0, 1, 2], echo_time_ms=[30.0] * 3)
    assert echo_time_s(frames) == pytest.approx(0.03)
    with pytest.raises(MissingDicomTagError, match="EchoTime"):
        dynamic_series(_frames(3, frame_time_s=[0, 1, 2]), needs_flip_angle=False, needs_tr=False, needs_te=True)


def test_vfa_series_checks():
    frames = _frames(3, flip_angle_deg=[2, 10, 15], repetition_time_ms=[4, 4, 4])
    vfa = vfa_series(frames)
    assert vfa.flip_angles_deg.tolist() == [2, 10, 15] and vfa.tr_s.tolist() == [0.004] * 3
    with pytest.raises(MissingDicomTagError, match="RepetitionTime"):
        vfa_series(_frames(3, flip_angle_deg=[2, 10, 15], repetition_time_ms=[4, None, 4]))
    with pytest.raises(InvalidParameterError, match="two distinct flip angles"):
        vfa_series(_frames(2, flip_angle_deg=[10, 10], repetition_time_ms=[4, 4]))
