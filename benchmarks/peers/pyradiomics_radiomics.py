"""PyRadiomics peer for ``benchmarks/bench_radiomics.py`` and ``benchmarks/ibsi_compliance_pyradiomics.py``.

Runs in the PyRadiomics 3.0.1 peer venv (``benchmarks/peer_env.py``). Reads one JSON payload on stdin, prints one
JSON object on the last stdout line. Modes:

* ``extract``: ``{"image", "mask", "settings": {...}, "repeat"}`` -> best wall time of the default extractor
  (all default feature classes) and the number of features;
* ``voxel``: ``{"image", "mask", "settings": {...}, "classes": [...]}`` -> wall time of voxel-based extraction;
* ``features``: ``{"image", "mask", "settings": {...}}`` -> all feature values (JSON numbers / lists).

Every answer carries ``peak_rss_mb``: the peak resident memory of this process (``VmHWM``, see ``_peak_rss_mb``),
i.e. the interpreter, PyRadiomics and the data included.
"""

import json
import logging
import resource
import sys
import time


def _plain(value):
    try:
        import numpy as np

        if isinstance(value, np.ndarray):
            return value.tolist() if value.size > 1 else float(value)
        if isinstance(value, np.generic):
            return value.item()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, (int, float, str)) or value is None:
        return value
    return str(value)


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
    import radiomics
    import SimpleITK as sitk
    from radiomics import featureextractor

    logging.getLogger("radiomics").setLevel(logging.ERROR)
    radiomics.setVerbosity(logging.ERROR)
    settings = dict(payload.get("settings") or {})
    if "interpolator" in settings and isinstance(settings["interpolator"], str):
        settings["interpolator"] = getattr(sitk, settings["interpolator"])
    image = sitk.ReadImage(payload["image"])
    mask = sitk.ReadImage(payload["mask"])
    mode = payload["mode"]
    out = {"version": radiomics.__version__}
    if mode in ("extract", "features"):
        extractor = featureextractor.RadiomicsFeatureExtractor(**settings)
        if payload.get("classes"):
            extractor.disableAllFeatures()
            for name in payload["classes"]:
                extractor.enableFeatureClassByName(name)
        best = float("inf")
        for _ in range(int(payload.get("repeat", 1))):
            start = time.perf_counter()
            result = extractor.execute(image, mask)
            best = min(best, time.perf_counter() - start)
        out["seconds"] = best
        out["n_features"] = sum(1 for key in result if not key.startswith("diagnostics_"))
        if mode == "features":
            out["features"] = {key: _plain(value) for key, value in result.items()}
    elif mode == "voxel":
        extractor = featureextractor.RadiomicsFeatureExtractor(**settings)
        extractor.disableAllFeatures()
        for name in payload["classes"]:
            extractor.enableFeatureClassByName(name)
        start = time.perf_counter()
        result = extractor.execute(image, mask, voxelBased=True)
        out["seconds"] = time.perf_counter() - start
        out["n_maps"] = sum(1 for key in result if not key.startswith("diagnostics_"))
    else:
        raise SystemExit(f"unknown mode {mode}")
    out["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
