"""Shared helpers of the map commands (``imagebio dce``, ``dwi``, ``dsc``, ``t1``).

Reading frames and masks, chunked voxel-wise fits with a progress bar, writing maps (NIfTI), statistics, PNG
overlays and Measurements, and long-format curve tables. Heavy modules are imported inside the functions so that
``imagebio --help`` stays fast.
"""

from __future__ import annotations

import math
from pathlib import Path

#: unit of each map name (used for NIfTI descriptions, statistics and Measurements)
#: quality columns appended by ``fit-curves --quality``
QUALITY_COLUMNS = ("r_squared", "nrmse", "fit_status")

MAP_UNITS = {
    "ktrans_per_min": "1/min", "kep_per_min": "1/min", "ps_per_min": "1/min", "ve": "fraction", "vp": "fraction",
    "fp_ml_per_100ml_per_min": "mL/100mL/min", "extraction_fraction": "fraction", "delay_s": "s",
    "iauc60_mM_s": "mM*s", "r_squared": "", "nrmse": "", "fit_status": "code", "t1_s": "s", "r1_per_s": "1/s",
    "adc_mm2_per_s": "mm2/s", "d_mm2_per_s": "mm2/s", "d_star_mm2_per_s": "mm2/s", "f": "fraction", "k": "",
    "s0": "a.u.", "cbv_ml_per_100ml": "mL/100mL", "cbf_ml_per_100ml_per_min": "mL/100mL/min", "mtt_s": "s",
    "tmax_s": "s", "rcbv": "ratio", "oscillation_index": "",
}

def write_aif_voxels(path: Path, selection, reference, unit: str) -> None:
    """The voxels chosen for an image-derived AIF: index (z, y, x), position (x, y, z mm, LPS), peak, timing."""
    import csv

    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rank", "z", "y", "x", "x_mm", "y_mm", "z_mm", f"peak_{unit}", "time_to_peak_s", "fwhm_s"])
        for rank, (index, peak, ttp, width) in enumerate(
            zip(selection.indices, selection.peak, selection.time_to_peak_s, selection.width_s), start=1
        ):
            position = reference.index_to_physical([int(i) for i in index])
            writer.writerow([rank, *map(int, index), *(f"{float(v):.3f}" for v in position), f"{peak:.6g}",
                             f"{ttp:g}", f"{width:g}"])



def read_frames(series_dir: Path, description: str):
    """Frames of a dynamic / multi-b / VFA series (progress bar) and the first file's header."""
    from imagebio.cli._console import progress_bar
    from imagebio.io.dicom import find_series, read_dynamic_series

    series = find_series(series_dir)
    with progress_bar(description) as progress:
        frames = read_dynamic_series(series, progress=progress)
    return frames, series.first


def read_masks(mask: Path | None, reference) -> dict:
    """ROI name -> boolean array on the reference grid (empty when no mask is given)."""
    if mask is None:
        return {}
    import numpy as np

    from imagebio.io.masks import read_roi_masks

    return {name: np.asarray(volume.array, dtype=bool) for name, volume in read_roi_masks(mask, reference).items()}


def body_threshold(signal) -> float:
    """A signal level separating tissue from background air: 10 % of the 99th percentile."""
    import numpy as np

    finite = signal[np.isfinite(signal)]
    return 0.1 * float(np.percentile(finite, 99)) if finite.size else np.inf


def fit_region(rois: dict, signal):
    """Voxels to fit: the union of the ROIs, else every voxel above :func:`body_threshold`."""
    import numpy as np

    from imagebio.errors import EmptyMaskError

    if rois:
        region = np.zeros(signal.shape, dtype=bool)
        for mask in rois.values():
            region |= mask
    else:
        region = np.isfinite(signal) & (signal > body_threshold(signal))
    if not region.any():
        raise EmptyMaskError("fit region", detail="(no voxel inside the masks or above the background)")
    return region


