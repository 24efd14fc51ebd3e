"""Per-lesion response within one patient: mixed (dissociated) response reported as such.

The sum of diameters can hide lesions that grow while others shrink. Here each measured lesion gets its own
category with the RECIST 1.1 thresholds applied to that lesion alone (Eisenhauer EA et al., Eur J Cancer
2009;45:228-247): CR at 0 mm (nodes < 10 mm short axis), PR at >= 30 % below its baseline, PD at >= 20 % and
>= 5 mm above its own nadir, SD otherwise, NE when not measured; a new lesion is ``new``. Applying the sum
thresholds per lesion is the usual definition of a mixed or dissociated response, e.g. Tazdait M et al.,
Eur J Cancer 2018;88:38-47 (iRECIST/irRECIST comparison in NSCLC, where a dissociated response is some
lesions responding while others progress).

A time point is ``mixed`` when at least one lesion responds (CR/PR) and at least one progresses (PD or new).
"""

from __future__ import annotations

from fractions import Fraction
from os import PathLike

import pandas as pd

from imagebio.response._core import exact, percent
from imagebio.response.recist11 import RecistSettings, target_value
from imagebio.response.table import read_lesion_table

__all__ = ["lesion_responses", "response_pattern"]


def lesion_responses(table: str | PathLike | pd.DataFrame, settings: RecistSettings | None = None) -> pd.DataFrame:
    """Category of every lesion at every follow-up time point.

    Parameters
    ----------
    table : path or DataFrame
        A lesion table (:mod:`imagebio.response.table`); all subjects.
    settings : RecistSettings, optional
        Thresholds (``pr_change``, ``pd_change``, ``pd_absolute_mm``, ``too_small_mm``).

    Returns
    -------
    pandas.DataFrame
        Columns ``subject, timepoint, lesion_id, organ, role, value_mm, change_from_baseline_pct,
        change_from_nadir_pct, category`` (non-nodal lesions by LD, nodes by short axis). Non-targets without
        diameters are categorised from their status (absent: CR; unequivocal_progression: PD; otherwise
        ``not measured``).
    """
    s = settings or RecistSettings()
    frame = read_lesion_table(table)
    rows = []
    for subject, patient in frame.groupby("subject", sort=True):
        baseline_date = patient["timepoint"].min()
        history: dict[str, list[Fraction]] = {}
        for date, visit in patient.groupby("timepoint", sort=True):
            for _, row in visit.iterrows():
                node = bool(row.is_lymph_node)
                value, _ = target_value(row, node, "diameter", s)
                record = {
                    "subject": subject,
                    "timepoint": pd.Timestamp(date).date().isoformat(),
                    "lesion_id": row.lesion_id,
                    "organ": row.organ,
                    "role": row.role,
                    "value_mm": None if value is None else float(value),
                    "change_from_baseline_pct": None,
                    "change_from_nadir_pct": None,
                }
                if date == baseline_date:
                    if value is not None:
                        history[row.lesion_id] = [value]
                    continue
                if row.role == "new":
                    category = (
                        "new"
                        if row.status in ("present", "too_small", "unequivocal_progression")
                        else ("equivocal new" if row.status == "equivocal" else "NE")
                    )
                elif row.role == "non_target" and value is None and row.status != "not_evaluated":
                    # A non-target followed by status only: gone, progressing (reader) or present unmeasured.
                    category = {"absent": "CR", "unequivocal_progression": "PD"}.get(row.status, "not measured")
                elif row.lesion_id not in history or value is None:
                    category = "NE"
                else:
                    base, nadir = history[row.lesion_id][0], min(history[row.lesion_id])
                    record["change_from_baseline_pct"] = percent(value - base, base)
                    record["change_from_nadir_pct"] = percent(value - nadir, nadir)
                    growth = value - nadir
                    if (node and value < 10) or (not node and value == 0):
                        category = "CR"
                    elif (
                        growth > 0
                        and growth >= exact(s.pd_change) * nadir
                        and (s.pd_absolute_mm is None or growth >= exact(s.pd_absolute_mm))
                    ):
                        category = "PD"
                    elif base > 0 and value - base <= exact(s.pr_change) * base:
                        category = "PR"
                    else:
                        category = "SD"
                    history[row.lesion_id].append(value)
                record["category"] = category
                rows.append(record)
    columns = [
        "subject",
        "timepoint",
        "lesion_id",
        "organ",
        "role",
        "value_mm",
        "change_from_baseline_pct",
        "change_from_nadir_pct",
        "category",
    ]
    return pd.DataFrame(rows, columns=columns)


def response_pattern(lesions: pd.DataFrame) -> pd.DataFrame:
    """Summarise :func:`lesion_responses` per subject and time point.

    Returns
    -------
    pandas.DataFrame
        ``subject, timepoint, n_responding, n_stable, n_progressing, n_new, pattern`` where ``pattern`` is
        ``mixed`` (some lesions respond, others progress or are new), ``response``, ``progression``,
        ``stable`` or ``not evaluable``.
    """
    out = []
    for (subject, tp), group in lesions.groupby(["subject", "timepoint"], sort=True):
        cats = group["category"]
        responding = int(cats.isin(["CR", "PR"]).sum())
        progressing = int((cats == "PD").sum())
        new = int((cats == "new").sum())
        stable = int((cats == "SD").sum())
        if responding and (progressing or new):
            pattern = "mixed"
        elif progressing or new:
            pattern = "progression"
        elif responding:
            pattern = "response"
        elif stable:
            pattern = "stable"
        else:
            pattern = "not evaluable"
        out.append(
            {
                "subject": subject,
                "timepoint": tp,
                "n_responding": responding,
                "n_stable": stable,
                "n_progressing": progressing,
                "n_new": new,
                "pattern": pattern,
            }
        )
    return pd.DataFrame(out)
