"""Graphical analyses: Patlak (irreversible uptake) and Logan (reversible binding), for regions and voxel-wise.

Patlak (Patlak, Blasberg & Fenstermacher 1983): for ``t ≥ t*``

``C_T(t)/Cp(t) = Ki · ∫_0^t Cp/Cp(t) + V0``,

slope Ki (mL/cm³/min; equals ``K1·k3/(k2 + k3)`` for the irreversible 2TCM), intercept V0 (mL/cm³).

Logan (Logan et al. 1990): for ``t ≥ t*``

``∫_0^t C_T / C_T(t) = Vt · ∫_0^t Cp / C_T(t) + b``;

with a reference region instead of plasma (Logan et al. 1996) the abscissa is
``(∫_0^t C_ref + C_ref(t)/k2')/C_T(t)`` and the slope is DVR = BPnd + 1 (the ``C_ref/k2'`` term is dropped when
``k2'`` is not given).

Discretisation. Frame values are frame averages. ``Cp(t)`` is the frame average of the input function,
``∫_0^t Cp`` its integral to the frame mid-time, and ``∫_0^t C_T`` the running sum of frame averages × durations
to the frame mid-time (the frame's own value held over its first half). Ordinary least squares on the frames
with mid-time ≥ ``t*``.

Choice of t*: given, or ``"auto"``: the earliest frame from which the fit leaves every used point within
``max_error`` (relative, default 5 %) of the line, with at least ``min_points`` frames (the "maximum error"
criterion of PMOD's graphical tools).

Voxel-wise maps (:func:`patlak_map`, :func:`logan_map`) solve the same regressions for all voxels at once with
numpy reductions over the frame axis, in chunks of voxels to bound memory.

References
----------
Patlak CS, Blasberg RG, Fenstermacher JD. J Cereb Blood Flow Metab 1983;3:1-7.
Logan J et al. J Cereb Blood Flow Metab 1990;10:740-747. Logan J et al. J Cereb Blood Flow Metab 1996;16:834-840.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from imagebio.errors import FitError, GeometryMismatchError, InvalidParameterError
from imagebio.pet.kinetics.convolution import KineticGrid
from imagebio.pet.kinetics.frames import FrameTimes
from imagebio.pet.kinetics.input_function import InputCurve

__all__ = [
    "GraphicalFit",
    "input_frame_terms",
    "logan",
    "logan_map",
    "patlak",
    "patlak_map",
    "tissue_integral_at_mid",
]

_CHUNK_VOXELS = 1 << 17


@dataclasses.dataclass(frozen=True)
class GraphicalFit:
    """Result of a Patlak or Logan regression.

    Attributes
    ----------
    method : str
        ``"patlak"``, ``"logan"`` or ``"logan_reference"``.
    slope : float
        Ki (mL/cm³/min), Vt (mL/cm³) or DVR.
    intercept : float
    t_star_min : float
        Mid-time of the first frame used (min).
    n_points : int
    r_squared : float
    x, y : numpy.ndarray
        Plot coordinates of every frame (all frames, used or not).
    """

    method: str
    slope: float
    intercept: float
    t_star_min: float
    n_points: int
    r_squared: float
    x: np.ndarray
    y: np.ndarray


def input_frame_terms(frames: FrameTimes, input_function: InputCurve, dt_min: float | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Frame-averaged input ``Cp`` and its integral ``∫_0^t Cp`` to each frame mid-time."""
    grid = KineticGrid(frames, dt_min)
    cp_frames = grid.frame_average(np.asarray(input_function(grid.t_min), dtype=np.float64))
    integral = np.asarray(input_function.integral(frames.mid_min), dtype=np.float64)
    return cp_frames, integral


def tissue_integral_at_mid(tac: np.ndarray, frames: FrameTimes) -> np.ndarray:
    """``∫_0^t C`` to each frame mid-time from frame averages (last axis = frames); 0 before the first frame."""
    tac = np.asarray(tac, dtype=np.float64)
    area = tac * frames.duration_min
    return np.cumsum(area, axis=-1) - 0.5 * area


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    xm, ym = x.mean(), y.mean()
    sxx = float(((x - xm) ** 2).sum())
    if sxx <= 0:
        raise FitError("graphical analysis: the abscissa does not vary over the frames used")
    slope = float(((x - xm) * (y - ym)).sum()) / sxx
    intercept = float(ym - slope * xm)
    syy = float(((y - ym) ** 2).sum())
    residual = float(((y - slope * x - intercept) ** 2).sum())
    return slope, intercept, 1.0 - residual / syy if syy > 0 else 1.0