def fit_in_chunks(fit, data, description: str, chunk: int = 4096) -> dict:
    """Apply ``fit`` (rows -> dict of (rows,) arrays) in chunks with a progress bar; concatenated results."""
    import numpy as np

    from imagebio.cli._console import progress_bar

    n = data.shape[0]
    pieces = []
    with progress_bar(description) as progress:
        for start in range(0, n, chunk):
            pieces.append(fit(data[start:start + chunk]))
            progress(min(start + chunk, n), n)
    return {key: np.concatenate([np.asarray(p[key]).reshape(-1) for p in pieces]) for key in pieces[0]}


def scatter(flat_maps: dict, region) -> dict:
    """Put flat per-voxel results back on the grid: nan (float), False (bool) or -1 (fit_status) outside."""
    import numpy as np

    maps = {}
    for key, values in flat_maps.items():
        if values.dtype == bool:
            full = np.zeros(region.shape, dtype=bool)
        elif key == "fit_status":
            full = np.full(region.shape, -1, dtype=np.int8)
        elif np.issubdtype(values.dtype, np.integer):
            full = np.zeros(region.shape, dtype=values.dtype)
        else:
            full = np.full(region.shape, np.nan)
        full[region] = values
        maps[key] = full
    return maps


STATS = ("count", "mean", "median", "sd", "min", "max")


def map_statistics(maps: dict, rois: dict, names) -> list[dict]:
    """Rows ``roi, map, stat, value, unit`` over the finite voxels of each map in each ROI, plus fit success."""
    import numpy as np

    from imagebio.perfusion.quality import fit_success_summary

    rows = []
    status = maps.get("fit_status")
    for roi, mask in rois.items():
        for name in names:
            values = np.asarray(maps[name], dtype=float)[mask]
            values = values[np.isfinite(values)]
            unit = MAP_UNITS.get(name, "")
            stats = {"count": float(values.size)}
            if values.size:
                stats.update(mean=values.mean(), median=np.median(values), sd=values.std(), min=values.min(),
                             max=values.max())
            else:
                stats.update({k: float("nan") for k in STATS[1:]})
            rows += [{"roi": roi, "map": name, "stat": k, "value": float(v), "unit": "voxels" if k == "count" else unit}
                     for k, v in stats.items()]
        if status is not None:
            summary = fit_success_summary(status, {roi: mask})[roi]
            rows.append({"roi": roi, "map": "fit", "stat": "success_fraction", "value": summary["fraction_ok"],
                         "unit": "fraction"})
            rows.append({"roi": roi, "map": "fit", "stat": "failed_fraction", "value": summary["fraction_failed"],
                         "unit": "fraction"})
    return rows


