"""Cohort pipeline at scale: a radiomics + PET study over N digital subjects on 1 vs 2 Dask workers.

* Cohort: :func:`imagebio.phantoms.generate_cohort` (``IMAGEBIO_BENCH_SUBJECTS`` subjects, default 100, seed 0),
  generated and ingested once into a template SQLite store and cached under ``bench_output/pipeline_cache/``
  (deterministic: the same seed gives byte-identical files), so a rerun of the bench times only the runs.
* Study: IBSI radiomics (preset ``ibsi_config_a``) on CT + PET lesion metrics, 2 time points per subject, i.e.
  ``4 N`` tasks; no DCE/DWI fits.
* Each run starts from a fresh copy of the ingested store on a fresh Dask ``LocalCluster`` (single-threaded
  worker processes); the timed phase is the task phase of :func:`imagebio.pipeline.runner.run_study`
  (``RunResult.seconds``: planning, ingest and cluster start-up excluded). Peak memory per worker is the peak
  resident set (``VmHWM`` of ``/proc/<pid>/status``, read inside each worker with ``client.run``).
* Store write cost: one task's worth of measurement rows (the radiomics task's values, upserts in one
  transaction) written into SQLite, and into PostgreSQL when ``IMAGEBIO_TEST_DB_URL`` points at one
  (``eval "$(bash .ci/postgres.sh)"``).

Row ``ratio`` of the 2-worker row = 1-worker time / 2-worker time (the speed-up; target >= 1.8).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_SUBJECTS = 100
SEED = 0
CACHE = Path(os.environ.get("IMAGEBIO_BENCH_CACHE", "bench_output/pipeline_cache"))

ANALYSES = [
    {"name": "radiomics_ct", "kind": "radiomics", "settings": {"preset": "ibsi_config_a", "image": "CT"}},
    {"name": "pet", "kind": "pet_metrics", "select": {"modalities": ["PT"]}},
]


def n_subjects() -> int:
    return int(os.environ.get("IMAGEBIO_BENCH_SUBJECTS", DEFAULT_SUBJECTS))


def _folder_size_mb(root: Path) -> float:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 2**20


def prepare_cohort(n: int, cache: Path = CACHE) -> dict:
    """Generate and ingest the cohort once (cached); returns paths and the one-off timings (None when cached)."""
    from imagebio.phantoms import generate_cohort
    from imagebio.store import ingest_folder, open_store

    folder = cache / f"cohort_n{n}_seed{SEED}"
    template = cache / f"cohort_n{n}_seed{SEED}.db"
    info = {"folder": folder, "template": template, "generate_s": None, "ingest_s": None}
    if not (folder / "ground_truth.json").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        template.unlink(missing_ok=True)
        start = time.perf_counter()
        generate_cohort(folder, n_patients=n, seed=SEED)
        info["generate_s"] = time.perf_counter() - start
    if not template.is_file():
        partial = template.with_suffix(".partial.db")
        partial.unlink(missing_ok=True)
        start = time.perf_counter()
        store = open_store(partial)
        ingest_folder(folder / "dicom", store)
        store.close()
        raw = sqlite3.connect(partial)
        try:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            raw.execute("PRAGMA journal_mode=DELETE")  # one self-contained file to copy
        finally:
            raw.close()
        partial.replace(template)
        info["ingest_s"] = time.perf_counter() - start
    info["dicom_mb"] = _folder_size_mb(folder / "dicom")
    info["dicom_ct_pt_seg_mb"] = sum(
        _folder_size_mb(p) for p in (folder / "dicom").glob("*/*/*") if p.name in ("CT", "PT", "SEG")
    )
    return info


def _write_spec(folder: Path) -> Path:
    import yaml

    path = folder / "study.yaml"
    data = {"name": "bench-pipeline", "select": {"modalities": ["CT", "PT"]}, "analyses": ANALYSES}
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _peak_rss_mb() -> float:
    """Peak resident set of this process (Linux ``VmHWM``), MiB; runs inside each Dask worker."""
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_on_dask(template: Path, workers: int, work: Path) -> dict:
    """One study run on a fresh LocalCluster with ``workers`` workers over a fresh copy of the store."""
    from sqlalchemy import select

    from imagebio.pipeline.executors import DaskExecutor
    from imagebio.pipeline.runner import run_study
    from imagebio.store import open_store
    from imagebio.store.models import RunTask

    db = work / f"dask{workers}.db"
    shutil.copyfile(template, db)
    spec = _write_spec(work)
    with DaskExecutor(local_workers=workers) as executor:
        cpu_before = executor._client.run(time.process_time)
        main_before = time.process_time()
        result = run_study(spec, str(db), executor=executor)
        main_cpu = time.process_time() - main_before
        cpu_after = executor._client.run(time.process_time)
        peaks = executor._client.run(_peak_rss_mb)
    worker_cpu = sum(cpu_after[w] - cpu_before[w] for w in cpu_after)
    store = open_store(db)
    with store.session(readonly=True) as session:
        spans = session.execute(
            select(RunTask.analysis, RunTask.started_at, RunTask.finished_at, RunTask.n_values)
            .where(RunTask.run_id == result.run_id, RunTask.status == "done")
        ).all()
    store.close()
    per_analysis: dict[str, list[float]] = {}
    values: dict[str, list[int]] = {}
    for analysis, started, finished, n_values in spans:
        per_analysis.setdefault(analysis, []).append((finished - started).total_seconds())
        values.setdefault(analysis, []).append(n_values or 0)
    return {
        "seconds": result.seconds,
        "n_tasks": result.n_tasks,
        "done": result.done,
        "failed": len(result.failed),
        "n_values": result.n_values,
        "peak_mb": sorted(peaks.values()),
        "task_s": {k: statistics.median(v) for k, v in per_analysis.items()},
        "values_per_task": {k: statistics.median(v) for k, v in values.items()},
        "db_mb": db.stat().st_size / 2**20,
        # CPU the run got: worker processes + this process (runner, Dask scheduler, SQLite bookkeeping).
        "worker_cpu_s": worker_cpu,
        "main_cpu_s": main_cpu,
        "cores_used": (worker_cpu + main_cpu) / result.seconds if result.seconds else float("nan"),
    }


def store_write_s(url: str, n_rows: int, repeat: int = 20) -> float:
    """Median time of writing one task's ``n_rows`` measurements (2 ROIs, upserts, one transaction), seconds."""
    from datetime import datetime

    from imagebio.store import MeasurementRow, open_store, record_measurements, upsert_roi
    from imagebio.store.models import Series, Subject, Timepoint
    from imagebio.store.writers import upsert_series, upsert_subject, upsert_timepoint

    store = open_store(url)
    try:
        tag = f"{os.getpid()}-{time.time_ns()}"
        with store.session() as session:
            subject = upsert_subject(session, f"bench-{tag}")
            timepoint = upsert_timepoint(session, subject, f"1.2.3.{time.time_ns()}", study_datetime=datetime(2020, 1, 1))
            series = upsert_series(session, timepoint, f"1.2.4.{time.time_ns()}", modality="CT")
            subject_id, timepoint_id, series_id = subject.id, timepoint.id, series.id
        times = []
        for attempt in range(repeat):
            start = time.perf_counter()
            with store.session() as session:
                subject = session.get(Subject, subject_id)
                timepoint = session.get(Timepoint, timepoint_id)
                rois = [upsert_roi(session, subject, f"lesion_{i}", timepoint=timepoint,
                                   source_series=session.get(Series, series_id)) for i in (1, 2)]
                rows = [
                    MeasurementRow(roi_id=rois[i % 2].id, series_id=series_id, name=f"feature_{i // 2}",
                                   value=float(i), unit=None, method="bench", settings_hash=f"{attempt:016x}")
                    for i in range(n_rows)
                ]
                record_measurements(session, rows)
            times.append(time.perf_counter() - start)
        return statistics.median(times)
    finally:
        store.close()


