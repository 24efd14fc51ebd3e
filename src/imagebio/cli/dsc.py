"""``imagebio dsc``: DSC-MRI perfusion maps (CBV, CBF, MTT, Tmax) from a DICOM series, and curve-table fits.

``imagebio dsc SERIES_DIR --mask SEG --out DIR`` (the ``map`` command): Delta R2* from the signal (TE from the
header), an image-derived AIF (``--aif auto``, chosen voxels saved as ``aif_voxels.nii.gz``) or the mean curve of
a named ROI (``--aif-roi``), optional Boxerman-Schmainda-Weisskoff leakage correction, oSVD deconvolution; rCBV
normalised to a reference ROI (e.g. normal-appearing white matter) with ``--reference-roi``.
``imagebio dsc fit-curves TABLE.csv`` fits long-format curves (``curve_id, t_s, c_tissue, c_aif``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from imagebio.cli._groups import default_group

app = typer.Typer(
    cls=default_group("map"),
    help="DSC-MRI: CBV, CBF (oSVD), MTT and Tmax maps from a dynamic series, or fits of curve tables.",
    no_args_is_help=True,
)

CURVE_COLUMNS = ("cbv_ml_per_100ml", "cbf_ml_per_100ml_per_min", "mtt_s")


def _baseline_frames(signal, region) -> int:
    """Frames before the bolus: the region-mean signal stays within 3 SD of its first frames (at least 2)."""
    import numpy as np

    mean = np.nanmean(signal[region], axis=0)
    head = mean[: max(3, mean.size // 10)]
    drop = np.flatnonzero(mean < head.mean() - 3.0 * max(head.std(), 1e-6 * abs(head.mean())))
    return int(max(2, min(drop[0] - 1 if drop.size else 3, mean.size - 3)))


@app.command("map")
def map_command(
    series_dir: Annotated[Path, typer.Argument(help="DSC DICOM series folder (dynamic gradient echo).", exists=True)],
    mask: Annotated[Optional[Path], typer.Option("--mask", help="ROIs (DICOM SEG, RTSTRUCT or label map).",
                                                 exists=True)] = None,
    aif: Annotated[str, typer.Option("--aif", help="auto (image-derived) or roi (the mean curve of --aif-roi).")]
    = "auto",
    aif_roi: Annotated[Optional[str], typer.Option("--aif-roi", help="ROI of --mask holding the artery.")] = None,
    reference_roi: Annotated[Optional[str], typer.Option("--reference-roi", help="ROI of --mask for rCBV "
                                                         "(e.g. normal-appearing white matter).")] = None,
    leakage: Annotated[bool, typer.Option("--leakage", help="Boxerman-Schmainda-Weisskoff leakage correction.")]
    = False,
    n_baseline: Annotated[Optional[int], typer.Option("--n-baseline", help="Pre-bolus frames (default: "
                                                      "detected from the mean signal).")] = None,
    aif_voxels: Annotated[int, typer.Option("--aif-voxels", help="Voxels averaged by --aif auto.")] = 10,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("dsc_maps"),
    db: Annotated[Optional[str], typer.Option("--db", help="Record ROI statistics as Measurements in this store.")]
    = None,
) -> None:
    """Voxel-wise CBV (mL/100mL), CBF (mL/100mL/min), MTT (s), Tmax (s) and rCBV from a DSC series."""
    import numpy as np

    from imagebio.cli._console import console
    from imagebio.cli._maps import (
        body_threshold,
        fit_in_chunks,
        fit_region,
        read_frames,
        read_masks,
        scatter,
        write_aif_voxels,
        write_map_outputs,
    )
    from imagebio.errors import InvalidParameterError, RoiNotFoundError
    from imagebio.perfusion.acquisition import dynamic_series
    from imagebio.perfusion.aif import image_derived_aif
    from imagebio.perfusion.dsc import bsw_leakage_correction, delta_r2star, fit_dsc

    if aif not in ("auto", "roi"):
        raise InvalidParameterError("--aif", aif, "auto or roi")
    if aif == "roi" and aif_roi is None:
        raise InvalidParameterError("--aif-roi", None, "the name of the ROI holding the artery (with --aif roi)")
    frames, _ = read_frames(series_dir, "reading DSC frames")
    dyn = dynamic_series(frames, needs_flip_angle=False, needs_tr=False, needs_te=True, min_frames=8, what="DSC")
    rois = read_masks(mask, dyn.reference)
    for name in (aif_roi, reference_roi):
        if name is not None and name not in rois:
            raise RoiNotFoundError(name, list(rois), str(mask))
    tissue_rois = {k: v for k, v in rois.items() if k != aif_roi}
    anatomy = dyn.signal[..., 0]
    region = fit_region(tissue_rois, anatomy)
    if n_baseline is None:
        n_baseline = _baseline_frames(dyn.signal, region)
    body = np.isfinite(anatomy) & (anatomy > body_threshold(anatomy))
    need = region | body
    dr2 = np.full(dyn.signal.shape, np.nan)
    dr2[need] = delta_r2star(dyn.signal[need], dyn.te_s, n_baseline)
    extra = {}
    if aif == "auto":
        selection = image_derived_aif(dr2, dyn.t_s, mask=body, n_voxels=aif_voxels)
        c_aif = selection.curve
        extra["aif_voxels"] = selection.voxels.astype(np.uint8)
        out.mkdir(parents=True, exist_ok=True)
        write_aif_voxels(out / "aif_voxels.csv", selection, dyn.reference, "per_s")
        console.print(f"image-derived AIF: {len(selection.indices)} voxels of {selection.n_candidates} candidates, "
                      f"peak dR2* {c_aif.max():.3g} 1/s at {selection.time_to_peak_s[0]:.3g} s")
    else:
        c_aif = np.nanmean(dr2[rois[aif_roi]], axis=0)
    curves = dr2[region]
    if leakage:
        reference_curve = np.nanmean(curves, axis=0)
        corrected = bsw_leakage_correction(dyn.t_s, np.nan_to_num(curves), reference_curve)
        curves = np.where(np.isfinite(curves), corrected["corrected"], np.nan)
        extra["bsw_k2_per_s"] = scatter({"k": corrected["k2_per_s"]}, region)["k"]
    flat = fit_in_chunks(lambda c: fit_dsc(dyn.t_s, c, c_aif), curves, f"oSVD ({int(region.sum())} voxels)",
                         chunk=4096)
    maps = scatter(flat, region)
    main_maps = ["cbv_ml_per_100ml", "cbf_ml_per_100ml_per_min", "mtt_s", "tmax_s"]
    if reference_roi is not None:
        ref = maps["cbv_ml_per_100ml"][rois[reference_roi]]
        ref_mean = np.nanmean(ref) if np.isfinite(ref).any() else np.nan
        maps["rcbv"] = maps["cbv_ml_per_100ml"] / ref_mean
        main_maps.append("rcbv")
    maps.update(extra)
    parameters = {"te_s": dyn.te_s, "n_baseline": n_baseline, "aif": aif, "aif_roi": aif_roi, "leakage": leakage,
                  "reference_roi": reference_roi}
    write_map_outputs(out, maps, dyn.reference, anatomy, tissue_rois, main_maps, method="dsc-osvd",
                      parameters=parameters, db=db, series_uid=dyn.reference.identifiers.get("series_uid"),
                      mask_path=mask)


@app.command("fit-curves")
def fit_curves_command(
    table: Annotated[Path, typer.Argument(help="CSV, one row per sample: curve_id, t_s, c_tissue, c_aif.",
                                          exists=True)],
    out: Annotated[Optional[Path], typer.Option("--out", help="Output CSV (default: print).")] = None,
    quality: Annotated[bool, typer.Option("--quality", help="Append the fit_status column.")] = False,
) -> None:
    """CBV, CBF (oSVD) and MTT of curves exported from another tool (long format) -> one row per curve."""
    from imagebio.cli._maps import curve_rows, read_curve_table, write_rows
    from imagebio.perfusion.dsc import fit_dsc

    groups = read_curve_table(table, ("curve_id", "t_s", "c_tissue", "c_aif"), x="t_s", shared=("c_aif",),
                              values="c_tissue")
    rows = []
    for group in groups:
        rows += curve_rows(group.ids, fit_dsc(group.x, group.values, group.shared["c_aif"]), CURVE_COLUMNS, quality)
    write_rows(rows, out, "dsc fit-curves")