def write_map_outputs(out: Path, maps: dict, reference, anatomy, rois: dict, main_maps, method: str,
                      parameters: dict, db: str | None, series_uid: str | None, mask_path) -> None:
    """NIfTI per map, ``roi_statistics.csv``, ``fit_success.csv``, PNG overlays, optional Measurements; prints."""
    import csv

    import numpy as np

    from imagebio.cli._console import console
    from imagebio.io.nifti import write_image
    from imagebio.perfusion.quality import FIT_STATUS_CODES, fit_success_summary

    out.mkdir(parents=True, exist_ok=True)
    for name, array in maps.items():
        if np.asarray(array).dtype == bool:
            array = np.asarray(array, dtype=np.uint8)
        volume = reference.with_array(np.asarray(array), unit=MAP_UNITS.get(name, ""), metadata={"map": name})
        write_image(volume, out / f"{name}.nii.gz")
    stat_rois = rois
    if not stat_rois and "fit_status" in maps:
        stat_rois = {"fitted": np.asarray(maps["fit_status"]) >= 0}
    names = list(main_maps) + [k for k in ("r_squared", "nrmse") if k in maps]
    rows = map_statistics(maps, stat_rois, names)
    with open(out / "roi_statistics.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["roi", "map", "stat", "value", "unit"])
        writer.writeheader()
        writer.writerows(rows)
    if "fit_status" in maps:
        summary = fit_success_summary(maps["fit_status"], stat_rois)
        with open(out / "fit_success.csv", "w", newline="") as handle:
            fields = ["roi", "n_voxels", "fraction_ok", "fraction_failed", *FIT_STATUS_CODES.values()]
            writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
            writer.writeheader()
            writer.writerows([{"roi": roi, **values} for roi, values in summary.items()])
    for name in main_maps:
        overlay_png(out / f"{name}.png", anatomy, maps[name], stat_rois, name, reference.spacing)
    _print_summary(rows, main_maps, out)
    if db is not None:
        n = record_statistics(db, series_uid, rows, method, parameters, mask_path)
        if n:
            console.print(f"recorded {n} Measurements in {db}")


def _print_summary(rows, main_maps, out: Path) -> None:
    from rich.table import Table

    from imagebio.cli._console import console

    table = Table(title=f"ROI medians (all statistics in {out / 'roi_statistics.csv'})")
    table.add_column("ROI")
    for name in main_maps:
        table.add_column(name, justify="right")
    table.add_column("fit ok", justify="right")
    by_roi: dict = {}
    for row in rows:
        by_roi.setdefault(row["roi"], {})[(row["map"], row["stat"])] = row["value"]
    for roi, values in by_roi.items():
        cells = [f"{values.get((name, 'median'), float('nan')):.4g}" for name in main_maps]
        cells.append(f"{values.get(('fit', 'success_fraction'), float('nan')):.0%}")
        table.add_row(roi, *cells)
    console.print(table)


def overlay_png(path: Path, anatomy, values, rois: dict, name: str, spacing) -> Path:
    """Axial slice (largest ROI area, else most fitted voxels) of ``values`` over the anatomy, with ROI outlines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    union = np.zeros(values.shape, dtype=bool)
    for mask in rois.values():
        union |= mask
    weight = union if union.any() else finite
    z = int(np.argmax(weight.sum(axis=(1, 2))))
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    aspect = spacing[1] / spacing[2]
    ax.imshow(anatomy[z], cmap="gray", aspect=aspect)
    shown = np.ma.masked_invalid(values[z])
    if finite.any():
        lo, hi = np.percentile(values[finite], [2, 98])
        image = ax.imshow(shown, cmap="viridis", alpha=0.75, vmin=lo, vmax=hi if hi > lo else lo + 1e-12,
                          aspect=aspect)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=f"{name} [{MAP_UNITS.get(name, '')}]")
    for mask in rois.values():
        if mask[z].any():
            ax.contour(mask[z].astype(float), levels=[0.5], colors="red", linewidths=0.8)
    ax.set_title(f"{name}, slice z={z}")
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def record_statistics(db: str, series_uid: str | None, rows, method: str, parameters: dict, mask_path) -> int:
    """Record the ROI statistics as Measurements on the series' store row; 0 (with a note) if it is not stored."""

    from sqlalchemy import select

    from imagebio.cli._console import error_console
    from imagebio.store import (
        MeasurementRow,
        Series,
        Subject,
        Timepoint,
        finish_run,
        hash_settings,
        mark_subject,
        open_store,
        record_measurements,
        start_run,
        upsert_roi,
    )

    settings_hash = hash_settings({"method": method, **parameters})
    store = open_store(db)
    with store.session() as session:
        series = session.scalars(select(Series).where(Series.series_instance_uid == series_uid)).first()
        if series is None:
            error_console.print(f"note: series {series_uid} is not in the store {db} (run `imagebio ingest` first); "
                                "no Measurements recorded")
            return 0
        timepoint = session.get(Timepoint, series.timepoint_id)
        subject = session.get(Subject, timepoint.subject_id)
        run = start_run(session, f"{method} {series.path or ''}", parameters)
        roi_rows = {}
        records = []
        for row in rows:
            if row["roi"] not in roi_rows:
                roi_rows[row["roi"]] = upsert_roi(session, subject, row["roi"], timepoint=timepoint,
                                                  source_path=None if mask_path is None else str(mask_path))
            value = row["value"]
            records.append(MeasurementRow(
                roi_id=roi_rows[row["roi"]].id, series_id=series.id, name=f"{row['map']}_{row['stat']}",
                value=None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value),
                unit=row["unit"] or None, method=method, parameters=parameters, settings_hash=settings_hash,
                run_id=run.id,
            ))
        record_measurements(session, records)
        mark_subject(session, run, subject, "done")
        finish_run(session, run)
    return len(records)


