"""Shared machinery of the IBSI 2 filters: convolution with padding, right-angle rotations, pooling, planes.

Reference: IBSI 2 reference manual (arXiv:2006.05470), sections on convolution, boundary conditions and rotation
invariance (pooling of the responses to the kernel rotated by right angles: 4 in 2D, 24 in 3D).
Convolutions are true convolutions (kernel mirrored), centred on the middle tap of odd-length kernels; even-length
kernels (wavelet filters) get a trailing zero first, so that their taps sit at offsets ``-L/2 .. L/2 - 1``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from imagebio.errors import InvalidParameterError
from imagebio.radiomics.filters.padding import ndimage_mode, pad

__all__ = [
    "PLANE_AXES",
    "POOLINGS",
    "odd_length",
    "convolve_separable",
    "convolve_fft",
    "right_angle_rotations",
    "rotate_factors",
    "unique_rotations",
    "pool",
    "slice_axes",
]

#: Array axes (rows, columns) of the 2D planes of a (z, y, x) volume.
PLANE_AXES = {"axial": (1, 2), "coronal": (0, 2), "sagittal": (0, 1)}
POOLINGS = ("max", "mean", "min")


def odd_length(kernel: np.ndarray) -> np.ndarray:
    """Return a 1D kernel of odd length, appending one zero tap to an even-length kernel."""
    kernel = np.asarray(kernel, dtype=np.float64).ravel()
    return np.append(kernel, 0.0) if kernel.size % 2 == 0 else kernel


def convolve_separable(image: np.ndarray, factors: dict[int, np.ndarray], padding: str) -> np.ndarray:
    """Convolve ``image`` with the outer product of 1D kernels ``factors`` (array axis -> odd-length taps)."""
    from scipy import ndimage

    mode = ndimage_mode(padding)
    out = np.asarray(image, dtype=np.float64)
    for axis, kernel in factors.items():
        out = ndimage.convolve1d(out, odd_length(kernel), axis=axis, mode=mode, cval=0.0)
    return out


def convolve_fft(image: np.ndarray, kernel: np.ndarray, padding: str, axes: Sequence[int]) -> np.ndarray:
    """Convolve ``image`` with a dense (possibly complex) kernel along ``axes`` via FFT.

    ``kernel`` has one dimension per entry of ``axes`` (odd sizes, centre = middle voxel); the image is padded by
    half the kernel size with the IBSI ``padding`` and the valid part of the convolution (the image size) returned.
    For a 2D kernel and ``axes`` of a plane this filters every slice independently.
    """
    from scipy.signal import fftconvolve

    kernel = np.asarray(kernel)
    if kernel.ndim != len(axes) or any(k % 2 == 0 for k in kernel.shape):
        raise InvalidParameterError("kernel", kernel.shape, f"{len(axes)} odd sizes, one per axis in {tuple(axes)}")
    widths = [0] * image.ndim
    shape = [1] * image.ndim
    for axis, size in zip(axes, kernel.shape, strict=True):
        widths[axis] = size // 2
        shape[axis] = size
    padded = pad(np.asarray(image, dtype=np.float64), widths, padding)
    return fftconvolve(padded, kernel.reshape(shape), mode="valid", axes=tuple(axes))


def _parity(perm: Sequence[int]) -> int:
    inversions = sum(1 for i, j in itertools.combinations(range(len(perm)), 2) if perm[i] > perm[j])
    return -1 if inversions % 2 else 1


def right_angle_rotations(ndim: int) -> list[tuple[tuple[int, ...], tuple[bool, ...]]]:
    """The right-angle rotations of an ``ndim``-D grid (4 in 2D, 24 in 3D) as (axis permutation, axis flips).

    A rotated kernel is ``flip(transpose(kernel, perm), flipped axes)``: signed permutations with determinant +1.
    """
    out = []
    for perm in itertools.permutations(range(ndim)):
        for flips in itertools.product((False, True), repeat=ndim):
            if _parity(perm) * (-1) ** sum(flips) == 1:
                out.append((perm, flips))
    return out


def rotate_factors(factors: Sequence[np.ndarray], rotation: tuple[tuple[int, ...], tuple[bool, ...]]
                   ) -> list[np.ndarray]:
    """Rotate a separable kernel given by its odd-length 1D factors (one per axis, in axis order)."""
    perm, flips = rotation
    return [odd_length(factors[p])[::-1] if f else odd_length(factors[p]) for p, f in zip(perm, flips, strict=True)]


def unique_rotations(factor_sets: Sequence[Sequence[np.ndarray]], ndim: int) -> list[list[list[np.ndarray]]]:
    """Distinct right-angle rotations of one or more separable kernels rotated together.

    Returns a list (one entry per distinct rotated set) of lists of rotated factor lists. Dropping duplicates keeps
    mean pooling exact: every distinct rotated kernel occurs equally often in the rotation group (orbit-stabiliser).
    """
    seen: set = set()
    out = []
    for rotation in right_angle_rotations(ndim):
        rotated = [rotate_factors(factors, rotation) for factors in factor_sets]
        key = tuple(tuple(np.round(f, 15).tolist()) for factors in rotated for f in factors)
        if key not in seen:
            seen.add(key)
            out.append(rotated)
    return out


def pool(responses: Iterable[np.ndarray], pooling: str) -> np.ndarray:
    """Pool response maps voxel-wise by ``max``, ``mean`` or ``min`` (streaming, one map in memory at a time)."""
    if pooling not in POOLINGS:
        raise InvalidParameterError("pooling", pooling, f"one of {POOLINGS}")
    reduce: Callable = {"max": np.maximum, "min": np.minimum, "mean": np.add}[pooling]
    out, count = None, 0
    for response in responses:
        out = np.array(response, dtype=np.float64) if out is None else reduce(out, response, out=out)
        count += 1
    if out is None:
        raise InvalidParameterError("responses", "none", "at least one response map to pool")
    return out / count if pooling == "mean" else out


def slice_axes(dimensions: int) -> tuple[int, ...]:
    """Array axes a filter of ``dimensions`` (2 = per axial slice, 3 = volumetric) runs along."""
    if dimensions == 2:
        return (1, 2)
    if dimensions == 3:
        return (0, 1, 2)
    raise InvalidParameterError("dimensions", dimensions, "2 (slice by slice, axial plane) or 3 (volumetric)")
