"""Benchmark: voxel-wise Patlak Ki map of a 128×128×64 dynamic FDG series vs a per-voxel ``np.polyfit`` loop.

Setup: the 25-frame, 65 min FDG schedule of the kinetics tests (6×10 s, 4×30 s, 4×1 min, 4×2 min, 4×5 min,
3×10 min), Feng (1993) plasma input, irreversible 2TCM tissue curves with K1 = 0.102 mL/cm³/min, k2 = 0.130 /min
and k3 varying over the volume (0.02-0.10 /min), 3 % Gaussian noise, float32 frames (about 100 MiB). t* = 10 min.
The peer fits ``np.polyfit(x, C/Cp, 1)`` voxel by voxel on the same Patlak coordinates; it is timed on 5,000
voxels and scaled to the 1,048,576 voxels of the volume. Peak memory of our map is measured with tracemalloc
in a separate call (voxels are processed in chunks of 131,072). A second row times the voxel-wise 1TCM K1 map
(basis functions, :func:`imagebio.pet.kinetics.one_tissue_map`) on the same series, without a peer.
"""

from __future__ import annotations

import time

import numpy as np

try:
    from benchmarks._measure import best_time_s, peak_memory_mb
except ImportError:  # run as a script from benchmarks/
    from _measure import best_time_s, peak_memory_mb

SHAPE = (64, 128, 128)
N_PEER = 5_000
T_STAR_MIN = 10.0
DURATIONS_S = [10] * 6 + [30] * 4 + [60] * 4 + [120] * 4 + [300] * 4 + [600] * 3


def _data(seed: int = 0):
    from imagebio.pet.kinetics import FengInputFunction, FrameTimes, simulate_two_tissue

    frames = FrameTimes.from_durations(np.array(DURATIONS_S) / 60.0)
    feng = FengInputFunction()
    # Ki is linear in nothing simple, so simulate a few k3 values and mix them over the volume
    k3_levels = np.linspace(0.02, 0.10, 9)
    curves = np.stack([simulate_two_tissue(frames, feng, 0.102, 0.130, k3) for k3 in k3_levels])
    rng = np.random.default_rng(seed)
    choice = rng.integers(0, k3_levels.size, size=SHAPE)
    dynamic = curves[choice].transpose(3, 0, 1, 2).astype(np.float32)  # (frames, z, y, x)
    dynamic *= (1.0 + 0.03 * rng.standard_normal(dynamic.shape)).astype(np.float32)
    return frames, feng, dynamic


def _ours(frames, feng, dynamic):
    from imagebio.pet.kinetics import patlak_map

    return patlak_map(dynamic, frames, feng, T_STAR_MIN)


def _k1_map(frames, feng, dynamic):
    from imagebio.pet.kinetics import one_tissue_map

    return one_tissue_map(dynamic, frames, feng)


def _peer(frames, feng, voxels):
    from imagebio.pet.kinetics.graphical import input_frame_terms

    cp, integral = input_frame_terms(frames, feng)
    used = frames.mid_min >= T_STAR_MIN - 1e-9
    x = (integral / cp)[used]
    out = np.empty((voxels.shape[1], 2))
    for i in range(voxels.shape[1]):
        out[i] = np.polyfit(x, voxels[used, i] / cp[used], 1)
    return out


def run() -> list[dict]:
    frames, feng, dynamic = _data()
    n_voxels = int(np.prod(SHAPE))
    maps = _ours(frames, feng, dynamic)
    ours_s = best_time_s(lambda: _ours(frames, feng, dynamic), repeat=2)
    peak_mb = peak_memory_mb(lambda: _ours(frames, feng, dynamic))

    flat = dynamic.reshape(frames.n_frames, -1)
    sample = np.random.default_rng(1).choice(n_voxels, N_PEER, replace=False)
    start = time.perf_counter()
    peer = _peer(frames, feng, flat[:, sample].astype(np.float64))
    peer_s = (time.perf_counter() - start) * n_voxels / N_PEER
    agree = np.allclose(maps["ki"].ravel()[sample], peer[:, 0], rtol=1e-4, atol=1e-7)
    k1_s = best_time_s(lambda: _k1_map(frames, feng, dynamic), repeat=1)
    k1_peak_mb = peak_memory_mb(lambda: _k1_map(frames, feng, dynamic))
    return [
        {
            "name": f"patlak Ki map, 128x128x64 x {frames.n_frames} frames (peer: np.polyfit loop timed on "
            f"{N_PEER} voxels, scaled; {'same' if agree else 'DIFFERENT'} Ki)",
            "ours_s": ours_s,
            "peer": "np.polyfit per voxel",
            "peer_s": peer_s,
            "ratio": peer_s / ours_s,  # > 1: imagebio faster
            "peak_mem_mb": peak_mb,
        },
        {
            "name": f"1TCM K1 map by 100 basis functions, 128x128x64 x {frames.n_frames} frames (no peer)",
            "ours_s": k1_s,
            "peer": None,
            "peer_s": None,
            "ratio": None,
            "peak_mem_mb": k1_peak_mb,
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
