"""RECIST 1.1: target selection, sum of diameters, time-point response and best overall response.

Implements Eisenhauer EA et al., New response evaluation criteria in solid tumours: revised RECIST guideline
(version 1.1), Eur J Cancer 2009;45:228-247 (doi:10.1016/j.ejca.2008.10.026), with the clarifications of
Schwartz LH et al., Eur J Cancer 2016;62:132-137 and the EORTC RECIST FAQ. Rule numbers (``rule 14``) are those
of the project's rule sheet ``docs/response-criteria.md``.

Choices where the sources leave room (each is a :class:`RecistSettings` field):

* Percentages are compared exactly on the decimals the reader wrote (:func:`~imagebio.response._core.exact`);
  the boundaries -30 % and +20 % are inclusive (rule G1).
* Response is measured from the baseline sum, progression from the nadir: the smallest sum of a fully
  evaluated time point so far, baseline included (rule G2). A partial sum never becomes the nadir (rule 16).
* Target CR (every non-nodal target 0 mm and every nodal target < 10 mm short axis) is tested before the
  sum-based PD, because nodes under 10 mm are normal by definition (rule 12); the sum can be > 0 at CR (rule 9).
* ``cr_reappearance`` (rule 28): ``"pd"`` (default, the 2009 paper's footnote to table 3) makes any target
  disease seen after a target CR progression; ``"apply_sum_rule"`` (EORTC FAQ) applies rule 14 instead.
* A lesion ``too_small`` to measure counts 5 mm (rule 10); a node ``too_small`` counts 5 mm short axis.
* Tumour markers are not in the lesion table; a non-target CR is therefore lesion-based only (rule 17).
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from imagebio.errors import SpecError
from imagebio.response._core import (
    Assessment,
    PatientResponse,
    Scale,
    backdate_confirmed_new_lesions,
    best_overall_response,
    exact,
    mm,
    percent,
    visits,
)

__all__ = [
    "Components",
    "RecistSettings",
    "assess_patient",
    "evaluate_components",
    "overall_category",
    "select_targets",
]

NODE_ORGAN = "lymph node"
NODE_NORMAL_MM = Fraction(10)
PRESENT_STATUSES = ("present", "too_small", "unequivocal_progression", "equivocal")


@dataclasses.dataclass(frozen=True)
class RecistSettings:
    """Protocol settings of RECIST 1.1 (defaults from Eisenhauer 2009).

    Diameters in mm, durations in days, changes as fractions (-0.30 = 30 % decrease).
    """

    max_targets: int = 5
    max_targets_per_organ: int = 2
    min_measurable_mm: float = 10.0
    min_node_short_axis_mm: float = 15.0
    slice_thickness_mm: float | None = None
    too_small_mm: float = 5.0
    pr_change: float = -0.30
    pd_change: float = 0.20
    pd_absolute_mm: float | None = 5.0
    cr_reappearance: str = "pd"
    confirm: bool = False
    min_confirmation_days: int = 28
    min_sd_days: int = 42

    def __post_init__(self) -> None:
        from imagebio.errors import InvalidParameterError

        if self.cr_reappearance not in ("pd", "apply_sum_rule"):
            raise InvalidParameterError("cr_reappearance", self.cr_reappearance, '"pd" or "apply_sum_rule"')
        if self.max_targets < 1 or self.max_targets_per_organ < 1:
            raise InvalidParameterError("max_targets", self.max_targets, "at least 1")

    @property
    def measurable_mm(self) -> float:
        """Minimum longest diameter of a measurable lesion: 10 mm, or 2 x slice thickness above 5 mm (rule 1)."""
        if self.slice_thickness_mm is not None and self.slice_thickness_mm > 5.0:
            return max(self.min_measurable_mm, 2.0 * self.slice_thickness_mm)
        return self.min_measurable_mm


def organ_key(row: Any) -> str:
    """Organ for the per-organ target limit: all lymph nodes count as one organ (rule 6)."""
    return NODE_ORGAN if bool(row.is_lymph_node) else str(row.organ)


def _size(row: Any) -> float:
    return float(row.short_axis_mm if row.is_lymph_node else row.longest_diameter_mm)


def _is_measurable(row: Any, s: RecistSettings) -> tuple[bool, str]:
    if row.is_lymph_node:
        sa = row.short_axis_mm
        if pd.isna(sa):
            return False, "node without short axis"
        return sa >= s.min_node_short_axis_mm, f"short axis {sa:g} mm vs {s.min_node_short_axis_mm:g} mm"
    ld = row.longest_diameter_mm
    if pd.isna(ld):
        return False, "no longest diameter"
    return ld >= s.measurable_mm, f"longest diameter {ld:g} mm vs {s.measurable_mm:g} mm"


def select_targets(baseline: pd.DataFrame, settings: RecistSettings | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Choose targets among a patient's baseline lesions (rules 1-7).

    Measurable lesions (LD >= 10 mm, nodes SA >= 15 mm) are taken largest first, at most ``max_targets`` in
    all and ``max_targets_per_organ`` per organ (all nodes one organ). The rest become non-targets; nodes with
    SA < 10 mm are normal and dropped (rule 2).

    Returns
    -------
    (DataFrame, list of str)
        The baseline rows with ``role`` filled, and the reasons of each choice.
    """
    s = settings or RecistSettings()
    rows = baseline.copy()
    reasons: list[str] = []
    measurable = []
    for i, row in rows.iterrows():
        ok, why = _is_measurable(row, s)
        if ok:
            measurable.append((-_size(row), str(row.lesion_id), i))
        elif row.is_lymph_node and not pd.isna(row.short_axis_mm) and row.short_axis_mm < float(NODE_NORMAL_MM):
            rows.loc[i, "role"] = "drop"
            reasons.append(f"{row.lesion_id}: normal node ({why}), not recorded (rule 2)")
        else:
            rows.loc[i, "role"] = "non_target"
            reasons.append(f"{row.lesion_id}: non-measurable ({why}), non-target (rule 3)")
    per_organ: dict[str, int] = {}
    chosen = 0
    for _, lid, i in sorted(measurable):
        row = rows.loc[i]
        organ = organ_key(row)
        if chosen < s.max_targets and per_organ.get(organ, 0) < s.max_targets_per_organ:
            rows.loc[i, "role"] = "target"
            chosen += 1
            per_organ[organ] = per_organ.get(organ, 0) + 1
            reasons.append(f"{lid}: target ({organ}, {_size(row):g} mm) (rule 5)")
        else:
            rows.loc[i, "role"] = "non_target"
            reasons.append(f"{lid}: measurable but over the target limits, non-target (rules 5, 7)")
    rows = rows[rows["role"] != "drop"]
    return rows, reasons


