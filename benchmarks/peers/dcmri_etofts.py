"""Peer: dcmri ``TissueArray`` (kinetics 'HF' = extended Tofts, fast water exchange, spoiled gradient echo).

Reads a JSON payload on stdin: ``t_s``, ``signal`` (n, n_t), ``cb_mM`` (whole-blood AIF), ``tr_s``, ``fa_deg``,
``n0`` (baseline frames), ``r10_per_s``, ``r1_per_mM_per_s``, ``hct``; fits every voxel serially (dcmri's default
free parameters vb, vi, PS and bounds) and prints one JSON object: ``seconds`` (training wall time), the
parameters in imagebio's units (``ktrans_per_min`` = 60 PS, ``ve`` = vi, ``vp`` = vb (1 - Hct)) and
``peak_rss_mb`` (VmHWM) of the process.
"""

import json
import sys
import time

import numpy as np


def main() -> None:
    import dcmri

    payload = json.load(sys.stdin)
    t = np.asarray(payload["t_s"], dtype=float)
    signal = np.asarray(payload["signal"], dtype=float)
    hct = float(payload["hct"])
    tissue = dcmri.TissueArray(
        (signal.shape[0],), kinetics="HF", water_exchange="FF", sequence="SS",
        ca=np.asarray(payload["cb_mM"], dtype=float) / 1000.0,  # dcmri works in M
        t=t, TR=float(payload["tr_s"]), FA=float(payload["fa_deg"]), n0=int(payload["n0"]),
        R10=float(payload["r10_per_s"]), r1=float(payload["r1_per_mM_per_s"]) * 1000.0, H=hct,
    )
    start = time.perf_counter()
    tissue.train(t, signal)
    seconds = time.perf_counter() - start
    vb = np.asarray(tissue.vb, dtype=float).reshape(-1)
    print(json.dumps({
        "seconds": seconds,
        "version": getattr(dcmri, "__version__", None) or _version("dcmri"),
        "ktrans_per_min": (np.asarray(tissue.PS, dtype=float).reshape(-1) * 60.0).tolist(),
        "ve": np.asarray(tissue.vi, dtype=float).reshape(-1).tolist(),
        "vp": (vb * (1.0 - hct)).tolist(),
        "peak_rss_mb": _peak_rss_mb(),
    }))


def _version(name: str) -> str | None:
    from importlib.metadata import version

    return version(name)


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
