"""Frame timing of a dynamic PET acquisition (times in minutes from injection).

A dynamic PET frame ``i`` integrates counts from ``start_min[i]`` to ``start_min[i] + duration_min[i]``; its value
is the frame-averaged activity concentration. Frames must be in time order, not overlap and have positive
durations; anything else raises :class:`~imagebio.errors.InvalidParameterError` naming the frame.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from imagebio.errors import InvalidParameterError, MissingDicomTagError
from imagebio.volume import Volume

__all__ = ["FrameTimes"]

# Gaps or overlaps below this (min, i.e. 6 ms) are rounding of DICOM times, not real overlaps.
_OVERLAP_TOLERANCE_MIN = 1e-4


@dataclasses.dataclass(frozen=True)
class FrameTimes:
    """Start times and durations of the frames of a dynamic series, in minutes from injection.

    Parameters
    ----------
    start_min : array_like
        Frame start times (min after injection), increasing.
    duration_min : array_like
        Frame durations (min), positive.

    Raises
    ------
    InvalidParameterError
        A duration is not positive, a time is not finite or negative, or a frame starts before the previous one
        ends (frames out of order); the message names the frame index.
    """

    start_min: np.ndarray
    duration_min: np.ndarray

    def __post_init__(self) -> None:
        start = np.atleast_1d(np.asarray(self.start_min, dtype=np.float64)).copy()
        duration = np.atleast_1d(np.asarray(self.duration_min, dtype=np.float64)).copy()
        if start.ndim != 1 or start.shape != duration.shape or start.size == 0:
            raise InvalidParameterError(
                "frames", f"{start.shape} starts and {duration.shape} durations", "as many starts as durations (≥ 1)")
        for i, (s, d) in enumerate(zip(start, duration, strict=True)):
            if not np.isfinite(s) or s < 0:
                raise InvalidParameterError(f"frame {i} start_min", float(s), "a finite time ≥ 0 min after injection")
            if not np.isfinite(d) or d <= 0:
                raise InvalidParameterError(f"frame {i} duration_min", float(d), "a positive frame duration")
        ends = start + duration
        for i in range(1, start.size):
            if start[i] < ends[i - 1] - _OVERLAP_TOLERANCE_MIN:
                raise InvalidParameterError(
                    f"frame {i} start_min",
                    float(start[i]),
                    f"frames in time order: a start at or after the end of frame {i - 1} ({ends[i - 1]:g} min)",
                )
        start.flags.writeable = False
        duration.flags.writeable = False
        object.__setattr__(self, "start_min", start)
        object.__setattr__(self, "duration_min", duration)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_seconds(cls, start_s: Sequence[float], duration_s: Sequence[float]) -> FrameTimes:
        """Frames from start times and durations in seconds."""
        return cls(np.asarray(start_s, dtype=float) / 60.0, np.asarray(duration_s, dtype=float) / 60.0)

    @classmethod
    def from_durations(cls, duration_min: Sequence[float], first_start_min: float = 0.0) -> FrameTimes:
        """Contiguous frames from their durations (min), the first starting at ``first_start_min``."""
        duration = np.asarray(duration_min, dtype=float)
        start = first_start_min + np.concatenate([[0.0], np.cumsum(duration)[:-1]])
        return cls(start, duration)

    @classmethod
    def from_volumes(cls, frames: Sequence[Volume], injection_offset_min: float = 0.0) -> FrameTimes:
        """Frames of :func:`imagebio.io.dicom.read_dynamic_series` output.

        Uses ``metadata["frame_time_s"]`` (start relative to the first frame) and ``metadata["frame_duration_s"]``
        (DICOM ActualFrameDuration). ``injection_offset_min`` is the time from injection to the first frame start.

        Raises
        ------
        MissingDicomTagError
            A frame has no ActualFrameDuration.
        """
        starts, durations = [], []
        for i, volume in enumerate(frames):
            meta = volume.metadata
            if "frame_duration_s" not in meta:
                raise MissingDicomTagError("ActualFrameDuration", needed_for=f"the duration of dynamic frame {i}")
            starts.append(injection_offset_min + float(meta.get("frame_time_s", 0.0)) / 60.0)
            durations.append(float(meta["frame_duration_s"]) / 60.0)
        return cls(np.asarray(starts), np.asarray(durations))

    # ------------------------------------------------------------------ derived times
    @property
    def n_frames(self) -> int:
        return int(self.start_min.size)

    @property
    def end_min(self) -> np.ndarray:
        """Frame end times (min)."""
        return self.start_min + self.duration_min

    @property
    def mid_min(self) -> np.ndarray:
        """Frame mid times (min)."""
        return self.start_min + 0.5 * self.duration_min

    def __len__(self) -> int:
        return self.n_frames
