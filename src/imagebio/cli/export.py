"""``imagebio export sr|seg|pm``: DICOM objects from the store (TID 1500 SR, SEG, Parametric Maps)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Export stored results as DICOM: measurement reports (SR), lesion SEG, parametric maps.",
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
