"""IBSI 2 separable wavelets (Haar, Daubechies, Coiflet, ... via PyWavelets filter banks).

Reference: IBSI 2 reference manual (arXiv:2006.05470), section "Separable wavelets". A sub-band name such as
``"LHL"`` gives the 1D filter along x, y and (3D) z: ``L`` = low-pass (decomposition ``dec_lo``), ``H`` = high-pass
(``dec_hi``); two letters mean a 2D transform of each axial slice.

* Undecimated (stationary, *à trous*) transform, the IBSI default for radiomics: at level ``j`` the image is first
  low-pass filtered on every axis at levels ``1 .. j-1`` and then filtered with the sub-band filters, the filters of
  level ``l`` being upsampled by inserting ``2^(l-1) - 1`` zeros between taps. Even-length filters get a trailing
  zero so that they are centred like odd ones. The response map has the image size.
* Rotation invariance pools (IBSI: mean) the responses of the 4 (2D) or 24 (3D) right-angle rotations of the whole
  filter cascade.
* Decimated (Mallat) transform: ``pywt.dwtn`` level by level, keeping the approximation between levels; the
  response is the coefficient array of the sub-band (about half the size per level).

Requires PyWavelets (imported when used).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imagebio.errors import InvalidParameterError
from imagebio.radiomics.filters._core import convolve_separable, odd_length, pool, unique_rotations
from imagebio.radiomics.filters.padding import canonical_padding

__all__ = ["separable_wavelet", "wavelet_filters", "wavelet_support_radius", "upsample_filter"]

_PYWT_MODES = {"zero": "zero", "nearest": "constant", "periodic": "periodization", "mirror": "symmetric"}


def _parse_subband(subband: str) -> str:
    name = str(subband).upper()
    if len(name) not in (2, 3) or set(name) - {"L", "H"}:
        raise InvalidParameterError("subband", subband, "2 or 3 letters L/H for x, y[, z], e.g. 'LHL' or 'HH'")
    return name


def wavelet_filters(wavelet: str) -> tuple[np.ndarray, np.ndarray]:
    """Decomposition low-pass and high-pass filters of a PyWavelets wavelet name (``haar``, ``db2``, ``coif1`` ...)."""
    import pywt

    try:
        w = pywt.Wavelet(str(wavelet))
    except ValueError as exc:
        raise InvalidParameterError("wavelet", wavelet, "a discrete PyWavelets wavelet (haar, dbN, coifN, symN ...)"
                                    ) from exc
    return np.asarray(w.dec_lo, dtype=np.float64), np.asarray(w.dec_hi, dtype=np.float64)


def upsample_filter(kernel: np.ndarray, level: int) -> np.ndarray:
    """À trous filter of ``level`` (1 = original): ``2^(level-1) - 1`` zeros inserted between the taps."""
    kernel = odd_length(kernel)
    step = 2 ** (int(level) - 1)
    out = np.zeros((kernel.size - 1) * step + 1)
    out[::step] = kernel
    return out


def wavelet_support_radius(wavelet: str, subband: str, level: int = 1) -> tuple[int, int, int]:
    """Reach of the undecimated cascade in voxels (z, y, x)."""
    lo, hi = wavelet_filters(wavelet)
    half = max(odd_length(lo).size, odd_length(hi).size) // 2
    reach = sum(half * 2 ** (lv - 1) for lv in range(1, int(level) + 1))
    return (0 if len(_parse_subband(subband)) == 2 else reach, reach, reach)


def separable_wavelet(
    image: np.ndarray,
    wavelet: str,
    subband: str,
    level: int = 1,
    *,
    rotation_invariant: bool = False,
    pooling: str = "mean",
    decimated: bool = False,
    padding: str = "mirror",
) -> np.ndarray:
    """Separable wavelet response map (one sub-band at one decomposition level).

    Parameters
    ----------
    image : numpy.ndarray
        Image (z, y, x). Wavelets are defined on the voxel grid (no spacing).
    wavelet : str
        PyWavelets name: ``haar``, ``db1`` ... ``db38``, ``coif1`` ... ``coif17``, ``sym2`` ...
    subband : str
        Filters along x, y[, z], e.g. ``"LHL"`` (3D) or ``"HH"`` (2D, each axial slice).
    level : int
        Decomposition level (>= 1).
    rotation_invariant : bool
        Pool over the right-angle rotations (undecimated only).
    pooling : {"mean", "max", "min"}
        Pooling of the rotated responses (IBSI: mean).
    decimated : bool
        Mallat (decimated) transform instead of the undecimated one.
    padding : str
        IBSI boundary condition.

    Returns
    -------
    numpy.ndarray
        Response map (image size when undecimated), image units.
    """
    band = _parse_subband(subband)
    if int(level) < 1 or int(level) != level:
        raise InvalidParameterError("level", level, "a decomposition level >= 1")
    level = int(level)
    lo, hi = wavelet_filters(wavelet)
    ndim = len(band)
    axes = (1, 2) if ndim == 2 else (0, 1, 2)
    if decimated:
        if rotation_invariant:
            raise InvalidParameterError("rotation_invariant", True, "False with the decimated transform")
        return _decimated(np.asarray(image, dtype=np.float64), wavelet, band, level, padding, axes)
    main = [lo if letter == "L" else hi for letter in band][::-1]  # array order [z,] y, x
    pre = [lo] * ndim
    if rotation_invariant:
        cascades = unique_rotations([pre, main], ndim)
    else:
        cascades = [[[odd_length(f) for f in pre], [odd_length(f) for f in main]]]

    def run(cascade: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
        pre_f, main_f = cascade
        out = image
        for lv in range(1, level):
            out = convolve_separable(out, {a: upsample_filter(f, lv) for a, f in zip(axes, pre_f, strict=True)},
                                     padding)
        return convolve_separable(out, {a: upsample_filter(f, level) for a, f in zip(axes, main_f, strict=True)},
                                  padding)

    return pool((run(c) for c in cascades), pooling)


def _decimated(image: np.ndarray, wavelet: str, band: str, level: int, padding: str, axes: Sequence[int]
               ) -> np.ndarray:
    import pywt

    mode = _PYWT_MODES[canonical_padding(padding)]
    # pywt keys list one letter per entry of `axes`; pass them in x, y[, z] order to match the sub-band name.
    axes_xyz = tuple(axes[::-1])
    approx = image
    for _ in range(level - 1):
        approx = pywt.dwtn(approx, wavelet, mode=mode, axes=axes_xyz)["a" * len(band)]
    key = "".join("a" if letter == "L" else "d" for letter in band)
    return pywt.dwtn(approx, wavelet, mode=mode, axes=axes_xyz)[key]
