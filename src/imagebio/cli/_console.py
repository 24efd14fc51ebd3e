"""Shared console, progress bar and table helpers for the CLI (rich)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(soft_wrap=True)  # plain lines are never folded; tables keep their width
error_console = Console(stderr=True, soft_wrap=True)  # one error, one line


@contextlib.contextmanager
def progress_bar(description: str, transient: bool = True) -> Iterator:
    """A rich progress bar yielding a ``progress(done, total)`` callback, as the rooms accept."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=error_console, transient=transient, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
