"""PostgreSQL as a first-class store: key store behaviours and cohort runs against a real server.

Runs when ``IMAGEBIO_TEST_DB_URL`` points at a PostgreSQL database (``eval "$(bash .ci/postgres.sh)"`` starts one
on loopback); the database's ``public`` schema is dropped and recreated. When ``CI`` is set and the URL is not,
these tests FAIL, so CI cannot skip them silently; locally without both they skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from sqlalchemy import create_engine, delete, func, select, text

from imagebio.pipeline.runner import run_study
from imagebio.store import (
    Measurement,
    MeasurementRow,
    Roi,
    Run,
    RunSubject,
    Subject,
    ingest_folder,
    open_store,
    record_measurements,
    upsert_roi,
    upsert_series,
    upsert_subject,
    upsert_timepoint,
)
from imagebio.store.models import RunTask

from .conftest import measurement_values, write_spec

URL = os.environ.get("IMAGEBIO_TEST_DB_URL")

pytestmark = pytest.mark.slow


def _require_postgres() -> str:
    if not URL:
        if os.environ.get("CI"):
            pytest.fail("CI is set but IMAGEBIO_TEST_DB_URL is not: start PostgreSQL with "
                        'eval "$(bash .ci/postgres.sh)" before the tests')
        pytest.skip("IMAGEBIO_TEST_DB_URL is not set (eval \"$(bash .ci/postgres.sh)\" to run against PostgreSQL)")
    if not URL.startswith("postgresql"):
        pytest.fail(f"IMAGEBIO_TEST_DB_URL must be a postgresql URL, got {URL.split('://')[0]}://...")
    return URL


def _reset_database(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def pg_url() -> str:
    url = _require_postgres()
    _reset_database(url)
    return url


@pytest.fixture(scope="module")
def pg_cohort(request):
    """PostgreSQL store with the digital cohort ingested (once per module)."""
    url = _require_postgres()
    cohort = request.getfixturevalue("cohort")  # generated only once PostgreSQL is known to be there
    _reset_database(url)
    store = open_store(url)
    ingest_folder(cohort[0] / "dicom", store)
    store.close()
    return url


def _clear_results(url: str) -> None:
    store = open_store(url)
    with store.session() as session:
        for model in (RunTask, RunSubject, Measurement, Roi, Run):
            session.execute(delete(model))
    store.close()


@pytest.fixture(scope="module")
def reference(request, tmp_path_factory):
    """Measurements of the light spec computed in-process on SQLite."""
    _require_postgres()
    cohort = request.getfixturevalue("cohort")
    folder = tmp_path_factory.mktemp("pg_reference")
    db = folder / "reference.db"
    shutil.copyfile(cohort[2], db)
    run_study(write_spec(folder), str(db), in_process=True)
    return measurement_values(db)


def test_store_basics_on_postgres(pg_url):
    from alembic.script import ScriptDirectory

    from imagebio.store.session import alembic_config

    store = open_store(pg_url)
    assert store.engine.dialect.name == "postgresql"
    with store.engine.connect() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()
    with store.session() as session:
        subject = upsert_subject(session, "PG-1")
        assert upsert_subject(session, "PG-1", sex="F").id == subject.id
        tp = upsert_timepoint(session, subject, "1.2.3")
        series = upsert_series(session, tp, "1.2.3.4", modality="CT")
        roi = upsert_roi(session, subject, "lesion", timepoint=tp)
        rows = [MeasurementRow(roi.id, series.id, "volume", 1.5, "mL", "m", settings_hash="h"),
                MeasurementRow(roi.id, series.id, "nan", float("nan"), None, "m", settings_hash="h")]
        first = record_measurements(session, rows)
    with store.session() as session:
        second = record_measurements(session, [MeasurementRow(roi.id, series.id, "volume", 2.5, "mL", "m",
                                                              settings_hash="h")])
    with store.session(readonly=True) as session:
        stored = {m.name: m.value for m in session.scalars(select(Measurement))}
        n_subjects = session.scalar(select(func.count(Subject.id)))
    store.close()
    assert (first.inserted, second.inserted, second.updated) == (2, 0, 1)
    assert stored == {"volume": 2.5, "nan": None}
    assert n_subjects == 1


_WRITER = textwrap.dedent(
    """
    import sys
    from imagebio.store import open_store, record_measurements, upsert_roi, upsert_series, upsert_subject
    from imagebio.store import upsert_timepoint, MeasurementRow
    store = open_store(sys.argv[1])
    for batch in range(10):
        with store.session() as s:
            subject = upsert_subject(s, "PG-C")
            tp = upsert_timepoint(s, subject, "9.9")
            series = upsert_series(s, tp, "9.9.1", modality="PT")
            rois = [upsert_roi(s, subject, f"lesion_{i}", timepoint=tp) for i in range(5)]
            record_measurements(s, [MeasurementRow(r.id, series.id, f"f{j}", float(j + batch), "", "m",
                                                   settings_hash="h") for r in rois for j in range(40)])
    store.close()
    """
)


def test_concurrent_writers_create_no_duplicates(pg_url):
    open_store(pg_url).close()  # migrate once
    processes = [subprocess.Popen([sys.executable, "-c", _WRITER, pg_url]) for _ in range(3)]
    assert [p.wait(timeout=300) for p in processes] == [0, 0, 0]
    store = open_store(pg_url)
    with store.session(readonly=True) as session:
        n_rois = session.scalar(select(func.count(Roi.id)))
        values = session.execute(select(Measurement.name, Measurement.value)).all()
    store.close()
    assert n_rois == 5
    assert len(values) == 5 * 40
    assert {v for n, v in values if n == "f0"} == {9.0}  # the last batch of every writer wins


def test_two_worker_run_on_postgres_matches_sqlite_and_reruns_nothing(pg_cohort, reference, tmp_path):
    _clear_results(pg_cohort)
    spec = write_spec(tmp_path)
    first = run_study(spec, pg_cohort, workers=2)
    assert (first.done, first.failed) == (12, {})
    assert measurement_values(pg_cohort) == reference
    again = run_study(spec, pg_cohort, workers=2)
    assert (again.done, again.skipped) == (0, 12)


def test_two_runs_at_once_on_one_store_duplicate_nothing(pg_cohort, reference, tmp_path):
    _clear_results(pg_cohort)
    spec = write_spec(tmp_path)
    command = [sys.executable, "-m", "imagebio.cli.main", "run", str(spec), "--db", pg_cohort, "--in-process"]
    processes = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(2)]
    errors = [p.communicate(timeout=500)[1].decode() for p in processes]
    assert [p.returncode for p in processes] == [0, 0], errors
    assert measurement_values(pg_cohort) == reference  # raises on any duplicate key


def _done(url: str) -> int:
    store = open_store(url)
    try:
        with store.session(readonly=True) as session:
            return session.scalar(select(func.count(RunTask.id)).where(RunTask.status == "done"))
    finally:
        store.close()


def test_sigkill_midway_then_rerun_completes_exactly_once_on_postgres(pg_cohort, reference, tmp_path):
    _clear_results(pg_cohort)
    spec = write_spec(tmp_path)
    command = [sys.executable, "-m", "imagebio.cli.main", "run", str(spec), "--db", pg_cohort, "--workers", "2"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while _done(pg_cohort) < 3:
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    killed_done = _done(pg_cohort)
    assert 3 <= killed_done < 12
    result = run_study(spec, pg_cohort, workers=2)
    assert result.failed == {} and result.done == 12 - killed_done
    assert measurement_values(pg_cohort) == reference
