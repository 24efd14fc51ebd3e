"""Volumetric response (research criterion): the sum of target volumes with configurable thresholds.

Targets, non-targets, new lesions, the overall table and the BOR follow RECIST 1.1
(:mod:`imagebio.response.recist11`; Eisenhauer EA et al., Eur J Cancer 2009;45:228-247), with the sum of
diameters replaced by the sum of ``volume_ml`` of the targets. A target too small to measure counts as a sphere
of ``too_small_mm`` diameter; an absent one 0 mL.

The default thresholds are the volume changes of a sphere whose diameter changes by the RECIST thresholds:
``0.7**3 - 1 = -65.7 %`` (PR, default -65 %) and ``1.2**3 - 1 = +72.8 %`` (PD, default +73 %), with no absolute
minimum. RANO 2.0 uses -65 % / +40 % for volumes (Wen PY et al., J Clin Oncol 2023;41:5187-5199); set
``pr_change``/``pd_change`` to the protocol's values. CR is every non-nodal target at 0 mL and every nodal
target under 10 mm short axis.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from imagebio.response._core import (
    Assessment,
    PatientResponse,
    Scale,
    backdate_confirmed_new_lesions,
    best_overall_response,
)
from imagebio.response.recist11 import RecistSettings, baseline_roles, evaluate_components, overall_category

__all__ = ["VolumetricSettings", "assess_patient"]


@dataclasses.dataclass(frozen=True)
class VolumetricSettings(RecistSettings):
    """RECIST 1.1 settings with volume thresholds (fractions of the baseline / nadir sum of volumes)."""

    pr_change: float = -0.65
    pd_change: float = 0.73
    pd_absolute_mm: float | None = None


def assess_patient(
    patient: pd.DataFrame, settings: VolumetricSettings | None = None, subject: str | None = None
) -> PatientResponse:
    """Volumetric time-point responses (CR, PR, SD, PD, NE) and best overall response of one patient."""
    s = settings or VolumetricSettings()
    subject = subject if subject is not None else str(patient["subject"].iloc[0])
    patient, selection = baseline_roles(patient, s, subject)
    baseline, comps = evaluate_components(patient, s, "volume", subject)
    baseline.reasons = selection + baseline.reasons
    follow = []
    for c in comps:
        category, reasons = overall_category(c)
        follow.append(Assessment(c.date, category, reasons, c.numbers))
    backdate_confirmed_new_lesions(follow, [c.rows for c in comps], "PD", "RECIST 1.1 rule 21")
    best = best_overall_response(
        follow,
        baseline.timepoint,
        confirm=s.confirm,
        min_confirmation_days=s.min_confirmation_days,
        min_sd_days=s.min_sd_days,
        scale=Scale(),
    )
    return PatientResponse(subject, "volumetric", [baseline, *follow], best, dataclasses.asdict(s))
