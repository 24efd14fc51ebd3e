"""Parametric maps of a dynamic PET series: frame timing from the series, then one model over all voxels.

* :func:`dynamic_frame_times`: frame start (min after injection) and duration of every frame of
  :func:`imagebio.io.dicom.read_dynamic_series` output, with typed errors naming the frame.
* :func:`parametric_maps`: Patlak (Ki, V0), Logan (Vt; or DVR and BPnd with a reference region), 1TCM by basis
  functions (K1, k2, vB, Vt) or SRTM by basis functions (BPnd, R1, k2), each vectorised over voxels.

Frame values are used as stored (activity concentration decay-corrected as the series says, normally to the
scan start, DecayCorrection START); a sampled input function must be in the same unit and decay convention, with
its times counted from injection.

References
----------
Patlak CS et al. J Cereb Blood Flow Metab 1983;3:1-7. Logan J et al. J Cereb Blood Flow Metab 1990;10:740-747 and
1996;16:834-840. Gunn RN et al. NeuroImage 1997;6:279-287. Koeppe RA et al. J Cereb Blood Flow Metab 1991;11:735-744.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

import numpy as np

from imagebio import units
from imagebio.errors import InvalidDicomValueError, InvalidParameterError, MissingDicomTagError
from imagebio.pet.kinetics.basis import one_tissue_map, srtm_map
from imagebio.pet.kinetics.frames import FrameTimes
from imagebio.pet.kinetics.graphical import logan, logan_map, patlak, patlak_map
from imagebio.pet.kinetics.input_function import InputCurve, region_tac
from imagebio.volume import Volume

__all__ = ["MODELS", "ParametricMaps", "dynamic_frame_times", "parametric_maps"]

#: Models of :func:`parametric_maps` and whether each needs a plasma input or a reference region.
MODELS = {"patlak": "input", "logan": "input or reference", "1tcm": "input", "srtm": "reference"}

# Starts closer than this to the previous frame's end are rounding of DICOM times (6 ms).
_TOLERANCE_S = 6e-3

_MAP_UNITS = {
    "ki": "mL/cm3/min",
    "intercept": "mL/cm3",
    "vt": "mL/cm3",
    "dvr": units.ARBITRARY,
    "bp_nd": units.ARBITRARY,
    "K1": "mL/cm3/min",
    "k2": units.PER_MIN,
    "vB": units.FRACTION,
    "Vt": "mL/cm3",
    "r1": units.ARBITRARY,
}


def dynamic_frame_times(
    frames: Sequence[Volume], injection_time: datetime, series_time: datetime | None = None, source: str | None = None
) -> FrameTimes:
    """Frame timing (min after injection) of a dynamic series read by :func:`imagebio.io.dicom.read_dynamic_series`.

    Frame ``i`` starts ``metadata["frame_time_s"]`` after frame 0, which starts at its ``acquisition_time`` (else
    at ``series_time``); durations are ``metadata["frame_duration_s"]`` (DICOM ActualFrameDuration).

    Parameters
    ----------
    frames : sequence of Volume
        One Volume per frame, in acquisition order.
    injection_time : datetime
        RadiopharmaceuticalStartDateTime (see :func:`imagebio.io.pet.injection_datetime`).
    series_time : datetime, optional
        Series start, used when frame 0 has no acquisition time.
    source : str, optional
        Folder named in error messages.

    Raises
    ------
    MissingDicomTagError
        A frame without ActualFrameDuration, or no start time for frame 0.
    InvalidDicomValueError
        A duration ≤ 0 (the message names the frame), a frame starting before the previous one ends (frames out
        of order or overlapping), or an injection after the first frame.
    """
    if len(frames) < 2:
        raise InvalidParameterError("frames", len(frames), "a dynamic series with at least 2 frames")
    where = source or frames[0].identifiers.get("path")

    def at(i: int) -> str:
        return f"{where} frame {i}" if where else f"frame {i}"

    first_start = frames[0].acquisition_time or series_time
    if first_start is None:
        raise MissingDicomTagError("AcquisitionTime", path=at(0), needed_for="the start of the first dynamic frame",
                                   expected="AcquisitionTime or SeriesTime")
    offset_s = (first_start - injection_time).total_seconds()
    if offset_s < -_TOLERANCE_S:
        raise InvalidDicomValueError("RadiopharmaceuticalStartDateTime", injection_time.isoformat(),
                                     f"an injection at or before the first frame ({first_start.isoformat()})",
                                     path=where)
    starts, durations = [], []
    for i, frame in enumerate(frames):
        meta = frame.metadata
        if meta.get("frame_duration_s") is None:
            raise MissingDicomTagError("ActualFrameDuration", path=at(i), needed_for="the duration of a dynamic frame")
        duration_s = float(meta["frame_duration_s"])
        if not duration_s > 0:
            raise InvalidDicomValueError("ActualFrameDuration", duration_s * 1000.0, "a positive frame duration (ms)",
                                         path=at(i))
        start_s = max(offset_s, 0.0) + float(meta.get("frame_time_s", 0.0))
        if i and start_s < starts[-1] + durations[-1] - _TOLERANCE_S:
            raise InvalidDicomValueError(
                "AcquisitionTime", f"{start_s:g} s after injection",
                f"frames in time order: frame {i} starting at or after the end of frame {i - 1} "
                f"({starts[-1] + durations[-1]:g} s)", path=at(i))
        starts.append(start_s)
        durations.append(duration_s)
    return FrameTimes.from_seconds(starts, durations)


@dataclasses.dataclass(frozen=True)
class ParametricMaps:
    """Voxel-wise maps of one model.

    Attributes
    ----------
    model : str
    maps : dict of str to numpy.ndarray
        float32 arrays (z, y, x); NaN outside the mask or where the fit is undefined.
    units : dict of str to str
        Unit of each map (rate constants per min; Ki and K1 in mL/cm³/min).
    t_star_min : float or None
        Start of the linear part used by Patlak/Logan (min after injection).
    """

    model: str
    maps: dict[str, np.ndarray]
    units: dict[str, str]
    t_star_min: float | None = None


def _region_mean_tac(dynamic: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    if mask is None:
        return dynamic.reshape(dynamic.shape[0], -1).astype(np.float64).mean(axis=1)
    return region_tac(dynamic, mask)


def parametric_maps(
    dynamic: np.ndarray,
    frames: FrameTimes,
    model: str,
    *,
    input_function: InputCurve | None = None,
    reference_tac: Sequence[float] | None = None,
    t_star_min: float | None = None,
    mask: np.ndarray | None = None,
) -> ParametricMaps:
    """Voxel-wise maps of ``model`` over a dynamic series.

    Parameters
    ----------
    dynamic : numpy.ndarray
        (frames, z, y, x) frame-averaged activity concentrations.
    frames : FrameTimes
    model : {"patlak", "logan", "1tcm", "srtm"}
        Patlak needs ``input_function``; Logan ``input_function`` (→ Vt) or ``reference_tac`` (→ DVR, BPnd);
        1TCM ``input_function``; SRTM ``reference_tac``.
    input_function : InputCurve, optional
        Plasma (or image-derived blood) input, times in min after injection.
    reference_tac : sequence of float, optional
        Reference-region frame values.
    t_star_min : float, optional
        Patlak/Logan start of the linear part (min); default chosen automatically (maximum-error criterion, 5 %)
        on the mean time-activity curve of the computed voxels.
    mask : numpy.ndarray, optional
        Voxels to compute (z, y, x); others are NaN.

    Raises
    ------
    InvalidParameterError
        Unknown model, or the input it needs is missing.
    FitError
        The automatic t* finds no linear part, or too few frames after t*.
    """
    if model not in MODELS:
        raise InvalidParameterError("model", model, f"one of {', '.join(MODELS)}")
    dynamic = np.asarray(dynamic)
    needs = MODELS[model]
    if needs == "input" and input_function is None:
        raise InvalidParameterError("input_function", None, f"a plasma input function for {model}")
    if needs == "reference" and reference_tac is None:
        raise InvalidParameterError("reference_tac", None, f"a reference-region curve for {model}")
    if model == "logan" and (input_function is None) == (reference_tac is None):
        raise InvalidParameterError("input_function/reference_tac", None, "exactly one of the two for logan")
    t_star = t_star_min
    if model == "patlak":
        if t_star is None:
            t_star = patlak(_region_mean_tac(dynamic, mask), frames, input_function).t_star_min
        maps = patlak_map(dynamic, frames, input_function, t_star, mask=mask)
    elif model == "logan":
        if t_star is None:
            t_star = logan(_region_mean_tac(dynamic, mask), frames, input_function, reference_tac=reference_tac
                           ).t_star_min
        maps = logan_map(dynamic, frames, input_function, t_star, reference_tac=reference_tac, mask=mask)
    elif model == "1tcm":
        t_star = None
        maps = one_tissue_map(dynamic, frames, input_function, mask=mask)
    else:
        t_star = None
        maps = srtm_map(dynamic, reference_tac, frames, mask=mask)
    return ParametricMaps(model, maps, {name: _MAP_UNITS.get(name, units.ARBITRARY) for name in maps},
                          None if t_star is None else float(t_star))
