"""`imagebio demo`: the main job on built-in digital patients, with progress bars and a summary table."""

from __future__ import annotations

import math
import sys
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from imagebio.cli._console import console, error_console

#: Relative error above which a value is flagged in the summary (volumes: the issue's 2 %).
FLAG_RELATIVE_ERROR = {"volume": 0.02}
DEFAULT_FLAG = 0.05


def run_demo_command(out: Path, patients: int, seed: int) -> None:
    from imagebio.pipeline.demo import run_demo

    columns = (TextColumn("[bold]{task.description:<10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=error_console, disable=not sys.stderr.isatty()) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        result = run_demo(out, n_patients=patients, seed=seed, progress=progress)
    _print_summary(result)


def _print_summary(result) -> None:
    table = Table(title="Digital cohort: measured through DICOM vs ground truth (max |relative error| per biomarker)")
    for column in ("biomarker", "unit", "n", "mean truth", "mean measured", "max |rel. error|", "status"):
        table.add_column(column, justify="right" if column.startswith(("n", "mean", "max")) else "left")
    by_name: dict[str, list[dict]] = {}
    for row in result.comparison:
        by_name.setdefault(row["biomarker"], []).append(row)
    worst = {}
    for name, rows in by_name.items():
        errors = [abs(r["relative_error"]) for r in rows if not math.isnan(r["relative_error"])]
        worst[name] = max(errors) if errors else float("nan")
        limit = FLAG_RELATIVE_ERROR.get(name, DEFAULT_FLAG)
        ok = not math.isnan(worst[name]) and worst[name] <= limit
        table.add_row(
            name,
            rows[0]["unit"],
            str(len(rows)),
            f"{sum(r['truth'] for r in rows) / len(rows):.4g}",
            f"{sum(r['measured'] for r in rows) / len(rows):.4g}",
            f"{worst[name]:.2%}",
            "[green]ok[/]" if ok else f"[red]> {limit:.0%}[/]",
        )
    console.print(table)
    _print_response(result.response)
    run = result.run
    console.print(
        f"run {run.run_id}: {len(run.done)} subjects done, {len(run.failed)} failed, {run.n_values} values stored"
    )
    for patient_id, error in run.failed.items():
        console.print(f"[red]failed[/] {patient_id}: {error}", highlight=False)
    console.print(
        f"store: {result.store_url}\nDICOM + ground truth: {result.cohort_dir}\n"
        f"measurements: {result.measurements_csv}\ncomparison: {result.summary_csv}\n"
        f"response: {result.out_dir / 'response_recist11.csv'}\n"
        f"reports: {result.out_dir / 'reports'} (cohort.html, patient_<ID>.html, PDFs)",
        highlight=False,
    )


def _print_response(rows: list[dict]) -> None:
    table = Table(title="RECIST 1.1 best overall response, assessed from the DICOM masks, vs the intended design")
    for column in ("subject", "intended", "expected", "assessed", "reason (follow-up)"):
        table.add_column(column, overflow="fold")
    for row in rows:
        ok = row["assessed_recist"] == row["expected_recist"]
        colour = "green" if ok else "red"
        table.add_row(row["subject"], row["intended"], row["expected_recist"],
                      f"[{colour}]{row['assessed_recist']}[/]", row["reason"])
    console.print(table)
