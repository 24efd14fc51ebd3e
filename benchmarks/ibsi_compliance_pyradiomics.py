"""IBSI 1 compliance of imagebio and of PyRadiomics 3.0.1, per feature family, in one run (``docs/ibsi-compliance.md``).

Usage: ``python benchmarks/ibsi_compliance_pyradiomics.py [--markdown]``.

* imagebio: ``extract_features`` with the presets ``ibsi-dig`` and ``ibsi-c`` on the phantoms of
  ``tests/data/ibsi/``.
* PyRadiomics 3.0.1 (peer venv, ``benchmarks/peer_env.py``) on the same files, its outputs mapped to IBSI tags with
  the PyRadiomics IBSI benchmark mapping (``/work/shared/data/pyradiomics/ibsi_benchmark_mapping/mapping.csv``,
  AIM-Harvard/pyradiomics_ibsi-benchmark). PyRadiomics runs once per ``required_settings`` combination of the
  mapping (``force2D`` True = IBSI 2.5D, ``weightingNorm`` None = ``_avg``, ``"no_weighting"`` = ``_comb``);
  rows without required settings use ``force2D`` False, ``weightingNorm`` None. Settings per configuration are
  in :data:`PYRADIOMICS_SETTINGS` (digital phantom: bin width 1 so that grey levels 1-6 stay as they are; config
  C: 2 mm isotropic trilinear resampling, re-segmentation [-1000, 400] HU, bin width 25 HU).

Matching rule (IBSI): round to 3 significant digits, pass if within the reference tolerance; rows without a
reference value are skipped. A reference row that the mapping does not cover counts as a miss for PyRadiomics
("n/a" column).
"""

from __future__ import annotations

import ast
import csv
import datetime
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ibsi_compliance import DATA, family_of, ibsi_match, load_phantom, read_reference
from peer_env import peer_python, run_peer

MAPPING = Path("/work/shared/data/pyradiomics/ibsi_benchmark_mapping/mapping.csv")
PEER_SCRIPT = Path(__file__).resolve().parent / "peers" / "pyradiomics_radiomics.py"
PYRADIOMICS_STEPS = [["numpy<2", "setuptools", "wheel", "versioneer"], ["--no-build-isolation", "pyradiomics==3.0.1"],
                     ["SimpleITK"]]
CONFIGS = {
    "digital_phantom": ("ibsi_1_digital_phantom", "ibsi-dig"),
    "config_C": ("ibsi_1_ct_radiomics_phantom", "ibsi-c"),
}
PYRADIOMICS_SETTINGS = {
    "digital_phantom": {"binWidth": 1, "label": 1},
    "config_C": {"binWidth": 25, "label": 1, "resampledPixelSpacing": [2.0, 2.0, 2.0], "interpolator": "sitkLinear",
                 "resegmentRange": [-1000, 400]},
}
BASE = (False, None)  # (force2D, weightingNorm) for rows without required settings


def read_mapping() -> dict[str, tuple[str, int | None, tuple]]:
    """IBSI tag -> (PyRadiomics key, index into a tuple value or None, (force2D, weightingNorm))."""
    mapping = {}
    with MAPPING.open(newline="") as handle:
        for row in csv.DictReader(handle):
            required = ast.literal_eval(row["required_settings"]) if row["required_settings"].strip() else {}
            combo = (bool(required.get("force2D", False)), required.get("weightingNorm"))
            index = int(row["idx"]) if row["idx"].strip() else None
            mapping[row["ibsi_name"]] = (row["pyradiomics_feature"], index, combo)
    return mapping


def _value(raw, index):
    if index is not None:
        raw = raw[index]
    try:
        return float(raw)
    except (TypeError, ValueError):
        return None


def pyradiomics_features(python: Path, config: str, mapping) -> tuple[dict[str, float], str]:
    folder = CONFIGS[config][0]
    files = {"image": str(DATA / folder / "image" / "phantom.nii.gz"), "mask": str(DATA / folder / "mask" / "mask.nii.gz")}
    combos = sorted({combo for _, _, combo in mapping.values()} | {BASE}, key=str)
    outputs = {}
    version = ""
    for force2d, weighting in combos:
        settings = dict(PYRADIOMICS_SETTINGS[config], force2D=force2d)
        if weighting is not None:
            settings["weightingNorm"] = weighting
        answer = run_peer(python, PEER_SCRIPT, {"mode": "features", "settings": settings, **files})
        outputs[(force2d, weighting)] = answer["features"]
        version = answer["version"]
    values = {}
    for tag, (key, index, combo) in mapping.items():
        raw = outputs[combo].get(key)
        if raw is not None:
            value = _value(raw, index)
            if value is not None:
                values[tag] = value
    return values, version


def main(markdown: bool = False) -> int:
    from imagebio import __version__
    from imagebio.radiomics.extractor import extract_features

    mapping = read_mapping()
    python = peer_python("pyradiomics", PYRADIOMICS_STEPS)
    # (config, family) -> [imagebio matched, PyRadiomics matched, total, PyRadiomics unmapped]
    table: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    peer_version = "not installed"
    for config, (folder, preset) in CONFIGS.items():
        image, mask, spacing = load_phantom(folder)
        ours = extract_features(image, mask, spacing, preset)
        peer, peer_version = pyradiomics_features(python, config, mapping) if python else ({}, peer_version)
        for row in read_reference(config):
            counts = table[(config, family_of(row["tag"]))]
            counts[2] += 1
            if row["tag"] in ours and ibsi_match(ours[row["tag"]], row["reference value"], row["tol"]):
                counts[0] += 1
            if row["tag"] not in peer:
                counts[3] += 1
            elif ibsi_match(peer[row["tag"]], row["reference value"], row["tol"]):
                counts[1] += 1
    families = sorted({family for _, family in table})
    print(f"# {datetime.date.today().isoformat()}, imagebio {__version__}, PyRadiomics {peer_version}")
    header = ["family"] + [f"{c}: {who}" for c in CONFIGS for who in ("imagebio", "PyRadiomics")]
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
    else:
        print("  ".join(f"{h:>28s}" for h in header))
    totals = defaultdict(lambda: [0, 0, 0, 0])
    for family in families:
        cells = [family]
        for config in CONFIGS:
            ours_ok, peer_ok, total, unmapped = table.get((config, family), [0, 0, 0, 0])
            for k, v in enumerate((ours_ok, peer_ok, total, unmapped)):
                totals[config][k] += v
            cells += [f"{ours_ok}/{total}" if total else "-",
                      (f"{peer_ok}/{total}" + (f" ({unmapped} unmapped)" if unmapped else "")) if total else "-"]
        print(("| " + " | ".join(cells) + " |") if markdown else "  ".join(f"{c:>28s}" for c in cells))
    cells = ["**all**"]
    for config in CONFIGS:
        ours_ok, peer_ok, total, unmapped = totals[config]
        cells += [f"{ours_ok}/{total}", f"{peer_ok}/{total} ({peer_ok}/{total - unmapped} of mapped)"]
    print(("| " + " | ".join(cells) + " |") if markdown else "  ".join(f"{c:>28s}" for c in cells))
    print(json.dumps({c: dict(zip(("imagebio", "pyradiomics", "total", "pyradiomics_unmapped"), totals[c]))
                      for c in CONFIGS}))
    return 0


if __name__ == "__main__":
    sys.exit(main("--markdown" in sys.argv))
