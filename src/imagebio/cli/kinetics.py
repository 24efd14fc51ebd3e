"""``imagebio kinetics``: voxel-wise tracer-kinetic maps of a dynamic PET series, written as NIfTI.

Thin: reads the frames (:func:`imagebio.io.dicom.read_dynamic_series`) and the injection time
(:mod:`imagebio.io.pet`), builds the frame timing and input, and calls
:func:`imagebio.pet.kinetics.parametric.parametric_maps`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

MODEL_NAMES = ("patlak", "logan", "1tcm", "srtm")


def app(
    dynamic_dir: Annotated[Path, typer.Argument(help="Dynamic PET DICOM series folder.", exists=True)],
    model: Annotated[str, typer.Option("--model", help="patlak, logan, 1tcm or srtm.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder for the maps (NIfTI) and frames.csv.")],
    input_function: Annotated[Optional[Path], typer.Option(
        "--input-function", help="Sampled plasma input CSV (time, value; header row), same unit as the images.",
        exists=True)] = None,
    input_time_unit: Annotated[str, typer.Option(
        "--input-time-unit", help="Unit of the CSV time column (after injection): s, min or h.")] = "s",
    blood_mask: Annotated[Optional[Path], typer.Option(
        "--blood-mask", help="Blood-pool mask (SEG/RTSTRUCT/label map) for an image-derived input.",
        exists=True)] = None,
    reference_mask: Annotated[Optional[Path], typer.Option(
        "--reference-mask", help="Reference-region mask (SRTM; Logan DVR).", exists=True)] = None,
    mask: Annotated[Optional[Path], typer.Option(
        "--mask", help="Compute only inside this mask (default: every voxel).", exists=True)] = None,
    t_star: Annotated[Optional[float], typer.Option(
        "--t-star", help="Patlak/Logan t* in min after injection (default: automatic on the mean curve).")] = None,
) -> None:
    """Parametric maps (Patlak Ki, Logan Vt/DVR, 1TCM K1/k2/vB, SRTM BPnd) of a dynamic PET series as NIfTI."""
    from imagebio.errors import InvalidParameterError

    if model not in MODEL_NAMES:
        raise InvalidParameterError("--model", model, f"one of {', '.join(MODEL_NAMES)}")
    if input_function is not None and blood_mask is not None:
        raise InvalidParameterError("--input-function/--blood-mask", "both", "one of the two")
    run_kinetics(dynamic_dir, model, out, input_function, input_time_unit, blood_mask, reference_mask, mask, t_star)


def _single_mask(path: Path, reference, what: str):
    from imagebio.errors import RoiNotFoundError
    from imagebio.io.masks import read_roi_masks

    masks = read_roi_masks(path, reference)
    if len(masks) != 1:
        raise RoiNotFoundError(what, list(masks), path)
    return next(iter(masks.values())).array.astype(bool)


def run_kinetics(dynamic_dir: Path, model: str, out: Path, input_csv: Path | None, input_time_unit: str,
                 blood_mask: Path | None, reference_mask: Path | None, mask_path: Path | None,
                 t_star: float | None) -> None:
    """Read, time, fit and write (see :func:`app`)."""
    import csv
    import json

    import numpy as np

    from imagebio.cli._console import console, error_console
    from imagebio.errors import InvalidParameterError, MissingDicomTagError, UnsupportedDataError
    from imagebio.io.dicom import find_series, read_dynamic_series
    from imagebio.io.nifti import write_image
    from imagebio.io.pet import injection_datetime, parse_pet_headers
    from imagebio.pet.kinetics.input_function import image_derived_input, read_input_function_csv, region_tac
    from imagebio.pet.kinetics.parametric import MODELS, dynamic_frame_times, parametric_maps

    series = find_series(dynamic_dir)
    if series.modality != "PT":
        raise UnsupportedDataError(f"expected a dynamic PET (Modality PT) series, found {series.modality!r}",
                                   series.folder)
    volumes = read_dynamic_series(series)
    info = parse_pet_headers(series.headers, source=series.folder)
    if not info.has_radiopharmaceutical_sequence:
        raise MissingDicomTagError("RadiopharmaceuticalInformationSequence", path=series.folder,
                                   needed_for="the injection time of the dynamic frames")
    reference_time = volumes[0].acquisition_time or info.series_datetime
    injected = injection_datetime(info, reference_time)
    frames = dynamic_frame_times(volumes, injected, info.series_datetime, source=str(series.folder))
    dynamic = np.stack([np.asarray(v.array) for v in volumes])
    grid = volumes[0]
    needs = MODELS[model]

    curve = None
    if "input" in needs:
        if input_csv is not None:
            curve = read_input_function_csv(input_csv, time_unit=input_time_unit, unit=grid.unit)
        elif blood_mask is not None:
            curve = image_derived_input(dynamic, _single_mask(blood_mask, grid, "blood"), frames, unit=grid.unit)
    reference = None
    if reference_mask is not None and "reference" in needs:
        reference = region_tac(dynamic, _single_mask(reference_mask, grid, "reference"))
    if model == "logan" and curve is not None and reference is not None:
        raise InvalidParameterError("--reference-mask", str(reference_mask),
                                    "either an input (--input-function/--blood-mask) or a reference region for logan")
    if needs == "input" and curve is None:
        raise InvalidParameterError("--input-function/--blood-mask", None, f"a plasma input for {model}")
    if needs == "reference" and reference is None:
        raise InvalidParameterError("--reference-mask", None, f"a reference-region mask for {model}")
    if model == "logan" and curve is None and reference is None:
        raise InvalidParameterError("--input-function/--blood-mask/--reference-mask", None,
                                    "a plasma input or a reference region for logan")
    compute = None if mask_path is None else _single_mask(mask_path, grid, "mask")

    result = parametric_maps(dynamic, frames, model, input_function=curve, reference_tac=reference,
                             t_star_min=t_star, mask=compute)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, array in result.maps.items():
        volume = grid.with_array(np.asarray(array, dtype=np.float32), unit=result.units[name],
                                 metadata={"model": model, "map": name})
        written.append(write_image(volume, out / f"{model}_{name}.nii.gz"))
    with open(out / "frames.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["frame", "start_min", "duration_min", "mid_min"])
        for i, (s, d, m) in enumerate(zip(frames.start_min, frames.duration_min, frames.mid_min, strict=True)):
            writer.writerow([i, repr(float(s)), repr(float(d)), repr(float(m))])
    summary = {
        "model": model,
        "series": str(series.folder),
        "series_uid": series.series_uid,
        "injection_time": injected.isoformat(),
        "first_frame_start_min": float(frames.start_min[0]),
        "n_frames": frames.n_frames,
        "t_star_min": result.t_star_min,
        "input": "csv" if input_csv is not None and curve is not None else ("image" if curve is not None else None),
        "reference_region": reference is not None,
        "maps": {name: {"file": f"{model}_{name}.nii.gz", "unit": result.units[name],
                        "median": _median(array)} for name, array in result.maps.items()},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    for path in written:
        error_console.print(f"wrote {path}", highlight=False)
    console.print(f"{model}: {len(written)} maps of {frames.n_frames} frames" +
                  ("" if result.t_star_min is None else f", t* = {result.t_star_min:.3g} min"), highlight=False)


def _median(array) -> float | None:
    import numpy as np

    finite = np.asarray(array, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    return float(np.median(finite)) if finite.size else None
