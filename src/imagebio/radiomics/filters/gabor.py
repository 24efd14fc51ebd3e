"""IBSI 2 Gabor filter (2D, per slice, with in-plane and orthogonal-plane rotation invariance).

Reference: IBSI 2 reference manual (arXiv:2006.05470), section "Gabor kernels":
``h(x, y) = exp(-(x~^2 + gamma^2 y~^2) / (2 sigma^2)) exp(i 2 pi x~ / lambda)`` with
``x~ = x cos(theta) + y sin(theta)``, ``y~ = -x sin(theta) + y cos(theta)``; ``x`` runs along the slice columns and
``y`` along the rows (increasing row index), both in mm. The response is the modulus (default) of the complex
convolution. Rotation invariance averages (or max-pools) the responses for ``theta = theta0 + k dtheta`` over a full
turn and, for volumes, over the three orthogonal planes (axial, coronal, sagittal).
The kernel is truncated at ``truncate`` times the largest envelope scale ``sigma max(1, 1/gamma)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np

from imagebio.errors import InvalidParameterError
from imagebio.radiomics.filters._core import PLANE_AXES, convolve_fft, pool

__all__ = ["gabor_kernel", "gabor_filter", "gabor_support_radius", "gabor_angles"]

_RESPONSES = ("modulus", "real", "imaginary", "phase")


def _radius_mm(sigma_mm: float, gamma: float, truncate: float) -> float:
    return truncate * sigma_mm * max(1.0, 1.0 / gamma)


def gabor_kernel(
    sigma_mm: float, lambda_mm: float, gamma: float, theta_rad: float, spacing_rc: Sequence[float],
    truncate: float = 4.0,
) -> np.ndarray:
    """Complex 2D Gabor kernel on a grid of ``spacing_rc`` = (row, column) spacing in mm (odd size, centred).

    Parameters are those of the IBSI definition (``sigma_mm``, ``lambda_mm`` in mm, ``gamma`` unitless,
    ``theta_rad`` in radians); the kernel is not normalised (IBSI).
    """
    for name, value in (("sigma_mm", sigma_mm), ("lambda_mm", lambda_mm), ("gamma", gamma), ("truncate", truncate)):
        if not value > 0:
            raise InvalidParameterError(name, value, "a positive number")
    radius_mm = _radius_mm(sigma_mm, gamma, truncate)
    half = [int(math.floor(radius_mm / float(s) + 0.5)) for s in spacing_rc]
    y = np.arange(-half[0], half[0] + 1, dtype=np.float64)[:, None] * float(spacing_rc[0])
    x = np.arange(-half[1], half[1] + 1, dtype=np.float64)[None, :] * float(spacing_rc[1])
    xr = x * math.cos(theta_rad) + y * math.sin(theta_rad)
    yr = -x * math.sin(theta_rad) + y * math.cos(theta_rad)
    return np.exp(-(xr**2 + gamma**2 * yr**2) / (2.0 * sigma_mm**2) + 2j * math.pi * xr / lambda_mm)


def gabor_support_radius(spacing: Sequence[float], sigma_mm: float, gamma: float, truncate: float = 4.0,
                         planes: str = "axial") -> tuple[int, int, int]:
    """Reach of the filter in voxels (z, y, x)."""
    radius_mm = _radius_mm(sigma_mm, gamma, truncate)
    reach = [int(math.floor(radius_mm / float(s) + 0.5)) for s in spacing]
    if planes == "axial":
        reach[0] = 0
    return tuple(reach)


def gabor_angles(theta_rad: float, theta_step_rad: float | None) -> list[float]:
    """Orientations ``theta0 + k dtheta`` covering one full turn (just ``theta0`` without a step)."""
    if theta_step_rad is None:
        return [float(theta_rad)]
    if not theta_step_rad > 0:
        raise InvalidParameterError("theta_step_rad", theta_step_rad, "a positive angle step in radians")
    n = int(round(2.0 * math.pi / theta_step_rad))
    if n < 1 or not math.isclose(n * theta_step_rad, 2.0 * math.pi, rel_tol=1e-6):
        raise InvalidParameterError("theta_step_rad", theta_step_rad, "an angle dividing 2 pi")
    return [float(theta_rad) + k * float(theta_step_rad) for k in range(n)]


def _response(complex_map: np.ndarray, response: str) -> np.ndarray:
    if response == "modulus":
        return np.abs(complex_map)
    if response == "real":
        return complex_map.real
    if response == "imaginary":
        return complex_map.imag
    return np.angle(complex_map)


def gabor_filter(
    image: np.ndarray,
    spacing: Sequence[float],
    sigma_mm: float,
    lambda_mm: float,
    gamma: float,
    theta_rad: float = 0.0,
    *,
    theta_step_rad: float | None = None,
    planes: str = "axial",
    pooling: str = "mean",
    response: str = "modulus",
    truncate: float = 4.0,
    padding: str = "mirror",
) -> np.ndarray:
    """Gabor response map.

    Parameters
    ----------
    image : numpy.ndarray
        Image (z, y, x).
    spacing : sequence of float
        Voxel spacing (z, y, x) in mm.
    sigma_mm, lambda_mm : float
        Envelope scale and wavelength in mm.
    gamma : float
        Spatial aspect ratio (ellipticity) of the envelope.
    theta_rad : float
        Orientation (initial orientation with ``theta_step_rad``), radians.
    theta_step_rad : float, optional
        Orientation step (radians, dividing 2 pi) for in-plane rotation invariance; None = single orientation.
    planes : {"axial", "orthogonal"}
        Filter each axial slice, or each slice of the three orthogonal planes (pooled) for 3D rotation invariance.
    pooling : {"mean", "max", "min"}
        Pooling over orientations and planes (IBSI: mean).
    response : {"modulus", "real", "imaginary", "phase"}
        Real-valued map taken from the complex response (IBSI: modulus).
    truncate : float
        Kernel half-width in units of the largest envelope scale ``sigma max(1, 1/gamma)``.
    padding : str
        IBSI boundary condition.

    Returns
    -------
    numpy.ndarray
        Response map (image units for modulus/real/imaginary; radians for phase).
    """
    if response not in _RESPONSES:
        raise InvalidParameterError("response", response, f"one of {_RESPONSES}")
    if planes not in ("axial", "orthogonal"):
        raise InvalidParameterError("planes", planes, "'axial' or 'orthogonal'")
    angles = gabor_angles(theta_rad, theta_step_rad)
    plane_axes = [PLANE_AXES["axial"]] if planes == "axial" else list(PLANE_AXES.values())
    # For real images the kernel at theta + pi is the complex conjugate, whose response has the same modulus:
    # compute only the first half of the orientations when they pair up (each pair then weighs the same, so
    # mean, max and min pooling are unchanged).
    if response == "modulus" and len(angles) % 2 == 0:
        angles = angles[: len(angles) // 2]

    def responses() -> Iterator[np.ndarray]:
        for axes in plane_axes:
            spacing_rc = (float(spacing[axes[0]]), float(spacing[axes[1]]))
            for theta in angles:
                kernel = gabor_kernel(sigma_mm, lambda_mm, gamma, theta, spacing_rc, truncate)
                yield _response(convolve_fft(image, kernel, padding, axes), response)

    return pool(responses(), pooling)
