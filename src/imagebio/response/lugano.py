"""Lugano 2014 response for lymphoma: PET-based (Deauville 5-point scale) or CT-based (SPD).

Implements Cheson BD et al., Recommendations for initial evaluation, staging, and response assessment of
Hodgkin and non-Hodgkin lymphoma: the Lugano classification, J Clin Oncol 2014;32:3059-3068
(doi:10.1200/JCO.2013.54.8800) and Barrington SF et al., Role of imaging in the staging and response
assessment of lymphoma, J Clin Oncol 2014;32:3048-3058; rules 68-70 of ``docs/response-criteria.md``.

PET-based (``basis="pet"``, default), from the ``deauville`` score of each lesion (``X`` = new uptake unlikely to
be lymphoma, ignored) and, where given, its ``sul_peak`` (uptake of the most intense site):

* CMR: highest score 1-3 and no new lesion.
* PMD: a new FDG-avid lesion (``role`` new, unequivocal, score not X), or score 4-5 with **more** uptake than
  at baseline.
* PMR: score 4-5 with **less** uptake than at baseline; NMR (no metabolic response, = SMD): no significant change.
  Lugano gives no number for "significant": the uptake of the most intense site is compared with baseline
  with a relative tolerance ``uptake_tolerance`` (default 0.10, an implementation choice); without SUL values
  the highest Deauville score is compared with the baseline one (lower: PMR, higher: PMD, same: NMR).

CT-based (``basis="ct"``): up to 6 targets measured bidimensionally (``longest_diameter_mm`` x
``perpendicular_diameter_mm``, or ``short_axis_mm`` when no perpendicular diameter), SPD in mm^2:

* CR: nodal targets LDi <= 15 mm, extranodal targets gone, non-targets gone, no new lesion.
* PD: one target with LDi > 15 mm whose PPD rose >= 50 % from its nadir **and** whose LDi or SDi rose from its
  nadir by >= 5 mm (LDi <= 20 mm) or >= 10 mm (LDi > 20 mm); a new node > 15 mm or new extranodal site > 10 mm
  (smaller: equivocal); unequivocal non-target progression. (Spleen rules are not implemented.)
* PR: SPD down >= 50 % from baseline; SD otherwise. Too small: 5 x 5 mm; absent: 0 x 0.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Any

import pandas as pd

from imagebio.errors import InvalidParameterError, SpecError
from imagebio.response._core import (
    Assessment,
    PatientResponse,
    Scale,
    backdate_confirmed_new_lesions,
    best_overall_response,
    exact,
    percent,
    visits,
)

__all__ = ["LuganoSettings", "assess_patient"]

PET_SCALE = Scale(responses=("CMR", "PMR"), stable=("NMR",), progression=("PMD",))
CT_SCALE = Scale(responses=("CR", "PR"), stable=("SD",), progression=("PD",))


@dataclasses.dataclass(frozen=True)
class LuganoSettings:
    """Lugano settings (``basis`` pet | ct; fractions; mm; days)."""

    basis: str = "pet"
    uptake_tolerance: float = 0.10
    max_targets: int = 6
    node_measurable_mm: float = 15.0
    extranodal_measurable_mm: float = 10.0
    too_small_mm: float = 5.0
    confirm: bool = False
    min_confirmation_days: int = 28
    min_sd_days: int = 42

    def __post_init__(self) -> None:
        if self.basis not in ("pet", "ct"):
            raise InvalidParameterError("basis", self.basis, '"pet" or "ct"')


def assess_patient(
    patient: pd.DataFrame, settings: LuganoSettings | None = None, subject: str | None = None
) -> PatientResponse:
    """Lugano time-point responses and best overall response of one patient (PET: CMR/PMR/NMR/PMD; CT: CR/PR/SD/PD)."""
    s = settings or LuganoSettings()
    subject = subject if subject is not None else str(patient["subject"].iloc[0])
    if s.basis == "pet":
        return _assess_pet(patient, s, subject)
    return _assess_ct(patient, s, subject)


def _scores(rows: pd.DataFrame) -> tuple[int | None, Fraction | None]:
    scores, uptake = [], []
    for _, r in rows.iterrows():
        if r.role == "new" or r.deauville in ("", "X"):
            if r.role != "new" and r.status == "absent":
                scores.append(1)
            continue
        scores.append(int(r.deauville))
        if not pd.isna(r.sul_peak):
            uptake.append(exact(r.sul_peak))
    return (max(scores) if scores else None), (max(uptake) if uptake else None)


def _assess_pet(patient: pd.DataFrame, s: LuganoSettings, subject: str) -> PatientResponse:
    if (patient["deauville"] == "").all():
        raise SpecError(f"subject {subject!r}: PET-based Lugano needs the column deauville (1-5 or X), which is empty")
    scans = visits(patient)
    bl_date, bl_rows = scans[0]
    bl_score, bl_uptake = _scores(bl_rows)
    baseline = Assessment(
        bl_date,
        "baseline",
        [f"baseline Deauville {bl_score}" + (f", uptake {float(bl_uptake):g}" if bl_uptake is not None else "")],
        {"deauville": bl_score, "uptake": None if bl_uptake is None else float(bl_uptake)},
    )
    tol = exact(s.uptake_tolerance)
    follow = []
    for date, rows in scans[1:]:
        score, uptake = _scores(rows)
        new = [
            lid
            for lid, r in rows.iterrows()
            if r.role == "new"
            and r.deauville != "X"
            and r.status in ("present", "too_small", "unequivocal_progression")
        ]
        equivocal = [lid for lid, r in rows.iterrows() if r.role == "new" and r.status == "equivocal"]
        numbers: dict[str, Any] = {"deauville": score, "uptake": None if uptake is None else float(uptake)}
        reasons = []
        if new:
            category = "PMD"
            reasons.append(f"new FDG-avid lesion(s) {', '.join(new)}: PMD (rule 69)")
        elif score is None:
            category = "NE"
            reasons.append("no Deauville score at this time point")
        elif score <= 3:
            category = "CMR"
            reasons.append(f"highest Deauville score {score} (<= 3), no new lesion: CMR (rule 69)")
        elif uptake is not None and bl_uptake:
            ratio = uptake / bl_uptake - 1
            numbers["uptake_change_pct"] = percent(uptake - bl_uptake, bl_uptake)
            text = (
                f"Deauville {score}, uptake {float(uptake):g} vs baseline {float(bl_uptake):g} "
                f"({numbers['uptake_change_pct']} %)"
            )
            if ratio > tol:
                category = "PMD"
                reasons.append(f"{text}: more uptake than baseline (> {s.uptake_tolerance * 100:g} %): PMD (rule 69)")
            elif ratio < -tol:
                category = "PMR"
                reasons.append(f"{text}: less uptake than baseline (< -{s.uptake_tolerance * 100:g} %): PMR (rule 69)")
            else:
                category = "NMR"
                reasons.append(f"{text}: no significant change (within {s.uptake_tolerance * 100:g} %): NMR (rule 69)")
        else:
            text = f"Deauville {score} vs baseline {bl_score} (no SUL values)"
            category = (
                "PMR"
                if bl_score is not None and score < bl_score
                else "PMD"
                if bl_score is not None and score > bl_score
                else "NMR"
            )
            reasons.append(f"{text}: {category} (rule 69)")
        if equivocal:
            reasons.append(f"equivocal new lesion(s) {', '.join(equivocal)}: not PMD at this time point")
        follow.append(Assessment(date, category, reasons, numbers))
    backdate_confirmed_new_lesions(follow, [r for _, r in scans[1:]], "PMD", "Lugano with RECIST 1.1 rule 21")
    best = best_overall_response(
        follow,
        bl_date,
        confirm=s.confirm,
        min_confirmation_days=s.min_confirmation_days,
        min_sd_days=s.min_sd_days,
        scale=PET_SCALE,
        rule="Lugano 2014",
    )
    return PatientResponse(subject, "lugano", [baseline, *follow], best, dataclasses.asdict(s))


def _dims(row: Any, s: LuganoSettings) -> tuple[Fraction, Fraction] | None:
    if row is None or row.status == "not_evaluated":
        return None
    if row.status == "absent":
        return Fraction(0), Fraction(0)
    if row.status == "too_small":
        return exact(s.too_small_mm), exact(s.too_small_mm)
    sdi = row.perpendicular_diameter_mm if not pd.isna(row.perpendicular_diameter_mm) else row.short_axis_mm
    if pd.isna(row.longest_diameter_mm) or pd.isna(sdi):
        return None
    return exact(row.longest_diameter_mm), exact(sdi)


def _assess_ct(patient: pd.DataFrame, s: LuganoSettings, subject: str) -> PatientResponse:
    scans = visits(patient)
    bl_date, bl_rows = scans[0]
    targets = [lid for lid, r in bl_rows.iterrows() if r.role == "target"]
    non_targets = [lid for lid, r in bl_rows.iterrows() if r.role == "non_target"]
    if len(targets) > s.max_targets:
        raise SpecError(f"subject {subject!r}: {len(targets)} targets; Lugano allows at most {s.max_targets} (rule 70)")
    node = {lid: bool(bl_rows.loc[lid, "is_lymph_node"]) for lid in targets}
    dims = {lid: _dims(bl_rows.loc[lid], s) for lid in targets}
    if any(d is None for d in dims.values()):
        raise SpecError(f"subject {subject!r}: every Lugano CT target needs both diameters at baseline (rule 70)")
    spd0 = sum((a * b for a, b in dims.values()), Fraction(0))
    nadir_dims = dict(dims)
    baseline = Assessment(
        bl_date, "baseline", [f"SPD {float(spd0):g} mm^2 over targets {', '.join(targets)}"], {"spd_mm2": float(spd0)}
    )
    follow = []
    for date, rows in scans[1:]:
        now = {lid: _dims(rows.loc[lid] if lid in rows.index else None, s) for lid in targets}
        reasons: list[str] = []
        grown = []
        for lid, d in now.items():
            if d is None:
                continue
            ldi, sdi = d
            n_ldi, n_sdi = nadir_dims[lid]
            ppd, n_ppd = ldi * sdi, n_ldi * n_sdi
            step = Fraction(5) if ldi <= 20 else Fraction(10)
            if (
                ldi > 15
                and ppd > n_ppd
                and ppd - n_ppd >= Fraction(1, 2) * n_ppd
                and max(ldi - n_ldi, sdi - n_sdi) >= step
            ):
                grown.append(
                    f"{lid} PPD {float(n_ppd):g} -> {float(ppd):g} mm^2, diameters "
                    f"+{float(max(ldi - n_ldi, sdi - n_sdi)):g} mm (>= {int(step)})"
                )
        new = []
        equivocal = []
        for lid, r in rows[rows["role"] == "new"].iterrows():
            if r.status == "equivocal":
                equivocal.append(lid)
            elif r.status in ("present", "too_small", "unequivocal_progression"):
                size = max(
                    r.longest_diameter_mm if not pd.isna(r.longest_diameter_mm) else 0,
                    r.short_axis_mm if not pd.isna(r.short_axis_mm) else 0,
                )
                limit = s.node_measurable_mm if r.is_lymph_node else s.extranodal_measurable_mm
                (new if size > limit or r.status == "unequivocal_progression" else equivocal).append(lid)
        nt_pd = [
            lid for lid in non_targets if lid in rows.index and rows.loc[lid, "status"] == "unequivocal_progression"
        ]
        missing = [lid for lid, d in now.items() if d is None]
        spd = None if missing else sum((a * b for a, b in now.values()), Fraction(0))
        numbers: dict[str, Any] = {"spd_mm2": None if spd is None else float(spd)}
        if grown:
            category = "PD"
            reasons.append(f"single-lesion progression: {'; '.join(grown)} (rule 70)")
        elif new:
            category = "PD"
            reasons.append(f"new lesion(s) {', '.join(new)} (node > 15 mm / extranodal > 10 mm): PD (rule 70)")
        elif nt_pd:
            category = "PD"
            reasons.append(f"unequivocal progression of non-target {', '.join(nt_pd)}: PD")
        elif missing:
            category = "NE"
            reasons.append(f"target(s) not assessed: {', '.join(missing)}")
        else:
            numbers["change_from_baseline_pct"] = percent(spd - spd0, spd0)
            nodes_ok = all(now[lid][0] <= 15 for lid in targets if node[lid])
            extranodal_gone = all(now[lid][0] == 0 for lid in targets if not node[lid])
            nt_gone = all(lid in rows.index and rows.loc[lid, "status"] == "absent" for lid in non_targets)
            if nodes_ok and extranodal_gone and nt_gone and not equivocal:
                category = "CR"
                reasons.append("nodal targets LDi <= 15 mm, extranodal disease gone, no new lesion: CR (rule 70)")
            elif spd - spd0 <= -Fraction(1, 2) * spd0:
                category = "PR"
                reasons.append(
                    f"SPD {float(spd):g} mm^2, {percent(spd - spd0, spd0)} % from baseline (<= -50 %): PR (rule 70)"
                )
            else:
                category = "SD"
                reasons.append(
                    f"SPD {float(spd):g} mm^2, {percent(spd - spd0, spd0)} % from baseline, no PD: SD (rule 70)"
                )
        if equivocal:
            reasons.append(f"equivocal new lesion(s) {', '.join(equivocal)}: not PD at this time point")
        for lid, d in now.items():
            if d is not None and d[0] * d[1] < nadir_dims[lid][0] * nadir_dims[lid][1]:
                nadir_dims[lid] = d
        follow.append(Assessment(date, category, reasons, numbers))
    backdate_confirmed_new_lesions(follow, [r for _, r in scans[1:]], "PD", "Lugano with RECIST 1.1 rule 21")
    best = best_overall_response(
        follow,
        bl_date,
        confirm=s.confirm,
        min_confirmation_days=s.min_confirmation_days,
        min_sd_days=s.min_sd_days,
        scale=CT_SCALE,
        rule="Lugano 2014",
    )
    return PatientResponse(subject, "lugano", [baseline, *follow], best, dataclasses.asdict(s))
