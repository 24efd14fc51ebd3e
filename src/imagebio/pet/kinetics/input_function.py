"""Input functions for tracer-kinetic models: sampled (blood samples, CSV, image-derived) or analytic (Feng 1993).

Times are in minutes from injection; concentrations in any unit shared with the tissue curves (e.g. Bq/mL, kBq/mL,
µCi/mL). Rate constants fitted against them are then per minute.

Every input function is a callable ``f(t_min) -> concentration`` with an ``integral(t_min)`` method giving
``∫_0^t f``. A sampled input is the piecewise-linear interpolant of its samples, starting from 0 at injection
(t = 0) and held at its last value after the last sample.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Sequence
from os import PathLike
from typing import Protocol

import numpy as np

from imagebio.errors import EmptyMaskError, GeometryMismatchError, InvalidParameterError
from imagebio.pet.kinetics.frames import FrameTimes

__all__ = [
    "FengInputFunction",
    "InputCurve",
    "InputFunction",
    "image_derived_input",
    "read_input_function_csv",
    "region_tac",
]


class InputCurve(Protocol):
    """What the kinetic models need from an input function (times in min)."""

    def __call__(self, t_min: np.ndarray) -> np.ndarray: ...

    def integral(self, t_min: np.ndarray) -> np.ndarray: ...


@dataclasses.dataclass(frozen=True)
class InputFunction:
    """A sampled input function (arterial plasma, whole blood or a reference-region TAC).

    Parameters
    ----------
    times_min : array_like
        Sample times (min after injection), strictly increasing, ≥ 0.
    values : array_like
        Concentrations at those times.
    unit : str
        Unit of ``values`` (informative).

    Raises
    ------
    InvalidParameterError
        Times not strictly increasing (the message names the sample), negative, or values not finite.
    """

    times_min: np.ndarray
    values: np.ndarray
    unit: str = ""

    def __post_init__(self) -> None:
        times = np.atleast_1d(np.asarray(self.times_min, dtype=np.float64)).copy()
        values = np.atleast_1d(np.asarray(self.values, dtype=np.float64)).copy()
        if times.ndim != 1 or times.shape != values.shape or times.size < 2:
            raise InvalidParameterError("times_min/values", f"shapes {times.shape} and {values.shape}",
                                        "two 1D arrays of the same length ≥ 2")
        if not np.all(np.isfinite(times)) or times[0] < 0:
            raise InvalidParameterError("times_min", times[0], "finite sample times ≥ 0 min")
        steps = np.diff(times)
        if np.any(steps <= 0):
            i = int(np.argmax(steps <= 0)) + 1
            raise InvalidParameterError(f"sample {i} time_min", float(times[i]),
                                        f"a time after sample {i - 1} ({times[i - 1]:g} min)")
        if not np.all(np.isfinite(values)):
            i = int(np.argmax(~np.isfinite(values)))
            raise InvalidParameterError(f"sample {i} value", float(values[i]), "a finite concentration")
        times.flags.writeable = False
        values.flags.writeable = False
        object.__setattr__(self, "times_min", times)
        object.__setattr__(self, "values", values)

    def _knots(self) -> tuple[np.ndarray, np.ndarray]:
        if self.times_min[0] > 0:
            return np.concatenate([[0.0], self.times_min]), np.concatenate([[0.0], self.values])
        return self.times_min, self.values

    def __call__(self, t_min: np.ndarray) -> np.ndarray:
        """Concentration at ``t_min`` (linear interpolation; 0 before injection)."""
        knots, values = self._knots()
        t = np.asarray(t_min, dtype=np.float64)
        return np.where(t < 0, 0.0, np.interp(t, knots, values, right=values[-1]))

    def integral(self, t_min: np.ndarray) -> np.ndarray:
        """``∫_0^t`` of the interpolant (exact), concentration·min."""
        knots, values = self._knots()
        cumulative = np.concatenate([[0.0], np.cumsum(0.5 * (values[1:] + values[:-1]) * np.diff(knots))])
        t = np.clip(np.asarray(t_min, dtype=np.float64), 0.0, None)
        k = np.clip(np.searchsorted(knots, t, side="right") - 1, 0, knots.size - 1)
        slope = np.zeros_like(values)
        slope[:-1] = np.diff(values) / np.diff(knots)
        dt = t - knots[k]
        return cumulative[k] + values[k] * dt + 0.5 * slope[k] * dt * dt


@dataclasses.dataclass(frozen=True)
class FengInputFunction:
    """Analytic FDG plasma input of Feng, Huang & Wang (1993), "model 2".

    ``Cp(t) = (A1·t − A2 − A3)·e^(λ1·t) + A2·e^(λ2·t) + A3·e^(λ3·t)`` for t ≥ 0 (min), 0 before.
    Defaults: A1 = 851.1225 µCi/mL/min, A2 = 21.8798 µCi/mL, A3 = 20.8113 µCi/mL, λ1 = −4.1339 /min and
    **λ2 = −0.0104, λ3 = −0.1191 /min** (A2 goes with the slow rate). Public codes disagree on which of λ2, λ3 goes
    with A2; pass ``lambda2``/``lambda3`` to use the other assignment.

    References
    ----------
    Feng D, Huang SC, Wang X. Models for computer simulation studies of input functions for tracer kinetic modeling
    with positron emission tomography. Int J Biomed Comput 1993;32:95-110.
    """

    a1: float = 851.1225
    a2: float = 21.8798
    a3: float = 20.8113
    lambda1: float = -4.1339
    lambda2: float = -0.0104
    lambda3: float = -0.1191
    delay_min: float = 0.0

    def __call__(self, t_min: np.ndarray) -> np.ndarray:
        t = np.asarray(t_min, dtype=np.float64) - self.delay_min
        tp = np.clip(t, 0.0, None)
        value = ((self.a1 * tp - self.a2 - self.a3) * np.exp(self.lambda1 * tp) + self.a2 * np.exp(self.lambda2 * tp)
                 + self.a3 * np.exp(self.lambda3 * tp))
        return np.where(t < 0, 0.0, value)

    def integral(self, t_min: np.ndarray) -> np.ndarray:
        """``∫_0^t Cp`` in closed form (µCi/mL·min with the default constants)."""
        t = np.clip(np.asarray(t_min, dtype=np.float64) - self.delay_min, 0.0, None)
        l1, l2, l3 = self.lambda1, self.lambda2, self.lambda3
        e1 = np.exp(l1 * t)
        # ∫ τ e^(λτ) = [e^(λt)(λt − 1) + 1] / λ²
        ramp = self.a1 * (e1 * (l1 * t - 1.0) + 1.0) / l1**2
        return (ramp - (self.a2 + self.a3) * np.expm1(l1 * t) / l1 + self.a2 * np.expm1(l2 * t) / l2
                + self.a3 * np.expm1(l3 * t) / l3)


def read_input_function_csv(
    path: str | PathLike,
    time_column: str | None = None,
    value_column: str | None = None,
    time_unit: str = "s",
    unit: str = "",
) -> InputFunction:
    """Read a sampled input function from a CSV file with a header row.

    Parameters
    ----------
    path : str or PathLike
    time_column, value_column : str, optional
        Column names (default: the first and second columns).
    time_unit : {"s", "min", "h"}
        Unit of the time column; converted to minutes.
    unit : str
        Concentration unit, informative.

    Raises
    ------
    InvalidParameterError
        Unknown column or time unit, a cell that is not a number (named by row), times not increasing.
    """
    from imagebio import units

    scale = {"s": 1 / 60.0, "min": 1.0, "h": 60.0}
    if time_unit not in scale:
        raise InvalidParameterError("time_unit", time_unit, "'s', 'min' or 'h'")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        rows = list(reader)
    if len(columns) < 2:
        raise InvalidParameterError("path", str(path), "a CSV file with a header and ≥ 2 columns")
    time_column = time_column or columns[0]
    value_column = value_column or columns[1]
    for name in (time_column, value_column):
        if name not in columns:
            raise InvalidParameterError("column", name, f"one of {columns} in {path}")
    times, values = [], []
    for row_number, row in enumerate(rows, start=2):
        try:
            times.append(float(row[time_column]))
            values.append(float(row[value_column]))
        except (TypeError, ValueError):
            raise InvalidParameterError(f"{path} line {row_number}", row, "numeric time and value") from None
    return InputFunction(np.asarray(times) * scale[time_unit], np.asarray(values), unit or units.ARBITRARY)


def region_tac(dynamic: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of each frame of ``dynamic`` (frames, z, y, x) inside ``mask`` (z, y, x): a time-activity curve."""
    dynamic = np.asarray(dynamic)
    mask = np.asarray(mask, dtype=bool)
    if dynamic.ndim != 4 or dynamic.shape[1:] != mask.shape:
        raise GeometryMismatchError(f"dynamic shape {dynamic.shape} must be (frames, *mask shape {mask.shape})")
    if not mask.any():
        raise EmptyMaskError("region", detail="(no voxel for the time-activity curve)")
    return dynamic[:, mask].astype(np.float64).mean(axis=1)


