"""IBSI local intensity features: local and global intensity peak (``loc_peak_loc``, ``loc_peak_glob``).

Reference: IBSI 1 reference manual (arXiv:1612.07003), section 3.2: mean intensity in a 1 cm³ sphere
(radius ``(3 / (4 pi))^(1/3)`` cm ≈ 6.2 mm, voxel centres within the radius, world coordinates) centred on ROI voxels;
the neighbourhood draws on all image voxels, ROI or not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from imagebio.errors import EmptyMaskError

__all__ = ["sphere_kernel", "local_intensity_features"]


def sphere_kernel(spacing: Sequence[float], volume_cm3: float = 1.0) -> np.ndarray:
    """Boolean kernel of voxels whose centre lies within the sphere of ``volume_cm3`` (cm³) around the centre voxel.

    ``spacing`` is (z, y, x) in mm.
    """
    radius_mm = 10.0 * (3.0 * volume_cm3 / (4.0 * math.pi)) ** (1.0 / 3.0)
    half = [int(math.floor(radius_mm / float(s))) for s in spacing]
    grids = [np.arange(-h, h + 1) * float(s) for h, s in zip(half, spacing, strict=True)]
    dz, dy, dx = np.meshgrid(*grids, indexing="ij", sparse=True)
    # Small tolerance: a voxel centre exactly on the sphere surface counts as inside.
    return dz * dz + dy * dy + dx * dx <= radius_mm * radius_mm * (1 + 1e-12)


def local_intensity_features(
    image: np.ndarray, intensity_mask: np.ndarray, spacing: Sequence[float], volume_cm3: float = 1.0
) -> dict[str, float]:
    """Local and global intensity peak (image units).

    Parameters
    ----------
    image : numpy.ndarray
        Whole (interpolated) image (z, y, x), not masked.
    intensity_mask : numpy.ndarray
        ROI intensity mask (bool); only its voxels are sphere centres.
    spacing : sequence of float
        Spacing (z, y, x) in mm.
    volume_cm3 : float
        Sphere volume in cm³ (IBSI: 1).

    Returns
    -------
    dict
        ``loc_peak_loc``: highest sphere mean among the voxels holding the ROI maximum intensity;
        ``loc_peak_glob``: highest sphere mean over all ROI voxels. Voxels outside the image are not counted.
    """
    from scipy.signal import fftconvolve

    from imagebio.radiomics.processing import bounding_box

    mask = np.asarray(intensity_mask, dtype=bool)
    if not mask.any():
        raise EmptyMaskError("intensity mask", detail="no voxel for local intensity features")
    image = np.asarray(image, dtype=np.float64)
    kernel = sphere_kernel(spacing, volume_cm3).astype(np.float64)
    half = [k // 2 for k in kernel.shape]
    box = bounding_box(mask)
    # Crop to the ROI box plus the kernel reach: only sphere means centred in the ROI are needed.
    outer = tuple(slice(max(0, s.start - h), min(n, s.stop + h)) for s, h, n in zip(box, half, image.shape,
                                                                                      strict=True))
    sub = image[outer]
    sub_mask = mask[outer]
    sums = fftconvolve(sub, kernel, mode="same")
    counts = fftconvolve(np.ones_like(sub), kernel, mode="same")
    means = sums / np.rint(counts)
    roi_means = means[sub_mask]
    roi_values = sub[sub_mask]
    at_max = roi_values == roi_values.max()
    return {
        "loc_peak_loc": float(roi_means[at_max].max()),
        "loc_peak_glob": float(roi_means.max()),
    }