def _check_targets(baseline: pd.DataFrame, s: RecistSettings, subject: str, what: str = "RECIST 1.1") -> None:
    targets = baseline[baseline["role"] == "target"]
    if len(targets) > s.max_targets:
        raise SpecError(
            f"subject {subject!r}: {len(targets)} target lesions at baseline; {what} allows at most {s.max_targets} "
            "(rule 5; change max_targets for a protocol that differs)"
        )
    counts = targets.apply(organ_key, axis=1).value_counts()
    if len(counts) and counts.max() > s.max_targets_per_organ:
        organ = counts.idxmax()
        raise SpecError(
            f"subject {subject!r}: {counts.max()} targets in organ {organ!r}; {what} allows at most "
            f"{s.max_targets_per_organ} per organ, all lymph nodes counting as one (rules 5-6)"
        )
    for _, row in targets.iterrows():
        ok, why = _is_measurable(row, s)
        if not ok:
            raise SpecError(
                f"subject {subject!r}: target {row.lesion_id!r} is not measurable at baseline ({why}; rules 1-2)"
            )


def baseline_roles(patient: pd.DataFrame, s: RecistSettings, subject: str, check=_check_targets):
    """Roles of the baseline lesions (given, or chosen by :func:`select_targets` when all are empty)."""
    dates = sorted(patient["timepoint"].unique())
    baseline = patient[patient["timepoint"] == dates[0]]
    reasons: list[str] = []
    if (baseline["role"] == "").all():
        baseline, reasons = select_targets(baseline, s)
    elif (baseline["role"] == "").any():
        lid = baseline.loc[baseline["role"] == "", "lesion_id"].iloc[0]
        raise SpecError(f"subject {subject!r}: baseline lesion {lid!r} has no role while others have one")
    else:
        check(baseline, s, subject)
    roles = dict(zip(baseline["lesion_id"], baseline["role"], strict=False))
    patient = patient[patient["lesion_id"].map(lambda lid: roles.get(lid, "new")) != "drop"].copy()
    known = patient["lesion_id"].isin(roles.keys())
    patient.loc[known, "role"] = patient.loc[known, "lesion_id"].map(roles)
    patient = patient[patient["lesion_id"].isin(baseline["lesion_id"]) | (patient["role"] == "new")]
    return patient, reasons