def _first_frame(frames: FrameTimes, t_star_min: float | str, x: np.ndarray, y: np.ndarray, max_error: float,
                 min_points: int) -> int:
    n = frames.n_frames
    if min_points < 2 or min_points > n:
        raise InvalidParameterError("min_points", min_points, f"between 2 and the number of frames ({n})")
    if t_star_min == "auto":
        if not max_error > 0:
            raise InvalidParameterError("max_error", max_error, "a positive relative error")
        for first in range(n - min_points + 1):
            slope, intercept, _ = _line(x[first:], y[first:])
            predicted = slope * x[first:] + intercept
            scale = np.maximum(np.abs(predicted), 1e-12 * max(np.abs(y).max(), 1e-300))
            if np.all(np.abs(y[first:] - predicted) <= max_error * scale):
                return first
        raise FitError(f"no t* leaves the last {min_points} frames within {max_error:.0%} of a line")
    if isinstance(t_star_min, str) or not math.isfinite(float(t_star_min)):
        raise InvalidParameterError("t_star_min", t_star_min, "a time in min or 'auto'")
    first = int(np.searchsorted(frames.mid_min, float(t_star_min) - 1e-9))
    if n - first < min_points:
        raise FitError(f"t* = {t_star_min} min leaves {n - first} frames; at least {min_points} are needed")
    return first


def _check_tac(tac: Sequence[float], frames: FrameTimes, name: str = "tac") -> np.ndarray:
    data = np.asarray(tac, dtype=np.float64)
    if data.shape != (frames.n_frames,) or not np.all(np.isfinite(data)):
        raise InvalidParameterError(name, f"array of shape {data.shape}", f"{frames.n_frames} finite frame values")
    return data


def _regression(method: str, frames: FrameTimes, x: np.ndarray, y: np.ndarray, t_star_min: float | str,
                max_error: float, min_points: int) -> GraphicalFit:
    first = _first_frame(frames, t_star_min, x, y, max_error, min_points)
    slope, intercept, r2 = _line(x[first:], y[first:])
    return GraphicalFit(method, slope, intercept, float(frames.mid_min[first]), frames.n_frames - first, r2, x, y)


def patlak(
    tac: Sequence[float],
    frames: FrameTimes,
    input_function: InputCurve,
    *,
    t_star_min: float | str = "auto",
    max_error: float = 0.05,
    min_points: int = 3,
    dt_min: float | None = None,
) -> GraphicalFit:
    """Patlak plot of a region: ``slope`` = Ki (mL/cm³/min), ``intercept`` = V0 (mL/cm³).

    Parameters
    ----------
    tac : sequence of float
        Frame-averaged tissue concentrations (unit of the input).
    frames : FrameTimes
    input_function : InputCurve
        Plasma input.
    t_star_min : float or "auto"
        Start of the linear part (min, compared with frame mid-times), or chosen automatically (module docstring).
    max_error : float
        Relative tolerance of the automatic t* choice.
    min_points : int
        Frames needed in the regression.

    Raises
    ------
    FitError
        Too few frames after t*, or a zero input in a used frame.
    """
    data = _check_tac(tac, frames)
    cp, integral = input_frame_terms(frames, input_function, dt_min)
    if np.any(cp <= 0):
        raise FitError(f"Patlak: input is ≤ 0 in frame {int(np.argmax(cp <= 0))}")
    return _regression("patlak", frames, integral / cp, data / cp, t_star_min, max_error, min_points)


