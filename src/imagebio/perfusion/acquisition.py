"""Acquisition facts of dynamic and variable-flip-angle MR series, checked before any fit.

The io layer (:func:`imagebio.io.dicom.read_dynamic_series`) returns one :class:`~imagebio.volume.Volume` per
frame with ``metadata["frame_time_s"]`` (dynamic), ``metadata["flip_angle_deg"]`` and
``metadata["repetition_time_ms"]`` / ``metadata["echo_time_ms"]`` (from the headers). The functions here stack
the frames, validate those facts and raise typed errors that name the missing attribute and the series, so a
fit never runs on a series without a flip angle, a TR, or with frames out of time order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from imagebio.errors import InvalidParameterError, MissingDicomTagError, UnsupportedDataError
from imagebio.volume import Volume

__all__ = ["DynamicSeries", "VfaSeries", "stack_frames", "dynamic_series", "vfa_series", "echo_time_s"]


def _where(frames: Sequence[Volume]) -> str | None:
    return frames[0].identifiers.get("path") if frames else None


def stack_frames(frames: Sequence[Volume], what: str = "series") -> np.ndarray:
    """Stack frames (each (z, y, x), same grid) into one float array (z, y, x, n_frames)."""
    if not frames:
        raise UnsupportedDataError(f"{what}: no frames")
    first = frames[0]
    for index, frame in enumerate(frames[1:], start=1):
        if not first.same_grid(frame):
            raise UnsupportedDataError(f"{what}: frame {index} is not on the grid of frame 0", _where(frames))
    return np.stack([np.asarray(f.array, dtype=np.float64) for f in frames], axis=-1)


def _meta_per_frame(frames: Sequence[Volume], key: str, keyword: str, needed_for: str) -> np.ndarray:
    values = []
    for frame in frames:
        value = frame.metadata.get(key)
        if value is None:
            raise MissingDicomTagError(keyword, path=frame.identifiers.get("path") or _where(frames),
                                       needed_for=needed_for)
        values.append(float(value))
    return np.asarray(values)


@dataclass(frozen=True)
class DynamicSeries:
    """A dynamic SPGR (DCE) or gradient-echo (DSC) series ready for fitting.

    Attributes
    ----------
    signal : array (z, y, x, n_t)
        Signal, time last.
    t_s : array (n_t,)
        Frame times in seconds from the first frame (strictly increasing).
    flip_angle_deg, tr_s, te_s : float or None
        Sequence parameters from the headers (None when not required and absent).
    reference : Volume
        Frame 0 (geometry, identifiers) for writing maps.
    """

    signal: np.ndarray
    t_s: np.ndarray
    flip_angle_deg: float | None
    tr_s: float | None
    te_s: float | None
    reference: Volume


def _frame_times(frames: Sequence[Volume]) -> np.ndarray:
    t = _meta_per_frame(frames, "frame_time_s", "TriggerTime", "frame times of a dynamic series")
    steps = np.diff(t)
    if np.any(steps <= 0):
        bad = int(np.flatnonzero(steps <= 0)[0]) + 1
        raise InvalidParameterError(
            "frame_time_s",
            f"frame {bad} at {t[bad]:g} s after frame {bad - 1} at {t[bad - 1]:g} s ({_where(frames)})",
            "strictly increasing frame times (TemporalPositionIdentifier/TriggerTime/AcquisitionTime)",
        )
    return t


def _single(values: np.ndarray, keyword: str, frames: Sequence[Volume], unit: str) -> float:
    if not np.allclose(values, values[0]):
        raise UnsupportedDataError(
            f"{keyword} varies across the frames of a dynamic series ({sorted(set(values.tolist()))} {unit})",
            _where(frames),
        )
    return float(values[0])


def dynamic_series(
    frames: Sequence[Volume],
    needs_flip_angle: bool = True,
    needs_tr: bool = True,
    needs_te: bool = False,
    min_frames: int = 3,
    what: str = "DCE",
) -> DynamicSeries:
    """Validate and stack the frames of a DCE/DSC series.

    Parameters
    ----------
    frames : sequence of Volume
        Frames from :func:`imagebio.io.dicom.read_dynamic_series`, in acquisition order.
    needs_flip_angle, needs_tr, needs_te : bool
        Which sequence parameters must be in the headers (SPGR signal-to-concentration needs the flip angle
        and TR; Delta R2* needs TE).
    min_frames : int
        Fewest frames the intended model can use (e.g. free parameters + 1, plus baseline frames).
    what : str
        Name used in error messages.

    Raises
    ------
    MissingDicomTagError
        FlipAngle (0018,1314), RepetitionTime (0018,0080), EchoTime (0018,0081) or the frame timing is absent.
    InvalidParameterError
        Frame times that do not strictly increase, or fewer than ``min_frames`` frames.
    """
    if len(frames) < min_frames:
        raise InvalidParameterError(
            f"{what} series", f"{len(frames)} frames ({_where(frames)})", f"at least {min_frames} frames for the fit"
        )
    t = _frame_times(frames)
    flip = tr = te = None
    if needs_flip_angle or all("flip_angle_deg" in f.metadata for f in frames):
        flip = _single(_meta_per_frame(frames, "flip_angle_deg", "FlipAngle", f"{what} signal to concentration"),
                       "FlipAngle", frames, "deg")
    if needs_tr or all("repetition_time_ms" in f.metadata for f in frames):
        tr = _single(_meta_per_frame(frames, "repetition_time_ms", "RepetitionTime",
                                     f"{what} signal to concentration"), "RepetitionTime", frames, "ms") / 1000.0
        if tr <= 0:
            raise InvalidParameterError("RepetitionTime", tr * 1000.0, "a positive TR in ms")
    if needs_te or all("echo_time_ms" in f.metadata for f in frames):
        te = _single(_meta_per_frame(frames, "echo_time_ms", "EchoTime", f"{what} Delta R2*"), "EchoTime",
                     frames, "ms") / 1000.0
    if flip is not None and not 0 < flip < 180:
        raise InvalidParameterError("FlipAngle", flip, "a flip angle in (0, 180) degrees")
    return DynamicSeries(stack_frames(frames, what), t, flip, tr, te, frames[0])


@dataclass(frozen=True)
class VfaSeries:
    """A variable-flip-angle series: signal (z, y, x, n_fa), flip angles (deg), TR (s), frame 0."""

    signal: np.ndarray
    flip_angles_deg: np.ndarray
    tr_s: np.ndarray
    reference: Volume


def vfa_series(frames: Sequence[Volume]) -> VfaSeries:
    """Validate and stack a variable-flip-angle T1 series (at least two distinct flip angles, a TR per frame).

    Raises
    ------
    MissingDicomTagError
        A frame without FlipAngle (0018,1314) or RepetitionTime (0018,0080).
    InvalidParameterError
        Fewer than two distinct flip angles.
    """
    angles = _meta_per_frame(frames, "flip_angle_deg", "FlipAngle", "variable-flip-angle T1 mapping")
    tr_ms = _meta_per_frame(frames, "repetition_time_ms", "RepetitionTime", "variable-flip-angle T1 mapping")
    if np.unique(angles).size < 2:
        raise InvalidParameterError(
            "FlipAngle", f"{angles.tolist()} ({_where(frames)})", "at least two distinct flip angles for VFA T1"
        )
    if np.any(tr_ms <= 0):
        raise InvalidParameterError("RepetitionTime", tr_ms.tolist(), "positive TR in ms")
    return VfaSeries(stack_frames(frames, "VFA"), angles, tr_ms / 1000.0, frames[0])


def echo_time_s(frames: Sequence[Volume], what: str = "DSC") -> float:
    """Echo time (s) of a series, from ``metadata["echo_time_ms"]``; raises MissingDicomTagError when absent."""
    te = _meta_per_frame(frames, "echo_time_ms", "EchoTime", f"{what} Delta R2*")
    return _single(te, "EchoTime", frames, "ms") / 1000.0
