"""Measure every stored subject's lesions at every visit and record the values as Measurements.

One subject is one unit of work: its values are written in one transaction, so a subject that fails (bad file,
missing series) is rolled back and recorded as ``failed`` with its error in the Run, and the others go on. The
Measurement upsert key makes a rerun update values instead of duplicating them.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy import select

from imagebio.errors import ImagebioError, StoreError
from imagebio.io.dicom import find_series
from imagebio.pipeline.lesions import DceSettings, LesionValue, measure_lesions
from imagebio.pipeline.visit import VisitSeries, classify_series, load_visit
from imagebio.store import (
    MeasurementRow,
    Series,
    Store,
    Subject,
    Timepoint,
    finish_run,
    hash_settings,
    mark_subject,
    record_measurements,
    start_run,
    upsert_roi,
)

__all__ = ["LesionRunResult", "run_lesion_biomarkers"]

log = logging.getLogger(__name__)

COMMAND = "lesion-biomarkers"


@dataclasses.dataclass
class LesionRunResult:
    """Outcome of :func:`run_lesion_biomarkers`: the run id, subjects done, and failures with their errors."""

    run_id: int
    done: list[str] = dataclasses.field(default_factory=list)
    failed: dict[str, str] = dataclasses.field(default_factory=dict)
    n_values: int = 0


def _visit_series(session, timepoint: Timepoint) -> list[VisitSeries]:
    items = []
    for row in session.scalars(select(Series).where(Series.timepoint_id == timepoint.id).order_by(Series.id)):
        if not row.path:
            continue
        scanned = find_series(Path(row.path), row.series_instance_uid, image_only=False)
        items.append(VisitSeries(classify_series(scanned), row.series_instance_uid, Path(row.path), row.id))
    return items


def _record(session, subject: Subject, timepoint: Timepoint, used: dict[str, VisitSeries],
            values: Sequence[LesionValue], run_id: int) -> int:
    mask_series = used.get("SEG") or used.get("RTSTRUCT")
    source = session.get(Series, mask_series.store_id) if mask_series and mask_series.store_id else None
    rois = {}
    rows = []
    for value in values:
        if value.roi not in rois:
            rois[value.roi] = upsert_roi(
                session, subject, value.roi, timepoint=timepoint, lesion_id=value.roi, source_series=source
            )
        series = used.get(value.series)
        if series is None or series.store_id is None:
            raise StoreError(f"value {value.name} of ROI {value.roi} refers to unknown series role {value.series}")
        rows.append(
            MeasurementRow(
                roi_id=rois[value.roi].id,
                series_id=series.store_id,
                name=value.name,
                value=value.value,
                unit=value.unit,
                method=value.method,
                parameters=dict(value.parameters) or None,
                settings_hash=hash_settings({"method": value.method, **dict(value.parameters)}),
                run_id=run_id,
            )
        )
    record_measurements(session, rows)
    return len(rows)


def run_lesion_biomarkers(
    store: Store,
    subjects: Sequence[str] | None = None,
    dce_settings: DceSettings | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LesionRunResult:
    """Measure lesion biomarkers for the stored subjects (all, or the PatientIDs given) and record them.

    Parameters
    ----------
    store : Store
        The study store (series must have been ingested with their folders).
    subjects : sequence of str, optional
        PatientIDs to process; default all.
    dce_settings : DceSettings, optional
        Protocol facts for DCE fits; without them DCE series are not fitted.
    progress : callable, optional
        ``progress(done, total)`` after each subject.
    """
    parameters = {"subjects": list(subjects) if subjects else "all"}
    if dce_settings is not None:
        parameters["dce"] = dataclasses.asdict(dce_settings)
    with store.session() as session:
        run_id = start_run(session, COMMAND, parameters).id
        query = select(Subject).order_by(Subject.patient_id)
        if subjects:
            query = query.where(Subject.patient_id.in_(list(subjects)))
        patient_ids = [(s.id, s.patient_id) for s in session.scalars(query)]
    result = LesionRunResult(run_id=run_id)
    for index, (subject_id, patient_id) in enumerate(patient_ids, start=1):
        try:
            with store.session() as session:
                subject = session.get(Subject, subject_id)
                timepoints = session.scalars(
                    select(Timepoint).where(Timepoint.subject_id == subject_id).order_by(Timepoint.study_datetime)
                ).all()
                n_values = 0
                for timepoint in timepoints:
                    visit = _visit_series(session, timepoint)
                    images, masks, used = load_visit(visit)
                    values = measure_lesions(images, masks, dce_settings)
                    n_values += _record(session, subject, timepoint, used, values, run_id)
        except ImagebioError as exc:
            log.warning("subject %s failed: %s", patient_id, exc)
            result.failed[patient_id] = str(exc)
            with store.session() as session:
                mark_subject(session, run_id, subject_id, "failed", error=str(exc))
        else:
            result.done.append(patient_id)
            result.n_values += n_values
            with store.session() as session:
                mark_subject(session, run_id, subject_id, "done")
        if progress is not None:
            progress(index, len(patient_ids))
    with store.session() as session:
        finish_run(session, run_id)
    return result