def logan(
    tac: Sequence[float],
    frames: FrameTimes,
    input_function: InputCurve | None = None,
    *,
    reference_tac: Sequence[float] | None = None,
    k2_reference_per_min: float | None = None,
    t_star_min: float | str = "auto",
    max_error: float = 0.05,
    min_points: int = 3,
    dt_min: float | None = None,
) -> GraphicalFit:
    """Logan plot: with a plasma input ``slope`` = Vt (mL/cm³); with a reference region ``slope`` = DVR.

    Give exactly one of ``input_function`` and ``reference_tac``. ``k2_reference_per_min`` is the reference
    region's efflux k2' (/min) for the ``C_ref/k2'`` term (optional).

    Raises
    ------
    InvalidParameterError
        Both or neither of the inputs given.
    FitError
        A non-positive tissue value in the frames (Logan divides by it), too few frames after t*.
    """
    data = _check_tac(tac, frames)
    if (input_function is None) == (reference_tac is None):
        raise InvalidParameterError("input_function/reference_tac", None, "exactly one of the two")
    if np.any(data <= 0):
        raise FitError(f"Logan: tissue value ≤ 0 in frame {int(np.argmax(data <= 0))}")
    y = tissue_integral_at_mid(data, frames) / data
    if input_function is not None:
        _, integral = input_frame_terms(frames, input_function, dt_min)
        return _regression("logan", frames, integral / data, y, t_star_min, max_error, min_points)
    reference = _check_tac(reference_tac, frames, "reference_tac")
    numerator = tissue_integral_at_mid(reference, frames)
    if k2_reference_per_min is not None:
        if not k2_reference_per_min > 0:
            raise InvalidParameterError("k2_reference_per_min", k2_reference_per_min, "a positive rate (/min)")
        numerator = numerator + reference / k2_reference_per_min
    return _regression("logan_reference", frames, numerator / data, y, t_star_min, max_error, min_points)


