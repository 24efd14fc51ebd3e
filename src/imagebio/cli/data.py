"""CLI commands on data: ingest, subjects, series, roi-stats."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from rich.table import Table

from imagebio.cli._console import console, error_console, progress_bar


def ingest_command(folder: Path, db: str | None) -> None:
    from imagebio.store import ingest_folder, open_store

    store = open_store(db)
    with progress_bar("scanning DICOM") as progress:
        report = ingest_folder(folder, store, progress=progress)
    console.print(report.summary(), highlight=False, soft_wrap=True)
    for skipped in report.skipped[:20]:
        error_console.print(f"skipped {skipped.path}: {skipped.reason}", highlight=False)
    if len(report.skipped) > 20:
        error_console.print(f"... and {len(report.skipped) - 20} more skipped files", highlight=False)


def subjects_command(db: str | None) -> None:
    from imagebio.store import open_store
    from imagebio.store.queries import list_subjects

    store = open_store(db)
    with store.session(readonly=True) as session:
        rows = list_subjects(session)
    _print_rows(rows, "Subjects")


def series_command(db: str | None, subject: str | None, modality: str | None) -> None:
    from imagebio.store import open_store
    from imagebio.store.queries import list_series

    store = open_store(db)
    with store.session(readonly=True) as session:
        rows = list_series(session, subject=subject, modality=modality)
    _print_rows(rows, "Series", fields=("patient_id", "timepoint", "modality", "kind", "n_files", "description",
                                        "series_instance_uid"))


def _print_rows(rows: list, title: str, fields: tuple[str, ...] | None = None) -> None:
    """Print a list of dataclass rows as a rich table (all fields, or the given ones)."""
    import dataclasses

    if not rows:
        console.print(f"{title}: none")
        return
    fields = fields or tuple(f.name for f in dataclasses.fields(rows[0]))
    table = Table(title=f"{title} ({len(rows)})")
    for name in fields:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*[_format(getattr(row, name)) for name in fields])
    console.print(table)


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


def roi_stats_command(
    image_path: Path, mask_path: Path, rois: list[str] | None, quantity: str, out: Path | None, resample: bool
) -> None:
    from imagebio.io import read_volume
    from imagebio.io.masks import read_roi_masks
    from imagebio.measure import roi_statistics

    image = read_volume(image_path, quantity=quantity)
    masks = read_roi_masks(mask_path, image, rois=rois or None, resample=resample)
    rows = []
    for name, mask in masks.items():
        rows.extend(roi_statistics(image, mask, roi=name).rows())
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["roi", "stat", "value", "unit"])
            for roi, stat, value, unit in rows:
                writer.writerow([roi, stat, repr(value), unit])
        error_console.print(f"wrote {len(rows)} rows to {out}", highlight=False)
        return
    table = Table(title=f"{image_path.name} in {image.unit or 'native units'}")
    for column in ("roi", "stat", "value", "unit"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for roi, stat, value, unit in rows:
        table.add_row(roi, stat, f"{value:.6g}", unit)
    console.print(table)
    sys.stdout.flush()
