"""Run a study spec over a cohort: ingest, plan the task graph, skip finished work, execute, record, export.

::

    from imagebio.pipeline.runner import run_study
    result = run_study("study.yaml", workers=4)            # process pool
    result = run_study(spec, dask_local=2)                  # Dask LocalCluster
    result = run_study(spec, in_process=True, force=True)   # debugging, recompute everything

Bookkeeping: a :class:`~imagebio.store.models.Run` per invocation, a :class:`~imagebio.store.models.RunTask` per
task (``pending`` → ``running`` → ``done``/``failed``, or ``skipped`` when the same task was already done by this
software version) and a :class:`~imagebio.store.models.RunSubject` per subject (``failed`` with the first error
when any of its tasks failed). Everything the user could get wrong (spec, input folders, store, scheduler) is
checked before the first task starts.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

from imagebio import __version__
from imagebio.pipeline.executors import Executor, make_executor
from imagebio.pipeline.spec import StudySpec, load_spec
from imagebio.pipeline.tasks import (
    Task,
    analysis_hashes,
    build_tasks,
    completed_keys,
    execute_task,
    register_store,
    task_payload,
)
from imagebio.store.models import RunTask, utcnow

__all__ = ["RunResult", "run_study", "run_status", "COMMAND"]

COMMAND = "run"

Progress = Callable[[int, int], None]


@dataclasses.dataclass
class RunResult:
    """Outcome of :func:`run_study`. ``failed`` maps task key → error; ``seconds`` is the task phase wall time."""

    run_id: int
    n_tasks: int
    done: int = 0
    skipped: int = 0
    failed: dict[str, str] = dataclasses.field(default_factory=dict)
    n_values: int = 0
    seconds: float = 0.0
    executor: str = ""
    dashboard_link: str | None = None
    csv: Path | None = None
    store_url: str = ""


def _open(spec: StudySpec, db: str | None):
    from imagebio.store import open_store

    return open_store(db if db is not None else spec.store)


def _insert_tasks(session, run_id: int, tasks: list[Task], skipped: set[str]) -> None:
    now = utcnow()
    rows = [
        {
            "run_id": run_id,
            "task_key": t.key,
            "subject_id": t.subject_id,
            "timepoint_id": t.timepoint_id,
            "analysis": t.analysis,
            "kind": t.kind,
            "settings_hash": t.settings_hash,
            "software_version": __version__,
            "status": "skipped" if t.key in skipped else "pending",
            "finished_at": now if t.key in skipped else None,
        }
        for t in tasks
    ]
    for start in range(0, len(rows), 1000):
        session.execute(insert(RunTask), rows[start : start + 1000])


def _stored_hashes(spec: StudySpec, hashes: dict[str, str]) -> dict[str, str]:
    """Settings hash of the Measurements each analysis writes → analysis name.

    Per-visit analyses store their task settings hash; ``response`` stores the hashes of
    :mod:`imagebio.pipeline.response_run` (criterion settings, and the RECIST diameter settings).
    """
    from imagebio.store.writers import hash_settings

    out = {}
    for analysis in spec.analyses:
        if analysis.kind == "response":
            from imagebio.pipeline.response_run import DIAMETER_SETTINGS

            settings = analysis.settings
            out[hash_settings({"criteria": settings["criteria"], **settings["settings"]})] = analysis.name
            out.setdefault(hash_settings(DIAMETER_SETTINGS), analysis.name)
        else:
            out[hashes[analysis.name]] = analysis.name
    return out


def _already_ingested(store, root: Path) -> bool:
    """Whether every file folder under ``root`` is a stored series folder holding as many files as stored.

    A cheap directory walk that lets a rerun skip re-reading every DICOM header; any doubt (a new folder, a
    changed file count, files outside series folders) means the folder is ingested again (idempotently).
    """
    import os

    from sqlalchemy import func

    from imagebio.store.models import Series

    with store.session(readonly=True) as session:
        stored = dict(session.execute(select(Series.path, func.sum(Series.n_files)).group_by(Series.path)).all())
    if not stored:
        return False
    for folder, _, files in os.walk(root):
        files = [f for f in files if not f.startswith(".")]
        if files and stored.get(str(Path(folder))) != len(files):
            return False
    return True


def _export_csv(store, spec: StudySpec, hashes: dict[str, str], subjects: set[str]) -> Path:
    from imagebio.store.queries import measurements_frame

    with store.session(readonly=True) as session:
        frame = measurements_frame(session)
    analysis_of = _stored_hashes(spec, hashes)
    frame = frame[frame["settings_hash"].isin(set(analysis_of)) & frame["subject"].isin(subjects)]
    frame.insert(frame.columns.get_loc("method"), "analysis", frame["settings_hash"].map(analysis_of))
    spec.csv.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(spec.csv, index=False)
    return spec.csv


def run_study(
    spec: StudySpec | str | Path,
    db: str | None = None,
    *,
    executor: Executor | None = None,
    in_process: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    dask_local: int | None = None,
    force: bool = False,
    progress: Progress | None = None,
    on_start: Callable[[Executor, int, int], None] | None = None,
) -> RunResult:
    """Run every task of a study spec that is not already done, and record the outcome in the store.

    Parameters
    ----------
    spec : StudySpec or path
        The study (a YAML path is loaded and validated first).
    db : str, optional
        Store URL or SQLite path overriding ``inputs.store`` of the spec.
    executor : Executor, optional
        A ready executor; otherwise one is made from ``in_process`` / ``workers`` / ``scheduler`` /
        ``dask_local`` (see :func:`imagebio.pipeline.executors.make_executor`; default a process pool).
    force : bool
        Rerun tasks already done by this software version with the same settings.
    progress : callable, optional
        ``progress(finished, total)`` after each task (skipped tasks count as finished at the start).

    Notes
    -----
    The process pool and Dask LocalCluster start their workers with *spawn*, which re-imports the calling
    script: a script calling ``run_study`` with workers must guard it with ``if __name__ == "__main__":``.
    on_start : callable, optional
        ``on_start(executor, n_tasks, n_to_run)`` once the plan is made, before the first task.

    Returns
    -------
    RunResult
    """
    from imagebio.store import finish_run, ingest_folder, mark_subject, start_run

    if not isinstance(spec, StudySpec):
        spec = load_spec(spec)
    hashes = analysis_hashes(spec)
    own_executor = executor is None
    if executor is None:  # first, so that an unreachable scheduler fails before the store is touched
        executor = make_executor(in_process, workers, scheduler, dask_local)
    try:
        store = _open(spec, db)
    except BaseException:
        if own_executor:
            executor.close()
        raise
    try:
        try:
            for root in spec.dicom_roots:
                if not _already_ingested(store, root):
                    ingest_folder(root, store)
            with store.session() as session:
                tasks = build_tasks(session, spec)
                skipped = set() if force else completed_keys(session, [t.key for t in tasks], __version__)
                parameters: dict[str, Any] = {
                    "study": spec.name,
                    "spec": str(spec.source) if spec.source else None,
                    "analyses": {a.name: {"kind": a.kind, "settings_hash": hashes[a.name]} for a in spec.analyses},
                    "executor": executor.describe(),
                    "force": force,
                    "n_tasks": len(tasks),
                }
                run_id = start_run(session, f"{COMMAND} {spec.name}", parameters).id
                _insert_tasks(session, run_id, tasks, skipped)
            result = RunResult(run_id=run_id, n_tasks=len(tasks), skipped=len(skipped), executor=executor.describe(),
                               dashboard_link=executor.dashboard_link, store_url=store.display_url)
            if on_start is not None:
                on_start(executor, len(tasks), len(tasks) - len(skipped))
            store_url = register_store(store)
            started = time.perf_counter()
            _execute(store, executor, spec, tasks, skipped, run_id, store_url, result, progress)
            result.seconds = time.perf_counter() - started
        finally:
            if own_executor:
                executor.close()
        _record_subjects(store, run_id, tasks, mark_subject)
        with store.session() as session:
            finish_run(session, run_id)
        if spec.csv is not None:
            result.csv = _export_csv(store, spec, hashes, {t.subject for t in tasks})
        return result
    finally:
        store.close()


def _execute(store, executor: Executor, spec: StudySpec, tasks: list[Task], skipped: set[str], run_id: int,
             store_url: str, result: RunResult, progress: Progress | None) -> None:
    """Submit tasks as their dependencies finish, at most ``executor.max_in_flight`` at a time.

    A bounded window means a killed run loses at most the tasks in flight, and the in-process executor (which
    runs a task inside ``submit``) reports progress after every task. Bookkeeping is O(tasks + dependencies).
    """
    from collections import deque

    by_key = {t.key: t for t in tasks}
    dependents: dict[str, list[str]] = {}
    missing: dict[str, int] = {}
    for task in tasks:
        if task.key in skipped:
            continue
        open_deps = [dep for dep in task.depends_on if dep not in skipped]
        missing[task.key] = len(open_deps)
        for dep in open_deps:
            dependents.setdefault(dep, []).append(task.key)
    ready = deque(t for t in tasks if t.key in missing and missing[t.key] == 0)
    running: dict[Any, str] = {}
    n_finished = len(skipped)
    total = len(tasks)

    def report() -> None:
        if progress is not None:
            progress(n_finished, total)

    def record_failure(key: str, error: str, write: bool) -> None:
        result.failed[key] = error
        if write:
            with store.session() as session:
                session.execute(update(RunTask).where(RunTask.run_id == run_id, RunTask.task_key == key)
                                .values(status="failed", error=error, finished_at=utcnow()))

    def finish(key: str, ok: bool) -> None:
        nonlocal n_finished
        n_finished += 1
        for child in dependents.get(key, ()):
            if ok:
                missing[child] -= 1
                if missing[child] == 0:
                    ready.append(by_key[child])
            elif child not in result.failed:
                upstream = by_key[key]
                record_failure(child, f"upstream task {upstream.analysis} ({upstream.subject}, "
                                      f"{upstream.timepoint_label}) failed", write=True)
                finish(child, False)

    report()
    broken: str | None = None
    while ready or running:
        while ready and len(running) < executor.max_in_flight and broken is None:
            task = ready.popleft()
            payload = task_payload(store_url, run_id, task, spec.analysis(task.analysis))
            try:
                running[executor.submit(execute_task, payload)] = task.key
            except Exception as exc:  # noqa: BLE001 - e.g. a broken process pool: stop submitting, record why
                broken = f"not run: the {executor.name} executor failed ({type(exc).__name__}: {exc})"
                ready.appendleft(task)
        if broken is not None and not running:
            for key in [t.key for t in ready] + [k for k, n in missing.items() if n > 0]:
                if key not in result.failed:
                    record_failure(key, broken, write=True)
                    n_finished += 1
            ready.clear()
            break
        if not running:
            continue
        done, _ = executor.wait(list(running))
        for future in done:
            key = running.pop(future)
            try:
                outcome = executor.outcome(future)
            except Exception as exc:  # noqa: BLE001 - a worker that died: the task is failed, the run goes on
                record_failure(key, f"worker lost: {type(exc).__name__}: {exc}", write=True)
                finish(key, False)
                continue
            if outcome["status"] == "done":
                result.done += 1
                result.n_values += outcome["n_values"]
                finish(key, True)
            else:
                record_failure(key, outcome["error"], write=False)
                finish(key, False)
        report()


def _record_subjects(store, run_id: int, tasks: list[Task], mark_subject) -> None:
    with store.session() as session:
        rows = session.execute(
            select(RunTask.subject_id, RunTask.status, RunTask.error).where(RunTask.run_id == run_id)
            .order_by(RunTask.id)
        ).all()
        outcome: dict[int, str | None] = {}
        for subject_id, status, error in rows:
            if status == "failed" and outcome.get(subject_id) is None:
                outcome[subject_id] = error or "failed"
            else:
                outcome.setdefault(subject_id, None)
        for subject_id, error in outcome.items():
            mark_subject(session, run_id, subject_id, "failed" if error else "done", error=error)


def run_status(db: str | None = None, run_id: int | None = None) -> dict[str, Any]:
    """State of a run as plain data: counts by status, per analysis, and the failed tasks with their errors.

    Parameters
    ----------
    db : str, optional
        Store URL or SQLite path (default ``$IMAGEBIO_DB`` or ``./imagebio.db``).
    run_id : int, optional
        The run; default the latest one. Runs without tasks (e.g. ``lesion-biomarkers``) report their subjects.

    Raises
    ------
    StoreError
        When the store has no such run (or no run at all).
    """
    from imagebio.errors import StoreError
    from imagebio.store import open_store
    from imagebio.store.models import Run, RunSubject, Subject, Timepoint
    from imagebio.store.queries import latest_run

    store = open_store(db)
    try:
        with store.session(readonly=True) as session:
            if run_id is None:
                # Rooms called by a study (response) record runs of their own: prefer the latest study run.
                study_runs = select(Run).where(Run.command.like(f"{COMMAND} %"))
                run = session.scalars(study_runs.order_by(Run.started_at.desc(), Run.id.desc()).limit(1)).first()
                run = run or latest_run(session)
            else:
                run = session.get(Run, run_id)
            if run is None:
                raise StoreError(
                    f"store {store.display_url} has no run" + ("" if run_id is None else f" with id {run_id}")
                )
            report: dict[str, Any] = {
                "run_id": run.id,
                "command": run.command,
                "status": run.status,
                "software_version": run.software_version,
                "started_at": run.started_at,
                "finished_at": run.finished_at,
                "parameters": run.parameters,
                "unit": "tasks",
                "counts": {},
                "analyses": {},
                "failed": [],
            }
            rows = session.execute(
                select(RunTask.analysis, RunTask.status, RunTask.error, Subject.patient_id, Timepoint.label)
                .outerjoin(Subject, RunTask.subject_id == Subject.id)
                .outerjoin(Timepoint, RunTask.timepoint_id == Timepoint.id)
                .where(RunTask.run_id == run.id)
                .order_by(RunTask.id)
            ).all()
            if not rows:
                report["unit"] = "subjects"
                rows = [
                    (None, status, error, patient, None)
                    for status, error, patient in session.execute(
                        select(RunSubject.status, RunSubject.error, Subject.patient_id)
                        .join(Subject, RunSubject.subject_id == Subject.id)
                        .where(RunSubject.run_id == run.id)
                        .order_by(Subject.patient_id)
                    )
                ]
            for analysis, status, error, patient, label in rows:
                report["counts"][status] = report["counts"].get(status, 0) + 1
                if analysis is not None:
                    per = report["analyses"].setdefault(analysis, {})
                    per[status] = per.get(status, 0) + 1
                if status == "failed":
                    report["failed"].append(
                        {"subject": patient, "timepoint": label, "analysis": analysis, "error": error}
                    )
        return report
    finally:
        store.close()