# --------------------------------------------------------------------------------------------- voxel-wise maps
def _voxels(dynamic: np.ndarray, frames: FrameTimes, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    dynamic = np.asarray(dynamic)
    if dynamic.ndim < 2 or dynamic.shape[0] != frames.n_frames:
        raise GeometryMismatchError(f"dynamic shape {dynamic.shape}: expected (frames={frames.n_frames}, ...)")
    spatial = dynamic.shape[1:]
    if mask is None:
        index = np.arange(int(np.prod(spatial)))
    else:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != spatial:
            raise GeometryMismatchError(f"mask shape {mask.shape} differs from the frame shape {spatial}")
        index = np.flatnonzero(mask)
    return dynamic.reshape(frames.n_frames, -1), index


def _chunks(index: np.ndarray, contiguous: bool):
    """Voxel chunks: slices when every voxel is computed (no copy by fancy indexing), else index arrays."""
    for start in range(0, index.size, _CHUNK_VOXELS):
        if contiguous:
            yield slice(start, min(start + _CHUNK_VOXELS, index.size))
        else:
            yield index[start:start + _CHUNK_VOXELS]


def _map_slopes(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares lines of ``y`` on ``x`` along axis 0 (x may be shared (frames, 1) or per voxel)."""
    n = y.shape[0]
    sx, sy = x.sum(axis=0), y.sum(axis=0)
    sxx, sxy = (x * x).sum(axis=0), (x * y).sum(axis=0)
    det = n * sxx - sx * sx
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (n * sxy - sx * sy) / det
        intercept = (sy - slope * sx) / n
    return slope, intercept


def patlak_map(
    dynamic: np.ndarray,
    frames: FrameTimes,
    input_function: InputCurve,
    t_star_min: float,
    *,
    mask: np.ndarray | None = None,
    dt_min: float | None = None,
) -> dict[str, np.ndarray]:
    """Voxel-wise Patlak Ki and V0 maps.

    Parameters
    ----------
    dynamic : numpy.ndarray
        (frames, z, y, x) frame-averaged concentrations (unit of the input).
    frames : FrameTimes
    input_function : InputCurve
    t_star_min : float
        Start of the linear part (min); choose it on a region with :func:`patlak` (``"auto"``).
    mask : numpy.ndarray, optional
        Voxels to compute (others are NaN).

    Returns
    -------
    dict
        ``ki`` (mL/cm³/min) and ``intercept`` (mL/cm³), float32 arrays of the frame shape.
    """
    cp, integral = input_frame_terms(frames, input_function, dt_min)
    if isinstance(t_star_min, str) or not math.isfinite(float(t_star_min)):
        raise InvalidParameterError("t_star_min", t_star_min, "a time in min (choose it on a region with patlak)")
    first = int(np.searchsorted(frames.mid_min, float(t_star_min) - 1e-9))
    used = slice(first, None)
    if frames.n_frames - first < 2:
        raise FitError(f"t* = {t_star_min} min leaves {frames.n_frames - first} frames; at least 2 are needed")
    if np.any(cp[used] <= 0):
        raise FitError("Patlak map: input is ≤ 0 in a frame after t*")
    flat, index = _voxels(dynamic, frames, mask)
    x = (integral / cp)[used]
    # shared abscissa: slope = Σ (x − x̄)·y / Σ (x − x̄)², one matrix product per chunk
    xc = x - x.mean()
    weights_slope = xc / (xc**2).sum() / cp[used]
    weights_mean = 1.0 / (x.size * cp[used])
    ki = np.full(flat.shape[1], np.nan, dtype=np.float32)
    v0 = np.full(flat.shape[1], np.nan, dtype=np.float32)
    for chunk in _chunks(index, mask is None):
        values = flat[used, chunk].astype(np.float64)
        slope = weights_slope @ values
        mean_y = weights_mean @ values
        ki[chunk] = slope
        v0[chunk] = mean_y - slope * x.mean()
    shape = np.asarray(dynamic).shape[1:]
    return {"ki": ki.reshape(shape), "intercept": v0.reshape(shape)}


def logan_map(
    dynamic: np.ndarray,
    frames: FrameTimes,
    input_function: InputCurve | None = None,
    t_star_min: float = 0.0,
    *,
    reference_tac: Sequence[float] | None = None,
    k2_reference_per_min: float | None = None,
    mask: np.ndarray | None = None,
    dt_min: float | None = None,
) -> dict[str, np.ndarray]:
    """Voxel-wise Logan maps: ``vt`` (plasma input) or ``dvr`` and ``bp_nd`` = DVR − 1 (reference region).

    Voxels with a tissue value ≤ 0 in a frame after ``t_star_min`` are NaN. Arguments as :func:`logan`
    and :func:`patlak_map`.
    """
    if (input_function is None) == (reference_tac is None):
        raise InvalidParameterError("input_function/reference_tac", None, "exactly one of the two")
    first = int(np.searchsorted(frames.mid_min, float(t_star_min) - 1e-9))
    if frames.n_frames - first < 2:
        raise FitError(f"t* = {t_star_min} min leaves {frames.n_frames - first} frames; at least 2 are needed")
    if input_function is not None:
        _, numerator = input_frame_terms(frames, input_function, dt_min)
    else:
        reference = _check_tac(reference_tac, frames, "reference_tac")
        numerator = tissue_integral_at_mid(reference, frames)
        if k2_reference_per_min is not None:
            numerator = numerator + reference / k2_reference_per_min
    flat, index = _voxels(dynamic, frames, mask)
    slope_map = np.full(flat.shape[1], np.nan, dtype=np.float32)
    intercept_map = np.full(flat.shape[1], np.nan, dtype=np.float32)
    area_factor = frames.duration_min[:, None]
    for chunk in _chunks(index, mask is None):
        values = flat[:, chunk].astype(np.float64)
        area = values * area_factor
        integral = (np.cumsum(area, axis=0) - 0.5 * area)[first:]
        tissue = values[first:]
        valid = np.all(tissue > 0, axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            x = numerator[first:, None] / tissue
            y = integral / tissue
        slope, intercept = _map_slopes(x, y)
        slope_map[chunk] = np.where(valid, slope, np.nan)
        intercept_map[chunk] = np.where(valid, intercept, np.nan)
    shape = np.asarray(dynamic).shape[1:]
    if input_function is not None:
        return {"vt": slope_map.reshape(shape), "intercept": intercept_map.reshape(shape)}
    return {"dvr": slope_map.reshape(shape), "bp_nd": (slope_map - 1.0).reshape(shape),
            "intercept": intercept_map.reshape(shape)}
