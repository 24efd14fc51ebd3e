"""``imagebio deidentify IN_DIR OUT_DIR``: PS3.15 Annex E de-identification of a DICOM folder."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer


def app(
    in_dir: Annotated[Path, typer.Argument(help="DICOM folder to de-identify (searched recursively).")],
    out_dir: Annotated[Path, typer.Argument(help="Output folder (outside IN_DIR): <pseudonym>/<study>/<series>/.")],
    map_file: Annotated[
        Path | None,
        typer.Option("--map", help="CSV original → pseudonym, date shift, study UIDs. Keep it apart from OUT_DIR."),
    ] = None,
    salt: Annotated[
        str | None,
        typer.Option(
            "--salt",
            help="Secret key: the same key gives the same pseudonyms, date shifts and UIDs "
            "(default: $IMAGEBIO_DEID_KEY, else a random key that is printed once).",
        ),
    ] = None,
    allow_flagged: Annotated[
        bool, typer.Option("--allow-burned-in", help="Also copy files flagged for burned-in annotation.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON summary object.")] = False,
) -> None:
    """De-identify DICOM files: PS3.15 Annex E Basic Profile + Retain Longitudinal Temporal Information with
    Modified Dates + Retain Patient Characteristics; UIDs remapped consistently; burned-in annotation flagged."""
    import secrets

    from imagebio.cli._console import console, error_console, progress_bar
    from imagebio.errors import InvalidParameterError
    from imagebio.io.deidentify import deidentify_folder

    if not in_dir.is_dir():
        raise InvalidParameterError("IN_DIR", str(in_dir), "an existing folder of DICOM files")
    key = salt or os.environ.get("IMAGEBIO_DEID_KEY")
    generated = key is None
    if generated:
        key = secrets.token_hex(16)
    with progress_bar("de-identifying") as progress:
        result = deidentify_folder(in_dir, out_dir, key, map_path=map_file, allow_flagged=allow_flagged,
                                   progress=progress)
    summary = {
        "written": len(result.written),
        "skipped_not_dicom": len(result.skipped),
        "flagged": [{"file": str(p), "reason": r} for p, r in result.flagged],
        "subjects": len(result.pseudonyms),
        "map": str(map_file) if map_file else None,
        "out_dir": str(out_dir),
    }
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        console.print(
            f"de-identified [bold]{summary['written']}[/] files of {summary['subjects']} subject(s) into {out_dir}"
            + (f"; map: {map_file}" if map_file else "; no map written (--map FILE)")
        )
        if result.skipped:
            console.print(f"skipped {len(result.skipped)} non-DICOM file(s)")
        for path, reason in result.flagged:
            error_console.print(f"[yellow]flagged[/] {path}: {reason}", highlight=False)
    if generated:
        error_console.print(
            f"[yellow]key[/] {key} (random; pass --salt {key} to reproduce the same pseudonyms and UIDs)",
            highlight=False,
        )
