"""Waterfall, spider and swimmer plots of treatment response (matplotlib, imported inside the functions).

Each function takes plain data (or the frame returned by :func:`imagebio.response.assess`, through
:func:`plot_data`) and returns a ``matplotlib.figure.Figure``; with ``path`` it also writes it (PNG or SVG,
from the suffix). No pyplot state is used, so the functions are safe in scripts and servers.

* Waterfall: the best (lowest) percent change of the target sum from baseline per patient, sorted, coloured by
  best overall response, with the RECIST +20 % / -30 % lines.
* Spider: percent change from baseline over time, one line per patient.
* Swimmer: one bar per patient from baseline to the last scan, with markers at each time point's category.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from os import PathLike

import pandas as pd

from imagebio.errors import InvalidParameterError

__all__ = ["CATEGORY_COLOURS", "plot_data", "spider_plot", "swimmer_plot", "waterfall_plot", "write_response_plots"]

#: Colour per category (RECIST-style names and their analogues in other criteria).
CATEGORY_COLOURS: dict[str, str] = {
    "CR": "#1a9850",
    "iCR": "#1a9850",
    "CMR": "#1a9850",
    "PR": "#91cf60",
    "iPR": "#91cf60",
    "PMR": "#91cf60",
    "MR": "#d9ef8b",
    "SD": "#fee08b",
    "iSD": "#fee08b",
    "SMD": "#fee08b",
    "NMR": "#fee08b",
    "Non-CR/Non-PD": "#fee08b",
    "PD": "#d73027",
    "iCPD": "#d73027",
    "PMD": "#d73027",
    "iUPD": "#fc8d59",
    "pPD": "#fc8d59",
    "NE": "#bdbdbd",
}


def plot_data(assessment: pd.DataFrame) -> pd.DataFrame:
    """Per subject and follow-up time point: ``subject, day, change_pct, category, best`` from an assess() frame.

    ``change_pct`` is the change of the target sum from baseline (``change_from_baseline_pct`` of the
    numbers; NaN when not evaluable), ``day`` the days since baseline, ``best`` the subject's BOR.
    """
    needed = {"subject", "timepoint", "category", "numbers"}
    if not needed <= set(assessment.columns):
        raise InvalidParameterError(
            "assessment", sorted(assessment.columns), f"an assess() frame with {sorted(needed)}"
        )
    rows = []
    for subject, group in assessment.groupby("subject", sort=True):
        best = group.loc[group["timepoint"] == "best", "category"]
        dated = group[group["timepoint"] != "best"].copy()
        dated["date"] = pd.to_datetime(dated["timepoint"])
        start = dated["date"].min()
        for _, row in dated.iterrows():
            if row.category == "baseline":
                continue
            numbers = json.loads(row.numbers) if isinstance(row.numbers, str) else dict(row.numbers)
            rows.append(
                {
                    "subject": subject,
                    "day": int((row.date - start).days),
                    "change_pct": numbers.get("change_from_baseline_pct"),
                    "category": row.category,
                    "best": best.iloc[0] if len(best) else "NE",
                }
            )
    return pd.DataFrame(rows, columns=["subject", "day", "change_pct", "category", "best"])


def _figure(size):
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="constrained")


def _save(fig, path):
    if path is not None:
        fig.savefig(path)
    return fig


def waterfall_plot(
    best_change_pct: Mapping[str, float],
    categories: Mapping[str, str],
    path: str | PathLike | None = None,
    title: str = "",
):
    """Waterfall plot: one bar per patient, best % change from baseline (sorted), coloured by category."""
    items = sorted(((float(v), k) for k, v in best_change_pct.items() if v is not None and v == v), reverse=True)
    fig = _figure((max(4.0, 0.35 * len(items) + 2), 4))
    ax = fig.add_subplot()
    for i, (value, subject) in enumerate(items):
        cat = categories.get(subject, "NE")
        ax.bar(i, value, color=CATEGORY_COLOURS.get(cat, "#969696"), label=cat)
    ax.axhline(20, ls="--", lw=0.8, color="k")
    ax.axhline(-30, ls="--", lw=0.8, color="k")
    ax.axhline(0, lw=0.8, color="k")
    ax.set_xticks(range(len(items)), [s for _, s in items], rotation=90, fontsize=7)
    ax.set_ylabel("best change of target sum from baseline (%)")
    # One legend entry per category: ax.bar labels its BarContainer, not the patches.
    handles = {c.get_label(): c for c in ax.containers}
    if handles:
        ax.legend(handles.values(), handles.keys(), fontsize=7)
    ax.set_title(title or "Waterfall plot")
    return _save(fig, path)


def spider_plot(data: pd.DataFrame, path: str | PathLike | None = None, title: str = ""):
    """Spider plot: % change from baseline over days since baseline, one line per patient (``plot_data`` frame)."""
    fig = _figure((6, 4))
    ax = fig.add_subplot()
    for subject, group in data.groupby("subject", sort=True):
        group = group.dropna(subset=["change_pct"]).sort_values("day")
        best = group["best"].iloc[0] if len(group) else "NE"
        ax.plot(
            [0, *group["day"]],
            [0.0, *group["change_pct"]],
            marker="o",
            ms=3,
            lw=1,
            color=CATEGORY_COLOURS.get(best, "#969696"),
            label=subject,
        )
    ax.axhline(20, ls="--", lw=0.8, color="k")
    ax.axhline(-30, ls="--", lw=0.8, color="k")
    ax.set_xlabel("days since baseline")
    ax.set_ylabel("change of target sum (%)")
    ax.set_title(title or "Spider plot")
    return _save(fig, path)


def swimmer_plot(data: pd.DataFrame, path: str | PathLike | None = None, title: str = ""):
    """Swimmer plot: a bar per patient to the last scan, a marker per time point coloured by its category."""
    subjects = sorted(data["subject"].unique(), key=lambda s: data.loc[data.subject == s, "day"].max())
    fig = _figure((6, max(2.5, 0.3 * len(subjects) + 1)))
    ax = fig.add_subplot()
    for i, subject in enumerate(subjects):
        group = data[data.subject == subject]
        ax.barh(i, group["day"].max(), color="#d9d9d9", height=0.6)
        for _, row in group.iterrows():
            ax.plot(row.day, i, "o", ms=5, color=CATEGORY_COLOURS.get(row.category, "#969696"), label=row.category)
    ax.set_yticks(range(len(subjects)), subjects, fontsize=7)
    ax.set_xlabel("days since baseline")
    handles = {line.get_label(): line for line in ax.lines}
    if handles:
        ax.legend(handles.values(), handles.keys(), fontsize=7, loc="lower right")
    ax.set_title(title or "Swimmer plot")
    return _save(fig, path)


def write_response_plots(assessment: pd.DataFrame, out_dir: str | PathLike, stem: str = "response") -> list:
    """Write the waterfall and spider plots (PNG) of an :func:`imagebio.response.assess` frame.

    The waterfall bar of a patient is its best (lowest) change of the target sum from baseline over the
    follow-up scans, coloured by its best overall response; the spider plot draws every follow-up change.

    Parameters
    ----------
    assessment : pandas.DataFrame
        As returned by :func:`imagebio.response.assess`.
    out_dir : path
        Folder (created if needed).
    stem : str
        File name prefix: ``<stem>_waterfall.png`` and ``<stem>_spider.png``.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    from pathlib import Path

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    data = plot_data(assessment)
    changes = data.dropna(subset=["change_pct"])
    best_change = changes.groupby("subject")["change_pct"].min().to_dict()
    categories = data.groupby("subject")["best"].first().to_dict()
    waterfall = folder / f"{stem}_waterfall.png"
    spider = folder / f"{stem}_spider.png"
    waterfall_plot(best_change, categories, waterfall)
    spider_plot(data, spider)
    return [waterfall, spider]
