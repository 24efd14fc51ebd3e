"""Numerical core of the compartment models: a fine time grid, exponential convolution and frame averaging.

Model curves are computed on a uniform grid (step ``dt_min``, default ≤ 0.01 min and ≤ 1/10 of the shortest
frame) from injection to the end of the last frame, then averaged over each frame, as a PET frame is.

The convolution ``y(t) = ∫_0^t c(τ)·e^(−k(t−τ)) dτ`` is exact for a piecewise-linear ``c`` between grid nodes
(recursive integration, e.g. Gunn RN et al., NeuroImage 1997;6:279-287, appendix), run as a first-order IIR
filter (``scipy.signal.lfilter``) along the time axis.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from imagebio.errors import InvalidParameterError
from imagebio.pet.kinetics.frames import FrameTimes

__all__ = ["KineticGrid", "exp_convolve"]

DEFAULT_MAX_DT_MIN = 0.01


def exp_convolve(values: np.ndarray, rate_per_min: float, dt_min: float) -> np.ndarray:
    """``∫_0^t c(τ)·e^(−k(t−τ)) dτ`` on a uniform grid starting at t = 0 (last axis = time).

    Parameters
    ----------
    values : numpy.ndarray
        ``c`` at the grid nodes ``0, dt, 2·dt, ...`` (last axis).
    rate_per_min : float
        ``k`` ≥ 0 (/min).
    dt_min : float
        Grid step (min).

    Returns
    -------
    numpy.ndarray
        Same shape as ``values``, unit of ``c``·min; exact for ``c`` linear between nodes.
    """
    from scipy.signal import lfilter

    c = np.asarray(values, dtype=np.float64)
    k = float(rate_per_min)
    h = float(dt_min)
    kh = k * h
    if kh < 1e-6:
        # series of the expressions below: avoids 0/0 for tiny k
        e1 = h * (1.0 - kh / 2.0 + kh * kh / 6.0)
        e2 = h * h * (0.5 - kh / 6.0 + kh * kh / 24.0)
    else:
        e1 = -math.expm1(-kh) / k  # ∫_0^h e^(−k(h−s)) ds
        e2 = (h - e1) / k  # ∫_0^h s·e^(−k(h−s)) ds
    decay = math.exp(-kh)
    # y[n+1] = decay·y[n] + c[n]·(e1 − e2/h) + c[n+1]·e2/h
    drive = c[..., :-1] * (e1 - e2 / h) + c[..., 1:] * (e2 / h)
    out = np.zeros_like(c)
    out[..., 1:] = lfilter([1.0], [1.0, -decay], drive, axis=-1)
    return out


@dataclasses.dataclass(frozen=True)
class KineticGrid:
    """Uniform time grid covering the frames, with frame averaging.

    Parameters
    ----------
    frames : FrameTimes
    dt_min : float, optional
        Grid step (min); default ``min(0.01, shortest frame / 10)``.
    """

    frames: FrameTimes
    dt_min: float | None = None

    def __post_init__(self) -> None:
        dt = self.dt_min
        if dt is None:
            dt = min(DEFAULT_MAX_DT_MIN, float(self.frames.duration_min.min()) / 10.0)
        if not dt > 0:
            raise InvalidParameterError("dt_min", dt, "a positive grid step in min")
        n = math.ceil(float(self.frames.end_min.max()) / dt) + 1
        object.__setattr__(self, "dt_min", float(dt))
        object.__setattr__(self, "_t", np.arange(n) * dt)

    @property
    def t_min(self) -> np.ndarray:
        """Grid times (min), from 0."""
        return self._t  # type: ignore[attr-defined]

    def cumulative(self, values: np.ndarray) -> np.ndarray:
        """Running trapezoid integral ``∫_0^t`` along the last axis (value·min)."""
        values = np.asarray(values, dtype=np.float64)
        out = np.zeros_like(values)
        out[..., 1:] = np.cumsum(0.5 * (values[..., 1:] + values[..., :-1]), axis=-1) * self.dt_min
        return out

    def _at(self, cumulative: np.ndarray, times: np.ndarray) -> np.ndarray:
        position = np.asarray(times) / self.dt_min
        i = np.clip(np.floor(position).astype(int), 0, cumulative.shape[-1] - 2)
        fraction = position - i
        return cumulative[..., i] * (1.0 - fraction) + cumulative[..., i + 1] * fraction

    def frame_average(self, values: np.ndarray) -> np.ndarray:
        """Mean of a grid curve over each frame (last axis becomes frames)."""
        cumulative = self.cumulative(values)
        return (self._at(cumulative, self.frames.end_min) - self._at(cumulative, self.frames.start_min)) / (
            self.frames.duration_min
        )
