"""Voxel dosimetry on a 256³ volume: imagebio's kernel convolution against a bare scipy FFT convolution.

ours: :func:`imagebio.dosimetry.kernels.voxel_s_dose_gy` (Lu-177 4.8 mm soft-tissue kernel, CT density scaling)
peer: ``scipy.signal.fftconvolve(tia, kernel, mode="same")`` of the same arrays (the floor: what the FFT alone costs).
Both in float64, same run, best of 2; peak memory by tracemalloc (numpy buffers).
"""

from __future__ import annotations

import numpy as np

try:
    from benchmarks._measure import best_time_s, peak_memory_mb
except ImportError:  # run as a script from benchmarks/
    from _measure import best_time_s, peak_memory_mb

SHAPE = (256, 256, 256)
SPACING = (4.8, 4.8, 4.8)


def run() -> list[dict]:
    from scipy.signal import fftconvolve

    from imagebio.dosimetry.kernels import load_voxel_s_kernel, voxel_s_dose_gy

    rng = np.random.default_rng(0)
    tia = rng.uniform(0.0, 1e9, size=SHAPE)
    density = rng.uniform(0.95, 1.1, size=SHAPE)
    kernel = load_voxel_s_kernel("Lu-177", 4.8)

    def ours():
        return voxel_s_dose_gy(tia, SPACING, "Lu-177", density_g_per_ml=density, kernel=kernel)

    def peer():
        return fftconvolve(tia, kernel.s_gy_per_bq_s, mode="same")

    ours_s = best_time_s(ours, repeat=2)
    peer_s = best_time_s(peer, repeat=2)
    return [{
        "name": "dosimetry voxel-S-value convolution 256^3 (Lu-177, density-scaled)",
        "ours_s": ours_s,
        "peer": "scipy.signal.fftconvolve (bare, same size)",
        "peer_s": peer_s,
        "ratio": ours_s / peer_s,
        "peak_mem_mb": peak_memory_mb(ours),
        "peer_peak_mem_mb": peak_memory_mb(peer),
    }]


if __name__ == "__main__":
    for row in run():
        print(row)
