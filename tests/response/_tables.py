"""Small builders of lesion tables for the response tests."""

from __future__ import annotations

import pandas as pd

from imagebio.response.table import read_lesion_table

COLUMNS = [
    "subject",
    "timepoint",
    "lesion_id",
    "organ",
    "role",
    "is_lymph_node",
    "longest_diameter_mm",
    "short_axis_mm",
    "status",
]


def lesion(
    date, lesion_id, ld=None, sa=None, *, organ="liver", role="target", node=False, status="", subject="S1", **extra
):
    row = dict(
        subject=subject,
        timepoint=date,
        lesion_id=lesion_id,
        organ=organ,
        role=role,
        is_lymph_node=node,
        longest_diameter_mm=ld,
        short_axis_mm=sa,
        status=status,
    )
    row.update(extra)
    return row


def table(*rows) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows))
    for column in COLUMNS:
        if column not in frame:
            frame[column] = None
    return read_lesion_table(frame.astype(object).where(frame.notna(), ""))


def categories(response) -> list[str]:
    """Follow-up categories of a PatientResponse (baseline left out)."""
    return [a.category for a in response.timepoints[1:]]
