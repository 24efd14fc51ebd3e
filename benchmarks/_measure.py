"""Timing and peak-memory helpers shared by the benchmarks (never used by tests)."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable


def best_time_s(fn: Callable[[], object], repeat: int = 3) -> float:
    """Best wall-clock time of ``repeat`` calls, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def peak_memory_mb(fn: Callable[[], object]) -> float:
    """Peak Python/numpy heap allocated during one call, in MiB (tracemalloc; numpy reports its buffers)."""
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20
