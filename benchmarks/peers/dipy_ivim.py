"""Peer: DIPY ``IvimModel(fit_method='trr')`` (two-stage linear start + trust-region-reflective full fit).

Reads a JSON payload on stdin: ``b_values_s_per_mm2``, ``signal`` (n, n_b), ``lower`` / ``upper`` bounds in
DIPY's order (S0, f, D*, D); fits every voxel and prints one JSON object: ``seconds`` (fit wall time), ``f``,
``d_star_mm2_per_s``, ``d_mm2_per_s``, ``s0`` and ``peak_rss_mb`` (VmHWM) of the process.
"""

import json
import sys
import time
import warnings

import numpy as np


def main() -> None:
    from importlib.metadata import version

    from dipy.core.gradients import gradient_table
    from dipy.reconst.ivim import IvimModel

    payload = json.load(sys.stdin)
    b = np.asarray(payload["b_values_s_per_mm2"], dtype=float)
    signal = np.asarray(payload["signal"], dtype=float)
    bvecs = np.zeros((b.size, 3))
    bvecs[b > 0, 0] = 1.0  # trace-weighted data: one direction per b-value
    gtab = gradient_table(b, bvecs=bvecs, b0_threshold=0)
    model = IvimModel(gtab, fit_method="trr", bounds=(payload["lower"], payload["upper"]))
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = model.fit(signal)
    seconds = time.perf_counter() - start
    params = np.asarray(fit.model_params, dtype=float).reshape(-1, 4)
    print(json.dumps({
        "seconds": seconds,
        "version": version("dipy"),
        "s0": params[:, 0].tolist(),
        "f": params[:, 1].tolist(),
        "d_star_mm2_per_s": params[:, 2].tolist(),
        "d_mm2_per_s": params[:, 3].tolist(),
        "peak_rss_mb": _peak_rss_mb(),
    }))


def _peak_rss_mb() -> float | None:
    """Peak resident memory of this process (VmHWM; unlike ru_maxrss it is not inherited from the parent)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


if __name__ == "__main__":
    main()
