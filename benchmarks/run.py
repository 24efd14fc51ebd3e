"""Run every ``benchmarks/bench_*.py`` and print timings, ratios against the peer measured in the same run,
and peak memory. Results are also written to ``bench_output/results.csv``.

Each module exposes ``run() -> list[dict]`` with keys ``name, ours_s, peer, peer_s, ratio, peak_mem_mb``
(``ratio`` = peer_s / ours_s, so > 1 means imagebio is faster).
"""

from __future__ import annotations

import csv
import importlib.util
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
COLUMNS = ("module", "name", "ours_s", "peer", "peer_s", "ratio", "peak_mem_mb")


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(HERE))
    spec.loader.exec_module(module)
    return module


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def main(selected: list[str]) -> int:
    rows, failures = [], 0
    for path in sorted(HERE.glob("bench_*.py")):
        if selected and not any(s in path.stem for s in selected):
            continue
        print(f"# {path.stem}", flush=True)
        try:
            results = _load(path).run()
        except Exception:  # a broken benchmark is reported, the others still run
            failures += 1
            traceback.print_exc()
            continue
        for result in results:
            row = {"module": path.stem, **{k: result.get(k) for k in COLUMNS[1:]}}
            if row["ratio"] is None and row["peer_s"] and row["ours_s"]:
                row["ratio"] = row["peer_s"] / row["ours_s"]
            rows.append(row)
            print("  " + "  ".join(f"{k}={_fmt(row[k])}" for k in COLUMNS[1:]), flush=True)
    out = Path("bench_output")
    out.mkdir(exist_ok=True)
    with open(out / "results.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {out / 'results.csv'}; ratio = peer time / imagebio time")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
