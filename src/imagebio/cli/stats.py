"""``imagebio stats``: biomarker validation statistics on plain tables (agreement: ICC, wSD, wCV, RC, CCC, BA)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Biomarker validation statistics on tables (repeatability and agreement).",
                  no_args_is_help=True)

#: Keys of ``imagebio stats agreement --json``, in this order (issue 8).
AGREEMENT_KEYS = ("icc2_1", "icc2_1_ci", "icc3_1", "icc3_1_ci", "wsd", "wcv", "rc", "ccc", "ba_bias", "ba_loa")


@app.command("agreement")
def agreement(
    table: Annotated[Path, typer.Argument(help="Long CSV table: one row per subject × rater (or repeat).",
                                          exists=True, dir_okay=False)],
    subject: Annotated[str, typer.Option("--subject", help="Column naming the subject.")],
    rater: Annotated[str, typer.Option("--rater", help="Column naming the rater, repeat or method.")],
    value: Annotated[str, typer.Option("--value", help="Column of the measured values.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object with the keys "
                                              + ", ".join(AGREEMENT_KEYS) + ".")] = False,
    confidence: Annotated[float, typer.Option("--confidence", help="Level of the ICC confidence intervals.",
                                              min=0.5, max=0.999)] = 0.95,
) -> None:
    """ICC(2,1) and ICC(3,1) with CIs, within-subject SD and CV, repeatability coefficient, CCC and (two raters)
    Bland–Altman bias and limits of agreement of a long table."""
    import json

    import pandas as pd

    from imagebio.cli._console import console
    from imagebio.errors import InvalidParameterError
    from imagebio.stats.agreement import agreement_table

    try:
        frame = pd.read_csv(table, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InvalidParameterError("TABLE", str(table), f"a CSV table with a header row ({exc})") from None
    result = agreement_table(frame, subject, rater, value, confidence=confidence)
    if json_output:
        typer.echo(json.dumps({key: result[key] for key in AGREEMENT_KEYS}))
        return
    from rich.table import Table

    shown = Table(title=f"Agreement of {value!r}: {result['n_subjects']} subjects × {result['n_raters']} "
                        f"{rater} ({', '.join(map(str, result['raters']))})")
    shown.add_column("statistic")
    shown.add_column("value", justify="right")
    shown.add_column(f"{confidence:.0%} CI / note")
    shown.add_row("ICC(2,1) absolute agreement", _fmt(result["icc2_1"]), _ci(result["icc2_1_ci"]))
    shown.add_row("ICC(3,1) consistency", _fmt(result["icc3_1"]), _ci(result["icc3_1_ci"]))
    shown.add_row("within-subject SD", _fmt(result["wsd"]), "value unit")
    shown.add_row("within-subject CV", _fmt(result["wcv"]), "fraction" if result["wcv"] is not None
                  else "undefined (a subject mean ≤ 0)")
    shown.add_row("repeatability coefficient", _fmt(result["rc"]), "2.77 × wSD")
    shown.add_row("concordance correlation", _fmt(result["ccc"]), "Lin / overall CCC")
    if result["ba_bias"] is not None:
        first, second = result["raters"]
        shown.add_row("Bland–Altman bias", _fmt(result["ba_bias"]), f"{first} − {second}")
        shown.add_row("Bland–Altman limits", _ci(result["ba_loa"]), "bias ± 1.96 SD")
    else:
        shown.add_row("Bland–Altman", "", "needs exactly two raters")
    console.print(shown)


def _fmt(value) -> str:
    return "" if value is None else f"{value:.6g}"


def _ci(pair) -> str:
    return "" if pair is None else f"[{pair[0]:.6g}, {pair[1]:.6g}]"