# --- per-time-point components -------------------------------------------------------------------------


@dataclasses.dataclass
class Components:
    """The parts of one follow-up time point before the overall table (rules 12-22)."""

    date: pd.Timestamp
    rows: pd.DataFrame
    target: str | None
    target_reasons: list[str]
    target_sum: Fraction | None
    partial_sum: Fraction | None
    baseline_sum: Fraction | None
    nadir_before: Fraction | None
    values: dict[str, Fraction | None]
    non_target: str | None
    non_target_reasons: list[str]
    new_unequivocal: list[str]
    new_equivocal: list[str]
    numbers: dict[str, Any]


def _node_sa(row: Any, s: RecistSettings) -> Fraction | None:
    if row.status == "absent":
        return Fraction(0)
    if row.status == "too_small":
        return exact(s.too_small_mm)
    return None if pd.isna(row.short_axis_mm) else exact(row.short_axis_mm)


def target_value(row: Any | None, node: bool, mode: str, s: RecistSettings) -> tuple[Fraction | None, str]:
    """The value of one target at one time point and why: mm (``diameter``/``viable``) or mL (``volume``)."""
    if row is None:
        return None, "not in the table at this time point"
    if row.status == "not_evaluated":
        return None, "not evaluated"
    if row.status == "absent":
        return Fraction(0), "absent, 0"
    if mode == "volume":
        if row.status == "too_small":
            # A sphere of the default diameter: (pi/6) d^3, mm^3 -> mL.
            return exact(np.pi / 6.0 * s.too_small_mm**3 / 1000.0), f"too small, {s.too_small_mm:g} mm sphere"
        return (None, "no volume_ml") if pd.isna(row.volume_ml) else (exact(row.volume_ml), "")
    if row.status == "too_small":
        return exact(s.too_small_mm), f"too small to measure, {s.too_small_mm:g} mm (rule 10)"
    if node:
        return (None, "no short axis") if pd.isna(row.short_axis_mm) else (exact(row.short_axis_mm), "")
    column = "viable_diameter_mm" if mode == "viable" else "longest_diameter_mm"
    value = row[column]
    return (None, f"no {column}") if pd.isna(value) else (exact(value), "")


def _meets_pd(total: Fraction, nadir: Fraction, s: RecistSettings) -> bool:
    growth = total - nadir
    if growth <= 0:
        return False
    if growth < Fraction(str(s.pd_change)) * nadir:
        return False
    return s.pd_absolute_mm is None or growth >= exact(s.pd_absolute_mm)


def _unit(mode: str) -> str:
    return "mL" if mode == "volume" else "mm"


