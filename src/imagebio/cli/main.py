"""The ``imagebio`` command line: thin commands that parse, call a room, and print with rich.

Bad input exits with status 2 and one line on stderr (``--debug`` shows the traceback). Heavy rooms are
imported inside the commands that need them so ``imagebio --help`` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from imagebio.errors import ImagebioError

app = typer.Typer(
    name="imagebio",
    help="Quantitative imaging biomarkers from clinical images: read, measure, store, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DbOption = Annotated[
    Optional[str],
    typer.Option("--db", help="Store: an SQLite file path or any SQLAlchemy URL (default: $IMAGEBIO_DB or ./imagebio.db)."),
]


def _version_callback(value: bool) -> None:
    if value:
        from imagebio import __version__

        typer.echo(f"imagebio {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """imagebio: validated imaging biomarkers for personalised medicine."""


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the digital cohort, the store and the summary.")] = Path(
        "demo_output"
    ),
    patients: Annotated[int, typer.Option("--patients", min=1, max=50, help="Number of digital patients.")] = 4,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the digital cohort (deterministic).")] = 0,
    serve: Annotated[bool, typer.Option("--serve", help="Then open the results in the web dashboard.")] = False,
    port: Annotated[int, typer.Option("--port", help="Dashboard port (with --serve), bound to 127.0.0.1.")] = 8000,
) -> None:
    """Generate the digital-patient cohort as DICOM, ingest it, measure lesion biomarkers, print a summary."""
    from imagebio.cli.demo import run_demo_command

    run_demo_command(out, patients, seed)
    if serve:
        from imagebio.cli.serve import serve_demo

        serve_demo(out, port=port)


@app.command()
def ingest(
    folder: Annotated[Path, typer.Argument(help="DICOM folder to scan (recursively).", exists=True)],
    db: DbOption = None,
) -> None:
    """Scan a DICOM folder and record its subjects, studies and series in the store (idempotent)."""
    from imagebio.cli.data import ingest_command

    ingest_command(folder, db)


@app.command()
def subjects(db: DbOption = None) -> None:
    """List the subjects in the store with their time points, series and measurements."""
    from imagebio.cli.data import subjects_command

    subjects_command(db)


@app.command()
def series(
    db: DbOption = None,
    subject: Annotated[Optional[str], typer.Option("--subject", help="Only this PatientID.")] = None,
    modality: Annotated[Optional[str], typer.Option("--modality", help="Only this modality (CT, PT, MR, SEG...).")] = None,
) -> None:
    """List the series in the store."""
    from imagebio.cli.data import series_command

    series_command(db, subject, modality)


@app.command("roi-stats")
def roi_stats(
    image: Annotated[Path, typer.Argument(help="DICOM series folder, or a NIfTI/NRRD image file.", exists=True)],
    mask: Annotated[Path, typer.Argument(help="DICOM SEG, RTSTRUCT, or a label-map file on the image grid.", exists=True)],
    roi: Annotated[Optional[list[str]], typer.Option("--roi", help="ROI name (repeatable); default: all ROIs.")] = None,
    quantity: Annotated[
        str,
        typer.Option("--as", help="Intensity quantity: native, hu, bqml, suvbw, suvlbm, sul, suvbsa, suvibw."),
    ] = "native",
    out: Annotated[Optional[Path], typer.Option("--out", help="Write a CSV (roi,stat,value,unit) here.")] = None,
    resample: Annotated[bool, typer.Option("--resample", help="Resample a mask on another grid (nearest).")] = False,
) -> None:
    """Count, volume (mL) and min/mean/median/max/SD of an image inside each ROI of a mask."""
    from imagebio.cli.data import roi_stats_command

    roi_stats_command(image, mask, roi, quantity, out, resample)


#: Room sub-command modules, each exposing ``app`` (a typer.Typer). They must import only typer/rich at module level;
#: the room itself is imported inside each command so that ``imagebio --help`` stays fast.
ROOM_COMMANDS = {
    "radiomics": "imagebio.cli.radiomics",
    "pet": "imagebio.cli.pet",
    "kinetics": "imagebio.cli.kinetics",
    "dce": "imagebio.cli.dce",
    "dwi": "imagebio.cli.dwi",
    "dsc": "imagebio.cli.dsc",
    "t1": "imagebio.cli.t1",
    "response": "imagebio.cli.response",
    "dosimetry": "imagebio.cli.dosimetry",
    "model": "imagebio.cli.model",
    "stats": "imagebio.cli.stats",
    "run": "imagebio.cli.run",
    "init-study": "imagebio.cli.init_study",
    "status": "imagebio.cli.status",
    "report": "imagebio.cli.report",
    "export": "imagebio.cli.export",
    "deidentify": "imagebio.cli.deidentify",
    "serve": "imagebio.cli.serve",
}


def _register_rooms() -> None:
    import importlib

    for name, module_name in ROOM_COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # that room's command line has not been written yet
            raise
        if isinstance(module.app, typer.Typer):
            app.add_typer(module.app, name=name)
        else:  # a plain function: a single command
            app.command(name)(module.app)


_register_rooms()


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app, turning imagebio errors into one line and exit status 2."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        app(args=args, standalone_mode=True)
    except ImagebioError as exc:
        if debug:
            raise
        from imagebio.cli._console import error_console

        error_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
