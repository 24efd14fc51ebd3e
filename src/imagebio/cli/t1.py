"""``imagebio t1``: variable-flip-angle T1 maps from a DICOM series, and fits of exported VFA curves.

``imagebio t1 VFA_DIR --out DIR`` (the ``map`` command) reads flip angles and TR from the headers and writes
``t1_s``, ``r1_per_s``, ``s0`` maps with statistics and overlays; ``imagebio t1 fit-curves TABLE.csv`` fits
long-format curves (``curve_id, flip_angle_deg, tr_s, signal``) -> ``r1_per_s, s0``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from imagebio.cli._groups import default_group

app = typer.Typer(
    cls=default_group("map"),
    help="T1 mapping by variable flip angle: maps from a VFA series, or fits of curve tables.",
    no_args_is_help=True,
)

METHODS = ("nonlinear", "linear")
CURVE_COLUMNS = ("r1_per_s", "s0")


@app.command("map")
def map_command(
    series_dir: Annotated[Path, typer.Argument(help="VFA DICOM series folder (one frame per flip angle).",
                                               exists=True)],
    mask: Annotated[Optional[Path], typer.Option("--mask", help="ROIs (DICOM SEG, RTSTRUCT or label map).",
                                                 exists=True)] = None,
    b1_map: Annotated[Optional[Path], typer.Option("--b1-map", help="Relative B1 map (NIfTI, actual/nominal flip "
                                                   "angle) on the VFA grid.", exists=True)] = None,
    method: Annotated[str, typer.Option("--method", help="nonlinear or linear (DESPOT1).")] = "nonlinear",
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("t1_maps"),
    db: Annotated[Optional[str], typer.Option("--db", help="Record ROI statistics as Measurements in this store.")]
    = None,
) -> None:
    """Voxel-wise T1 (s), R1 (1/s) and S0 from a variable-flip-angle SPGR series."""
    import numpy as np

    from imagebio.cli._maps import fit_in_chunks, fit_region, read_frames, read_masks, scatter, write_map_outputs
    from imagebio.errors import InvalidParameterError
    from imagebio.perfusion.acquisition import vfa_series
    from imagebio.perfusion.t1 import fit_vfa_t1
    from imagebio.volume import check_same_grid

    if method not in METHODS:
        raise InvalidParameterError("--method", method, f"one of {', '.join(METHODS)}")
    frames, _ = read_frames(series_dir, "reading VFA frames")
    series = vfa_series(frames)
    rois = read_masks(mask, series.reference)
    anatomy = series.signal[..., int(np.argmax(series.flip_angles_deg))]
    region = fit_region(rois, anatomy)
    b1 = None
    if b1_map is not None:
        from imagebio.io.nifti import read_image

        volume = read_image(b1_map)
        check_same_grid(series.reference, volume, what=f"B1 map {b1_map}")
        b1 = np.asarray(volume.array, dtype=float)[region]
    data = series.signal[region]
    if b1 is not None:
        data = np.concatenate([data, b1[:, None]], axis=1)

    def fit(chunk):
        signals, scale = (chunk[:, :-1], chunk[:, -1]) if b1 is not None else (chunk, None)
        return fit_vfa_t1(signals, series.flip_angles_deg, series.tr_s, b1=scale, method=method)

    maps = scatter(fit_in_chunks(fit, data, f"VFA T1 ({int(region.sum())} voxels)", chunk=8192), region)
    parameters = {"method": method, "flip_angles_deg": series.flip_angles_deg.tolist(),
                  "tr_s": series.tr_s.tolist(), "b1_map": None if b1_map is None else str(b1_map)}
    write_map_outputs(out, maps, series.reference, anatomy, rois, ["t1_s", "r1_per_s"], method=f"t1-vfa-{method}",
                      parameters=parameters, db=db, series_uid=series.reference.identifiers.get("series_uid"),
                      mask_path=mask)


@app.command("fit-curves")
def fit_curves_command(
    table: Annotated[Path, typer.Argument(help="CSV, one row per sample: curve_id, flip_angle_deg, tr_s, signal.",
                                          exists=True)],
    method: Annotated[str, typer.Option("--method", help="nonlinear or linear (DESPOT1).")] = "nonlinear",
    out: Annotated[Optional[Path], typer.Option("--out", help="Output CSV (default: print).")] = None,
    quality: Annotated[bool, typer.Option("--quality", help="Append r_squared, nrmse, fit_status columns.")] = False,
) -> None:
    """Fit VFA T1 to curves exported from another tool (long format) -> ``r1_per_s, s0`` per curve."""
    from imagebio.cli._maps import curve_rows, read_curve_table, write_rows
    from imagebio.errors import InvalidParameterError
    from imagebio.perfusion.t1 import fit_vfa_t1

    if method not in METHODS:
        raise InvalidParameterError("--method", method, f"one of {', '.join(METHODS)}")
    groups = read_curve_table(table, ("curve_id", "flip_angle_deg", "tr_s", "signal"), x="flip_angle_deg",
                              shared=("tr_s",), values="signal")
    rows = []
    for group in groups:
        tr = group.shared["tr_s"]
        fit = fit_vfa_t1(group.values, group.x, tr, method=method)
        rows += curve_rows(group.ids, fit, CURVE_COLUMNS, quality)
    write_rows(rows, out, "t1 fit-curves")
