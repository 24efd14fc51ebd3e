"""IBSI intensity-histogram features (``ih_*``) of discretised grey levels.

Reference: IBSI 1 reference manual (arXiv:1612.07003), section 3.4.
"""

from __future__ import annotations

import numpy as np

from imagebio.errors import EmptyMaskError
from imagebio.radiomics.statistics import distribution_features

__all__ = ["histogram_features"]


def histogram_features(levels: np.ndarray) -> dict[str, float]:
    """All 23 IBSI intensity-histogram features of the discretised grey levels ``levels`` (ints >= 1) of the ROI.

    Mode: the most frequent level; ties go to the level closest to the mean, then to the lower one.
    Gradient: ``H'(i) = (H(i+1) - H(i-1)) / 2`` with one-sided differences at the ends, over levels
    ``1..max(levels)``, H = voxel counts.
    """
    x = np.asarray(levels).ravel().astype(np.int64)
    if x.size == 0:
        raise EmptyMaskError("intensity mask", detail="no voxel for intensity-histogram features")
    out = distribution_features(x, "ih_")
    counts = np.bincount(x, minlength=int(x.max()) + 1)[1:].astype(np.float64)
    grey = np.arange(1, counts.size + 1)
    candidates = grey[counts == counts.max()]
    distance = np.abs(candidates - out["ih_mean"])
    out["ih_mode"] = float(candidates[np.lexsort((candidates, distance))[0]])
    p = counts / counts.sum()
    nz = p[p > 0]
    out["ih_entropy"] = float(-np.sum(nz * np.log2(nz)))
    out["ih_uniformity"] = float(np.sum(p**2))
    if counts.size > 1:
        grad = np.gradient(counts)  # central differences inside, one-sided at both ends
    else:
        grad = np.zeros(1)
    i_max, i_min = int(np.argmax(grad)), int(np.argmin(grad))
    out["ih_max_grad"] = float(grad[i_max])
    out["ih_max_grad_g"] = float(grey[i_max])
    out["ih_min_grad"] = float(grad[i_min])
    out["ih_min_grad_g"] = float(grey[i_min])
    return out
