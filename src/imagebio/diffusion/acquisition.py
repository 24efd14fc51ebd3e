"""Multi-b diffusion series: stack the frames and check their b-values before a fit.

Frames come from :func:`imagebio.io.dicom.read_dynamic_series`, which reads the b-value of each file from the
standard DiffusionBValue (0018,9087) or the GE (0043,1039), Siemens (0019,100C) and Philips (2001,1003)
private tags into ``metadata["b_value_s_per_mm2"]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from imagebio.errors import InvalidParameterError, MissingDicomTagError
from imagebio.perfusion.acquisition import stack_frames
from imagebio.volume import Volume

__all__ = ["DwiSeries", "dwi_series", "MIN_DISTINCT_B"]

#: distinct b-values each model needs
MIN_DISTINCT_B = {"adc": 2, "kurtosis": 3, "ivim": 4}


@dataclass(frozen=True)
class DwiSeries:
    """Signals (z, y, x, n_b), b-values (s/mm²) in frame order, and frame 0 for geometry."""

    signal: np.ndarray
    b_values_s_per_mm2: np.ndarray
    reference: Volume


def dwi_series(frames: Sequence[Volume], model: str = "adc") -> DwiSeries:
    """Validate and stack a multi-b DWI series for ``model`` (``"adc"``, ``"ivim"`` or ``"kurtosis"``).

    Raises
    ------
    MissingDicomTagError
        A frame without a b-value (DiffusionBValue (0018,9087) nor a known vendor private tag).
    InvalidParameterError
        Unknown model, or fewer distinct b-values than the model needs (e.g. all b-values equal).
    """
    if model not in MIN_DISTINCT_B:
        raise InvalidParameterError("model", model, f"one of {', '.join(MIN_DISTINCT_B)}")
    where = frames[0].identifiers.get("path") if frames else None
    b = []
    for frame in frames:
        value = frame.metadata.get("b_value_s_per_mm2")
        if value is None:
            raise MissingDicomTagError(
                "DiffusionBValue", path=frame.identifiers.get("path") or where, needed_for=f"DWI {model} fit",
                expected="a b-value in DiffusionBValue or the GE/Siemens/Philips private b-value tag",
            )
        b.append(float(value))
    b_arr = np.asarray(b)
    need = MIN_DISTINCT_B[model]
    if np.unique(b_arr).size < need:
        raise InvalidParameterError(
            "b_values_s_per_mm2",
            f"{b_arr.tolist()} ({where})",
            f"at least {need} distinct b-values for the {model} model",
        )
    return DwiSeries(stack_frames(frames, "DWI"), b_arr, frames[0])
