"""MIRP peer for ``benchmarks/bench_radiomics.py`` (runs in the ``mirp`` peer venv, ``pip install mirp``).

Mode ``extract``: ``{"image", "mask", "settings": {...MIRP keyword arguments}, "repeat"}`` -> best wall time of
``mirp.extract_features`` (features returned in memory, nothing written), the number of feature columns and
``peak_rss_mb`` (``VmHWM`` of this process, see ``_peak_rss_mb``).
"""

import json
import logging
import resource
import sys
import time
import warnings


def _peak_rss_mb() -> float:
    """Peak RSS of this process in MiB: ``VmHWM`` of /proc/self/status (Linux), else ``getrusage`` ``ru_maxrss``.

    ``ru_maxrss`` survives ``execve`` on Linux, so a child started from a large parent reports at least the
    parent's size; ``VmHWM`` belongs to this process image only.
    """
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    payload = json.loads(sys.stdin.read())
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    from importlib.metadata import version

    import mirp

    best = float("inf")
    tables = None
    for _ in range(int(payload.get("repeat", 1))):
        start = time.perf_counter()
        tables = mirp.extract_features(
            image=payload["image"], mask=payload["mask"], export_features=True, write_features=False,
            **payload.get("settings", {}),
        )
        best = min(best, time.perf_counter() - start)
    n_features = int(sum(t.shape[1] for t in tables)) if tables else 0
    print(json.dumps({"version": version("mirp"), "seconds": best, "n_features": n_features,
                      "peak_rss_mb": _peak_rss_mb()}))


if __name__ == "__main__":
    main()