def evaluate_components(
    patient: pd.DataFrame, s: RecistSettings, mode: str = "diameter", subject: str = ""
) -> tuple[Assessment, list[Components]]:
    """Baseline assessment and the per-follow-up components (target, non-target, new lesions).

    ``mode``: ``"diameter"`` (RECIST 1.1, LD / node SA), ``"viable"`` (mRECIST viable diameter) or
    ``"volume"`` (volume_ml). The patient table must already carry baseline roles
    (:func:`baseline_roles`).
    """
    scans = visits(patient)
    bl_date, bl_rows = scans[0]
    targets = [lid for lid, r in bl_rows.iterrows() if r.role == "target"]
    node = {lid: bool(bl_rows.loc[lid, "is_lymph_node"]) for lid in targets}
    non_targets = [lid for lid, r in bl_rows.iterrows() if r.role == "non_target"]
    unit = _unit(mode)

    baseline_sum: Fraction | None = None
    bl_reasons = []
    if targets:
        parts = {}
        for lid in targets:
            value, why = target_value(bl_rows.loc[lid], node[lid], mode, s)
            if value is None:
                raise SpecError(f"subject {subject!r}: target {lid!r} has no baseline measurement ({why})")
            parts[lid] = value
        baseline_sum = sum(parts.values(), Fraction(0))
        listing = ", ".join(f"{lid} {float(v):g}" for lid, v in parts.items())
        bl_reasons.append(f"targets {listing}; baseline sum {float(baseline_sum):g} {unit}")
    if non_targets:
        bl_reasons.append(f"non-targets {', '.join(non_targets)}")
    if not targets and not non_targets:
        bl_reasons.append("no target or non-target disease at baseline")
    baseline = Assessment(bl_date, "baseline", bl_reasons, {"sum": mm(baseline_sum), "unit": unit, "targets": targets})

    nadir = baseline_sum
    had_cr = False
    out: list[Components] = []
    pr_limit = Fraction(str(s.pr_change))
    for date, rows in scans[1:]:
        t_reasons: list[str] = []
        numbers: dict[str, Any] = {"unit": unit}
        values: dict[str, Fraction | None] = {}
        target_cat = None
        total = partial = None
        nadir_before = nadir
        if targets:
            missing = []
            for lid in targets:
                row = rows.loc[lid] if lid in rows.index else None
                value, why = target_value(row, node[lid], mode, s)
                values[lid] = value
                if value is None:
                    missing.append(f"{lid} ({why})")
            measured = [v for v in values.values() if v is not None]
            partial = sum(measured, Fraction(0))
            node_sa = {lid: (_node_sa(rows.loc[lid], s) if lid in rows.index else None) for lid in targets if node[lid]}
            numbers.update(baseline_sum=mm(baseline_sum), nadir=mm(nadir))
            reappeared = []
            if had_cr and s.cr_reappearance == "pd":
                for lid in targets:
                    if node[lid]:
                        if node_sa[lid] is not None and node_sa[lid] >= NODE_NORMAL_MM:
                            reappeared.append(f"{lid} short axis {float(node_sa[lid]):g} mm >= 10")
                    elif values[lid] is not None and values[lid] > 0:
                        reappeared.append(f"{lid} {float(values[lid]):g} {unit}")
            if missing:
                numbers["partial_sum"] = mm(partial)
                if reappeared:
                    target_cat = "PD"
                    t_reasons.append(
                        f"target disease after a target CR ({', '.join(reappeared)}): PD (rule 28, "
                        f"cr_reappearance='pd')"
                    )
                elif _meets_pd(partial, nadir, s):
                    target_cat = "PD"
                    t_reasons.append(
                        f"targets not all assessed ({', '.join(missing)}) but the measured ones already sum "
                        f"{float(partial):g} {unit}, +{percent(partial - nadir, nadir)} % and "
                        f"+{float(partial - nadir):g} "
                        f"{unit} over the nadir {float(nadir):g}: PD (rule 16)"
                    )
                else:
                    target_cat = "NE"
                    t_reasons.append(f"target(s) not assessed: {', '.join(missing)}; NE (rule 16)")
            else:
                total = partial
                numbers.update(
                    sum=mm(total),
                    change_from_baseline_pct=percent(total - baseline_sum, baseline_sum),
                    change_from_nadir_pct=percent(total - nadir, nadir),
                )
                non_nodal_zero = all(values[lid] == 0 for lid in targets if not node[lid])
                nodes_normal = all(
                    node_sa[lid] is not None and node_sa[lid] < NODE_NORMAL_MM for lid in targets if node[lid]
                )
                cr_measure = "viable diameter" if mode == "viable" else "size"
                if reappeared:
                    target_cat = "PD"
                    t_reasons.append(
                        f"target disease after a target CR ({', '.join(reappeared)}): PD (rule 28, "
                        f"cr_reappearance='pd')"
                    )
                elif non_nodal_zero and nodes_normal:
                    target_cat = "CR"
                    t_reasons.append(
                        f"all non-nodal targets 0 ({cr_measure}) and all nodal targets < 10 mm short axis "
                        f"(sum {float(total):g} {unit}): target CR (rule 12)"
                    )
                elif _meets_pd(total, nadir, s):
                    target_cat = "PD"
                    abs_rule = "" if s.pd_absolute_mm is None else f" and >= {s.pd_absolute_mm:g} {unit}"
                    t_reasons.append(
                        f"sum {float(total):g} {unit} is +{percent(total - nadir, nadir)} % (+{float(total - nadir):g} "
                        f"{unit}) over the nadir {float(nadir):g}: >= {s.pd_change * 100:g} %{abs_rule}, PD (rule 14)"
                    )
                elif baseline_sum > 0 and total - baseline_sum <= pr_limit * baseline_sum:
                    target_cat = "PR"
                    t_reasons.append(
                        f"sum {float(total):g} {unit} is {percent(total - baseline_sum, baseline_sum)} % from baseline "
                        f"{float(baseline_sum):g}: <= {s.pr_change * 100:g} %, PR (rule 13)"
                    )
                else:
                    target_cat = "SD"
                    growth = total - nadir
                    why = ""
                    if growth > 0 and growth >= Fraction(str(s.pd_change)) * nadir and s.pd_absolute_mm is not None:
                        why = (
                            f", the {float(growth):g} {unit} increase is under the {s.pd_absolute_mm:g} "
                            f"{unit} absolute minimum"
                        )
                    t_reasons.append(
                        f"sum {float(total):g} {unit}: {percent(total - baseline_sum, baseline_sum)} % from baseline, "
                        f"{percent(growth, nadir)} % from the nadir {float(nadir):g}{why}; SD (rule 15)"
                    )
                if target_cat == "CR":
                    had_cr = True
                nadir = min(nadir, total)

        nt_cat = None
        nt_reasons: list[str] = []
        if non_targets:
            states = {}
            for lid in non_targets:
                if lid not in rows.index:
                    states[lid] = "NE"
                    continue
                row = rows.loc[lid]
                if row.status == "unequivocal_progression":
                    states[lid] = "PD"
                elif row.status == "not_evaluated":
                    states[lid] = "NE"
                elif row.status == "absent":
                    states[lid] = "gone"
                elif mode == "viable" and not row.is_lymph_node and row.viable_diameter_mm == 0:
                    states[lid] = "gone"
                elif row.is_lymph_node and not pd.isna(row.short_axis_mm) and row.short_axis_mm < 10:
                    states[lid] = "gone"
                else:
                    states[lid] = "persists"
            by = _grouped(states)
            if by("PD"):
                nt_cat = "PD"
                nt_reasons.append(f"unequivocal progression of non-target {', '.join(by('PD'))}: PD (rule 19)")
            elif by("NE"):
                nt_cat = "NE"
                nt_reasons.append(f"non-target(s) not assessed: {', '.join(by('NE'))} (rule 20)")
            elif len(by("gone")) == len(non_targets):
                nt_cat = "CR"
                nt_reasons.append("all non-targets gone (nodes < 10 mm): non-target CR (rule 17)")
            else:
                nt_cat = "Non-CR/Non-PD"
                nt_reasons.append(f"non-target(s) {', '.join(by('persists'))} persist: Non-CR/Non-PD (rule 18)")

        new_rows = rows[rows["role"] == "new"]
        unequivocal = [
            lid for lid, r in new_rows.iterrows() if r.status in ("present", "too_small", "unequivocal_progression")
        ]
        equivocal = [lid for lid, r in new_rows.iterrows() if r.status == "equivocal"]
        numbers.update(target=target_cat, non_target=nt_cat, new_lesions=unequivocal, equivocal_new_lesions=equivocal)
        out.append(
            Components(
                date,
                rows,
                target_cat,
                t_reasons,
                total,
                partial,
                baseline_sum,
                nadir_before,
                values,
                nt_cat,
                nt_reasons,
                unequivocal,
                equivocal,
                numbers,
            )
        )
    return baseline, out


