"""``imagebio dce``: DCE-MRI tracer-kinetic maps from a DICOM series, and fits of exported ROI curves.

``imagebio dce SERIES_DIR --vfa VFA_DIR --aif parker --model etofts --mask SEG --out DIR`` (the ``map`` command)
writes one NIfTI per parameter map, ROI statistics (CSV, and Measurements with ``--db``), the per-ROI fit success,
and a PNG overlay of each map on the anatomy. ``imagebio dce fit-curves TABLE.csv`` fits long-format curves
(``curve_id, t_s, c_tissue_mM, c_plasma_mM``).

The helpers in the second half (reading masks, chunked fits with a progress bar, writing maps, statistics,
overlays and Measurements) are shared by ``imagebio dwi``, ``imagebio dsc`` and ``imagebio t1``.
Heavy modules are imported inside the functions so ``imagebio --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from imagebio.cli._groups import default_group

app = typer.Typer(
    cls=default_group("map"),
    help="DCE-MRI: Tofts / extended Tofts / Patlak / 2CXM / 2CUM maps from a dynamic series, or fits of curve tables.",
    no_args_is_help=True,
)

#: CLI model names -> :data:`imagebio.perfusion.dce.DCE_MODELS` keys
MODELS = {"tofts": "tofts", "etofts": "extended_tofts", "patlak": "patlak", "2cxm": "2cxm", "2cum": "2cum"}
AIFS = ("parker", "georgiou", "auto")
#: fit-curves output columns, in the issue's order (those the model has)
CURVE_COLUMNS = ("ktrans_per_min", "ve", "vp", "fp_ml_per_100ml_per_min", "ps_per_min", "delay_s")
QUALITY_COLUMNS = ("r_squared", "nrmse", "fit_status")

#: unit of each map name (used for NIfTI descriptions, statistics and Measurements)
MAP_UNITS = {
    "ktrans_per_min": "1/min", "kep_per_min": "1/min", "ps_per_min": "1/min", "ve": "fraction", "vp": "fraction",
    "fp_ml_per_100ml_per_min": "mL/100mL/min", "extraction_fraction": "fraction", "delay_s": "s",
    "iauc60_mM_s": "mM*s", "r_squared": "", "nrmse": "", "fit_status": "code", "t1_s": "s", "r1_per_s": "1/s",
    "adc_mm2_per_s": "mm2/s", "d_mm2_per_s": "mm2/s", "d_star_mm2_per_s": "mm2/s", "f": "fraction", "k": "",
    "s0": "a.u.", "cbv_ml_per_100ml": "mL/100mL", "cbf_ml_per_100ml_per_min": "mL/100mL/min", "mtt_s": "s",
    "tmax_s": "s", "rcbv": "ratio", "oscillation_index": "",
}


# ------------------------------------------------------------------------------------------------ commands
@app.command("map")
def map_command(
    series_dir: Annotated[Path, typer.Argument(help="DCE DICOM series folder (dynamic SPGR).", exists=True)],
    t1: Annotated[Optional[float], typer.Option("--t1", help="Pre-contrast T1 in seconds for every voxel.")] = None,
    t1_map: Annotated[Optional[Path], typer.Option("--t1-map", help="Pre-contrast T1 map (NIfTI, seconds) on the "
                                                   "DCE grid.", exists=True)] = None,
    vfa: Annotated[Optional[Path], typer.Option("--vfa", help="Variable-flip-angle DICOM series folder: T1 is "
                                                "mapped from it (non-linear VFA fit).", exists=True)] = None,
    aif: Annotated[str, typer.Option("--aif", help="Arterial input: parker, georgiou (population, whole blood -> "
                                     "plasma with --hct) or auto (image-derived).")] = "parker",
    model: Annotated[str, typer.Option("--model", help="tofts, etofts, patlak, 2cxm or 2cum.")] = "tofts",
    mask: Annotated[Optional[Path], typer.Option("--mask", help="ROIs (DICOM SEG, RTSTRUCT or label map): voxels "
                                                 "fitted and statistics reported.", exists=True)] = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder for maps, tables and PNGs.")] = Path("dce_maps"),
    db: Annotated[Optional[str], typer.Option("--db", help="Record ROI statistics as Measurements in this store "
                                              "(when the series has been ingested).")] = None,
    aif_delay: Annotated[Optional[float], typer.Option("--aif-delay", help="Bolus arrival of the population AIF "
                                                       "in s after the first frame (default: ContrastBolusStartTime"
                                                       " from the header, else 0).")] = None,
    fit_delay: Annotated[bool, typer.Option("--fit-delay", help="Fit an arterial delay per voxel.")] = False,
    hct: Annotated[float, typer.Option("--hct", help="Haematocrit (blood -> plasma).")] = 0.45,
    relaxivity: Annotated[float, typer.Option("--relaxivity", help="r1 of the agent in 1/(mM s).")] = 4.5,
    n_baseline: Annotated[Optional[int], typer.Option("--n-baseline", help="Pre-contrast frames (default: frames "
                                                      "up to the bolus arrival, else 3).")] = None,
    aif_voxels: Annotated[int, typer.Option("--aif-voxels", help="Voxels averaged by --aif auto.")] = 10,
) -> None:
    """Voxel-wise DCE maps (Ktrans, ve, vp, kep, Fp, PS, iAUC60, R², fit status) from a DICOM series."""
    run_dce_map(series_dir, t1, t1_map, vfa, aif, model, mask, out, db, aif_delay, fit_delay, hct, relaxivity,
                n_baseline, aif_voxels)


@app.command("fit-curves")
def fit_curves_command(
    table: Annotated[Path, typer.Argument(help="CSV, one row per sample: curve_id, t_s, c_tissue_mM, c_plasma_mM.",
                                          exists=True)],
    model: Annotated[str, typer.Option("--model", help="tofts, etofts, patlak, 2cxm or 2cum.")] = "tofts",
    fit_delay: Annotated[bool, typer.Option("--fit-delay", help="Fit an arterial delay per curve.")] = False,
    out: Annotated[Optional[Path], typer.Option("--out", help="Output CSV (default: print).")] = None,
    quality: Annotated[bool, typer.Option("--quality", help="Append r_squared, nrmse, fit_status columns.")] = False,
) -> None:
    """Fit DCE models to curves exported from another tool (long format) -> one row per curve."""
    from imagebio.errors import InvalidParameterError
    from imagebio.perfusion.dce import DCE_MODELS, fit_dce

    if model not in MODELS:
        raise InvalidParameterError("--model", model, f"one of {', '.join(MODELS)}")
    # the model's own parameters (not derived ones such as Ktrans of the 2CXM), in the column order
    columns = [c for c in CURVE_COLUMNS if c in DCE_MODELS[MODELS[model]].param_names or c == "delay_s"]
    groups = read_curve_table(table, ("curve_id", "t_s", "c_tissue_mM", "c_plasma_mM"), x="t_s",
                              shared=("c_plasma_mM",), values="c_tissue_mM")
    rows = []
    for group in groups:
        fit = fit_dce(group.x, group.values, group.shared["c_plasma_mM"], model=MODELS[model], fit_delay=fit_delay)
        rows += curve_rows(group.ids, fit, columns, quality)
    write_rows(rows, out, "dce fit-curves")


# ------------------------------------------------------------------------------------------------ DCE map
def run_dce_map(series_dir, t1, t1_map, vfa, aif, model, mask, out, db, aif_delay, fit_delay, hct, relaxivity,
                n_baseline, aif_voxels) -> None:
    import numpy as np

    from imagebio.cli._console import console
    from imagebio.errors import InvalidParameterError
    from imagebio.perfusion.acquisition import dynamic_series
    from imagebio.perfusion.aif import georgiou_aif, image_derived_aif, parker_aif, to_plasma
    from imagebio.perfusion.concentration import signal_to_concentration
    from imagebio.perfusion.dce import DCE_MODELS, fit_dce

    if model not in MODELS:
        raise InvalidParameterError("--model", model, f"one of {', '.join(MODELS)}")
    if aif not in AIFS:
        raise InvalidParameterError("--aif", aif, f"one of {', '.join(AIFS)}")
    given = [name for name, value in (("--t1", t1), ("--t1-map", t1_map), ("--vfa", vfa)) if value is not None]
    if len(given) != 1:
        raise InvalidParameterError("--t1/--t1-map/--vfa", given or "none", "exactly one source of pre-contrast T1")
    spec = DCE_MODELS[MODELS[model]]
    n_free = len(spec.param_names) + (1 if fit_delay else 0)

    frames, header = read_frames(series_dir, "reading DCE frames")
    dyn = dynamic_series(frames, min_frames=n_free + 2, what="DCE")
    reference = dyn.reference
    rois = read_masks(mask, reference)
    baseline_signal = dyn.signal[..., 0]
    region = fit_region(rois, baseline_signal)

    delay = aif_delay if aif_delay is not None else bolus_start_s(header, frames)
    if n_baseline is None:
        n_baseline = int(np.count_nonzero(dyn.t_s <= delay)) if delay and delay > 0 else 3
        n_baseline = max(1, min(n_baseline, dyn.t_s.size - n_free - 1))
    if not 1 <= n_baseline < dyn.t_s.size:
        raise InvalidParameterError("--n-baseline", n_baseline, f"1 .. {dyn.t_s.size - 1} frames")

    maps_extra = {}
    # concentration wherever it is needed: the fitted voxels, plus the whole body for an image-derived AIF
    need = region | (baseline_signal > body_threshold(baseline_signal)) if aif == "auto" else region
    t1_s = _t1_source(t1, t1_map, vfa, reference, need, maps_extra)
    conc = np.full(dyn.signal.shape, np.nan)
    t1_need = t1_s[need] if np.ndim(t1_s) else np.full(int(need.sum()), float(t1_s))
    with np.errstate(invalid="ignore", divide="ignore"):
        ok_t1 = np.isfinite(t1_need) & (t1_need > 0)
        t1_need = np.where(ok_t1, t1_need, 1.0)
        conc_need = signal_to_concentration(dyn.signal[need], t1_need, dyn.flip_angle_deg, dyn.tr_s, relaxivity,
                                            n_baseline=n_baseline)
    conc_need[~ok_t1] = np.nan
    conc[need] = conc_need

    aif_info: dict = {"aif": aif, "hct": hct}
    if aif == "auto":
        selection = image_derived_aif(conc, dyn.t_s, mask=need, n_voxels=aif_voxels)
        cp = to_plasma(selection.curve, hct)
        maps_extra["aif_voxels"] = selection.voxels.astype(np.uint8)
        out.mkdir(parents=True, exist_ok=True)
        write_aif_voxels(out / "aif_voxels.csv", selection, reference, "mM")
        aif_info.update(n_candidates=selection.n_candidates, voxels_zyx=selection.indices.tolist())
        console.print(f"image-derived AIF: {len(selection.indices)} voxels (z, y, x) "
                      f"{selection.indices.tolist()[:5]}{' ...' if len(selection.indices) > 5 else ''} "
                      f"of {selection.n_candidates} candidates; peak {selection.curve.max():.2f} mM (blood)")
    elif aif == "parker":
        cp = parker_aif(dyn.t_s, delay_s=delay or 0.0, hct=hct)
        aif_info["delay_s"] = delay or 0.0
    else:
        cp = georgiou_aif(dyn.t_s, delay_s=delay or 0.0, hct=hct)
        aif_info["delay_s"] = delay or 0.0

    y = conc[region]

    def fit(chunk):
        return fit_dce(dyn.t_s, chunk, cp, model=MODELS[model], fit_delay=fit_delay)

    flat_maps = fit_in_chunks(fit, y, f"fitting {model} ({int(region.sum())} voxels)", chunk=2048)
    maps = scatter(flat_maps, region)
    maps.update(maps_extra)
    parameters = {"model": MODELS[model], "aif": aif_info, "relaxivity_per_mM_per_s": relaxivity,
                  "n_baseline": n_baseline, "fit_delay": fit_delay, "t1_source": given[0],
                  "flip_angle_deg": dyn.flip_angle_deg, "tr_s": dyn.tr_s}
    out.mkdir(parents=True, exist_ok=True)
    _write_aif(out / "aif.csv", dyn.t_s, cp)
    main_maps = [k for k in spec.param_names] + (["delay_s"] if fit_delay else []) + [
        k for k in ("kep_per_min", "ktrans_per_min") if k in maps and k not in spec.param_names]
    anatomy = dyn.signal[..., :n_baseline].mean(axis=-1)
    write_map_outputs(out, maps, reference, anatomy, rois, main_maps, method=f"dce-{model}", parameters=parameters,
                      db=db, series_uid=reference.identifiers.get("series_uid"), mask_path=mask)


def _t1_source(t1, t1_map, vfa, reference, region, maps_extra):
    """Pre-contrast T1 (s): a scalar, a map read from NIfTI, or a VFA fit on the fitted voxels."""
    import numpy as np

    from imagebio.errors import InvalidParameterError
    from imagebio.volume import check_same_grid

    if t1 is not None:
        if not t1 > 0:
            raise InvalidParameterError("--t1", t1, "a positive T1 in seconds")
        return float(t1)
    if t1_map is not None:
        from imagebio.io.nifti import read_image

        volume = read_image(t1_map)
        check_same_grid(reference, volume, what=f"T1 map {t1_map}")
        return np.asarray(volume.array, dtype=float)
    from imagebio.perfusion.acquisition import vfa_series
    from imagebio.perfusion.t1 import fit_vfa_t1

    frames, _ = read_frames(vfa, "reading VFA frames")
    series = vfa_series(frames)
    check_same_grid(reference, series.reference, what=f"VFA series {vfa}")
    fitted = fit_in_chunks(lambda s: fit_vfa_t1(s, series.flip_angles_deg, series.tr_s),
                           series.signal[region], f"VFA T1 ({int(region.sum())} voxels)", chunk=8192)
    maps = scatter(fitted, region)
    maps_extra["t1_s"] = maps["t1_s"]
    return maps["t1_s"]


def _write_aif(path: Path, t_s, cp) -> None:
    import csv

    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["t_s", "c_plasma_mM"])
        writer.writerows([[f"{t:g}", f"{c:.6g}"] for t, c in zip(t_s, cp)])


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


def bolus_start_s(header, frames) -> float | None:
    """ContrastBolusStartTime (0018,1042) in s after the first frame, or None when absent or unusable."""
    from imagebio.io.dicom import dicom_datetime

    start_tm = header.get("ContrastBolusStartTime") if header is not None else None
    first = frames[0].acquisition_time
    if start_tm in (None, "") or first is None:
        return None
    date = header.get("SeriesDate") or header.get("StudyDate") or header.get("AcquisitionDate")
    when = dicom_datetime(date, start_tm)
    if when is None:
        return None
    delay = (when - first).total_seconds()
    return delay if 0 <= delay < 3600 else None


# ------------------------------------------------------------------------------------------------ shared helpers
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
    import math

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
