"""``imagebio report patient ID`` and ``imagebio report cohort``: self-contained HTML (and PDF) reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Patient and cohort reports (self-contained HTML, optional PDF) from the store.",
                  no_args_is_help=True)

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Store: an SQLite file path or any SQLAlchemy URL "
                 "(default: $IMAGEBIO_DB or ./imagebio.db)."),
]
PdfOption = Annotated[bool, typer.Option("--pdf", help="Also write a PDF beside the HTML (matplotlib PdfPages).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object with the files written.")]


def _done(result, as_json: bool) -> None:
    from imagebio.cli._console import console

    files = {"html": str(result.html), "pdf": str(result.pdf) if result.pdf else None}
    missing = sum(1 for s in result.report.sections for i in s.items if i.kind == "na")
    if as_json:
        typer.echo(json.dumps({**files, "sections": len(result.report.sections), "not_available": missing}))
        return
    console.print(f"report written to [bold]{result.html}[/]" + (f" and {result.pdf}" if result.pdf else ""))
    if missing:
        console.print(f"{missing} item(s) marked 'not available' (results missing in the store)")


@app.command("patient")
def patient(
    patient_id: Annotated[str, typer.Argument(help="PatientID of the subject.")],
    db: DbOption = None,
    out: Annotated[Path | None, typer.Option("--out", help="HTML file (default: report_<ID>.html).")] = None,
    pdf: PdfOption = False,
    no_maps: Annotated[bool, typer.Option("--no-maps", help="Skip parametric map overlays (faster).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Patient report: studies, lesion table per time point, response with reasons, spider plot, key images."""
    from imagebio.report.patient import write_patient_report
    from imagebio.store import open_store

    store = open_store(db)
    try:
        target = out or Path(f"report_{patient_id}.html")
        result = write_patient_report(store, patient_id, target, pdf=pdf, with_maps=not no_maps)
    finally:
        store.close()
    _done(result, as_json)


@app.command("cohort")
def cohort(
    db: DbOption = None,
    out: Annotated[Path, typer.Option("--out", help="HTML file.")] = Path("report_cohort.html"),
    pdf: PdfOption = False,
    as_json: JsonOption = False,
) -> None:
    """Cohort report: waterfall, swimmer, response rates with exact 95 % CIs, feature distributions, compliance."""
    from imagebio.report.cohort import write_cohort_report
    from imagebio.store import open_store

    store = open_store(db)
    try:
        result = write_cohort_report(store, out, pdf=pdf)
    finally:
        store.close()
    _done(result, as_json)
