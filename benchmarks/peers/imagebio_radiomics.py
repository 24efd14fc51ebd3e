"""imagebio side of ``benchmarks/bench_radiomics.py``, run in a fresh process like the peers so that peak RSS
(``VmHWM`` of this process: interpreter, libraries and data included) compares like for like.

Modes (JSON payload on stdin, one JSON object on the last stdout line):

* ``extract``: ``{"image", "mask", "preset", "repeat"}`` -> best wall time of ``extract_features``;
* ``voxel``: ``{"image", "mask", "preset", "radius_voxels", "families", "aggregation", "repeat"}`` -> best wall
  time of ``feature_maps``.
"""

import json
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
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    from imagebio.io.nifti import read_image
    from imagebio.radiomics import extract_features
    from imagebio.radiomics.featuremaps import feature_maps

    image = read_image(payload["image"])
    mask = read_image(payload["mask"])
    roi = mask.with_array(mask.array == 1)
    out = {}
    if payload["mode"] == "extract":
        best = float("inf")
        for _ in range(int(payload.get("repeat", 1))):
            start = time.perf_counter()
            features = extract_features(image, roi, settings=payload["preset"])
            best = min(best, time.perf_counter() - start)
        out["n_features"] = sum(1 for tag in features if not tag.endswith(("_img", "_roi")))
    else:
        best = float("inf")
        for _ in range(int(payload.get("repeat", 1))):
            start = time.perf_counter()
            maps = feature_maps(image, roi, radius_voxels=payload["radius_voxels"], families=payload["families"],
                                settings=payload["preset"], glcm_aggregation=payload["aggregation"])
            best = min(best, time.perf_counter() - start)
        out["n_maps"] = len(maps)
    out["seconds"] = best
    out["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
