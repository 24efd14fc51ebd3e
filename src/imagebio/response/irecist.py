"""iRECIST: RECIST 1.1 adapted to immunotherapy, with unconfirmed (iUPD) and confirmed (iCPD) progression.

Implements Seymour L et al., iRECIST: guidelines for response criteria for use in trials testing
immunotherapeutics, Lancet Oncol 2017;18:e143-e152 (doi:10.1016/S1470-2045(17)30074-8) and the EORTC iRECIST
FAQ; rule numbers are those of ``docs/response-criteria.md`` (rules 29-37).

Measurement, target selection, the sum and the thresholds are those of :mod:`imagebio.response.recist11`
(same settings). On top of them:

* The first time RECIST 1.1 progression is met (targets, non-targets or new lesions) the time point is
  **iUPD** (rule 31). The categories that progressed are remembered.
* A scan at least ``min_confirmation_days`` (28) after the iUPD confirms it as **iCPD** (rule 33) when
  (a) the targets triggered it and their sum rose a further >= 5 mm over the reference iUPD sum;
  (b) non-targets triggered it and any non-target grew further: a larger ``longest_diameter_mm`` than at the
  iUPD or, without diameters, the reader marking ``unequivocal_progression`` again. A non-target that
  progressed stays progressed at later scans (keeping the iUPD) until it is gone or smaller than at the iUPD;
  (c) new lesions triggered it and the new-lesion-target (NLT) sum rose >= 5 mm, a new-lesion non-target
  (NLNT) grew, or there are more new lesions; (d) a category that had not progressed now meets RECIST PD.
  The reference iUPD is the first one (``iupd_reference="first"``) or the latest (``"last"``).
* Otherwise, while RECIST progression persists, the time point stays iUPD (rule 34); when it no longer does
  (iSD, iPR, iCR against baseline and nadir), the iUPD is dropped (**reset**, rule 35) and a later progression
  must be iUPD and confirmed again. The nadir stays the smallest evaluable sum.
* New lesions are split by RECIST measurability into NLT (<= 5, <= 2 per organ, their own sum, never added to
  the target sum) and NLNT (rule 30).
* iBOR (rule 37): the best of iCR > iPR > iSD > non-iCR/non-iUPD before the first iCPD (optionally confirmed);
  otherwise iCPD, otherwise iUPD if progression was never confirmed.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Any

import pandas as pd

from imagebio.errors import InvalidParameterError
from imagebio.response._core import (
    Assessment,
    PatientResponse,
    Scale,
    backdate_confirmed_new_lesions,
    best_overall_response,
    day,
    days_between,
    exact,
    mm,
)
from imagebio.response.recist11 import (
    RecistSettings,
    baseline_roles,
    evaluate_components,
    organ_key,
    overall_category,
    target_value,
)

__all__ = ["IrecistSettings", "assess_patient"]

_PREFIX = {"CR": "iCR", "PR": "iPR", "SD": "iSD", "Non-CR/Non-PD": "non-iCR/non-iUPD", "NE": "NE"}


@dataclasses.dataclass(frozen=True)
class IrecistSettings(RecistSettings):
    """RECIST 1.1 settings plus the iRECIST ones (mm, days)."""

    iupd_reference: str = "first"
    further_increase_mm: float = 5.0
    max_new_targets: int = 5
    max_new_targets_per_organ: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.iupd_reference not in ("first", "last"):
            raise InvalidParameterError("iupd_reference", self.iupd_reference, '"first" or "last"')


@dataclasses.dataclass
class _Pending:
    date: pd.Timestamp
    triggers: set[str]
    target_sum: Fraction | None
    nlt_sum: Fraction
    new_count: int
    non_target_ld: dict[str, float]
    nlnt_ld: dict[str, float]
    non_targets_progressed: tuple[str, ...] = ()


def _ld(rows: pd.DataFrame, ids) -> dict[str, float]:
    return {
        lid: float(rows.loc[lid, "longest_diameter_mm"])
        for lid in ids
        if lid in rows.index and not pd.isna(rows.loc[lid, "longest_diameter_mm"])
    }


def assess_patient(
    patient: pd.DataFrame, settings: IrecistSettings | None = None, subject: str | None = None
) -> PatientResponse:
    """iRECIST time-point responses (iCR, iPR, iSD, non-iCR/non-iUPD, iUPD, iCPD, NE) and iBOR of one patient.

    Parameters and return as :func:`imagebio.response.recist11.assess_patient`.
    """
    s = settings or IrecistSettings()
    subject = subject if subject is not None else str(patient["subject"].iloc[0])
    patient, selection = baseline_roles(patient, s, subject)
    baseline, comps = evaluate_components(patient, s, "diameter", subject)
    baseline.reasons = selection + baseline.reasons
    bl_rows = patient[patient["timepoint"] == patient["timepoint"].min()]
    non_targets = list(bl_rows.loc[bl_rows["role"] == "non_target", "lesion_id"])

    nlt: list[str] = []
    nlnt: list[str] = []
    organ_count: dict[str, int] = {}
    pending: _Pending | None = None
    confirmed = False
    follow: list[Assessment] = []
    for c in comps:
        rows = c.rows
        # New lesions are sorted into NLT / NLNT when first seen unequivocally (rule 30).
        for lid in c.new_unequivocal:
            if lid in nlt or lid in nlnt:
                continue
            row = rows.loc[lid]
            size = row.short_axis_mm if row.is_lymph_node else row.longest_diameter_mm
            limit = s.min_node_short_axis_mm if row.is_lymph_node else s.measurable_mm
            organ = organ_key(row)
            if (
                not pd.isna(size)
                and size >= limit
                and len(nlt) < s.max_new_targets
                and organ_count.get(organ, 0) < s.max_new_targets_per_organ
            ):
                nlt.append(lid)
                organ_count[organ] = organ_count.get(organ, 0) + 1
            else:
                nlnt.append(lid)
        nlt_sum = Fraction(0)
        for lid in nlt:
            if lid in rows.index:
                value, _ = target_value(rows.loc[lid], bool(rows.loc[lid, "is_lymph_node"]), "diameter", s)
                nlt_sum += value or 0
        recist, reasons = overall_category(c)
        triggers = {
            name
            for name, hit in (
                ("targets", c.target == "PD"),
                ("non-targets", c.non_target == "PD"),
                ("new lesions", bool(c.new_unequivocal)),
            )
            if hit
        }
        progressed_now = tuple(
            lid for lid in non_targets if lid in rows.index and rows.loc[lid, "status"] == "unequivocal_progression"
        )
        if pending is not None and "non-targets" in pending.triggers and "non-targets" not in triggers:
            # A non-target that progressed stays progressed until it regresses (gone, or smaller than at the
            # iUPD); the reader need not re-mark it at every scan (rule 34: no change keeps the iUPD).
            persisting = []
            for lid in pending.non_targets_progressed:
                if lid not in rows.index or rows.loc[lid, "status"] in ("absent", "not_evaluated"):
                    continue
                before = pending.non_target_ld.get(lid)
                now_ld = rows.loc[lid, "longest_diameter_mm"]
                if before is not None and not pd.isna(now_ld) and now_ld < before:
                    continue
                persisting.append(lid)
            if persisting:
                triggers.add("non-targets")
                reasons = reasons + [
                    f"non-target(s) {', '.join(persisting)} still progressed (no regression since the iUPD)"
                ]
        target_now = c.target_sum if c.target_sum is not None else c.partial_sum
        numbers: dict[str, Any] = dict(c.numbers, recist11=recist, nlt=list(nlt), nlnt=list(nlnt), nlt_sum=mm(nlt_sum))
        snapshot = _Pending(
            c.date,
            triggers,
            target_now,
            nlt_sum,
            len(c.new_unequivocal),
            _ld(rows, non_targets),
            _ld(rows, nlnt),
            progressed_now,
        )
        if confirmed:
            category = "iCPD"
            reasons = reasons + ["progression already confirmed (iCPD)"]
        elif pending is None:
            if triggers:
                category = "iUPD"
                pending = snapshot
                reasons = reasons + [
                    f"RECIST 1.1 progression ({', '.join(sorted(triggers))}) first met: iUPD (rule 31)"
                ]
            else:
                category = _PREFIX[recist]
        else:
            gap = days_between(c.date, pending.date)
            evidence = _confirmation(pending, snapshot, rows, nlnt, s) if gap >= s.min_confirmation_days else []
            numbers["days_since_iupd"] = gap
            if evidence:
                category = "iCPD"
                confirmed = True
                reasons = reasons + [
                    f"{gap} d after the iUPD of {day(pending.date)}: {'; '.join(evidence)}: iCPD (rule 33)"
                ]
            elif triggers:
                category = "iUPD"
                note = (
                    f"{gap} d after the iUPD of {day(pending.date)}, under {s.min_confirmation_days} d: not "
                    f"used for confirmation (rule 32)"
                    if gap < s.min_confirmation_days
                    else f"no further increase since the iUPD of {day(pending.date)}: stays iUPD (rule 34)"
                )
                reasons = reasons + [note]
                if s.iupd_reference == "last":
                    pending = dataclasses.replace(
                        snapshot,
                        triggers=pending.triggers | triggers,
                        non_targets_progressed=tuple(sorted(set(pending.non_targets_progressed) | set(progressed_now))),
                    )
            else:
                category = _PREFIX[recist]
                reasons = reasons + [
                    f"{category} after the iUPD of {day(pending.date)}: iUPD dropped, a later progression must be "
                    "confirmed again (reset, rule 35)"
                ]
                pending = None
        follow.append(Assessment(c.date, category, reasons, numbers))

    backdate_confirmed_new_lesions(follow, [c.rows for c in comps], "iUPD", "iRECIST with RECIST 1.1 rule 21")
    scale = Scale(responses=("iCR", "iPR"), stable=("iSD", "non-iCR/non-iUPD"), progression=("iCPD",))
    best = best_overall_response(
        follow,
        baseline.timepoint,
        confirm=s.confirm,
        min_confirmation_days=s.min_confirmation_days,
        min_sd_days=s.min_sd_days,
        scale=scale,
        rule="iRECIST rule 37",
    )
    if best.category == "NE":
        unconfirmed = [a for a in follow if a.category == "iUPD"]
        if unconfirmed:
            best = Assessment(
                "best",
                "iUPD",
                [f"iUPD on {day(unconfirmed[0].timepoint)} never confirmed and no better response (rule 37)"],
                best.numbers,
            )
    return PatientResponse(subject, "irecist", [baseline, *follow], best, dataclasses.asdict(s))


def _confirmation(ref: _Pending, now: _Pending, rows: pd.DataFrame, nlnt: list[str], s: IrecistSettings) -> list[str]:
    """The rule-33 conditions met at this scan against the reference iUPD (empty: not confirmed)."""
    evidence = []
    further = exact(s.further_increase_mm)
    if "targets" in ref.triggers and now.target_sum is not None and ref.target_sum is not None:
        if now.target_sum - ref.target_sum >= further:
            evidence.append(
                f"target sum {float(now.target_sum):g} mm is {float(now.target_sum - ref.target_sum):g} mm "
                f"over the iUPD "
                f"sum {float(ref.target_sum):g} (>= {s.further_increase_mm:g} mm, rule 33a)"
            )
    if "non-targets" in ref.triggers:
        grown = [
            lid for lid, ld in now.non_target_ld.items() if lid in ref.non_target_ld and ld > ref.non_target_ld[lid]
        ]
        if not grown:
            grown = [
                lid
                for lid in rows.index
                if rows.loc[lid, "role"] == "non_target"
                and rows.loc[lid, "status"] == "unequivocal_progression"
                and lid not in ref.non_target_ld
            ]
        if grown:
            evidence.append(f"further increase of non-target(s) {', '.join(grown)} (rule 33b)")
    if "new lesions" in ref.triggers:
        if now.nlt_sum - ref.nlt_sum >= further:
            evidence.append(
                f"new-lesion target sum up {float(now.nlt_sum - ref.nlt_sum):g} mm (>= "
                f"{s.further_increase_mm:g}, rule 33c)"
            )
        grown = [lid for lid, ld in now.nlnt_ld.items() if lid in ref.nlnt_ld and ld > ref.nlnt_ld[lid]]
        if grown:
            evidence.append(f"new-lesion non-target(s) {', '.join(grown)} grew (rule 33c)")
        if now.new_count > ref.new_count:
            evidence.append(f"more new lesions ({now.new_count} vs {ref.new_count} at the iUPD, rule 33c)")
    fresh = now.triggers - ref.triggers
    if fresh:
        evidence.append(f"RECIST 1.1 progression now also in {', '.join(sorted(fresh))} (rule 33d)")
    return evidence
