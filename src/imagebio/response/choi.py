"""Choi criteria for GIST on tyrosine-kinase inhibitors: size (10 %) or CT density (15 %).

Implements Choi H et al., Correlation of computed tomography and positron emission tomography in patients
with metastatic gastrointestinal stromal tumor treated at a single institution with imatinib mesylate:
proposal of new computed tomography response criteria, J Clin Oncol 2007;25:1753-1759
(doi:10.1200/JCO.2006.07.3049); rules 61-67 of ``docs/response-criteria.md``.

* Size is the RECIST 1.1 sum of the targets (longest diameters, nodes by short axis); density is the mean of the
  targets' portal-venous ``mean_hu``, unweighted or weighted by ``volume_ml`` (``density_weighting``; the same
  at every time point, rule 61). Absent targets do not enter the density.
* CR: every target and non-target gone, no new lesion (rule 62).
* PR: size down >= 10 % **or** density down >= 15 % from baseline (modified Choi, ``modified=True``: both),
  no new lesion, no non-target progression (rules 63, 66).
* PD: size up >= 10 % over the reference **and** density PR not met; or a new lesion; or unequivocal
  non-target progression; or a new intratumoural nodule / growing nodule, recorded by the reader as status
  ``unequivocal_progression`` on a target (rule 64). The reference is the smaller of baseline and nadir
  (``progression_reference="nadir"``, default) or the baseline (rule 67).
* SD: none of these (rule 65). NE when a target is not assessed or a present target lacks ``mean_hu`` and size
  alone does not decide.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pandas as pd

from imagebio.errors import InvalidParameterError
from imagebio.response._core import (
    Assessment,
    PatientResponse,
    Scale,
    backdate_confirmed_new_lesions,
    best_overall_response,
    exact,
    percent,
)
from imagebio.response.recist11 import RecistSettings, baseline_roles, evaluate_components

__all__ = ["ChoiSettings", "assess_patient", "mean_density"]


@dataclasses.dataclass(frozen=True)
class ChoiSettings(RecistSettings):
    """Choi settings (fractions of change; RECIST target selection and BOR settings inherited)."""

    size_pr_change: float = -0.10
    density_pr_change: float = -0.15
    size_pd_change: float = 0.10
    modified: bool = False
    density_weighting: str = "unweighted"
    progression_reference: str = "nadir"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.density_weighting not in ("unweighted", "volume"):
            raise InvalidParameterError("density_weighting", self.density_weighting, '"unweighted" or "volume"')
        if self.progression_reference not in ("nadir", "baseline"):
            raise InvalidParameterError("progression_reference", self.progression_reference, '"nadir" or "baseline"')


def mean_density(
    rows: pd.DataFrame, targets: list[str], weighting: str = "unweighted"
) -> tuple[Fraction | None, list[str]]:
    """Mean HU of the present targets (unweighted, or weighted by ``volume_ml``) and the targets lacking values."""
    values, weights, missing = [], [], []
    for lid in targets:
        if lid not in rows.index or rows.loc[lid, "status"] in ("absent", "not_evaluated"):
            continue
        row = rows.loc[lid]
        if pd.isna(row.mean_hu) or (weighting == "volume" and pd.isna(row.volume_ml)):
            missing.append(lid)
            continue
        values.append(exact(row.mean_hu))
        weights.append(exact(row.volume_ml) if weighting == "volume" else Fraction(1))
    if missing or not values or sum(weights) == 0:
        return None, missing
    return sum(v * w for v, w in zip(values, weights, strict=False)) / sum(weights), []


def assess_patient(
    patient: pd.DataFrame, settings: ChoiSettings | None = None, subject: str | None = None
) -> PatientResponse:
    """Choi time-point responses (CR, PR, SD, PD, NE) and best overall response of one patient.

    Needs ``mean_hu`` (HU) on the targets (and ``volume_ml`` for volume weighting).
    """
    s = settings or ChoiSettings()
    subject = subject if subject is not None else str(patient["subject"].iloc[0])
    patient, selection = baseline_roles(patient, s, subject)
    baseline, comps = evaluate_components(patient, s, "diameter", subject)
    baseline.reasons = selection + baseline.reasons
    targets = baseline.numbers["targets"]
    bl_rows = patient[patient["timepoint"] == patient["timepoint"].min()].set_index("lesion_id", drop=False)
    bl_density, bl_missing = mean_density(bl_rows, targets, s.density_weighting)
    baseline.numbers["density_hu"] = None if bl_density is None else round(float(bl_density), 4)
    if bl_density is not None:
        baseline.reasons.append(f"baseline density {float(bl_density):.4g} HU ({s.density_weighting})")
    nadir = comps[0].baseline_sum if comps else None
    follow = []
    for c in comps:
        reasons: list[str] = []
        numbers = dict(c.numbers)
        density, dens_missing = mean_density(c.rows, targets, s.density_weighting)
        size = c.target_sum
        ref = (
            c.baseline_sum
            if s.progression_reference == "baseline"
            else min(c.baseline_sum, nadir)
            if nadir is not None
            else None
        )
        size_pr = size_pd = dens_pr = None
        if size is not None and c.baseline_sum:
            size_pr = size - c.baseline_sum <= Fraction(str(s.size_pr_change)) * c.baseline_sum
            size_pd = ref is not None and size - ref >= Fraction(str(s.size_pd_change)) * ref and size > ref
            numbers.update(size_change_pct=percent(size - c.baseline_sum, c.baseline_sum), size_reference=float(ref))
        if density is not None and bl_density:
            dens_pr = density - bl_density <= Fraction(str(s.density_pr_change)) * abs(bl_density)
            numbers.update(
                density_hu=round(float(density), 4), density_change_pct=percent(density - bl_density, abs(bl_density))
            )
        nodules = [
            lid for lid in targets if lid in c.rows.index and c.rows.loc[lid, "status"] == "unequivocal_progression"
        ]
        all_gone = c.target_sum is not None and all(v == 0 for v in c.values.values())
        if c.new_unequivocal:
            category = "PD"
            reasons.append(f"new lesion(s) {', '.join(c.new_unequivocal)}: PD (rule 64)")
        elif c.non_target == "PD":
            category = "PD"
            reasons += c.non_target_reasons
        elif nodules:
            category = "PD"
            reasons.append(f"new or growing intratumoural nodule in {', '.join(nodules)}: PD (rule 64)")
        elif all_gone and c.non_target in (None, "CR"):
            category = "CR"
            reasons.append("all targets and non-targets gone, no new lesion: CR (rule 62)")
        elif size is None:
            category = "NE"
            reasons += c.target_reasons
        elif size_pd and dens_pr is not True:
            if dens_pr is None:
                category = "NE"
                reasons.append(
                    f"size +{percent(size - ref, ref)} % over the reference but density unknown "
                    f"({', '.join(dens_missing) or 'no HU'}): NE"
                )
            else:
                category = "PD"
                reasons.append(
                    f"size {float(size):g} mm is +{percent(size - ref, ref)} % over the "
                    f"{s.progression_reference} reference "
                    f"{float(ref):g} mm (>= {s.size_pd_change * 100:g} %) and density PR not met: PD (rules 64, 67)"
                )
        else:
            size_txt = f"size {percent(size - c.baseline_sum, c.baseline_sum)} % from baseline"
            dens_txt = (
                "density unknown"
                if density is None
                else f"density {percent(density - bl_density, abs(bl_density))} % from baseline"
            )
            if s.modified:
                pr = bool(size_pr) and bool(dens_pr)
                undecided = bool(size_pr) and dens_pr is None
            else:
                pr = bool(size_pr) or bool(dens_pr)
                undecided = not pr and dens_pr is None
            if pr:
                category = "PR"
                need = "and" if s.modified else "or"
                reasons.append(
                    f"{size_txt}, {dens_txt}: size <= {s.size_pr_change * 100:g} % {need} density <= "
                    f"{s.density_pr_change * 100:g} %, PR ({'rule 66, modified Choi' if s.modified else 'rule 63'})"
                )
            elif undecided:
                category = "NE"
                reasons.append(
                    f"{size_txt}, {dens_txt} (targets without mean_hu: {', '.join(dens_missing) or 'none present'}): NE"
                )
            else:
                category = "SD"
                reasons.append(f"{size_txt}, {dens_txt}: neither PR nor PD, SD (rule 65)")
        if c.new_equivocal:
            reasons.append(f"equivocal new lesion(s) {', '.join(c.new_equivocal)}: not PD at this time point")
        if size is not None:
            nadir = size if nadir is None else min(nadir, size)
        follow.append(Assessment(c.date, category, reasons, numbers))
    backdate_confirmed_new_lesions(follow, [c.rows for c in comps], "PD", "RECIST 1.1 rule 21 applied to Choi")
    best = best_overall_response(
        follow,
        baseline.timepoint,
        confirm=s.confirm,
        min_confirmation_days=s.min_confirmation_days,
        min_sd_days=s.min_sd_days,
        scale=Scale(),
        rule="Choi with RECIST 1.1 rules 25-27",
    )
    return PatientResponse(subject, "choi", [baseline, *follow], best, dataclasses.asdict(s))
