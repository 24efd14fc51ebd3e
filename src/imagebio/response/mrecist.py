"""mRECIST for hepatocellular carcinoma: the sum of longest *viable* (arterially enhancing) diameters.

Implements Lencioni R, Llovet JM, Modified RECIST (mRECIST) assessment for hepatocellular carcinoma,
Semin Liver Dis 2010;30:52-60 (doi:10.1055/s-0030-1247132); rule numbers 48-53 of ``docs/response-criteria.md``.

* Targets must be typical HCC: measurable (>= 10 mm) with arterial enhancement, i.e. ``viable_diameter_mm > 0``
  at baseline (rule 48). Nodes are measured by short axis as in RECIST; a porta hepatis node (organ containing
  ``porta``) is measurable from 20 mm (rule 52).
* The sum uses ``viable_diameter_mm`` for non-nodal targets (rule 49). CR: no enhancement in any target (viable
  diameter 0; nodes < 10 mm); PR: >= 30 % decrease from baseline; PD: >= 20 % increase from the nadir, **with no
  absolute minimum** unless ``pd_absolute_mm`` is set (rule 50); SD otherwise.
* Non-target CR when no non-target enhances (absent or viable diameter 0); otherwise Non-CR/Non-PD (the paper's
  IR/SD); PD on unequivocal progression (rule 51).
* A new liver lesion counts as PD from 10 mm (typical vascular pattern assumed when the reader records it
  ``present``); a smaller one is treated as equivocal and, when it reaches 10 mm later, progression is dated
  back to its first appearance as in RECIST 1.1 (rules 52, 21).
* The overall table and BOR are those of RECIST 1.1 (rule 53).
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from imagebio.errors import SpecError
from imagebio.response._core import (
    Assessment,
    PatientResponse,
    Scale,
    backdate_confirmed_new_lesions,
    best_overall_response,
)
from imagebio.response.recist11 import (
    RecistSettings,
    _check_targets,
    baseline_roles,
    evaluate_components,
    overall_category,
)

__all__ = ["MrecistSettings", "assess_patient"]


@dataclasses.dataclass(frozen=True)
class MrecistSettings(RecistSettings):
    """RECIST 1.1 settings with mRECIST defaults: no 5 mm absolute PD rule, porta hepatis nodes from 20 mm."""

    pd_absolute_mm: float | None = None
    porta_hepatis_node_mm: float = 20.0
    new_liver_lesion_mm: float = 10.0


def _check_mrecist_targets(baseline: pd.DataFrame, s: MrecistSettings, subject: str) -> None:
    _check_targets(baseline, s, subject, "mRECIST")
    for _, row in baseline[baseline["role"] == "target"].iterrows():
        if row.is_lymph_node:
            if "porta" in row.organ and row.short_axis_mm < s.porta_hepatis_node_mm:
                raise SpecError(
                    f"subject {subject!r}: porta hepatis node {row.lesion_id!r} short axis {row.short_axis_mm:g} mm "
                    f"< {s.porta_hepatis_node_mm:g} mm cannot be a target (mRECIST, rule 52)"
                )
            continue
        if pd.isna(row.viable_diameter_mm) or row.viable_diameter_mm <= 0:
            raise SpecError(
                f"subject {subject!r}: target {row.lesion_id!r} has no arterially enhancing (viable) diameter at "
                "baseline; only typical HCC can be an mRECIST target (rule 48)"
            )


def assess_patient(
    patient: pd.DataFrame, settings: MrecistSettings | None = None, subject: str | None = None
) -> PatientResponse:
    """mRECIST time-point responses and best overall response of one patient (columns as RECIST 1.1 plus
    ``viable_diameter_mm``)."""
    s = settings or MrecistSettings()
    subject = subject if subject is not None else str(patient["subject"].iloc[0])
    patient = patient.copy()
    small_new = (
        (patient["role"] == "new")
        & (patient["organ"] == "liver")
        & (patient["status"] == "present")
        & ~patient["is_lymph_node"]
        & (patient["longest_diameter_mm"] < s.new_liver_lesion_mm)
    )
    patient.loc[small_new, "status"] = "equivocal"
    downgraded = set(zip(patient.loc[small_new, "timepoint"], patient.loc[small_new, "lesion_id"], strict=False))
    patient, selection = baseline_roles(patient, s, subject, check=_check_mrecist_targets)
    baseline, comps = evaluate_components(patient, s, "viable", subject)
    baseline.reasons = selection + baseline.reasons
    follow = []
    for c in comps:
        category, reasons = overall_category(c)
        small = [lid for lid in c.new_equivocal if (c.date, lid) in downgraded]
        if small:
            reasons.append(
                f"new liver lesion(s) {', '.join(small)} under {s.new_liver_lesion_mm:g} mm: equivocal, not yet PD "
                "(mRECIST rule 52)"
            )
        follow.append(Assessment(c.date, category, reasons, c.numbers))
    backdate_confirmed_new_lesions(follow, [c.rows for c in comps], "PD", "mRECIST rule 52 with RECIST 1.1 rule 21")
    best = best_overall_response(
        follow,
        baseline.timepoint,
        confirm=s.confirm,
        min_confirmation_days=s.min_confirmation_days,
        min_sd_days=s.min_sd_days,
        scale=Scale(),
        rule="mRECIST rule 53 / RECIST 1.1 rules 25-27",
    )
    return PatientResponse(subject, "mrecist", [baseline, *follow], best, dataclasses.asdict(s))