# ------------------------------------------------------------------------------------------------ curve tables
class CurveGroup:
    """Curves sharing the same x vector (and shared columns): ids, x (n_x,), values (n_curves, n_x), shared."""

    def __init__(self, ids, x, values, shared):
        self.ids, self.x, self.values, self.shared = ids, x, values, shared


def read_curve_table(path: Path, columns, x: str, shared, values: str, extra_x=()) -> list[CurveGroup]:
    """Read a long-format CSV and group its curves by identical ``x`` (and ``shared`` / ``extra_x``) vectors.

    Raises InvalidParameterError naming a missing column, a non-numeric value, or a curve whose ``x`` does not
    strictly increase (the samples are sorted by ``x`` first; duplicate ``x`` within a curve are kept for
    b-values / flip angles, which may repeat).
    """
    import numpy as np
    import pandas as pd

    from imagebio.errors import InvalidParameterError

    frame = pd.read_csv(path)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidParameterError(f"{path.name} columns", list(frame.columns), f"the columns {', '.join(columns)}")
    numeric = [c for c in columns if c != "curve_id"]
    for column in numeric:
        converted = pd.to_numeric(frame[column], errors="coerce")
        if converted.isna().any():
            row = int(np.flatnonzero(converted.isna().to_numpy())[0]) + 2
            raise InvalidParameterError(f"{path.name} column {column}", f"{frame[column].iloc[row - 2]!r} "
                                        f"on line {row}", "a number")
        frame[column] = converted.astype(float)
    if frame.empty:
        raise InvalidParameterError(path.name, "no rows", "at least one curve")
    buckets: dict = {}
    order = []
    for curve_id, curve in frame.groupby("curve_id", sort=False):
        curve = curve.sort_values(x, kind="stable")
        key = tuple(np.round(curve[c].to_numpy(), 12).tobytes() for c in (x, *extra_x, *shared))
        if key not in buckets:
            buckets[key] = []
            order.append(key)
        buckets[key].append((curve_id, curve))
    groups = []
    for key in order:
        members = buckets[key]
        first = members[0][1]
        groups.append(CurveGroup(
            ids=[str(cid) for cid, _ in members],
            x=first[x].to_numpy(),
            values=np.stack([c[values].to_numpy() for _, c in members]),
            shared={c: first[c].to_numpy() for c in (*extra_x, *shared)},
        ))
    return groups


def curve_rows(ids, fit: dict, columns, quality: bool) -> list[dict]:
    """One output row per curve: ``curve_id`` and the columns the fit has (plus quality when asked)."""
    import numpy as np

    wanted = [c for c in columns if c in fit] + ([c for c in QUALITY_COLUMNS if c in fit] if quality else [])
    rows = []
    for i, curve_id in enumerate(ids):
        row = {"curve_id": curve_id}
        for column in wanted:
            value = np.asarray(fit[column]).reshape(-1)[i]
            row[column] = int(value) if column == "fit_status" else float(value)
        rows.append(row)
    return rows


def write_rows(rows: list[dict], out: Path | None, what: str) -> None:
    """Write the per-curve rows to CSV (or print them as a table)."""
    import csv

    from imagebio.cli._console import console

    fields = list(dict.fromkeys(k for row in rows for k in row))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows([{k: _fmt(v) for k, v in row.items()} for row in rows])
        console.print(f"{what}: {len(rows)} curves -> {out}")
        return
    from rich.table import Table

    table = Table(title=what)
    for field in fields:
        table.add_column(field)
    for row in rows:
        table.add_row(*[_fmt(row.get(f, "")) for f in fields])
    console.print(table)


def _fmt(value) -> str:
    if isinstance(value, float):
        return "nan" if value != value else f"{value:.6g}"
    return str(value)
