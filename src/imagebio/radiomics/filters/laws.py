"""IBSI 2 Laws kernels, with rotation invariance and texture-energy maps.

Reference: IBSI 2 reference manual (arXiv:2006.05470), section "Laws kernels". A kernel name concatenates 1D
kernels, the first along x, the second along y and (3D) the third along z, e.g. ``E5L5S5``; two kernels mean a 2D
filter applied to each axial slice. 1D kernels are normalised to unit L2 norm (IBSI). Rotation invariance pools the
responses to the 4 (2D) or 24 (3D) right-angle rotations of the kernel; the energy map is the mean of the absolute
(pooled) response in the ``(2 delta + 1)^D`` neighbourhood (Chebyshev distance ``delta`` in voxels), computed with
the same padding.
"""

from __future__ import annotations

import re

import numpy as np

from imagebio.errors import InvalidParameterError
from imagebio.radiomics.filters._core import convolve_separable, pool, unique_rotations
from imagebio.radiomics.filters.padding import ndimage_mode

__all__ = ["LAWS_KERNELS", "laws_filter", "laws_kernels", "laws_support_radius"]

#: Laws 1D kernels before normalisation (IBSI 2 manual, table of Laws kernels).
LAWS_KERNELS: dict[str, tuple[float, ...]] = {
    "L3": (1, 2, 1), "E3": (-1, 0, 1), "S3": (-1, 2, -1),
    "L5": (1, 4, 6, 4, 1), "E5": (-1, -2, 0, 2, 1), "S5": (-1, 0, 2, 0, -1),
    "W5": (-1, 2, 0, -2, 1), "R5": (1, -4, 6, -4, 1),
}


def laws_kernels(name: str) -> list[np.ndarray]:
    """Normalised 1D kernels of a Laws filter name, in name order (x, y[, z])."""
    parts = re.findall(r"[A-Za-z]\d", str(name))
    if "".join(parts).upper() != str(name).upper() or len(parts) not in (2, 3):
        raise InvalidParameterError("laws_kernel", name, "2 or 3 kernels among L3 E3 S3 L5 E5 S5 W5 R5, e.g. 'E5L5S5'")
    out = []
    for part in parts:
        taps = LAWS_KERNELS.get(part.upper())
        if taps is None:
            raise InvalidParameterError("laws_kernel", name, f"kernels among {sorted(LAWS_KERNELS)}")
        kernel = np.asarray(taps, dtype=np.float64)
        out.append(kernel / np.sqrt(np.sum(kernel**2)))
    return out


def laws_support_radius(name: str, energy_delta_voxels: int | None = None) -> tuple[int, int, int]:
    """Reach of the (energy) filter in voxels (z, y, x)."""
    kernels = laws_kernels(name)
    half = max(k.size for k in kernels) // 2 + (int(energy_delta_voxels) if energy_delta_voxels else 0)
    return (0 if len(kernels) == 2 else half, half, half)


def laws_filter(
    image: np.ndarray,
    kernel: str,
    *,
    rotation_invariant: bool = False,
    pooling: str = "max",
    energy_delta_voxels: int | None = None,
    padding: str = "mirror",
) -> np.ndarray:
    """Laws kernel response (or texture-energy) map.

    Parameters
    ----------
    image : numpy.ndarray
        Image (z, y, x).
    kernel : str
        Laws kernel name, 1D kernels for x, y[, z] (e.g. ``"E5L5S5"`` 3D, ``"L5S5"`` 2D per axial slice).
        Laws kernels are defined on the voxel grid (no spacing).
    rotation_invariant : bool
        Pool over the right-angle rotations of the kernel (4 in 2D, 24 in 3D).
    pooling : {"max", "mean", "min"}
        Pooling of the rotated responses (IBSI uses max).
    energy_delta_voxels : int, optional
        Compute the texture-energy map with this Chebyshev distance ``delta`` (voxels); None = plain response.
    padding : str
        IBSI boundary condition (also used for the energy map).

    Returns
    -------
    numpy.ndarray
        Response map in image units.
    """
    from scipy import ndimage

    factors = laws_kernels(kernel)  # x, y[, z]
    ndim = len(factors)
    axis_factors = factors[::-1]  # array order: [z,] y, x
    axes = (1, 2) if ndim == 2 else (0, 1, 2)
    if rotation_invariant:
        rotated = [r[0] for r in unique_rotations([axis_factors], ndim)]
    else:
        rotated = [axis_factors]
    response = pool((convolve_separable(image, dict(zip(axes, f, strict=True)), padding) for f in rotated),
                    pooling)
    if energy_delta_voxels is None:
        return response
    delta = int(energy_delta_voxels)
    if delta < 0 or delta != energy_delta_voxels:
        raise InvalidParameterError("energy_delta_voxels", energy_delta_voxels, "a non-negative integer (voxels)")
    return ndimage.uniform_filter(np.abs(response), size=2 * delta + 1, mode=ndimage_mode(padding), cval=0.0,
                                  axes=axes)
