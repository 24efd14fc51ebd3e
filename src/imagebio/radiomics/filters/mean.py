"""IBSI 2 mean filter.

Reference: IBSI 2 reference manual (arXiv:2006.05470), section "Mean filter": the response is the mean intensity
of the ``M`` (2D: ``M x M``, 3D: ``M x M x M``) voxel neighbourhood centred on each voxel; ``M`` odd, in voxels.
"""

from __future__ import annotations

import numpy as np

from imagebio.errors import InvalidParameterError
from imagebio.radiomics.filters._core import slice_axes
from imagebio.radiomics.filters.padding import ndimage_mode

__all__ = ["mean_filter", "mean_support_radius"]


def mean_filter(image: np.ndarray, support_voxels: int, *, dimensions: int = 3, padding: str = "mirror"
                ) -> np.ndarray:
    """Mean filter response map.

    Parameters
    ----------
    image : numpy.ndarray
        Image (z, y, x), any units.
    support_voxels : int
        Odd filter support ``M`` in voxels (IBSI defines the mean filter on the voxel grid).
    dimensions : {2, 3}
        2: ``M x M`` window in each axial slice; 3: ``M x M x M`` window.
    padding : str
        IBSI boundary condition (``zero``, ``nearest``, ``periodic``, ``mirror``).

    Returns
    -------
    numpy.ndarray
        Response (float64), same units as ``image``.
    """
    from scipy import ndimage

    support = int(support_voxels)
    if support < 1 or support % 2 == 0 or support != support_voxels:
        raise InvalidParameterError("support_voxels", support_voxels, "an odd positive number of voxels")
    axes = slice_axes(dimensions)
    return ndimage.uniform_filter(np.asarray(image, dtype=np.float64), size=support, mode=ndimage_mode(padding),
                                  cval=0.0, axes=axes)


def mean_support_radius(support_voxels: int, dimensions: int = 3) -> tuple[int, int, int]:
    """Reach of the mean filter in voxels (z, y, x)."""
    half = int(support_voxels) // 2
    return (0 if dimensions == 2 else half, half, half)
