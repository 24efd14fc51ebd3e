"""Boundary conditions (padding) of the IBSI 2 convolutional filters.

Reference: IBSI 2 reference manual (Depeursinge A. et al., arXiv:2006.05470), section "Boundary conditions":
*constant (zero)*, *nearest value*, *periodic* and *mirror* (symmetric, the edge voxel is repeated) padding.
The names used here are the IBSI ones; common aliases from numpy/scipy are accepted and mapped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imagebio.errors import InvalidParameterError

__all__ = ["PADDING_MODES", "canonical_padding", "ndimage_mode", "numpy_pad_mode", "pad"]

#: IBSI padding name -> (scipy.ndimage mode, numpy.pad mode)
PADDING_MODES: dict[str, tuple[str, str]] = {
    "zero": ("constant", "constant"),
    "nearest": ("nearest", "edge"),
    "periodic": ("wrap", "wrap"),
    "mirror": ("reflect", "symmetric"),
}

# scipy.ndimage "reflect" repeats the edge voxel (= IBSI mirror = numpy "symmetric"); numpy "reflect" does not and
# has no IBSI counterpart, so "reflect" is read in the scipy sense, as MIRP does.
_ALIASES = {
    "zero": "zero", "constant": "zero", "zeros": "zero",
    "nearest": "nearest", "edge": "nearest", "replicate": "nearest",
    "periodic": "periodic", "wrap": "periodic", "circular": "periodic",
    "mirror": "mirror", "symmetric": "mirror", "reflect": "mirror",
}


def canonical_padding(name: str) -> str:
    """IBSI padding name (``zero``, ``nearest``, ``periodic``, ``mirror``) for ``name`` or one of its aliases
    (``constant``, ``edge``, ``wrap``, ``symmetric``, ``reflect`` in the scipy.ndimage sense)."""
    key = str(name).lower()
    if key not in _ALIASES:
        raise InvalidParameterError("padding", name, f"one of {sorted(_ALIASES)} (IBSI: zero, nearest, periodic, "
                                                     "mirror)")
    return _ALIASES[key]


def ndimage_mode(name: str) -> str:
    """``scipy.ndimage`` boundary mode of an IBSI padding name."""
    return PADDING_MODES[canonical_padding(name)][0]


def numpy_pad_mode(name: str) -> str:
    """``numpy.pad`` mode of an IBSI padding name."""
    return PADDING_MODES[canonical_padding(name)][1]


def pad(array: np.ndarray, widths: Sequence[int], padding: str) -> np.ndarray:
    """Pad every axis ``i`` of ``array`` by ``widths[i]`` voxels on both sides with the IBSI ``padding``.

    Widths larger than the axis are allowed (mirror/periodic repeat as often as needed, as scipy.ndimage does).
    """
    mode = numpy_pad_mode(padding)
    pad_width = [(int(w), int(w)) for w in widths]
    if mode == "constant":
        return np.pad(array, pad_width, mode="constant", constant_values=0)
    return np.pad(array, pad_width, mode=mode)
