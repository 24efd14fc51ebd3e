"""``imagebio pet``: lesion metabolism metrics of one PET series (SUVmax/mean/peak, SULpeak, MTV, TLG, PERCIST, Dmax).

Thin: reads the series and masks through :mod:`imagebio.io`, computes with
:func:`imagebio.pet.summary.pet_metric_table`, prints (rich) or writes a CSV, records Measurements in the store and draws the MIP on request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

METHOD = "pet-metrics"
QUANTITIES = ("suvbw", "sul")


def app(
    series_dir: Annotated[Path, typer.Argument(help="PET DICOM series folder.", exists=True)],
    mask: Annotated[Path, typer.Option("--mask", help="Lesion masks: DICOM SEG, RTSTRUCT or a label map.",
                                       exists=True)],
    roi: Annotated[Optional[list[str]], typer.Option("--roi", help="Lesion ROI name (repeatable); default: all.")
                   ] = None,
    liver: Annotated[Optional[Path], typer.Option("--liver", help="Liver mask (SEG/RTSTRUCT/label map; ROI 'liver' "
                                                  "or its only ROI) for the PERCIST reference.", exists=True)] = None,
    liver_centre: Annotated[Optional[str], typer.Option("--liver-centre", help="PERCIST liver sphere centre X,Y,Z "
                                                        "in mm (patient LPS).")] = None,
    quantity: Annotated[str, typer.Option("--quantity", help="Image quantity: suvbw or sul.")] = "suvbw",
    out: Annotated[Optional[Path], typer.Option("--out", help="Write a CSV (roi,name,value,unit) here.")] = None,
    db: Annotated[Optional[str], typer.Option("--db", help="Record the values as Measurements in this store "
                                              "(the series must have been ingested).")] = None,
    mip: Annotated[Optional[Path], typer.Option("--mip", help="Write a coronal MIP PNG with lesion outlines.")] = None,
) -> None:
    """Lesion metrics of a PET series: SUVmax, SUVmean, SUVpeak, SULpeak, MTV/TLG, PERCIST, total MTV/TLG, Dmax."""
    from imagebio.errors import InvalidParameterError

    if quantity not in QUANTITIES:
        raise InvalidParameterError("--quantity", quantity, f"one of {', '.join(QUANTITIES)}")
    centre = None if liver_centre is None else _parse_centre(liver_centre)
    run_pet(series_dir, mask, roi or None, liver, centre, quantity, out, db, mip)


def _parse_centre(text: str) -> tuple[float, float, float]:
    from imagebio.errors import InvalidParameterError

    parts = [p.strip() for p in text.split(",")]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 3 or not all(v == v and abs(v) != float("inf") for v in values):
        raise InvalidParameterError("--liver-centre", text, "three numbers X,Y,Z in mm (patient LPS)")
    return values  # type: ignore[return-value]


def _liver_mask(path: Path, image):
    from imagebio.errors import RoiNotFoundError
    from imagebio.io.masks import read_roi_masks

    masks = read_roi_masks(path, image)
    named = [name for name in masks if "liver" in name.lower()]
    if len(named) == 1:
        return masks[named[0]]
    if len(masks) == 1:
        return next(iter(masks.values()))
    raise RoiNotFoundError("liver", list(masks), path)


def run_pet(series_dir: Path, mask_path: Path, rois: list[str] | None, liver_path: Path | None,
            liver_centre: tuple[float, float, float] | None, quantity: str, out: Path | None, db: str | None,
            mip: Path | None) -> None:
    """Read, compute, then print / write CSV / record / draw (see :func:`app`)."""
    from imagebio.cli._console import error_console
    from imagebio.io.masks import read_roi_masks
    from imagebio.io.pet import read_pet
    from imagebio.pet.summary import PetSummarySettings, pet_metric_table

    image = read_pet(series_dir, quantity=quantity)
    masks = read_roi_masks(mask_path, image, rois=rois)
    liver_mask = None if liver_path is None else _liver_mask(liver_path, image)
    settings = PetSummarySettings()
    table = pet_metric_table(image, masks, liver_mask=liver_mask, liver_centre_mm=liver_centre, settings=settings)
    for note in table.notes:
        error_console.print(f"note: {note}", highlight=False)
    if out is not None:
        _write_csv(table.rows, out)
        error_console.print(f"wrote {len(table.rows)} rows to {out}", highlight=False)
    else:
        _print_table(table.rows, f"{series_dir.name} ({image.unit})")
    if mip is not None:
        from imagebio.pet.plots import plot_mip

        plot_mip(image, masks, mip, title=f"{image.identifiers.get('patient_id', series_dir.name)} coronal MIP")
        error_console.print(f"wrote {mip}", highlight=False)
    if db is not None:
        n = _record(db, image, mask_path, masks, table, settings, quantity)
        error_console.print(f"recorded {n} measurements in the store", highlight=False)


def _write_csv(rows, out: Path) -> None:
    import csv

    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["roi", "name", "value", "unit"])
        for row in rows:
            writer.writerow([row.roi, row.name, repr(row.value), row.unit])


def _print_table(rows, title: str) -> None:
    from rich.table import Table

    from imagebio.cli._console import console

    table = Table(title=title)
    for column in ("roi", "name", "value", "unit"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for row in rows:
        table.add_row(row.roi, row.name, f"{row.value:.6g}", row.unit)
    console.print(table)


def _record(db: str, image, mask_path: Path, masks, table, settings, quantity: str) -> int:
    """Write the table as Measurements on the PET series' store row; returns the number of values."""
    from sqlalchemy import select

    from imagebio.errors import StoreError
    from imagebio.pet.summary import LIVER_ROI, WHOLE_BODY_ROI
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

    series_uid = image.identifiers.get("series_uid")
    parameters = {"quantity": quantity, **settings.as_dict()}
    if table.liver is not None:
        parameters["liver_centre_mm"] = list(table.liver.centre_mm) if table.liver.centre_mm else None
    settings_hash = hash_settings(parameters)
    store = open_store(db)
    with store.session() as session:
        series = session.scalars(select(Series).where(Series.series_instance_uid == series_uid)).first()
        if series is None:
            raise StoreError(f"PET series {series_uid} ({image.identifiers.get('path')}) is not in the store {db}; "
                             "run `imagebio ingest` on its folder first")
        timepoint = session.get(Timepoint, series.timepoint_id)
        subject = session.get(Subject, timepoint.subject_id)
        mask_uids = {m.identifiers.get("series_uid") for m in masks.values()} - {None}
        source = None
        if mask_uids:
            source = session.scalars(select(Series).where(Series.series_instance_uid.in_(mask_uids))).first()
        run = start_run(session, f"pet {image.identifiers.get('path', '')}", parameters)
        rois = {}
        rows = []
        for value in table.rows:
            if value.roi not in rois:
                is_lesion = value.roi not in (WHOLE_BODY_ROI, LIVER_ROI)
                rois[value.roi] = upsert_roi(
                    session, subject, value.roi, timepoint=timepoint,
                    lesion_id=value.roi if is_lesion else None,
                    organ="liver" if value.roi == LIVER_ROI else None,
                    source_series=source if is_lesion else None,
                    source_path=str(mask_path) if is_lesion else None,
                )
            rows.append(MeasurementRow(
                roi_id=rois[value.roi].id, series_id=series.id, name=value.name, value=value.value, unit=value.unit,
                method=METHOD, parameters=parameters, settings_hash=settings_hash, run_id=run.id,
            ))
        record_measurements(session, rows)
        mark_subject(session, run, subject, "done")
        finish_run(session, run)
    return len(rows)
