"""``imagebio response``: treatment response by RECIST 1.1, iRECIST, mRECIST, Choi, PERCIST, RANO 2.0, Lugano.

Two paths to the same engines (:mod:`imagebio.response`):

* ``imagebio response --criteria recist11 [--subject ID] [--db URL] [--confirm] [--plots DIR]`` measures the
  store's lesion masks (RECIST diameters, SULpeak), assesses every subject, prints the categories with their
  reasons and records them in the store (the default sub-command, ``store``; ``imagebio response store ...``
  is the same).
* ``imagebio response assess TABLE.csv --criteria ... [--confirm] [--out FILE.csv] [--plots DIR]`` assesses a
  lesion table (format: :mod:`imagebio.response.table`; example shipped as
  ``imagebio/response/examples/lesion_table_example.csv``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from imagebio.cli._groups import default_group

#: Criteria accepted on the command line (keys of imagebio.response.CRITERIA; kept here so --help needs no pandas).
CRITERIA_NAMES = ("recist11", "irecist", "mrecist", "choi", "percist", "rano2", "lugano", "volumetric")

app = typer.Typer(
    cls=default_group("store"),
    help="Treatment response (RECIST 1.1, iRECIST, mRECIST, Choi, PERCIST, RANO 2.0, Lugano, volumetric): "
    "`imagebio response --criteria recist11` on the store, `imagebio response assess TABLE.csv` on a table.",
    no_args_is_help=True,
)

CriteriaOption = Annotated[str, typer.Option("--criteria", help=f"Criterion: {', '.join(CRITERIA_NAMES)}.")]
ConfirmOption = Annotated[
    bool, typer.Option("--confirm", help="Require confirmation of CR/PR for the best overall response (rule 25).")
]
OutOption = Annotated[
    Optional[Path], typer.Option("--out", help="Write the assessment (one row per subject and time point) as CSV.")
]
PlotsOption = Annotated[
    Optional[Path], typer.Option("--plots", help="Write waterfall and spider plots (PNG) into this folder.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the table.")]
SettingsOption = Annotated[
    Optional[Path], typer.Option("--settings", help="YAML file of the criterion's settings (its *Settings fields).")
]
SetOption = Annotated[
    Optional[list[str]],
    typer.Option("--set", help="One setting as NAME=VALUE (repeatable), e.g. --set basis=ct --set min_sd_days=56."),
]


def _check_criteria(criteria: str) -> None:
    from imagebio.errors import InvalidParameterError

    if criteria not in CRITERIA_NAMES:
        raise InvalidParameterError("--criteria", criteria, f"one of {', '.join(CRITERIA_NAMES)}")


def _overrides(values: list[str] | None) -> dict:
    """``--set NAME=VALUE`` options as a mapping; values parsed as YAML scalars (numbers, true/false, text)."""
    import yaml

    from imagebio.errors import InvalidParameterError

    out = {}
    for item in values or []:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise InvalidParameterError("--set", item, "NAME=VALUE")
        try:
            out[name.strip()] = yaml.safe_load(text)
        except yaml.YAMLError:
            out[name.strip()] = text
    return out


@app.command("store")
def store_command(
    criteria: CriteriaOption = "recist11",
    subject: Annotated[
        Optional[list[str]], typer.Option("--subject", help="Only this PatientID (repeatable); default all.")
    ] = None,
    db: Annotated[
        Optional[str],
        typer.Option("--db", help="Store: an SQLite file path or any SQLAlchemy URL (default: $IMAGEBIO_DB or "
                     "./imagebio.db)."),
    ] = None,
    confirm: ConfirmOption = False,
    settings: SettingsOption = None,
    set_values: SetOption = None,
    out: OutOption = None,
    plots: PlotsOption = None,
    json_output: JsonOption = False,
) -> None:
    """Measure the store's lesions, assess each subject, print the categories with reasons and store them."""
    from imagebio.cli._console import progress_bar
    from imagebio.pipeline.response_run import assess_store
    from imagebio.store import open_store

    _check_criteria(criteria)
    store = open_store(db)
    with progress_bar("measuring lesions") as progress:
        result = assess_store(
            store, criteria, subjects=subject or None, confirm=confirm or None, settings=settings, progress=progress,
            **_overrides(set_values),
        )
    _finish(result, criteria, out, plots, json_output, stored_in=store.display_url)
    failed = result.attrs.get("failed", {})
    if failed:
        from rich.text import Text

        from imagebio.cli._console import error_console

        for patient_id, error in failed.items():
            error_console.print(Text.assemble(("failed ", "red"), f"{patient_id}: {error}"), highlight=False)


@app.command("assess")
def assess_command(
    table: Annotated[Path, typer.Argument(help="Lesion table CSV (one row per lesion per time point).")],
    criteria: CriteriaOption = "recist11",
    confirm: ConfirmOption = False,
    settings: SettingsOption = None,
    set_values: SetOption = None,
    out: OutOption = None,
    plots: PlotsOption = None,
    json_output: JsonOption = False,
) -> None:
    """Assess a lesion table: one row per subject and time point with category and reason, plus a `best` row."""
    from imagebio.response import assess

    _check_criteria(criteria)
    result = assess(table, criteria, confirm=confirm or None, settings=settings, **_overrides(set_values))
    _finish(result, criteria, out, plots, json_output)


def _finish(result, criteria: str, out: Path | None, plots: Path | None, json_output: bool,
            stored_in: str | None = None) -> None:
    from imagebio.cli._console import console

    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        result.to_csv(out, index=False)
    written = []
    if plots is not None:
        from imagebio.response.plots import write_response_plots

        written = write_response_plots(result, plots, stem=f"response_{criteria}")
    if json_output:
        import json

        columns = ["subject", "timepoint", "category", "reason", "revised_from"]
        payload = {
            "criteria": criteria,
            "rows": result[columns].to_dict(orient="records"),
            "out": None if out is None else str(out),
            "plots": [str(p) for p in written],
            "store": stored_in,
            "failed": result.attrs.get("failed", {}),
        }
        typer.echo(json.dumps(payload))
        return
    _print_table(result, criteria)
    if out is not None:
        console.print(f"assessment: {out}", highlight=False)
    for path in written:
        console.print(f"plot: {path}", highlight=False)
    if stored_in is not None and not result.empty:
        console.print(f"categories stored as response_{criteria} in {stored_in}", highlight=False)


_STYLE = {"CR": "green", "PR": "green", "CMR": "green", "PMR": "green", "iCR": "green", "iPR": "green",
          "PD": "red", "PMD": "red", "iCPD": "red", "iUPD": "yellow", "NE": "dim"}


def _print_table(result, criteria: str) -> None:
    from rich.table import Table
    from rich.text import Text

    from imagebio.cli._console import console

    if result.empty:
        console.print("no lesions to assess")
        return
    table = Table(title=f"Response by {criteria}")
    for column in ("subject", "time point", "category", "reason"):
        table.add_column(column, overflow="fold", no_wrap=column != "reason")
    for row in result.itertuples(index=False):
        category = Text(row.category, style=_STYLE.get(row.category, ""))
        if row.revised_from:
            category.append(f" (was {row.revised_from})")
        timepoint = Text(row.timepoint, style="bold" if row.timepoint == "best" else "")
        table.add_row(Text(row.subject), timepoint, category, Text(row.reason))
    console.print(table)