def _grouped(states: dict[str, str]):
    def by(state: str) -> list[str]:
        return [lid for lid, v in states.items() if v == state]

    return by


def overall_category(c: Components, labels: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """Overall time-point response from the components (RECIST 1.1 tables 1-2; rules 21-24)."""
    reasons = list(c.target_reasons) + list(c.non_target_reasons)
    if c.new_unequivocal:
        reasons.append(f"new lesion(s) {', '.join(c.new_unequivocal)}: PD (rule 21)")
    if c.new_equivocal:
        reasons.append(f"equivocal new lesion(s) {', '.join(c.new_equivocal)}: not PD at this time point (rule 21)")
    if c.target == "PD" or c.non_target == "PD" or c.new_unequivocal:
        return "PD", reasons
    if c.target is None:
        if c.non_target is None:
            return "NE", reasons + ["no target or non-target disease at baseline and no new lesion"]
        category = {"CR": "CR", "Non-CR/Non-PD": "Non-CR/Non-PD", "NE": "NE"}[c.non_target]
        return category, reasons + [f"non-target disease only: {category} (rule 24)"]
    if c.target == "CR":
        if c.non_target in (None, "CR"):
            return "CR", reasons + ["target CR, non-target CR or none, no new lesion: CR (table, rule 23)"]
        return "PR", reasons + [f"target CR with non-target {c.non_target}: PR (table, rule 23)"]
    if c.target in ("PR", "SD"):
        return c.target, reasons + [f"target {c.target}, non-target non-PD or not all evaluated: {c.target} (rule 23)"]
    return "NE", reasons + ["targets not all evaluated, no PD: NE (rule 23)"]


def assess_patient(
    patient: pd.DataFrame, settings: RecistSettings | None = None, subject: str | None = None
) -> PatientResponse:
    """RECIST 1.1 time-point responses and best overall response of one patient.

    Parameters
    ----------
    patient : pandas.DataFrame
        The rows of one subject from :func:`imagebio.response.table.read_lesion_table`.
    settings : RecistSettings, optional
        Protocol settings (confirmation, SD duration, ``cr_reappearance`` ...).

    Returns
    -------
    PatientResponse
        ``timepoints`` (baseline first, categories CR, PR, SD, PD, NE, Non-CR/Non-PD) with reasons and numbers,
        earlier rows revised when a later scan confirms an equivocal new lesion (rule 21), and ``best``.
    """
    s = settings or RecistSettings()
    subject = subject if subject is not None else str(patient["subject"].iloc[0])
    patient, selection = baseline_roles(patient, s, subject)
    baseline, comps = evaluate_components(patient, s, "diameter", subject)
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
    best.reasons.append(f"cr_reappearance={s.cr_reappearance!r}")
    return PatientResponse(subject, "recist11", [baseline, *follow], best, dataclasses.asdict(s))
