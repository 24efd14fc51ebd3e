"""`imagebio status [RUN]`: done / failed / pending tasks of a run, with the errors."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from imagebio.cli._console import console


def app(
    run: Annotated[Optional[int], typer.Argument(help="Run id (default: the latest run).")] = None,
    db: Annotated[
        Optional[str],
        typer.Option("--db", help="Store: SQLite path or SQLAlchemy URL (default: $IMAGEBIO_DB or ./imagebio.db)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    limit: Annotated[int, typer.Option("--errors", min=0, help="How many failed tasks to list.")] = 20,
) -> None:
    """Show a run's state: tasks done, failed, pending (or subjects, for runs without tasks), with errors."""
    from imagebio.pipeline.runner import run_status

    report = run_status(db, run)
    if as_json:
        typer.echo(json.dumps(report, default=str))
        return
    from rich.table import Table

    console.print(
        f"run {report['run_id']} ({report['status']}): {report['command']} — started {report['started_at']}, "
        f"finished {report['finished_at'] or '-'}, imagebio {report['software_version']}",
        highlight=False,
    )
    counts = ", ".join(f"{n} {state}" for state, n in report["counts"].items())
    console.print(f"{report['unit']}: {counts}", highlight=False)
    if report["analyses"]:
        table = Table(title="by analysis")
        states = sorted({s for per in report["analyses"].values() for s in per})
        table.add_column("analysis")
        for state in states:
            table.add_column(state, justify="right")
        for name, per in report["analyses"].items():
            table.add_row(name, *(str(per.get(s, 0)) for s in states))
        console.print(table)
    if report["failed"]:
        table = Table(title=f"failed ({len(report['failed'])})")
        for column in ("subject", "timepoint", "analysis", "error"):
            table.add_column(column, overflow="fold")
        for row in report["failed"][:limit]:
            table.add_row(row["subject"], row.get("timepoint") or "", row.get("analysis") or "", row["error"] or "")
        console.print(table)
