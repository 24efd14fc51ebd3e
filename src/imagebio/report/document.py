"""A report as data — sections of text, tables, figures and "not available" notes — rendered to HTML or PDF.

HTML: one self-contained file from the Jinja2 template ``templates/report.html.j2`` (CSS inline, figures as
base64 PNG). PDF: the same sections drawn page by page with matplotlib's ``PdfPages`` (text and tables as
matplotlib text/table artists, one page per figure), so no HTML engine or system library is needed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from typing import Any

__all__ = ["Item", "Report", "Section", "format_value", "not_available", "render_html", "write_pdf"]

NOT_AVAILABLE = "not available"


def format_value(value: Any) -> str:
    """Display text of a stored value: 6 significant digits, ``not available`` for missing/NaN."""
    if value is None:
        return NOT_AVAILABLE
    if isinstance(value, float):
        if math.isnan(value):
            return NOT_AVAILABLE
        return f"{value:.6g}"
    return str(value)


@dataclasses.dataclass
class Item:
    """One element of a section: ``kind`` is ``text``, ``pre``, ``table``, ``figure``, ``list`` or ``na``."""

    kind: str
    text: str = ""
    columns: Sequence[str] = ()
    rows: Sequence[Sequence[Any]] = ()
    figure: Any = None
    png: str = ""
    items: Sequence[str] = ()

    @property
    def cells(self) -> list[list[tuple[str, str]]]:
        """Table rows as (display text, exact value) pairs: the exact value goes to ``data-value``."""
        out = []
        for row in self.rows:
            out.append([(format_value(v), repr(v) if isinstance(v, float) else str(v)) for v in row])
        return out


def not_available(reason: str) -> Item:
    """A clearly marked missing result (never an empty plot)."""
    return Item("na", text=f"{NOT_AVAILABLE}: {reason}")


@dataclasses.dataclass
class Section:
    title: str
    items: list[Item] = dataclasses.field(default_factory=list)
    anchor: str = ""


@dataclasses.dataclass
class Report:
    title: str
    subtitle: str
    sections: list[Section]
    software_version: str = ""
    generated_at: str = dataclasses.field(
        default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    )

    def figures(self) -> list[tuple[str, Any]]:
        return [(item.text, item.figure) for s in self.sections for item in s.items if item.kind == "figure"]


def render_html(report: Report) -> str:
    """The report as one self-contained HTML document (figures embedded as base64 PNG)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    from imagebio.report.figures import to_base64_png

    for section in report.sections:
        for item in section.items:
            if item.kind == "figure" and not item.png:
                item.png = to_base64_png(item.figure)
    env = Environment(
        loader=PackageLoader("imagebio.report", "templates"), autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True, lstrip_blocks=True,
    )
    return env.get_template("report.html.j2").render(report=report)


def _text_page(pdf, title: str, lines: list[str]) -> None:
    from imagebio.report.figures import figure

    fig = figure((8.27, 11.69))
    fig.text(0.06, 0.96, title, fontsize=14, weight="bold", va="top")
    y = 0.92
    for line in lines:
        fig.text(0.06, y, line, fontsize=8, va="top", family="monospace")
        y -= 0.016
        if y < 0.04:
            pdf.savefig(fig)
            fig = figure((8.27, 11.69))
            y = 0.96
    pdf.savefig(fig)


def _table_lines(item: Item, width: int = 100) -> list[str]:
    """A table as fixed-width text; too wide a table becomes one wrapped ``column = value`` line per row."""
    columns = [str(c) for c in item.columns]
    rows = [[format_value(v) for v in row] for row in item.rows]
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(columns)]
    if sum(widths) + 2 * len(widths) <= width:
        def fmt(cells):
            return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths))
        return [fmt(columns), "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)]
    lines = []
    for row in rows:
        text = f"{columns[0]} {row[0]}: " + "; ".join(f"{c} = {v}" for c, v in zip(columns[1:], row[1:]))
        lines.extend(_wrap(text, width, indent="    "))
    return lines


def write_pdf(report: Report, path: str | PathLike) -> Path:
    """Write the report as a multi-page PDF (matplotlib PdfPages): text/tables pages, then one page per figure.

    Returns
    -------
    pathlib.Path
        The PDF file. ``Report.figures()`` lists the figures drawn, in page order after the text pages.
    """
    from matplotlib.backends.backend_pdf import PdfPages

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with PdfPages(path, metadata={"Title": report.title, "Creator": f"imagebio {report.software_version}"}) as pdf:
        lines = [report.subtitle, f"generated {report.generated_at} by imagebio {report.software_version}", ""]
        for section in report.sections:
            lines.append(f"== {section.title}")
            for item in section.items:
                if item.kind in ("text", "na"):
                    lines.extend(_wrap(item.text))
                elif item.kind == "pre":
                    for raw in item.text.splitlines():
                        lines.extend(_wrap(raw))
                elif item.kind == "list":
                    lines.extend(f"  - {t}" for t in item.items)
                elif item.kind == "table":
                    if item.text:
                        lines.append(item.text)
                    lines.extend(_table_lines(item))
                elif item.kind == "figure":
                    lines.extend(_wrap(f"[figure: {item.text}]", indent="    "))
            lines.append("")
        _text_page(pdf, report.title, lines)
        for caption, fig in report.figures():
            if caption and not fig.texts:
                fig.suptitle(caption, fontsize=8)
            pdf.savefig(fig)
    return path


def _wrap(text: str, width: int = 100, indent: str = "") -> list[str]:
    import textwrap

    return textwrap.wrap(text, width, subsequent_indent=indent) or [""]
