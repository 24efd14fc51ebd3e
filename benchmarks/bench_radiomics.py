"""Benchmark of imagebio.radiomics against PyRadiomics 3.0.1 and MIRP: whole-ROI extraction and voxel-wise maps.

Whole-ROI extraction, same settings for every tool (PyRadiomics defaults: no resampling, no re-segmentation, fixed
bin width 25 HU with edges at multiples of 25, 3D texture; imagebio preset ``pyradiomics-default``, MIRP
``fixed_bin_size_pyradiomics`` 25 with all its families), on

* the IBSI 1 CT radiomics phantom (``tests/data/ibsi/``, GTV of 125 256 voxels),
* PyRadiomics' ``lung1`` and ``lung2`` CTs with their labels (``/work/shared/data/pyradiomics/``).

Each tool computes its own full default feature set (imagebio: 186 IBSI features of the morph, stat, ih, cm,
rlm, szm, ngt, ngl families; PyRadiomics: 107; MIRP: all families), so the rows compare a complete extraction.

Voxel-wise maps: ``lung2`` resampled (trilinear, SimpleITK) to 2 mm isotropic, a 66³ box centred on the tumour,
ROI = its inner 64³ voxels (PyRadiomics refuses a mask without background). Kernel 5×5×5 (radius 2), FBS 25.
PyRadiomics' voxel-based GLCM costs ~10 ms per voxel here (about 45 minutes and > 5 GB for 64³), so the
head-to-head rows use the central 16³ voxels (4 096 voxel maps) for both tools; imagebio also runs the full 64³
(GLCM ``3D_comb`` and the 18 intensity statistics) and that row reports the PyRadiomics time extrapolated linearly
in the voxel count (``peer_s_extrapolated``), never as a measured ``peer_s``.

Every tool runs in a fresh process (``benchmarks/peers/``): wall time of the extraction call only (best of
``REPEAT`` calls for whole-ROI extraction by imagebio and PyRadiomics and for imagebio's 16³ maps; one call for
MIRP, PyRadiomics' voxel-based runs and imagebio's 64³ maps), and peak RSS of that process (``VmHWM`` of /proc/self/status, interpreter,
libraries and data included; ``resource.getrusage`` ``ru_maxrss`` is only the fallback because on Linux it
survives ``execve`` and would report at least the parent benchmark process's size). ``ratio`` = peer_s / ours_s (> 1: imagebio faster); ``peak_mem_mb`` is imagebio's peak RSS and
``peer_peak_mem_mb`` the peer's.

Usage: ``python benchmarks/bench_radiomics.py``; ``run()`` is called by ``benchmarks/run.py``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer_env import peer_python, run_peer

ROOT = Path(__file__).resolve().parents[1]
PEERS = Path(__file__).resolve().parent / "peers"
SHARED = Path("/work/shared/data/pyradiomics")
IBSI = ROOT / "tests" / "data" / "ibsi" / "ibsi_1_ct_radiomics_phantom"
CASES = {
    "IBSI CT phantom": (IBSI / "image" / "phantom.nii.gz", IBSI / "mask" / "mask.nii.gz"),
    "lung1": (SHARED / "lung1_image.nrrd", SHARED / "lung1_label.nrrd"),
    "lung2": (SHARED / "lung2_image.nrrd", SHARED / "lung2_label.nrrd"),
}
REPEAT = 3
PYRADIOMICS_STEPS = [["numpy<2", "setuptools", "wheel", "versioneer"], ["--no-build-isolation", "pyradiomics==3.0.1"],
                     ["SimpleITK"]]
MIRP_STEPS = [["mirp"]]
MIRP_SETTINGS = {"image_modality": "CT", "base_feature_families": "all", "ibsi_compliant": False,
                 "base_discretisation_method": "fixed_bin_size_pyradiomics", "base_discretisation_bin_width": 25.0}
KERNEL_RADIUS = 2
REGION = 64
SUBREGION = 16


def _ours(payload: dict) -> dict:
    return run_peer(Path(sys.executable), PEERS / "imagebio_radiomics.py", payload)


def _row(name: str, ours: dict, peer: str | None, peer_out: dict | None, **extra) -> dict:
    peer_s = None if peer_out is None else peer_out["seconds"]
    return {
        "name": name,
        "ours_s": ours["seconds"],
        "peer": peer if peer_out is not None else None,
        "peer_s": peer_s,
        "ratio": None if peer_s is None else peer_s / ours["seconds"],
        "peak_mem_mb": ours["peak_rss_mb"],
        "peer_peak_mem_mb": None if peer_out is None else peer_out["peak_rss_mb"],
        **extra,
    }


def _try_peer(python, script: str, payload: dict) -> dict | None:
    if python is None:
        return None
    try:
        return run_peer(python, PEERS / script, payload)
    except Exception as exc:  # noqa: BLE001 - a peer failure must not hide the other rows
        print(f"  peer {script} failed: {str(exc)[-300:]}", file=sys.stderr)
        return None


def _voxel_region(folder: Path) -> dict[str, tuple[Path, Path]]:
    """Write the lung2 region (2 mm isotropic, 66³ box around the tumour) with 64³ and 16³ ROI masks."""
    import numpy as np
    import SimpleITK as sitk

    image = sitk.ReadImage(str(SHARED / "lung2_image.nrrd"))
    label = sitk.ReadImage(str(SHARED / "lung2_label.nrrd"))
    spacing = (2.0, 2.0, 2.0)
    size = [round(n * s / 2.0) for n, s in zip(image.GetSize(), image.GetSpacing())]
    resampled = sitk.Resample(image, size, sitk.Transform(), sitk.sitkLinear, image.GetOrigin(), spacing,
                              image.GetDirection(), -1024.0, sitk.sitkFloat32)
    centre_xyz = np.argwhere(sitk.GetArrayFromImage(label) > 0).mean(axis=0)[::-1]
    centre_phys = label.TransformContinuousIndexToPhysicalPoint([float(c) for c in centre_xyz])
    centre = resampled.TransformPhysicalPointToIndex(centre_phys)
    half = REGION // 2 + 1
    start = [int(min(max(c - half, 0), n - 2 * half)) for c, n in zip(centre, resampled.GetSize())]
    box = sitk.RegionOfInterest(resampled, [2 * half] * 3, start)
    box = sitk.Round(box)  # CT intensities stay integer HU
    out = {}
    for name, inner in (("full", REGION), ("sub", SUBREGION)):
        mask = np.zeros((2 * half,) * 3, np.uint8)
        lo = half - inner // 2
        mask[lo:lo + inner, lo:lo + inner, lo:lo + inner] = 1
        roi = sitk.GetImageFromArray(mask)
        roi.CopyInformation(box)
        paths = (folder / f"region_{name}_image.nrrd", folder / f"region_{name}_mask.nrrd")
        sitk.WriteImage(box, str(paths[0]))
        sitk.WriteImage(roi, str(paths[1]))
        out[name] = paths
    return out


def run() -> list[dict]:
    pyradiomics = peer_python("pyradiomics", PYRADIOMICS_STEPS)
    mirp = peer_python("mirp", MIRP_STEPS)
    rows = []
    for case, (image, mask) in CASES.items():
        if not image.exists():
            print(f"  {case}: {image} missing, skipped", file=sys.stderr)
            continue
        files = {"image": str(image), "mask": str(mask)}
        ours = _ours({"mode": "extract", "preset": "pyradiomics-default", "repeat": REPEAT, **files})
        pyr = _try_peer(pyradiomics, "pyradiomics_radiomics.py", {"mode": "extract", "settings": {}, "repeat": REPEAT,
                                                                  **files})
        mrp = _try_peer(mirp, "mirp_radiomics.py", {"mode": "extract", "settings": MIRP_SETTINGS, "repeat": 1, **files})
        name = f"radiomics whole-ROI extraction (pyradiomics-default settings), {case}"
        rows.append(_row(name, ours, f"pyradiomics {pyr['version']}" if pyr else None, pyr,
                         n_features_ours=ours["n_features"], n_features_peer=pyr and pyr["n_features"]))
        rows.append(_row(name, ours, f"mirp {mrp['version']}" if mrp else None, mrp,
                         n_features_ours=ours["n_features"], n_features_peer=mrp and mrp["n_features"]))
    with tempfile.TemporaryDirectory(prefix="bench_radiomics_") as tmp:
        region = _voxel_region(Path(tmp))
        sub = {"image": str(region["sub"][0]), "mask": str(region["sub"][1]), "repeat": REPEAT}
        voxel = {"mode": "voxel", "preset": "pyradiomics-default", "radius_voxels": KERNEL_RADIUS}
        peer_settings = {"kernelRadius": KERNEL_RADIUS, "binWidth": 25, "voxelBatch": 1000}
        peer_rates = {}
        for aggregation, weighting in (("3D_avg", None), ("3D_comb", "no_weighting")):
            ours = _ours({**voxel, **sub, "families": ["cm"], "aggregation": aggregation})
            settings = dict(peer_settings, **({"weightingNorm": weighting} if weighting else {}))
            pyr = _try_peer(pyradiomics, "pyradiomics_radiomics.py",
                            {"mode": "voxel", "settings": settings, "classes": ["glcm"], **sub})
            if pyr is not None:
                peer_rates[aggregation] = pyr["seconds"] / SUBREGION**3
            rows.append(_row(f"voxel-wise GLCM maps {aggregation} (PyRadiomics weightingNorm={weighting}), "
                             f"{SUBREGION}³ voxels, kernel 5³", ours,
                             f"pyradiomics {pyr['version']}" if pyr else None, pyr))
        ours = _ours({**voxel, **sub, "families": ["stat"], "aggregation": "3D_comb"})
        pyr = _try_peer(pyradiomics, "pyradiomics_radiomics.py",
                        {"mode": "voxel", "settings": peer_settings, "classes": ["firstorder"], **sub})
        rows.append(_row(f"voxel-wise first-order maps, {SUBREGION}³ voxels, kernel 5³", ours,
                         f"pyradiomics {pyr['version']}" if pyr else None, pyr))
        full = {"image": str(region["full"][0]), "mask": str(region["full"][1]), "repeat": 1}
        ours = _ours({**voxel, **full, "families": ["cm"], "aggregation": "3D_comb"})
        rate = peer_rates.get("3D_comb")
        rows.append(_row(f"voxel-wise GLCM maps 3D_comb, {REGION}³ voxels, kernel 5³", ours, None, None,
                         peer_s_extrapolated=None if rate is None else rate * REGION**3,
                         ratio_extrapolated=None if rate is None else rate * REGION**3 / ours["seconds"]))
        ours = _ours({**voxel, **full, "families": ["stat"], "aggregation": "3D_comb"})
        rows.append(_row(f"voxel-wise first-order maps (18 stat_*), {REGION}³ voxels, kernel 5³", ours, None, None))
    return rows


if __name__ == "__main__":
    for result in run():
        print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in result.items()})
