"""The task graph of a study run, and the task function every executor runs.

One task is one analysis of one subject at one time point with one settings hash. Its ``key`` depends only on
(PatientID, StudyInstanceUID, analysis kind, settings hash), not on the run, so a later run sees that the same
work was already done (a ``done`` :class:`~imagebio.store.models.RunTask` with the same key and software version)
and skips it. Dependencies are explicit: an analysis listing ``depends_on: [other]`` waits for ``other``'s task
of the same subject and time point.

:func:`execute_task` is a top-level function taking and returning plain data (store URL, ids, settings), so it
pickles for a process pool or a Dask cluster; it reads the images where it runs and writes the task's
measurements and its ``done`` state in **one** transaction, so a run killed at any point leaves each task either
wholly recorded or not at all.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from imagebio.errors import ImagebioError, SpecError
from imagebio.pipeline.spec import SUBJECT_LEVEL_KINDS, AnalysisSpec, StudySpec
from imagebio.store.models import RunTask, Series, Subject, Timepoint, utcnow
from imagebio.store.writers import hash_settings

__all__ = [
    "Task",
    "analysis_hashes",
    "task_key",
    "build_tasks",
    "completed_keys",
    "execute_task",
    "register_store",
    "task_payload",
]

#: Pipeline code version folded into every settings hash: bump it when the adapters change what they store.
PIPELINE_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Task:
    """One unit of work; ``depends_on`` holds the keys of the tasks that must be done first."""

    key: str
    analysis: str
    kind: str
    settings_hash: str
    subject: str
    subject_id: int
    timepoint_uid: str | None
    timepoint_id: int | None
    timepoint_label: str | None
    depends_on: tuple[str, ...] = ()


def analysis_hashes(spec: StudySpec) -> dict[str, str]:
    """Settings hash of every analysis: kind, settings, ROI/series selection and the hashes of its upstreams.

    The subject and time point lists are left out: they decide which tasks exist, not what a task computes, so
    adding subjects to a study does not rerun the others.
    """
    hashes: dict[str, str] = {}
    seen: dict[str, str] = {}
    for analysis in spec.analyses:
        selection = analysis.select.as_dict()
        selection.pop("subjects")
        selection.pop("timepoints")
        digest = hash_settings(
            {
                "kind": analysis.kind,
                "settings": dict(analysis.settings),
                "select": selection,
                "upstream": [hashes[name] for name in analysis.depends_on],
                "pipeline_version": PIPELINE_VERSION,
            }
        )
        if digest in seen:
            raise SpecError(
                f"{spec.source or 'study spec'}: analyses {seen[digest]!r} and {analysis.name!r} are identical "
                "(same kind, settings and selection); remove one"
            )
        seen[digest] = analysis.name
        hashes[analysis.name] = digest
    return hashes


def task_key(patient_id: str, timepoint_uid: str | None, kind: str, settings_hash: str) -> str:
    """Run-independent identity of a task (32 hex digits)."""
    text = "\x1f".join((patient_id, timepoint_uid or "", kind, settings_hash))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _visits(session, analysis: AnalysisSpec) -> list[tuple[Subject, Timepoint]]:
    query = select(Subject).order_by(Subject.patient_id)
    if analysis.select.subjects:
        query = query.where(Subject.patient_id.in_(list(analysis.select.subjects)))
    subjects = list(session.scalars(query))
    out = []
    for subject in subjects:
        tps = session.scalars(
            select(Timepoint).where(Timepoint.subject_id == subject.id).order_by(Timepoint.study_datetime, Timepoint.id)
        )
        for timepoint in tps:
            if analysis.select.timepoints and timepoint.label not in analysis.select.timepoints:
                continue
            out.append((subject, timepoint))
    return out


def _subject_tasks(session, analysis: AnalysisSpec, digest: str, by_subject: dict[str, dict[int, list[str]]]):
    query = select(Subject).order_by(Subject.patient_id)
    if analysis.select.subjects:
        query = query.where(Subject.patient_id.in_(list(analysis.select.subjects)))
    for subject in session.scalars(query):
        depends = tuple(key for upstream in analysis.depends_on for key in by_subject[upstream].get(subject.id, ()))
        key = task_key(subject.patient_id, None, analysis.kind, digest)
        by_subject[analysis.name][subject.id] = [key]
        yield Task(key, analysis.name, analysis.kind, digest, subject.patient_id, subject.id, None, None, None, depends)


def build_tasks(session, spec: StudySpec) -> list[Task]:
    """Every task of the study over the subjects and time points in the store, in dependency order.

    A per-visit analysis depending on another waits for that analysis's task of the same visit; a per-subject
    analysis (``response``) waits for all of its subject's tasks of the analyses it depends on.
    """
    hashes = analysis_hashes(spec)
    tasks: list[Task] = []
    by_place: dict[str, dict[int, str]] = {}  # analysis name -> timepoint id -> task key
    by_subject: dict[str, dict[int, list[str]]] = {}  # analysis name -> subject id -> task keys
    for analysis in spec.analyses:
        place = by_place.setdefault(analysis.name, {})
        per_subject = by_subject.setdefault(analysis.name, {})
        if analysis.kind in SUBJECT_LEVEL_KINDS:
            tasks.extend(_subject_tasks(session, analysis, hashes[analysis.name], by_subject))
            continue
        for subject, timepoint in _visits(session, analysis):
            depends = tuple(
                by_place[upstream][timepoint.id]
                for upstream in analysis.depends_on
                if timepoint.id in by_place[upstream]
            )
            key = task_key(subject.patient_id, timepoint.study_instance_uid, analysis.kind, hashes[analysis.name])
            place[timepoint.id] = key
            per_subject.setdefault(subject.id, []).append(key)
            tasks.append(
                Task(
                    key=key,
                    analysis=analysis.name,
                    kind=analysis.kind,
                    settings_hash=hashes[analysis.name],
                    subject=subject.patient_id,
                    subject_id=subject.id,
                    timepoint_uid=timepoint.study_instance_uid,
                    timepoint_id=timepoint.id,
                    timepoint_label=timepoint.label,
                    depends_on=depends,
                )
            )
    return tasks


def completed_keys(session, keys: Sequence[str], software_version: str) -> set[str]:
    """The task keys already ``done`` in any run by this software version."""
    done: set[str] = set()
    keys = list(keys)
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        stmt = select(RunTask.task_key).where(
            RunTask.task_key.in_(chunk), RunTask.status == "done", RunTask.software_version == software_version
        )
        done.update(session.scalars(stmt))
    return done


# ---------------------------------------------------------------------------------------------------------------
# Running one task (in whatever process the executor chose)

_STORES: dict[str, Any] = {}


def _url_key(url) -> str:
    return url if isinstance(url, str) else url.render_as_string(hide_password=False)


def register_store(store) -> str:
    """Let tasks in this process reuse an open store (e.g. an in-memory database); returns its URL key."""
    key = _url_key(store.url)
    _STORES[key] = store
    return key


def _store(url: str):
    if url not in _STORES:
        from imagebio.store import open_store

        _STORES[url] = open_store(url)
    return _STORES[url]


def task_payload(store_url: str, run_id: int, task: Task, analysis: AnalysisSpec) -> dict[str, Any]:
    """The plain data :func:`execute_task` needs: ids, paths in the store, settings; never image arrays."""
    return {
        "store": store_url,
        "run_id": run_id,
        "task": dataclasses.asdict(task),
        "analysis": analysis.as_dict(),
    }


def _mark(session, run_id: int, key: str, status: str, **values: Any) -> None:
    session.execute(
        update(RunTask).where(RunTask.run_id == run_id, RunTask.task_key == key).values(status=status, **values)
    )


def _visit_series(session, timepoint_id: int, selection: Mapping[str, Any]):
    from imagebio.io.dicom import find_series
    from imagebio.pipeline.visit import VisitSeries, classify_series

    modalities = selection.get("modalities")
    pattern = selection.get("series_description")
    items = []
    rows = session.scalars(select(Series).where(Series.timepoint_id == timepoint_id).order_by(Series.id)).all()
    for row in rows:
        if not row.path:
            continue
        if row.kind == "image":
            if modalities and (row.modality or "").upper() not in modalities:
                continue
            if pattern and not re.search(pattern, row.description or ""):
                continue
        elif row.kind not in ("seg", "rtstruct"):
            continue
        scanned = find_series(Path(row.path), row.series_instance_uid, image_only=False)
        items.append(VisitSeries(classify_series(scanned), row.series_instance_uid, Path(row.path), row.id))
    return items


def _record(session, task: Mapping[str, Any], output, run_id: int) -> int:
    from imagebio.store.writers import MeasurementRow, record_measurements, upsert_roi

    subject = session.get(Subject, task["subject_id"])
    timepoint = session.get(Timepoint, task["timepoint_id"])
    mask_series = output.used.get("SEG") or output.used.get("RTSTRUCT")
    source = session.get(Series, mask_series.store_id) if mask_series and mask_series.store_id else None
    rois: dict[str, Any] = {}
    rows = []
    for value in output.values:
        if value.roi not in rois:
            rois[value.roi] = upsert_roi(
                session, subject, value.roi, timepoint=timepoint, lesion_id=value.roi, source_series=source
            )
        series = output.used.get(value.series)
        if series is None or series.store_id is None:
            raise ImagebioError(f"value {value.name} of ROI {value.roi} refers to unknown series role {value.series}")
        rows.append(
            MeasurementRow(
                roi_id=rois[value.roi].id,
                series_id=series.store_id,
                name=value.name,
                value=value.value,
                unit=value.unit or None,
                method=value.method,
                parameters=dict(value.parameters) or None,
                settings_hash=task["settings_hash"],
                run_id=run_id,
            )
        )
    record_measurements(session, rows)
    return len(rows)


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if isinstance(exc, ImagebioError) else f"{type(exc).__name__}: {text}"


def execute_task(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Run one task where this process is and record its outcome; returns a small summary dict.

    Any exception of the analysis is caught: the task's partial writes are rolled back and it is recorded as
    ``failed`` with the error, so the run goes on. Returns ``{"key", "status", "error", "n_values", "seconds"}``.
    """
    from imagebio.pipeline.analyses import SUBJECT_ANALYSES, run_analysis

    started = time.perf_counter()
    store = _store(payload["store"])
    run_id = int(payload["run_id"])
    task = payload["task"]
    analysis = payload["analysis"]
    key = task["key"]
    with store.session() as session:
        _mark(session, run_id, key, "running", started_at=utcnow())
    try:
        if analysis["kind"] in SUBJECT_ANALYSES:
            # The room records its own values (idempotent upserts): a crash before the done mark only means
            # the task is redone, never duplicated.
            n_values = SUBJECT_ANALYSES[analysis["kind"]](store, task["subject"], analysis["settings"])
            with store.session() as session:
                _mark(session, run_id, key, "done", n_values=n_values, error=None, finished_at=utcnow())
        else:
            with store.session(readonly=True) as session:
                visit = _visit_series(session, task["timepoint_id"], analysis["select"])
            output = run_analysis(analysis["kind"], visit, analysis["settings"], analysis["select"])
            with store.session() as session:
                n_values = _record(session, task, output, run_id)
                _mark(session, run_id, key, "done", n_values=n_values, error=None, finished_at=utcnow())
    except Exception as exc:  # noqa: BLE001 - any failure of one task is recorded, the run goes on
        error = _error_text(exc)
        with store.session() as session:
            _mark(session, run_id, key, "failed", error=error, finished_at=utcnow())
        return {"key": key, "status": "failed", "error": error, "n_values": 0,
                "seconds": time.perf_counter() - started}
    return {"key": key, "status": "done", "error": None, "n_values": n_values,
            "seconds": time.perf_counter() - started}
