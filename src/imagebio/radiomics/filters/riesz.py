"""Riesz-transformed filters (IBSI 2 "Riesz" kernels, not among the 8 standardised filter types).

Reference: IBSI 2 reference manual (arXiv:2006.05470), section "Riesz transform": the Riesz transform of order
``l = (l_1, ..., l_D)``, ``L = sum(l)``, multiplies the Fourier transform of a kernel by
``(-i)^L sqrt(L! / prod(l_d!)) prod(omega_d^l_d) / |omega|^L``. Here it is applied to the Laplacian of Gaussian
and to the Simoncelli wavelet; the order is given in physical axis order (x, y, z). As in the IBSI reference
implementation, the frequency ``omega`` is sampled on the centred grid ``(k - (N-1)/2) / ((N-1)/2)`` of the
(padded) transform size; the response is the real part.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from imagebio.errors import InvalidParameterError
from imagebio.radiomics.filters.log import log_kernel_1d, log_support_radius
from imagebio.radiomics.filters.padding import canonical_padding, pad
from imagebio.radiomics.filters.simoncelli import simoncelli_transfer

__all__ = ["riesz_multiplier", "riesz_log", "riesz_simoncelli"]


def _order_zyx(order_xyz: Sequence[int]) -> tuple[int, int, int]:
    order = tuple(int(o) for o in order_xyz)
    if len(order) != 3 or any(o < 0 for o in order) or order != tuple(order_xyz):
        raise InvalidParameterError("riesz_order", order_xyz, "three non-negative integers (x, y, z)")
    return order[::-1]


def riesz_multiplier(shape: Sequence[int], order_zyx: Sequence[int]) -> np.ndarray:
    """Riesz transform multiplier on an (unshifted) FFT grid of ``shape``; 0 at the zero frequency."""
    from scipy import fft

    total = int(sum(order_zyx))
    prefactor = (-1j) ** total * math.sqrt(math.factorial(total) / math.prod(math.factorial(o) for o in order_zyx))
    grids = []
    for n in shape:
        centre = (n - 1) / 2.0
        grids.append((np.arange(n) - centre) / centre if centre > 0 else np.zeros(n))
    ndim = len(shape)
    r2 = np.zeros(tuple(shape))
    numerator = np.ones(tuple(shape), dtype=np.complex128)
    for axis, (g, o) in enumerate(zip(grids, order_zyx, strict=True)):
        g = g.reshape([-1 if a == axis else 1 for a in range(ndim)])
        r2 = r2 + g**2
        if o:
            numerator = numerator * g**o
    norm = np.sqrt(r2) ** total
    out = np.zeros(tuple(shape), dtype=np.complex128)
    nonzero = norm > 0
    out[nonzero] = prefactor * (numerator / np.where(nonzero, norm, 1.0))[nonzero]
    return fft.ifftshift(out)


def riesz_log(
    image: np.ndarray,
    spacing: Sequence[float],
    sigma_mm: float,
    order: Sequence[int],
    *,
    truncate: float = 4.0,
    padding: str = "mirror",
) -> np.ndarray:
    """Riesz-transformed Laplacian of Gaussian (3D) response map.

    ``sigma_mm`` in mm (per axis in voxels); ``order`` = Riesz order (x, y, z); the image is padded by the LoG
    kernel half-size with ``padding``. Returns the real response (image units per voxel²).
    """
    from scipy import fft

    order_zyx = _order_zyx(order)
    radius = log_support_radius(spacing, sigma_mm, truncate, 3)
    kernel = 0.0
    pairs = [log_kernel_1d(float(sigma_mm) / float(s), r) for s, r in zip(spacing, radius, strict=True)]
    for second in range(3):
        factors = [p[1] if a == second else p[0] for a, p in enumerate(pairs)]
        kernel = kernel + factors[0][:, None, None] * factors[1][None, :, None] * factors[2][None, None, :]
    padded = pad(np.asarray(image, dtype=np.float64), radius, padding)
    spectrum = fft.fftn(padded) * fft.fftn(kernel, padded.shape) * riesz_multiplier(padded.shape, order_zyx)
    out = fft.ifftn(spectrum).real
    # The kernel sits at the array corner in the FFT: the valid, centred response starts at twice the radius.
    return out[tuple(slice(2 * r, 2 * r + n) for r, n in zip(radius, image.shape, strict=True))]


def riesz_simoncelli(image: np.ndarray, level: int, order: Sequence[int], *, padding: str = "periodic"
                     ) -> np.ndarray:
    """Riesz-transformed Simoncelli wavelet (3D); real response, image units.

    ``order`` = Riesz order (x, y, z). ``periodic`` padding uses the FFT's periodicity; any other padding first
    pads the image by half its size on each side (as :func:`~imagebio.radiomics.filters.simoncelli.simoncelli_wavelet`).
    """
    from scipy import fft

    order_zyx = _order_zyx(order)
    data = np.asarray(image, dtype=np.float64)
    widths = [0, 0, 0] if canonical_padding(padding) == "periodic" else [n // 2 for n in data.shape]
    if any(widths):
        data = pad(data, widths, padding)
    transfer = simoncelli_transfer(data.shape, level) * riesz_multiplier(data.shape, order_zyx)
    out = fft.ifftn(fft.fftn(data) * transfer).real
    return out[tuple(slice(w, w + n) for w, n in zip(widths, image.shape, strict=True))]
