"""``imagebio export sr|seg|pm``: DICOM objects from the store (TID 1500 SR, SEG, Parametric Maps);
``imagebio export table``: measurements as a tidy long table or a wide feature matrix (CSV / Parquet)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Export stored results as DICOM: measurement reports (SR), lesion SEG, parametric maps; "
                  "or as CSV/Parquet tables (export table).",
                  no_args_is_help=True)

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Store: an SQLite file path or any SQLAlchemy URL "
                 "(default: $IMAGEBIO_DB or ./imagebio.db)."),
]
SubjectOption = Annotated[str, typer.Option("--subject", help="PatientID to export.")]
OutOption = Annotated[Path, typer.Option("--out", help="Output folder.")]
TimepointOption = Annotated[
    str | None, typer.Option("--timepoint", help="Only this time point (label or StudyInstanceUID).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object with the files written.")]
DeidOption = Annotated[
    str | None,
    typer.Option("--deidentify", help="De-identify the written DICOM files with this key (PS3.15 Annex E, as "
                 "`imagebio deidentify --salt KEY`: same key, same pseudonyms and UIDs as the de-identified images)."),
]


def _run(what: str, db, subject: str, out: Path, timepoint, as_json: bool, deid_key: str | None = None,
         **options) -> None:
    from imagebio.cli._console import console
    from imagebio.report import export
    from imagebio.store import open_store

    writer = {"sr": export.export_sr, "seg": export.export_seg, "pm": export.export_pm}[what]
    store = open_store(db)
    try:
        result = writer(store, subject, out, timepoint=timepoint, **options)
    finally:
        store.close()
    if deid_key:
        from imagebio.io.deidentify import Deidentifier, deidentify_files
        from imagebio.report.export import safe_name

        deidentify_files([p for p in result.paths if p.suffix == ".dcm"], deid_key)
        # file names carry the PatientID: rename to the pseudonym (NIfTI holds no identity inside)
        old, new = safe_name(subject), Deidentifier(deid_key).pseudonym(subject)
        for label, paths in result.files.items():
            renamed = []
            for path in paths:
                target = path.with_name(path.name.replace(old, new, 1))
                path.replace(target)
                renamed.append(target)
            result.files[label] = renamed
    if as_json:
        typer.echo(json.dumps({"files": {k: [str(p) for p in v] for k, v in result.files.items()},
                               "skipped": result.skipped}))
        return
    for label, paths in result.files.items():
        for path in paths:
            console.print(f"{label}: {path}", highlight=False)
    for reason in result.skipped:
        console.print(f"[yellow]left out[/] {reason}", highlight=False)


@app.command("sr")
def sr(subject: SubjectOption, out: OutOption, db: DbOption = None, timepoint: TimepointOption = None,
       deidentify: DeidOption = None, as_json: JsonOption = False) -> None:
    """One TID 1500 Measurement Report per time point (tracking UIDs per lesion, SEG and image references)."""
    _run("sr", db, subject, out, timepoint, as_json, deidentify)


@app.command("seg")
def seg(subject: SubjectOption, out: OutOption, db: DbOption = None, timepoint: TimepointOption = None,
        deidentify: DeidOption = None, as_json: JsonOption = False) -> None:
    """Lesion masks of each time point as a BINARY DICOM SEG referencing the CT slices."""
    _run("seg", db, subject, out, timepoint, as_json, deidentify)


@app.command("pm")
def pm(
    subject: SubjectOption,
    out: OutOption,
    kind: Annotated[
        str, typer.Option("--map", help="Map to compute and export: adc (from DWI) or suv (from PET).")
    ] = "adc",
    db: DbOption = None,
    timepoint: TimepointOption = None,
    no_nifti: Annotated[bool, typer.Option("--no-nifti", help="Write only the DICOM Parametric Map.")] = False,
    deidentify: DeidOption = None,
    as_json: JsonOption = False,
) -> None:
    """A parametric map per time point as a DICOM Parametric Map (float32, UCUM unit) and NIfTI."""
    _run("pm", db, subject, out, timepoint, as_json, deidentify, kind=kind, nifti=not no_nifti)


@app.command("table")
def table(
    fmt: Annotated[str, typer.Option("--format", help="File format: csv or parquet (parquet needs pyarrow).")] = "csv",
    db: DbOption = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output file (default: ./imagebio_measurements.<format>, or "
                     "./imagebio_features.<format> with --wide)."),
    ] = None,
    wide: Annotated[
        bool, typer.Option("--wide", help="Wide feature matrix: one row per subject/time point/ROI, columns "
                           "<name>[<unit>] (default: the tidy long table, one row per value).")
    ] = False,
    subjects: Annotated[
        list[str] | None, typer.Option("--subject", help="Only this PatientID (repeat for several).")
    ] = None,
    name_globs: Annotated[
        list[str] | None,
        typer.Option("--name-glob", help="Only biomarkers whose name matches this shell pattern, e.g. 'suv*' "
                     "(repeat for several)."),
    ] = None,
    methods: Annotated[list[str] | None, typer.Option("--method", help="Only this method (repeatable).")] = None,
    settings_hashes: Annotated[
        list[str] | None, typer.Option("--settings-hash", help="Only this settings hash or prefix (repeatable).")
    ] = None,
    modalities: Annotated[
        list[str] | None, typer.Option("--modality", help="Only values measured on this modality (repeatable).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Measurements as a table for pandas / imagebio.stats: tidy long (default) or wide (--wide), CSV or Parquet."""
    from imagebio.cli._console import console
    from imagebio.errors import InvalidParameterError
    from imagebio.store import open_store
    from imagebio.store.export import TABLE_FORMATS, long_table, wide_from_long, write_table

    fmt = fmt.lower()
    if fmt not in TABLE_FORMATS:
        raise InvalidParameterError("--format", fmt, f"one of {', '.join(TABLE_FORMATS)}")
    target = out or Path(f"imagebio_{'features' if wide else 'measurements'}.{fmt}")
    store = open_store(db)
    try:
        frame = long_table(store, subjects or None, name_globs or None, methods or None, settings_hashes or None,
                           modalities or None)
    finally:
        store.close()
    n_values = len(frame)
    if wide:
        frame = wide_from_long(frame)
    write_table(frame, target, fmt)
    if as_json:
        typer.echo(json.dumps({"path": str(target), "format": fmt, "layout": "wide" if wide else "long",
                               "rows": len(frame), "columns": len(frame.columns), "values": n_values}))
        return
    if n_values == 0:
        console.print("[yellow]no measurement matches the filters[/]: the table is empty", highlight=False)
    console.print(f"{'wide' if wide else 'long'} table: {len(frame)} rows x {len(frame.columns)} columns "
                  f"({n_values} values) -> {target}", highlight=False)
