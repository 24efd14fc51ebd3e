"""IBSI 2 non-separable Simoncelli wavelet (isotropic band-pass, defined in the Fourier domain).

Reference: IBSI 2 reference manual (arXiv:2006.05470), section "Non-separable wavelets"; Portilla J. & Simoncelli
E.P., Int J Comput Vis 2000;40:49-70. With the radial frequency ``r = |omega| / pi`` (1 = Nyquist), the level-1
wavelet is ``cos(pi/2 log2(2 r))`` for ``1/4 <= r <= 1`` and 0 elsewhere; level ``j`` is the same profile of
``2^(j-1) r`` (band ``[2^-(j+1), 2^-(j-1)]``). The response is the real part of the inverse transform.

Following the IBSI reference implementation (MIRP), the radial frequency is sampled on the centred grid
``(k - (N-1)/2) / ((N-1)/2)`` per axis of the transform size (this, not the exact FFT frequencies, reproduces the
IBSI reference response maps). With ``periodic`` padding the filter is applied by FFT on the image grid; any other
padding first pads the image by half its size on each side.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imagebio.errors import InvalidParameterError
from imagebio.radiomics.filters._core import slice_axes
from imagebio.radiomics.filters.padding import canonical_padding, pad

__all__ = ["simoncelli_transfer", "simoncelli_wavelet"]


def simoncelli_transfer(shape: Sequence[int], level: int = 1) -> np.ndarray:
    """Simoncelli band-pass transfer function on an FFT grid of ``shape`` (unshifted, real, 0..1)."""
    from scipy import fft

    if int(level) < 1 or int(level) != level:
        raise InvalidParameterError("level", level, "a decomposition level >= 1")
    grids = []
    for n in shape:
        centre = (n - 1) / 2.0
        grids.append((np.arange(n) - centre) / centre if centre > 0 else np.zeros(n))
    r2 = np.zeros(tuple(shape))
    for axis, g in enumerate(grids):
        r2 = r2 + (g**2).reshape([-1 if a == axis else 1 for a in range(len(shape))])
    r = np.sqrt(r2) * 2.0 ** (int(level) - 1)
    band = (r >= 0.25) & (r <= 1.0)
    out = np.zeros_like(r)
    out[band] = np.cos(np.pi / 2.0 * np.log2(2.0 * r[band]))
    return fft.ifftshift(out)


def simoncelli_wavelet(
    image: np.ndarray,
    level: int = 1,
    *,
    dimensions: int = 3,
    padding: str = "periodic",
) -> np.ndarray:
    """Simoncelli wavelet response map at decomposition ``level``.

    Parameters
    ----------
    image : numpy.ndarray
        Image (z, y, x); the wavelet is defined on the voxel grid (no spacing).
    level : int
        Decomposition level (1 = highest-frequency band).
    dimensions : {2, 3}
        2: transform each axial slice; 3: volumetric.
    padding : str
        IBSI boundary condition; ``periodic`` uses the FFT's own periodicity, others pad by half the image size.

    Returns
    -------
    numpy.ndarray
        Real response map, image units.
    """
    from scipy import fft

    axes = slice_axes(dimensions)
    data = np.asarray(image, dtype=np.float64)
    periodic = canonical_padding(padding) == "periodic"
    widths = [data.shape[a] // 2 if (not periodic and a in axes) else 0 for a in range(data.ndim)]
    if any(widths):
        data = pad(data, widths, padding)
    transfer = simoncelli_transfer([data.shape[a] for a in axes], level)
    shape = [data.shape[a] if a in axes else 1 for a in range(data.ndim)]
    spectrum = fft.fftn(data, axes=axes) * transfer.reshape(shape)
    out = fft.ifftn(spectrum, axes=axes).real
    if any(widths):
        out = out[tuple(slice(w, w + n) for w, n in zip(widths, image.shape, strict=True))]
    return out