def image_derived_input(
    dynamic: np.ndarray | Sequence,
    mask: np.ndarray,
    frames: FrameTimes,
    *,
    plasma_to_blood_ratio: float = 1.0,
    unit: str = "",
) -> InputFunction:
    """Image-derived input function: mean of a blood region (e.g. left ventricle, aorta) in every frame.

    Each frame's region mean is placed at the frame mid-time and multiplied by ``plasma_to_blood_ratio``
    (1 = whole blood; for FDG about 1.1 for plasma). No partial-volume or spill-over correction is applied.

    Parameters
    ----------
    dynamic : array (frames, z, y, x) or sequence of Volume
    mask : array (z, y, x)
        Blood region.
    frames : FrameTimes
    plasma_to_blood_ratio : float
    unit : str
    """
    if not isinstance(dynamic, np.ndarray):
        dynamic = np.stack([np.asarray(getattr(v, "array", v)) for v in dynamic])
    tac = region_tac(dynamic, mask)
    if tac.size != frames.n_frames:
        raise InvalidParameterError("frames", frames.n_frames, f"{tac.size} frames, one per dynamic frame")
    if not plasma_to_blood_ratio > 0:
        raise InvalidParameterError("plasma_to_blood_ratio", plasma_to_blood_ratio, "a positive ratio")
    return InputFunction(frames.mid_min, tac * plasma_to_blood_ratio, unit)
