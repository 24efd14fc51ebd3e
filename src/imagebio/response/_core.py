"""Pieces shared by the response-criteria engines: the Assessment record, exact arithmetic, the
per-patient time series, back-dating revisions and the best-overall-response logic.

Rule numbers refer to the project's rule sheet ``docs/response-criteria.md``; the rules themselves come from
Eisenhauer EA et al., Eur J Cancer 2009;45:228-247 (RECIST 1.1, section 4.4 and table 3) unless stated.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from imagebio.errors import InvalidParameterError

__all__ = ["Assessment", "PatientResponse", "Scale", "best_overall_response", "exact"]


@dataclasses.dataclass
class Assessment:
    """The response at one time point (or the best overall response when ``timepoint == "best"``).

    Attributes
    ----------
    timepoint : pandas.Timestamp or str
        Scan date, or ``"best"``.
    category : str
        Category in the criterion's own vocabulary (``CR``, ``PR``, ``iUPD``, ``PMR`` ...; ``baseline`` for the
        baseline scan).
    reasons : list of str
        Which rules fired, on which numbers, in words (with the rule-sheet rule numbers).
    numbers : dict
        The numbers the decision used (sums in mm, changes in %, SUL ...), JSON-serialisable.
    revised_from : str or None
        The category first given to this time point when a later one revised it (e.g. an equivocal new
        lesion confirmed later makes PD date back here).
    """

    timepoint: Any
    category: str
    reasons: list[str] = dataclasses.field(default_factory=list)
    numbers: dict[str, Any] = dataclasses.field(default_factory=dict)
    revised_from: str | None = None

    @property
    def reason(self) -> str:
        """The reasons joined into one line."""
        return "; ".join(self.reasons)

    def revise(self, category: str, why: str) -> None:
        """Change the category because of a later time point, keeping the original and saying why."""
        if category == self.category:
            return
        if self.revised_from is None:
            self.revised_from = self.category
        self.category = category
        self.reasons.append(why)


@dataclasses.dataclass
class PatientResponse:
    """One patient's assessments: ``timepoints`` (baseline first) and ``best`` (the BOR)."""

    subject: str
    criteria: str
    timepoints: list[Assessment]
    best: Assessment
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per time point plus the ``best`` row: subject, timepoint, category, reason, revised_from."""
        rows = []
        for a in [*self.timepoints, self.best]:
            tp = a.timepoint if isinstance(a.timepoint, str) else pd.Timestamp(a.timepoint).date().isoformat()
            rows.append(
                {
                    "subject": self.subject,
                    "timepoint": tp,
                    "criteria": self.criteria,
                    "category": a.category,
                    "reason": a.reason,
                    "revised_from": a.revised_from or "",
                    "numbers": dict(a.numbers),
                }
            )
        return pd.DataFrame(rows)


def exact(value_mm: float) -> Fraction:
    """A measurement as an exact rational (rule G1): the decimal the reader wrote, not its binary float.

    ``Fraction(str(12.3)) == Fraction(123, 10)``, so 70 % of a sum is compared without rounding error.
    """
    if value_mm is None or (isinstance(value_mm, float) and np.isnan(value_mm)):
        raise InvalidParameterError("measurement", value_mm, "a number")
    return Fraction(str(float(value_mm)))


def percent(change: Fraction, reference: Fraction) -> float | None:
    """Percent change as a float for reporting (the decisions use exact fractions)."""
    if reference == 0:
        return None
    return round(float(change / reference * 100), 4)


def mm(value: Fraction | None) -> float | None:
    return None if value is None else round(float(value), 4)


def visits(patient: pd.DataFrame) -> list[tuple[pd.Timestamp, pd.DataFrame]]:
    """The patient's scans in time order: (date, rows of that date indexed by lesion_id)."""
    out = []
    for date, rows in patient.groupby("timepoint", sort=True):
        out.append((pd.Timestamp(date), rows.set_index("lesion_id", drop=False)))
    return out


def day(date: Any) -> str:
    return pd.Timestamp(date).date().isoformat()


def days_between(later: Any, earlier: Any) -> int:
    return int((pd.Timestamp(later) - pd.Timestamp(earlier)).days)


def first_value(rows: pd.DataFrame, column: str) -> float | None:
    """The first non-missing value of a per-time-point column (liver SUL, steroid dose ...)."""
    values = rows[column].dropna() if column in rows else pd.Series(dtype=float)
    values = values[values.astype(str) != ""]
    return None if values.empty else values.iloc[0]


def _unequivocal(row) -> bool:
    return row.status in ("present", "too_small", "unequivocal_progression")


