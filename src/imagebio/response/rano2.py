"""RANO 2.0 for gliomas: sum of bidimensional products, steroids and clinical status as inputs.

Implements Wen PY et al., RANO 2.0: update to the Response Assessment in Neuro-Oncology criteria for high- and
low-grade gliomas in adults, J Clin Oncol 2023;41:5187-5199 (doi:10.1200/JCO.23.01059); rules 54-60 of
``docs/response-criteria.md``.

Inputs: ``longest_diameter_mm`` and ``perpendicular_diameter_mm`` of each lesion; per time point
``steroid_dose`` (mg/day dexamethasone equivalent) and ``clinical_status`` (improved | stable | worse).

* Targets: up to ``max_targets`` (3) lesions with **both** diameters >= 10 mm at baseline (rule 55).
* SPD = sum over targets of LD x perpendicular diameter (mm^2); ``too_small`` is 5 x 5 mm, ``absent`` 0 (rule 56).
* CR: every target and non-target gone, no new lesion, off steroids (dose <= ``physiological_steroid_dose``)
  and clinically stable or improved; imaging CR without those is SD (rule 58).
* PR: SPD down >= 50 % from baseline with steroids stable or reduced and clinical status not worse; otherwise
  SD. MR (non-enhancing tumours, ``non_enhancing=True``): 25 % to < 50 % decrease (rule 57).
* PD: SPD up >= 25 % from the nadir; a new measurable lesion (both diameters >= 10 mm; a smaller one is
  equivocal until measurable, then progression dates back to it); unequivocal non-target progression; or
  clinical deterioration (``clinical_status = worse``). A steroid increase alone is not PD (rule 58).
* PD within 12 weeks after the end of radiotherapy (``radiotherapy_end`` given) is preliminary (``pPD``): it
  is revised to PD when the next scan shows PD again, and to SD (pseudoprogression) when it does not (rule 59).
* The best overall response uses confirmation of CR/PR/MR when ``confirm`` (rule 59).
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
    day,
    days_between,
    exact,
    first_value,
    percent,
    visits,
)

__all__ = ["Rano2Settings", "assess_patient", "product_mm2"]


@dataclasses.dataclass(frozen=True)
class Rano2Settings:
    """RANO 2.0 settings (mm, fractions, mg/day dexamethasone equivalent, days)."""

    max_targets: int = 3
    min_measurable_mm: float = 10.0
    too_small_mm: float = 5.0
    pr_change: float = -0.50
    mr_change: float = -0.25
    pd_change: float = 0.25
    non_enhancing: bool = False
    physiological_steroid_dose: float = 1.0
    radiotherapy_end: str | None = None
    preliminary_pd_days: int = 84
    confirm: bool = False
    min_confirmation_days: int = 28
    min_sd_days: int = 42


def product_mm2(row: Any, s: Rano2Settings) -> tuple[Fraction | None, str]:
    """Bidimensional product LD x perpendicular diameter of one lesion (mm^2) and why."""
    if row is None:
        return None, "not in the table"
    if row.status == "not_evaluated":
        return None, "not evaluated"
    if row.status == "absent":
        return Fraction(0), "absent"
    if row.status == "too_small":
        return exact(s.too_small_mm) ** 2, f"too small, {s.too_small_mm:g} x {s.too_small_mm:g} mm"
    if pd.isna(row.longest_diameter_mm) or pd.isna(row.perpendicular_diameter_mm):
        return None, "missing longest or perpendicular diameter"
    return exact(row.longest_diameter_mm) * exact(row.perpendicular_diameter_mm), ""


def _measurable(row: Any, s: Rano2Settings) -> bool:
    return (
        not pd.isna(row.longest_diameter_mm)
        and not pd.isna(row.perpendicular_diameter_mm)
        and min(row.longest_diameter_mm, row.perpendicular_diameter_mm) >= s.min_measurable_mm
    )


def assess_patient(
    patient: pd.DataFrame, settings: Rano2Settings | None = None, subject: str | None = None
) -> PatientResponse:
    """RANO 2.0 time-point responses (CR, PR, MR, SD, PD, pPD, NE) and best overall response of one patient."""
    s = settings or Rano2Settings()
    subject = subject if subject is not None else str(patient["subject"].iloc[0])
    scans = visits(patient)
    bl_date, bl_rows = scans[0]
    if (bl_rows["role"] == "").all():
        ranked = sorted(
            (lid for lid, r in bl_rows.iterrows() if _measurable(r, s)),
            key=lambda lid: (
                -float(bl_rows.loc[lid, "longest_diameter_mm"] * bl_rows.loc[lid, "perpendicular_diameter_mm"])
            ),
        )
        targets = ranked[: s.max_targets]
        non_targets = [lid for lid in bl_rows.index if lid not in targets]
    else:
        targets = [lid for lid, r in bl_rows.iterrows() if r.role == "target"]
        non_targets = [lid for lid, r in bl_rows.iterrows() if r.role == "non_target"]
        if len(targets) > s.max_targets:
            raise SpecError(
                f"subject {subject!r}: {len(targets)} targets; RANO 2.0 allows at most {s.max_targets} (rule 55)"
            )
        for lid in targets:
            if not _measurable(bl_rows.loc[lid], s):
                raise SpecError(
                    f"subject {subject!r}: target {lid!r} is not measurable at baseline: both diameters must be "
                    f">= {s.min_measurable_mm:g} mm (perpendicular_diameter_mm needed; rule 55)"
                )
    bl_products = {lid: product_mm2(bl_rows.loc[lid], s)[0] for lid in targets}
    bl_spd = sum(bl_products.values(), Fraction(0))
    bl_steroid = first_value(bl_rows, "steroid_dose")
    baseline = Assessment(
        bl_date,
        "baseline",
        [
            f"targets {', '.join(f'{k} {float(v):g}' for k, v in bl_products.items())}; SPD {float(bl_spd):g} mm^2"
            + (f"; non-targets {', '.join(non_targets)}" if non_targets else "")
        ],
        {"spd_mm2": float(bl_spd), "targets": targets, "steroid_dose": bl_steroid},
    )
    nadir = bl_spd
    rt_end = pd.Timestamp(s.radiotherapy_end) if s.radiotherapy_end else None
    follow: list[Assessment] = []
    for date, rows in scans[1:]:
        reasons: list[str] = []
        products, missing = {}, []
        for lid in targets:
            value, why = product_mm2(rows.loc[lid] if lid in rows.index else None, s)
            products[lid] = value
            if value is None:
                missing.append(f"{lid} ({why})")
        steroid = first_value(rows, "steroid_dose")
        clinical = first_value(rows, "clinical_status") or ""
        new_rows = rows[rows["role"] == "new"]
        new = [
            lid
            for lid, r in new_rows.iterrows()
            if r.status == "unequivocal_progression" or (r.status in ("present",) and _measurable(r, s))
        ]
        equivocal = [
            lid
            for lid, r in new_rows.iterrows()
            if r.status in ("equivocal", "present", "too_small") and lid not in new
        ]
        nt_pd = [
            lid for lid in non_targets if lid in rows.index and rows.loc[lid, "status"] == "unequivocal_progression"
        ]
        nt_gone = all(lid in rows.index and rows.loc[lid, "status"] == "absent" for lid in non_targets)
        spd = None if missing else sum(products.values(), Fraction(0))
        partial = sum((v for v in products.values() if v is not None), Fraction(0))
        numbers: dict[str, Any] = {
            "spd_mm2": None if spd is None else float(spd),
            "nadir_mm2": float(nadir),
            "steroid_dose": steroid,
            "clinical_status": clinical,
        }
        if spd is not None:
            numbers.update(
                change_from_baseline_pct=percent(spd - bl_spd, bl_spd),
                change_from_nadir_pct=percent(spd - nadir, nadir),
            )
        if new:
            category = "PD"
            reasons.append(f"new measurable lesion(s) {', '.join(new)}: PD (rule 58)")
        elif nt_pd:
            category = "PD"
            reasons.append(f"unequivocal progression of non-target {', '.join(nt_pd)}: PD (rule 58)")
        elif clinical == "worse":
            category = "PD"
            reasons.append("clinical deterioration not attributed to other causes (reader input): PD (rule 58)")
        elif partial > nadir and partial - nadir >= exact(s.pd_change) * nadir:
            category = "PD"
            reasons.append(
                f"SPD {float(partial):g} mm^2{' (partial)' if missing else ''} is "
                f"+{percent(partial - nadir, nadir)} % over the "
                f"nadir {float(nadir):g}: >= {s.pd_change * 100:g} %, PD (rule 57)"
            )
        elif missing:
            category = "NE"
            reasons.append(f"target(s) not assessed: {', '.join(missing)}")
        else:
            change = spd - bl_spd
            text = f"SPD {float(spd):g} mm^2, {percent(change, bl_spd)} % from baseline"
            steroids_ok_cr = steroid is None or steroid <= s.physiological_steroid_dose
            steroids_ok_pr = steroid is None or bl_steroid is None or steroid <= bl_steroid
            if spd == 0 and nt_gone and not equivocal:
                if steroids_ok_cr and clinical != "worse":
                    category = "CR"
                    reasons.append(
                        f"all target and non-target disease gone, off steroids, clinically "
                        f"{clinical or 'not worse'}: CR (rule 57-58)"
                    )
                else:
                    category = "SD"
                    reasons.append(
                        f"imaging CR but steroid dose {steroid:g} mg/day > physiological "
                        f"{s.physiological_steroid_dose:g}: SD (rule 58)"
                    )
            elif change <= exact(s.pr_change) * bl_spd:
                if steroids_ok_pr:
                    category = "PR"
                    reasons.append(f"{text}: <= {s.pr_change * 100:g} %, steroids stable or reduced: PR (rule 57-58)")
                else:
                    category = "SD"
                    reasons.append(
                        f"{text} but steroid dose up from {bl_steroid:g} to {steroid:g} mg/day: SD (rule 58)"
                    )
            elif s.non_enhancing and change <= exact(s.mr_change) * bl_spd:
                category = "MR" if steroids_ok_pr else "SD"
                reasons.append(
                    f"{text}: between {s.mr_change * 100:g} % and {s.pr_change * 100:g} %: {category} (rule 57)"
                )
            else:
                category = "SD"
                reasons.append(f"{text}, {percent(spd - nadir, nadir)} % from the nadir: SD (rule 57)")
            if steroid is not None and bl_steroid is not None and steroid > bl_steroid and category != "PD":
                reasons.append("steroid increase alone is not PD (rule 58)")
        if equivocal:
            reasons.append(f"new lesion(s) {', '.join(equivocal)} not (yet) measurable: not PD at this time point")
        if category == "PD" and rt_end is not None and days_between(date, rt_end) <= s.preliminary_pd_days:
            category = "pPD"
            reasons.append(
                f"{days_between(date, rt_end)} d after the end of radiotherapy ({day(rt_end)}) <= "
                f"{s.preliminary_pd_days} d: "
                "preliminary PD, needs confirmation (rule 59)"
            )
        if spd is not None:
            nadir = min(nadir, spd)
        follow.append(Assessment(date, category, reasons, numbers))
    for k, a in enumerate(follow):
        if a.category == "pPD" and k + 1 < len(follow):
            nxt = follow[k + 1]
            if nxt.category in ("PD", "pPD"):
                a.revise(
                    "PD",
                    f"revised to PD: confirmed by PD on {day(nxt.timepoint)}; progression dates from here (rule 59)",
                )
            else:
                a.revise(
                    "SD",
                    f"revised to SD: preliminary PD not confirmed on {day(nxt.timepoint)} ({nxt.category}; "
                    f"pseudoprogression, rule 59)",
                )
    backdate_confirmed_new_lesions(
        follow,
        [r for _, r in scans[1:]],
        "PD",
        "RANO 2.0 rule 58 with RECIST 1.1 rule 21",
        is_unequivocal=lambda r: r.status == "unequivocal_progression" or (r.status == "present" and _measurable(r, s)),
    )
    _equivocal_to_backdate(follow, scans, s)
    best = best_overall_response(
        follow,
        bl_date,
        confirm=s.confirm,
        min_confirmation_days=s.min_confirmation_days,
        min_sd_days=s.min_sd_days,
        scale=Scale(responses=("CR", "PR", "MR"), stable=("SD",), progression=("PD",)),
        rule="RANO 2.0 rule 59",
    )
    return PatientResponse(subject, "rano2", [baseline, *follow], best, dataclasses.asdict(s))


def _equivocal_to_backdate(follow, scans, s) -> None:
    """Small new lesions (present but not measurable) that later become measurable date PD back to them."""
    first_seen: dict[str, int] = {}
    for k, (_, rows) in enumerate(scans[1:]):
        for lid, r in rows[rows["role"] == "new"].iterrows():
            if r.status in ("present", "too_small") and not _measurable(r, s):
                first_seen.setdefault(lid, k)
            elif r.status == "present" and _measurable(r, s) and lid in first_seen:
                start = first_seen.pop(lid)
                for j in range(start, k):
                    follow[j].revise(
                        "PD",
                        f"revised to PD: new lesion {lid} first seen {day(follow[start].timepoint)} became "
                        f"measurable on "
                        f"{day(follow[k].timepoint)} (RANO 2.0 rule 58 with RECIST 1.1 rule 21)",
                    )
