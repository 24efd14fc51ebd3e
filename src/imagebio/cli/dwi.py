"""``imagebio dwi``: ADC / IVIM / kurtosis maps from a multi-b DICOM series, and fits of exported curves.

``imagebio dwi SERIES_DIR --model ivim --mask SEG --out DIR`` (the ``map`` command) reads the b-values from the
headers (standard or GE/Siemens/Philips private tags) and writes maps, ROI statistics, fit success and overlays
(see :mod:`imagebio.cli.dce` for the shared outputs). ``imagebio dwi fit-curves TABLE.csv`` fits long-format
curves (``curve_id, b_s_per_mm2, signal``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from imagebio.cli._groups import default_group

app = typer.Typer(
    cls=default_group("map"),
    help="Diffusion MRI: ADC, IVIM and kurtosis maps from a multi-b series, or fits of curve tables.",
    no_args_is_help=True,
)

MODELS = ("adc", "ivim", "kurtosis")
#: fit-curves output columns in the issue's order (those the model has)
CURVE_COLUMNS = ("d_mm2_per_s", "f", "dstar_mm2_per_s", "k")
#: main maps per model (their NIfTI names)
MAIN_MAPS = {"adc": ("adc_mm2_per_s",), "ivim": ("d_mm2_per_s", "f", "d_star_mm2_per_s"),
             "kurtosis": ("d_mm2_per_s", "k")}


def fit_model(model: str, signals, b, noise_sigma=None) -> dict:
    """Run the room's fit for ``model`` on (n, n_b) signals."""
    from imagebio.diffusion.adc import fit_adc
    from imagebio.diffusion.ivim import fit_ivim
    from imagebio.diffusion.kurtosis import fit_kurtosis
    from imagebio.errors import InvalidParameterError

    if model == "adc":
        if noise_sigma is not None:
            raise InvalidParameterError("--noise-sigma", noise_sigma, "only with --model ivim or kurtosis")
        return fit_adc(signals, b)
    if model == "ivim":
        return fit_ivim(signals, b, method="full", noise_sigma=noise_sigma)
    return fit_kurtosis(signals, b, method="nonlinear" if noise_sigma is not None else "wls", noise_sigma=noise_sigma)


@app.command("map")
def map_command(
    series_dir: Annotated[Path, typer.Argument(help="Multi-b DWI DICOM series folder (trace images).", exists=True)],
    model: Annotated[str, typer.Option("--model", help="adc, ivim or kurtosis.")] = "adc",
    mask: Annotated[Optional[Path], typer.Option("--mask", help="ROIs (DICOM SEG, RTSTRUCT or label map).",
                                                 exists=True)] = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("dwi_maps"),
    db: Annotated[Optional[str], typer.Option("--db", help="Record ROI statistics as Measurements in this store.")]
    = None,
    noise_sigma: Annotated[Optional[float], typer.Option("--noise-sigma", help="Rician noise SD (signal units): "
                                                         "noise-floor correction of IVIM / kurtosis fits.")] = None,
) -> None:
    """Voxel-wise ADC (log-linear WLS), IVIM (bounded full fit) or kurtosis maps from a DICOM series."""
    from imagebio.cli._maps import fit_in_chunks, fit_region, read_frames, read_masks, scatter, write_map_outputs
    from imagebio.diffusion.acquisition import dwi_series
    from imagebio.errors import InvalidParameterError

    if model not in MODELS:
        raise InvalidParameterError("--model", model, f"one of {', '.join(MODELS)}")
    frames, _ = read_frames(series_dir, "reading DWI frames")
    series = dwi_series(frames, model)
    b = series.b_values_s_per_mm2
    rois = read_masks(mask, series.reference)
    low = int(b.argmin())
    anatomy = series.signal[..., low]
    region = fit_region(rois, anatomy)
    flat = fit_in_chunks(lambda s: fit_model(model, s, b, noise_sigma), series.signal[region],
                         f"fitting {model} ({int(region.sum())} voxels)", chunk=8192)
    maps = scatter(flat, region)
    parameters = {"model": model, "b_values_s_per_mm2": b.tolist(), "noise_sigma": noise_sigma}
    write_map_outputs(out, maps, series.reference, anatomy, rois, list(MAIN_MAPS[model]), method=f"dwi-{model}",
                      parameters=parameters, db=db, series_uid=series.reference.identifiers.get("series_uid"),
                      mask_path=mask)


@app.command("fit-curves")
def fit_curves_command(
    table: Annotated[Path, typer.Argument(help="CSV, one row per sample: curve_id, b_s_per_mm2, signal.",
                                          exists=True)],
    model: Annotated[str, typer.Option("--model", help="adc, ivim or kurtosis.")] = "adc",
    out: Annotated[Optional[Path], typer.Option("--out", help="Output CSV (default: print).")] = None,
    noise_sigma: Annotated[Optional[float], typer.Option("--noise-sigma", help="Rician noise SD (signal units).")]
    = None,
    quality: Annotated[bool, typer.Option("--quality", help="Append r_squared, nrmse, fit_status columns.")] = False,
) -> None:
    """Fit ADC / IVIM / kurtosis to curves exported from another tool (long format) -> one row per curve."""
    from imagebio.cli._maps import curve_rows, read_curve_table, write_rows
    from imagebio.errors import InvalidParameterError

    if model not in MODELS:
        raise InvalidParameterError("--model", model, f"one of {', '.join(MODELS)}")
    groups = read_curve_table(table, ("curve_id", "b_s_per_mm2", "signal"), x="b_s_per_mm2", shared=(),
                              values="signal")
    rows = []
    for group in groups:
        fit = fit_model(model, group.values, group.x, noise_sigma)
        renamed = dict(fit)
        if model == "adc":
            renamed["d_mm2_per_s"] = fit["adc_mm2_per_s"]
        if model == "ivim":
            renamed["dstar_mm2_per_s"] = fit["d_star_mm2_per_s"]
        rows += curve_rows(group.ids, renamed, CURVE_COLUMNS, quality)
    write_rows(rows, out, "dwi fit-curves")
