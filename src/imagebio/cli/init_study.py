"""`imagebio init-study [PATH]`: write a commented example study spec."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from imagebio.cli._console import console


def app(
    path: Annotated[Path, typer.Argument(help="Where to write the spec.")] = Path("study.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented example study spec (lesion biomarkers, CT radiomics, PET metrics of the digital cohort)."""
    from importlib import resources

    from imagebio.errors import InvalidParameterError

    if path.exists() and not force:
        raise InvalidParameterError("PATH", str(path), "a file that does not exist yet (or --force to overwrite)")
    text = (resources.files("imagebio.pipeline") / "templates" / "study_example.yaml").read_text(encoding="utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    console.print(f"wrote {path}; edit it, then: imagebio run {path}", highlight=False)
