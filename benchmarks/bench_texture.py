"""Benchmark of the IBSI texture families (3D approach) against PyRadiomics on a realistic ROI.

ROI: an ellipsoid inscribed in a 40 x 60 x 60 (z, y, x) box (~75 000 voxels) of smoothed Gaussian noise discretised
into 32 equal-width bins, so that runs and zones have realistic sizes. Each family computes its full IBSI 3D feature
set (GLCM and GLRLM: ``_3D_avg`` and ``_3D_comb``). The peer, when ``import radiomics`` works, is the matching
PyRadiomics feature class with all its features enabled, on the same grey levels (bin width 1) and mask:
GLCM, GLRLM, GLSZM, NGTDM, and GLDM (PyRadiomics' name for the NGLDM, alpha = 0). PyRadiomics has no GLDZM.

Usage: ``python benchmarks/bench_texture.py`` (rows printed); ``run()`` is called by ``benchmarks/run.py``.
``ratio`` = peer_s / ours_s (> 1: imagebio faster).
"""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import best_time_s, peak_memory_mb

SHAPE = (40, 60, 60)
N_LEVELS = 32
SPACING = (1.0, 1.0, 1.0)
# imagebio module -> PyRadiomics feature class (module, class name); None where PyRadiomics has no equivalent.
PEERS = {
    "glcm": ("glcm", "RadiomicsGLCM"),
    "glrlm": ("glrlm", "RadiomicsGLRLM"),
    "glszm": ("glszm", "RadiomicsGLSZM"),
    "gldzm": None,
    "ngtdm": ("ngtdm", "RadiomicsNGTDM"),
    "ngldm": ("gldm", "RadiomicsGLDM"),
}


def make_roi(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Grey levels 1..32 of smoothed noise and an ellipsoidal mask, both (z, y, x)."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    smooth = ndimage.gaussian_filter(rng.normal(size=SHAPE), sigma=1.5)
    edges = np.linspace(smooth.min(), smooth.max(), N_LEVELS + 1)
    levels = np.clip(np.digitize(smooth, edges[1:-1]) + 1, 1, N_LEVELS).astype(np.int64)
    centre = (np.array(SHAPE) - 1) / 2
    grid = np.indices(SHAPE).astype(float)
    radius = ((grid - centre[:, None, None, None]) / (np.array(SHAPE)[:, None, None, None] / 2)) ** 2
    mask = radius.sum(axis=0) <= 1.0
    return levels, mask


def _pyradiomics_runner(peer: tuple[str, str], levels: np.ndarray, mask: np.ndarray):
    import SimpleITK as sitk

    logging.getLogger("radiomics").setLevel(logging.ERROR)
    module = importlib.import_module(f"radiomics.{peer[0]}")
    feature_class = getattr(module, peer[1])
    image = sitk.GetImageFromArray(levels.astype(np.float64))
    image.SetSpacing(SPACING[::-1])
    roi = sitk.GetImageFromArray(mask.astype(np.uint8))
    roi.CopyInformation(image)

    def run() -> dict:
        extractor = feature_class(image, roi, binWidth=1, force2D=False, label=1)
        extractor.enableAllFeatures()
        return extractor.execute()

    return run


def run() -> list[dict]:
    try:
        import radiomics

        peer_name = f"pyradiomics {radiomics.__version__}"
    except ImportError:
        radiomics = None
        peer_name = None
    levels, mask = make_roi()
    rows = []
    for module_name, peer in PEERS.items():
        compute = importlib.import_module(f"imagebio.radiomics.texture.{module_name}").compute

        def ours(compute=compute) -> dict:
            return compute(levels, mask, N_LEVELS, SPACING, approaches=("3D",))

        ours()  # warm-up: imports and first-call allocations
        ours_s = best_time_s(ours)
        peer_s = None
        if radiomics is not None and peer is not None:
            peer_run = _pyradiomics_runner(peer, levels, mask)
            peer_run()
            peer_s = best_time_s(peer_run)
        rows.append(
            {
                "name": f"texture {module_name} 3D, {int(mask.sum())} voxels, {N_LEVELS} levels",
                "ours_s": ours_s,
                "peer": peer_name if peer_s is not None else None,
                "peer_s": peer_s,
                "ratio": peer_s / ours_s if peer_s is not None else None,
                "peak_mem_mb": peak_memory_mb(ours),
            }
        )
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
