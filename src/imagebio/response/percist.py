"""PERCIST 1.0: FDG-PET response from the SULpeak of the hottest lesion.

Implements Wahl RL, Jacene H, Kasamon Y, Lodge MA, From RECIST to PERCIST: evolving considerations for PET
response criteria in solid tumors, J Nucl Med 2009;50 Suppl 1:122S-150S (doi:10.2967/jnumed.108.057307) and
O JH, Lodge MA, Wahl RL, Practical PERCIST: a simplified guide to PET response criteria in solid tumors 1.0,
Radiology 2016;280:576-584; rules 38-47 of ``docs/response-criteria.md``.

Inputs per lesion and time point: ``sul_peak`` (SUL, the 1 cm^3 sphere peak, rule 41); per time point:
``liver_sul_mean``, ``liver_sul_sd`` (3 cm liver VOI, rule 39) and optionally ``uptake_time_min``.

* Measurability (rule 40): the hottest baseline lesion must reach ``1.5 x liver SULmean + 2 x liver SD``;
  otherwise the patient is not assessable (every follow-up NE).
* The target is the hottest lesion at baseline and the hottest lesion at follow-up, possibly different
  lesions (rule 42). An ``absent`` lesion counts as background.
* QC (rule 43): follow-up liver SULmean within 20 % **and** 0.3 SUL of baseline, uptake times within 15 min;
  otherwise NE (non-comparable scans), unless ``check_comparability=False``.
* PMD: a new lesion (``role`` new, unequivocal), a reader-recorded visible increase in extent
  (status ``unequivocal_progression``), or SULpeak up >= 30 % **and** >= 0.8 SUL (rule 46; inclusive by default,
  ``inclusive=False`` for Wahl 2009's "> 30 %").
* CMR: every lesion at or below the liver SULmean of that scan and no new lesion (rule 44).
* PMR: SULpeak down >= 30 % **and** >= 0.8 SUL, no new lesion, no progression of another lesion (rule 45).
* SMD: otherwise (rule 47).

Comparisons are exact on the decimals written (rule G1).
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Any

import pandas as pd

from imagebio.errors import SpecError
from imagebio.response._core import (
    Assessment,
    PatientResponse,
    Scale,
    backdate_confirmed_new_lesions,
    best_overall_response,
    exact,
    first_value,
    percent,
    visits,
)

__all__ = ["PercistSettings", "assess_patient", "liver_threshold"]

PERCIST_SCALE = Scale(responses=("CMR", "PMR"), stable=("SMD",), progression=("PMD",))


@dataclasses.dataclass(frozen=True)
class PercistSettings:
    """PERCIST 1.0 settings (SUL units, fractions, minutes, days)."""

    liver_mean_factor: float = 1.5
    liver_sd_factor: float = 2.0
    relative_change: float = 0.30
    absolute_change_sul: float = 0.8
    inclusive: bool = True
    check_comparability: bool = True
    liver_tolerance_fraction: float = 0.20
    liver_tolerance_sul: float = 0.3
    uptake_tolerance_min: float = 15.0
    confirm: bool = False
    min_confirmation_days: int = 28
    min_sd_days: int = 42


def liver_threshold(liver_sul_mean: float, liver_sul_sd: float, settings: PercistSettings | None = None) -> Fraction:
    """Minimum measurable SULpeak: 1.5 x liver SULmean + 2 x liver SD (rule 40), exact."""
    s = settings or PercistSettings()
    return exact(s.liver_mean_factor) * exact(liver_sul_mean) + exact(s.liver_sd_factor) * exact(liver_sul_sd)


def _hottest(rows: pd.DataFrame) -> tuple[str | None, Fraction | None, list[str]]:
    """Hottest lesion (id, SULpeak) among the present lesions and the present lesions lacking a SULpeak."""
    best_id, best, missing = None, None, []
    for lid, row in rows.iterrows():
        if row.status in ("absent", "not_evaluated"):
            continue
        if pd.isna(row.sul_peak):
            missing.append(lid)
            continue
        value = exact(row.sul_peak)
        if best is None or value > best:
            best_id, best = lid, value
    return best_id, best, missing


def assess_patient(
    patient: pd.DataFrame, settings: PercistSettings | None = None, subject: str | None = None
) -> PatientResponse:
    """PERCIST 1.0 time-point responses (CMR, PMR, SMD, PMD, NE) and best overall response of one patient."""
    s = settings or PercistSettings()
    subject = subject if subject is not None else str(patient["subject"].iloc[0])
    if patient["sul_peak"].isna().all():
        raise SpecError(f"subject {subject!r}: PERCIST needs the column sul_peak (SUL), which is empty")
    scans = visits(patient)
    bl_date, bl_rows = scans[0]
    bl_rows = bl_rows[bl_rows["role"] != "new"]
    liver_mean = first_value(bl_rows, "liver_sul_mean")
    liver_sd = first_value(bl_rows, "liver_sul_sd")
    bl_uptake = first_value(bl_rows, "uptake_time_min")
    bl_id, bl_peak, _ = _hottest(bl_rows)
    numbers: dict[str, Any] = {"target": bl_id, "sul_peak": None if bl_peak is None else float(bl_peak)}
    assessable = True
    if liver_mean is None or liver_sd is None:
        assessable = False
        why = "no baseline liver reference (liver_sul_mean, liver_sul_sd): threshold unknown (rule 40)"
    elif bl_peak is None:
        assessable = False
        why = "no baseline lesion with a SULpeak (rule 40)"
    else:
        threshold = liver_threshold(liver_mean, liver_sd, s)
        numbers["threshold_sul"] = float(threshold)
        if bl_peak < threshold:
            assessable = False
            why = (
                f"hottest baseline lesion {bl_id} SULpeak {float(bl_peak):g} < threshold {float(threshold):g} "
                f"(1.5 x liver {liver_mean:g} + 2 x SD {liver_sd:g}): not assessable by PERCIST (rule 40)"
            )
        else:
            why = (
                f"target {bl_id} SULpeak {float(bl_peak):g} >= threshold {float(threshold):g} "
                f"(1.5 x liver {liver_mean:g} + 2 x SD {liver_sd:g}) (rules 40, 42)"
            )
    baseline = Assessment(bl_date, "baseline", [why], numbers)
    follow: list[Assessment] = []
    rel = exact(s.relative_change)
    absolute = exact(s.absolute_change_sul)
    for date, rows in scans[1:]:
        nums: dict[str, Any] = {}
        reasons: list[str] = []
        if not assessable:
            follow.append(Assessment(date, "NE", ["patient not assessable by PERCIST: " + why], nums))
            continue
        new = [
            lid
            for lid, r in rows.iterrows()
            if r.role == "new" and r.status in ("present", "too_small", "unequivocal_progression")
        ]
        equivocal = [lid for lid, r in rows.iterrows() if r.role == "new" and r.status == "equivocal"]
        extent = [lid for lid, r in rows.iterrows() if r.role != "new" and r.status == "unequivocal_progression"]
        fu_liver = first_value(rows, "liver_sul_mean")
        fu_uptake = first_value(rows, "uptake_time_min")
        fu_id, fu_peak, missing = _hottest(rows)
        nums.update(target=fu_id, sul_peak=None if fu_peak is None else float(fu_peak), liver_sul_mean=fu_liver)
        if s.check_comparability:
            problems = []
            if fu_liver is None:
                problems.append("no follow-up liver_sul_mean")
            else:
                d = abs(exact(fu_liver) - exact(liver_mean))
                if d > exact(s.liver_tolerance_fraction) * exact(liver_mean) or d > exact(s.liver_tolerance_sul):
                    problems.append(
                        f"liver SULmean {fu_liver:g} vs baseline {liver_mean:g} differs by {float(d):g} SUL "
                        f"({percent(d, exact(liver_mean))} %), over 20 % or 0.3 SUL"
                    )
            if bl_uptake is not None and fu_uptake is not None and abs(fu_uptake - bl_uptake) > s.uptake_tolerance_min:
                problems.append(
                    f"uptake times {bl_uptake:g} and {fu_uptake:g} min differ by more than "
                    f"{s.uptake_tolerance_min:g} min"
                )
            if problems and not new:
                follow.append(Assessment(date, "NE", [f"scans not comparable: {'; '.join(problems)} (rule 43)"], nums))
                continue
        if fu_peak is not None:
            change = fu_peak - bl_peak
            nums.update(change_sul=float(change), change_pct=percent(change, bl_peak))
        if new:
            category = "PMD"
            reasons.append(f"new FDG-avid lesion(s) {', '.join(new)}: PMD (rule 46)")
        elif extent:
            category = "PMD"
            reasons.append(f"visible increase in extent of uptake in {', '.join(extent)} (reader): PMD (rule 46)")
        elif missing:
            category = "NE"
            reasons.append(f"present lesion(s) without SULpeak: {', '.join(missing)}")
        elif fu_peak is None or (fu_liver is not None and fu_peak <= exact(fu_liver)):
            category = "CMR"
            level = (
                "no lesion uptake left"
                if fu_peak is None
                else (f"hottest lesion {fu_id} SULpeak {float(fu_peak):g} <= liver SULmean {fu_liver:g}")
            )
            reasons.append(f"{level}, no new lesion: CMR (rule 44)")
        else:
            up = change >= rel * bl_peak if s.inclusive else change > rel * bl_peak
            down = -change >= rel * bl_peak if s.inclusive else -change > rel * bl_peak
            text = (
                f"SULpeak {float(bl_peak):g} ({bl_id}) -> {float(fu_peak):g} ({fu_id}): {percent(change, bl_peak)} %, "
                f"{float(change):+g} SUL"
            )
            op = ">=" if s.inclusive else ">"
            if up and change >= absolute:
                category = "PMD"
                reasons.append(f"{text}; {op} 30 % and >= {s.absolute_change_sul:g} SUL increase: PMD (rule 46)")
            elif down and -change >= absolute:
                category = "PMR"
                reasons.append(
                    f"{text}; {op} 30 % and >= {s.absolute_change_sul:g} SUL decrease, no new lesion: PMR (rule 45)"
                )
            else:
                category = "SMD"
                if (up or down) and abs(change) < absolute:
                    reasons.append(
                        f"{text}; the {float(abs(change)):g} SUL change is under {s.absolute_change_sul:g} "
                        f"SUL: SMD (rules 45-47)"
                    )
                else:
                    reasons.append(f"{text}; under 30 %: SMD (rule 47)")
        if equivocal:
            reasons.append(f"equivocal new lesion(s) {', '.join(equivocal)}: not PMD at this time point")
        follow.append(Assessment(date, category, reasons, nums))
    backdate_confirmed_new_lesions(follow, [r for _, r in scans[1:]], "PMD", "rule 46 with RECIST 1.1 rule 21")
    best = best_overall_response(
        follow,
        bl_date,
        confirm=s.confirm,
        min_confirmation_days=s.min_confirmation_days,
        min_sd_days=s.min_sd_days,
        scale=PERCIST_SCALE,
        rule="PERCIST 1.0 best response, RECIST 1.1 rules 25-27",
    )
    return PatientResponse(subject, "percist", [baseline, *follow], best, dataclasses.asdict(s))
