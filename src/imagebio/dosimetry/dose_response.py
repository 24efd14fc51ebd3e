"""Heterogeneous response to radionuclide therapy: per-lesion absorbed dose joined with per-lesion response.

The response side is a lesion table in the format of :mod:`imagebio.response.table` (one row per lesion per
time point); each lesion's response is the relative change of a size measure from baseline (the subject's
earliest time point) to its last follow-up: ``volume_ml`` when both are recorded, else the longest diameter
(short axis for lymph nodes, RECIST 1.1). Lesions scored ``absent`` count as −100 %.

Reference: Strigari L et al. The evidence base for the use of internal dosimetry in the clinical practice of
molecular radiotherapy. Eur J Nucl Med Mol Imaging 2014;41:1976-1988 (dose-response in radionuclide therapy).
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from pathlib import Path

import numpy as np

from imagebio.errors import InvalidParameterError, UnsupportedDataError

__all__ = ["dose_response_table", "plot_dose_response"]


def _size(row, metric: str) -> float:
    if row["status"] == "absent":
        return 0.0
    if metric == "volume_ml":
        return float(row["volume_ml"])
    return float(row["short_axis_mm"] if row["is_lymph_node"] else row["longest_diameter_mm"])


def dose_response_table(lesion_doses_gy: Mapping[str, float], lesion_table, subject: str | None = None):
    """One row per lesion: absorbed dose (Gy), baseline and follow-up size, relative change (%).

    Parameters
    ----------
    lesion_doses_gy : mapping
        ``{lesion_id: mean absorbed dose (Gy)}`` (e.g. from a dosimetry result's lesion rows).
    lesion_table : path or pandas.DataFrame
        Lesion table (:func:`imagebio.response.table.read_lesion_table` format).
    subject : str, optional
        The subject to use when the table holds several.

    Returns
    -------
    pandas.DataFrame
        Columns ``lesion_id, dose_gy, metric, baseline, followup, percent_change, days``; lesions without a
        dose or without a follow-up are left out.
    """
    import pandas as pd

    try:
        from imagebio.response.table import read_lesion_table
    except ImportError as exc:  # pragma: no cover - the response room ships with imagebio
        raise UnsupportedDataError("imagebio.response is not available for the lesion table") from exc
    table = read_lesion_table(lesion_table)
    subjects = sorted(table["subject"].unique())
    if subject is None:
        if len(subjects) != 1:
            raise InvalidParameterError("subject", None, f"one of {subjects} (the table holds several)")
        subject = subjects[0]
    if subject not in subjects:
        raise InvalidParameterError("subject", subject, f"one of {subjects}")
    rows = table[table["subject"] == subject]
    baseline_date = rows["timepoint"].min()
    out = []
    for lesion_id, dose in lesion_doses_gy.items():
        lesion = rows[rows["lesion_id"] == str(lesion_id)].sort_values("timepoint")
        if lesion.empty or lesion["timepoint"].iloc[0] != baseline_date or len(lesion) < 2:
            continue
        first, last = lesion.iloc[0], lesion.iloc[-1]
        metric = "volume_ml" if np.isfinite(first["volume_ml"]) and (
            np.isfinite(last["volume_ml"]) or last["status"] == "absent") else "diameter_mm"
        before, after = _size(first, metric), _size(last, metric)
        if not (np.isfinite(before) and before > 0 and np.isfinite(after)):
            continue
        out.append({"lesion_id": str(lesion_id), "dose_gy": float(dose), "metric": metric, "baseline": before,
                    "followup": after, "percent_change": 100.0 * (after / before - 1.0),
                    "days": int((last["timepoint"] - first["timepoint"]).days)})
    return pd.DataFrame(out, columns=["lesion_id", "dose_gy", "metric", "baseline", "followup", "percent_change",
                                      "days"])


def plot_dose_response(table, path: str | PathLike) -> Path:
    """Scatter of relative size change (%) against absorbed dose (Gy), Spearman ρ in the title; PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import spearmanr

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    ax.scatter(table["dose_gy"], table["percent_change"])
    for _, r in table.iterrows():
        ax.annotate(r["lesion_id"], (r["dose_gy"], r["percent_change"]), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")
    ax.axhline(0.0, color="grey", lw=0.8)
    title = "Per-lesion dose-response"
    if len(table) >= 3:
        rho = spearmanr(table["dose_gy"], table["percent_change"]).statistic
        title += f" (Spearman ρ = {rho:.2f}, n = {len(table)})"
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("mean absorbed dose (Gy)")
    ax.set_ylabel("size change from baseline (%)")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
