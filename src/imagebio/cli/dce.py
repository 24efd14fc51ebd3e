"""``imagebio dce``: DCE-MRI tracer-kinetic maps from a DICOM series, and fits of exported ROI curves.

``imagebio dce SERIES_DIR --vfa VFA_DIR --aif parker --model etofts --mask SEG --out DIR`` (the ``map`` command)
writes one NIfTI per parameter map, ROI statistics (CSV, and Measurements with ``--db``), the per-ROI fit success,
and a PNG overlay of each map on the anatomy. ``imagebio dce fit-curves TABLE.csv`` fits long-format curves
(``curve_id, t_s, c_tissue_mM, c_plasma_mM``).

The helpers shared with ``imagebio dwi``, ``imagebio dsc`` and ``imagebio t1`` live in :mod:`imagebio.cli._maps`.
Heavy modules are imported inside the functions so ``imagebio --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from imagebio.cli._groups import default_group
from imagebio.cli._maps import (  # noqa: F401 - re-exported for the other map commands
    MAP_UNITS,
    write_aif_voxels,
    QUALITY_COLUMNS,
    read_frames,
    read_masks,
    body_threshold,
    fit_region,
    fit_in_chunks,
    scatter,
    map_statistics,
    write_map_outputs,
    _print_summary,
    overlay_png,
    record_statistics,
    CurveGroup,
    read_curve_table,
    curve_rows,
    write_rows,
    _fmt,
)

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
