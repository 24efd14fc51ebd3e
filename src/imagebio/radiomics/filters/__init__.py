"""IBSI 2 convolutional filters: response maps for radiomics on filtered images.

Reference: Depeursinge A., Andrearczyk V., Whybra P., et al., "Standardised convolutional filtering for radiomics",
IBSI 2 reference manual, arXiv:2006.05470; reference response maps and feature values from
theibsi/ibsi_2_reference_data.

Modules (one per filter family, arrays (z, y, x), spacing (z, y, x) in mm, all vectorised):
:mod:`~.mean` (mean filter), :mod:`~.log` (Laplacian of Gaussian), :mod:`~.laws` (Laws kernels, rotation
invariance, energy maps), :mod:`~.gabor` (Gabor, in-plane and orthogonal-plane rotation invariance),
:mod:`~.wavelets` (separable wavelets via PyWavelets filter banks, undecimated and decimated),
:mod:`~.simoncelli` (non-separable Simoncelli wavelet), :mod:`~.riesz` (Riesz-transformed LoG / Simoncelli),
:mod:`~.padding` (IBSI boundary conditions) and :mod:`~.settings` (:class:`FilterSettings`, :func:`apply_filter`).
"""

from imagebio.radiomics.filters.settings import (
    FILTER_KINDS,
    FilterSettings,
    apply_filter,
    filter_reach,
    response_map_near_roi,
)

__all__ = ["FILTER_KINDS", "FilterSettings", "apply_filter", "filter_reach", "response_map_near_roi"]
