"""What a report shows, read from the study store: studies, lesion values, response categories.

Everything here is plain data (dataclasses and pandas frames); figures and HTML are made elsewhere. Values are
taken as stored (no recomputation), so a report's numbers equal the store's.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime
from typing import Any

from imagebio.errors import StoreError

__all__ = [
    "LESION_EXCLUDED_PREFIXES",
    "PatientData",
    "ResponseEntry",
    "StudyEntry",
    "lesion_tables",
    "load_patient",
    "sum_change_series",
]

#: Measurement names that are patient-level categories, not lesion values.
LESION_EXCLUDED_PREFIXES = ("response_", "best_response_")


@dataclasses.dataclass(frozen=True)
class StudyEntry:
    """One time point: label, date, days since baseline, description and its series (modality, description, n)."""

    label: str
    study_datetime: datetime | None
    days_since_baseline: int | None
    description: str
    series: tuple[tuple[str, str, int], ...]
    study_instance_uid: str


@dataclasses.dataclass(frozen=True)
class ResponseEntry:
    """A stored response category (``response_<criteria>`` / ``best_response_<criteria>``) with its reasons."""

    criteria: str
    timepoint: str
    category: str
    reasons: tuple[str, ...]
    best: bool
    numbers: dict[str, Any]


@dataclasses.dataclass
class PatientData:
    """A subject's studies, lesion measurements (long frame) and response entries."""

    patient_id: str
    sex: str | None
    studies: list[StudyEntry]
    measurements: Any  # pandas.DataFrame of imagebio.store.queries.MEASUREMENT_COLUMNS
    responses: list[ResponseEntry]

    @property
    def lesion_measurements(self):
        frame = self.measurements
        return frame[~frame["name"].str.startswith(LESION_EXCLUDED_PREFIXES)]


def _category_of(value: float | None, parameters: dict | None) -> str:
    if parameters and parameters.get("category"):
        return str(parameters["category"])
    return "not available" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def load_patient(session, patient_id: str) -> PatientData:
    """Read one subject's report data.

    Raises
    ------
    StoreError
        The subject is not in the store.
    """
    from sqlalchemy import or_, select

    from imagebio.store import Measurement, Roi, Series, Subject, Timepoint
    from imagebio.store.queries import list_subjects, measurements_frame

    subject = session.scalars(select(Subject).where(Subject.patient_id == patient_id)).first()
    if subject is None:
        known = [s.patient_id for s in list_subjects(session)]
        raise StoreError(
            f"subject {patient_id!r} is not in the store (it holds {len(known)}: {', '.join(known[:10]) or 'none'})"
        )
    studies = []
    for tp in session.scalars(
        select(Timepoint).where(Timepoint.subject_id == subject.id).order_by(Timepoint.study_datetime, Timepoint.id)
    ):
        series = tuple(
            (s.modality or "?", s.description or "", int(s.n_files or 0))
            for s in session.scalars(select(Series).where(Series.timepoint_id == tp.id).order_by(Series.id))
        )
        studies.append(
            StudyEntry(tp.label or tp.study_instance_uid, tp.study_datetime, tp.days_since_baseline,
                       tp.description or "", series, tp.study_instance_uid)
        )
    frame = measurements_frame(session, subject=patient_id)
    responses = []
    rows = session.execute(
        select(Measurement, Timepoint.label)
        .join(Roi, Measurement.roi_id == Roi.id)
        .join(Series, Measurement.series_id == Series.id)
        .join(Timepoint, Series.timepoint_id == Timepoint.id)
        .where(Roi.subject_id == subject.id)
        .where(or_(Measurement.name.startswith("response_", autoescape=True),
                   Measurement.name.startswith("best_response_", autoescape=True)))
        .order_by(Timepoint.study_datetime, Measurement.name)
    ).all()
    for m, label in rows:
        best = m.name.startswith("best_response_")
        criteria = m.name.removeprefix("best_response_").removeprefix("response_") or m.method
        parameters = m.parameters or {}
        reasons = parameters.get("reasons") or []
        if isinstance(reasons, str):
            reasons = [reasons]
        responses.append(
            ResponseEntry(criteria, label or "", _category_of(m.value, parameters), tuple(str(r) for r in reasons),
                          best, dict(parameters.get("numbers") or {}))
        )
    return PatientData(patient_id, subject.sex, studies, frame, responses)


def _column_label(name: str, unit: str | None) -> str:
    return f"{name} ({unit})" if unit else name


def lesion_tables(data: PatientData) -> dict[str, Any]:
    """Per time point label: a wide frame, one row per lesion, one column per ``name (unit)``, stored values."""
    frame = data.lesion_measurements
    tables = {}
    for study in data.studies:
        at = frame[frame["timepoint"] == study.label]
        if at.empty:
            continue
        at = at.assign(column=[_column_label(n, u) for n, u in zip(at["name"], at["unit"])],
                       lesion=at["lesion_id"].fillna(at["roi"]))
        wide = at.pivot_table(index="lesion", columns="column", values="value", aggfunc="last", dropna=False)
        tables[study.label] = wide.reindex(sorted(wide.columns), axis=1)
    return tables


def sum_change_series(data: PatientData) -> tuple[str, list[tuple[int, float]]] | None:
    """Percent change from baseline of the sum over baseline lesions, per follow-up day.

    Uses ``longest_diameter`` (mm) when stored, else ``volume`` (mL); lesions first seen after baseline are
    not summed (they are new lesions, judged by the criteria). ``None`` when there is no baseline value or no
    follow-up.
    """
    frame = data.lesion_measurements
    for name, label in (("longest_diameter", "sum of longest diameters"), ("volume", "sum of lesion volumes")):
        values = frame[(frame["name"] == name) & frame["value"].notna()]
        if values.empty or not data.studies:
            continue
        baseline = data.studies[0].label
        base = values[values["timepoint"] == baseline]
        if base.empty:
            continue
        lesions = set(base["lesion_id"].fillna(base["roi"]))
        total0 = float(base["value"].sum())
        if total0 <= 0:
            continue
        points = []
        for study in data.studies[1:]:
            at = values[values["timepoint"] == study.label]
            at = at[at["lesion_id"].fillna(at["roi"]).isin(lesions)]
            if at.empty or study.days_since_baseline is None:
                continue
            points.append((int(study.days_since_baseline), 100.0 * (float(at["value"].sum()) - total0) / total0))
        if points:
            return label, points
    return None