def backdate_confirmed_new_lesions(
    assessments: Sequence[Assessment],
    visit_rows: Sequence[pd.DataFrame],
    progression: str,
    rule: str,
    is_unequivocal=None,
) -> None:
    """Revise earlier time points when an equivocal new lesion is confirmed later (RECIST 1.1 rule 21).

    ``assessments[k]`` and ``visit_rows[k]`` are the same follow-up scan. For each ``new`` lesion first seen
    as ``equivocal`` and later seen as unequivocal, every time point from its first appearance up to the
    confirming scan becomes ``progression`` (the PD date is the date it was first seen).
    """
    if is_unequivocal is None:
        is_unequivocal = _unequivocal
    first_seen: dict[str, int] = {}
    for k, rows in enumerate(visit_rows):
        for lid, row in rows[rows["role"] == "new"].iterrows():
            if row.status == "equivocal" and lid not in first_seen:
                first_seen[lid] = k
            elif is_unequivocal(row) and lid in first_seen:
                start = first_seen.pop(lid)
                confirmed = assessments[k].timepoint
                for j in range(start, k):
                    assessments[j].revise(
                        progression,
                        f"revised to {progression}: equivocal new lesion {lid} first seen "
                        f"{day(assessments[start].timepoint)} "
                        f"was confirmed on {day(confirmed)}, so progression dates from its first appearance ({rule})",
                    )
            elif is_unequivocal(row):
                first_seen.pop(lid, None)


@dataclasses.dataclass(frozen=True)
class Scale:
    """A criterion's vocabulary for the best-overall-response logic.

    ``responses`` best first (need confirmation when asked), ``stable`` categories (need the minimum
    duration; the first is used for a response that was not confirmed), ``progression``, ``not_evaluable``.
    """

    responses: tuple[str, ...] = ("CR", "PR")
    stable: tuple[str, ...] = ("SD", "Non-CR/Non-PD")
    progression: tuple[str, ...] = ("PD",)
    not_evaluable: str = "NE"


RECIST_SCALE = Scale()


def best_overall_response(
    assessments: Iterable[Assessment],
    baseline_date: Any,
    *,
    confirm: bool = False,
    min_confirmation_days: int = 28,
    min_sd_days: int = 42,
    scale: Scale = RECIST_SCALE,
    rule: str = "RECIST 1.1 rules 25-27",
) -> Assessment:
    """Best overall response over the follow-up time points (RECIST 1.1 section 4.4, table 3; rules 25-27).

    Time points after the first progression are not considered. A response (CR, PR ...) counts as itself
    without confirmation; with ``confirm`` it needs a later response at least ``min_confirmation_days``
    after it, with only responses or NE in between, and the confirmed level is the worse of the two (PR then
    CR is PR). A response that is not confirmed, and any stable category, counts as stable only if seen at
    least ``min_sd_days`` after baseline (rule 26); otherwise the BOR is PD if progression follows, else NE.

    Parameters
    ----------
    assessments : iterable of Assessment
        Follow-up time points in time order (no baseline row).
    baseline_date : date-like
        Date of the baseline scan, taken as study entry for the SD duration.
    confirm : bool
        Whether CR/PR need confirmation (non-randomised trials with response as primary end point, rule 25).
    min_confirmation_days, min_sd_days : int
        Days (protocol settings; 28 and 42 by default).
    """
    follow = [a for a in assessments if a.category != "baseline"]
    cut = next((k for k, a in enumerate(follow) if a.category in scale.progression), None)
    considered = follow if cut is None else follow[:cut]
    rank = {c: i for i, c in enumerate(scale.responses)}
    numbers: dict[str, Any] = {
        "confirm": confirm,
        "min_confirmation_days": min_confirmation_days,
        "min_sd_days": min_sd_days,
    }
    best: tuple[int, str] | None = None
    for i, a in enumerate(considered):
        if a.category not in rank:
            continue
        if not confirm:
            candidate = (rank[a.category], f"{a.category} on {day(a.timepoint)} (no confirmation required)")
        else:
            candidate = None
            for b in considered[i + 1 :]:
                if b.category not in rank and b.category != scale.not_evaluable:
                    break
                if b.category in rank and days_between(b.timepoint, a.timepoint) >= min_confirmation_days:
                    level = max(rank[a.category], rank[b.category])
                    candidate = (
                        level,
                        f"{a.category} on {day(a.timepoint)} confirmed by {b.category} on {day(b.timepoint)} "
                        f"({days_between(b.timepoint, a.timepoint)} d >= {min_confirmation_days} d)",
                    )
                    break
        if candidate is not None and (best is None or candidate[0] < best[0]):
            best = candidate
    if best is not None:
        return Assessment("best", scale.responses[best[0]], [f"{best[1]} ({rule})"], numbers)

    stable_seen = [
        a
        for a in considered
        if (a.category in rank or a.category in scale.stable)
        and days_between(a.timepoint, baseline_date) >= min_sd_days
    ]
    if stable_seen:
        a = stable_seen[0]
        label = a.category if a.category in scale.stable else scale.stable[0]
        if any(s.category == scale.stable[0] or s.category in rank for s in stable_seen):
            label = scale.stable[0]
        why = (
            f"{a.category} on {day(a.timepoint)}, {days_between(a.timepoint, baseline_date)} d after "
            f"baseline >= {min_sd_days} d"
        )
        if a.category in rank:
            why += " (response not confirmed, counted as stable)"
        return Assessment("best", label, [f"{why} ({rule})"], numbers)
    if cut is not None:
        a = follow[cut]
        why = f"{a.category} on {day(a.timepoint)} with no earlier qualifying response or stable disease"
        return Assessment("best", a.category, [f"{why} ({rule})"], numbers)
    if considered:
        return Assessment(
            "best",
            scale.not_evaluable,
            [f"no response and no stable disease lasting >= {min_sd_days} d ({rule})"],
            numbers,
        )
    return Assessment("best", scale.not_evaluable, [f"no follow-up time point ({rule})"], numbers)
