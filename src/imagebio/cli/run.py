"""`imagebio run STUDY.yaml`: run a study spec over the cohort (process pool, Dask, or in-process)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from imagebio.cli._console import console, error_console, progress_bar


def app(
    study: Annotated[Path, typer.Argument(help="Study spec (YAML); `imagebio init-study` writes an example.")],
    workers: Annotated[
        Optional[int], typer.Option("--workers", min=1, help="Local worker processes (default: CPUs - 1).")
    ] = None,
    scheduler: Annotated[
        Optional[str], typer.Option("--scheduler", help="Run on a Dask scheduler, e.g. tcp://host:8786.")
    ] = None,
    dask_local: Annotated[
        Optional[int], typer.Option("--dask-local", min=1, help="Start a Dask LocalCluster with N workers.")
    ] = None,
    in_process: Annotated[bool, typer.Option("--in-process", help="Run tasks in this process (debugging).")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Recompute tasks already done with the same settings.")
    ] = False,
    db: Annotated[
        Optional[str], typer.Option("--db", help="Store (SQLite path or SQLAlchemy URL); overrides inputs.store.")
    ] = None,
) -> None:
    """Run every analysis of a study spec on every selected subject and time point, skipping finished work."""
    from imagebio.pipeline.executors import make_executor
    from imagebio.pipeline.runner import run_study
    from imagebio.pipeline.spec import load_spec

    spec = load_spec(study)
    executor = make_executor(in_process, workers, scheduler, dask_local)
    with executor:
        if executor.dashboard_link:
            console.print(f"Dask dashboard: {executor.dashboard_link}", highlight=False)

        def started(ex, n_tasks: int, n_to_run: int) -> None:
            error_console.print(
                f"{spec.name}: {n_tasks} tasks, {n_tasks - n_to_run} already done, "
                f"{n_to_run} to run on {ex.describe()}",
                highlight=False,
            )

        with progress_bar("tasks", transient=False) as progress:
            result = run_study(spec, db, executor=executor, force=force, progress=progress, on_start=started)
    console.print(
        f"run {result.run_id}: {result.done} done, {result.skipped} skipped, {len(result.failed)} failed "
        f"of {result.n_tasks} tasks in {result.seconds:.1f} s; {result.n_values} values written to {result.store_url}",
        highlight=False,
    )
    if result.csv is not None:
        console.print(f"measurements: {result.csv}", highlight=False)
    if result.failed:
        console.print(
            f"see the errors with: imagebio status {result.run_id} --db '{result.store_url}'", highlight=False
        )
        raise typer.Exit(1)