def run() -> list[dict]:
    n = n_subjects()
    label = f"{n} subjects" + ("" if n == DEFAULT_SUBJECTS else f" (IMAGEBIO_BENCH_SUBJECTS, default {DEFAULT_SUBJECTS})")
    cohort = prepare_cohort(n)
    rows: list[dict] = []
    if cohort["generate_s"] is not None:
        rows.append({"name": f"generate digital cohort, {label}", "ours_s": cohort["generate_s"], "peer": None,
                     "peer_s": None, "ratio": None, "peak_mem_mb": None})
    if cohort["ingest_s"] is not None:
        rows.append({"name": f"ingest cohort into SQLite, {label}", "ours_s": cohort["ingest_s"], "peer": None,
                     "peer_s": None, "ratio": None, "peak_mem_mb": None})
    work = Path(tempfile.mkdtemp(prefix="imagebio-bench-pipeline-"))
    try:
        one = run_on_dask(cohort["template"], 1, work)
        two = run_on_dask(cohort["template"], 2, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    speedup = one["seconds"] / two["seconds"]
    for workers, result in ((1, one), (2, two)):
        rows.append({
            "name": f"study radiomics+PET, {label}, {result['n_tasks']} tasks, Dask {workers} worker(s)",
            "ours_s": result["seconds"],
            "peer": None if workers == 1 else "same study on 1 Dask worker",
            "peer_s": None if workers == 1 else one["seconds"],
            "ratio": None if workers == 1 else speedup,
            "peak_mem_mb": max(result["peak_mb"]),
        })
    n_rows = int(one["values_per_task"].get("radiomics_ct", 600))
    sqlite_dir = Path(tempfile.mkdtemp(prefix="imagebio-bench-store-"))
    try:
        write_sqlite = store_write_s(str(sqlite_dir / "w.db"), n_rows)
    finally:
        shutil.rmtree(sqlite_dir, ignore_errors=True)
    rows.append({"name": f"store write of one task ({n_rows} values), SQLite", "ours_s": write_sqlite, "peer": None,
                 "peer_s": None, "ratio": None, "peak_mem_mb": None})
    pg_url = os.environ.get("IMAGEBIO_TEST_DB_URL", "")
    write_pg = None
    if pg_url.startswith("postgresql"):
        write_pg = store_write_s(pg_url, n_rows)
        rows.append({"name": f"store write of one task ({n_rows} values), PostgreSQL", "ours_s": write_pg,
                     "peer": "SQLite", "peer_s": write_sqlite, "ratio": write_sqlite / write_pg, "peak_mem_mb": None})
    print(
        f"  pipeline: {n} subjects, {one['n_tasks']} tasks ({one['failed']}+{two['failed']} failed), "
        f"1 worker {one['seconds']:.1f} s, 2 workers {two['seconds']:.1f} s, speed-up {speedup:.2f}x (target 1.8x); "
        f"peak RSS per worker: 1w {one['peak_mb']}, 2w {[round(x) for x in two['peak_mb']]} MiB; "
        f"CPU s workers/main 1w {one['worker_cpu_s']:.0f}/{one['main_cpu_s']:.0f}, 2w {two['worker_cpu_s']:.0f}/"
        f"{two['main_cpu_s']:.0f} (cores obtained 1w {one['cores_used']:.2f}, 2w {two['cores_used']:.2f}); "
        f"median task s {one['task_s']} (1 worker), {two['task_s']} (2 workers); values/task "
        f"{one['values_per_task']}; DICOM {cohort['dicom_mb']:.0f} MiB ({cohort['dicom_ct_pt_seg_mb']:.0f} MiB "
        f"CT+PT+SEG); store after run {one['db_mb']:.1f} MiB; {one['n_values']} values; store write/task SQLite "
        f"{write_sqlite * 1000:.1f} ms" + ("" if write_pg is None else f", PostgreSQL {write_pg * 1000:.1f} ms")
        + f"; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs",
        flush=True,
    )
    return rows


if __name__ == "__main__":  # spawn-started Dask workers re-import this file: keep the guard
    for row in run():
        print(row, file=sys.stdout)
