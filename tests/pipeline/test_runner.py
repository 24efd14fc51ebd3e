"""Running a study: skipping finished work, rerunning changed settings only, failures, status, crash safety."""

from __future__ import annotations

import csv
import shutil
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from imagebio.cli.main import main
from imagebio.pipeline.runner import run_status, run_study
from imagebio.store import Measurement, Roi, open_store
from imagebio.store.models import RunTask

from .conftest import LIGHT_ANALYSES, measurement_values, write_spec

pytestmark = pytest.mark.slow


def counts(path) -> tuple[int, int]:
    store = open_store(path)
    with store.session(readonly=True) as session:
        out = (session.scalar(select(func.count(Measurement.id))), session.scalar(select(func.count(Roi.id))))
    store.close()
    return out


def test_run_rerun_and_changed_setting(store_path, tmp_path):
    spec = write_spec(tmp_path, outputs={"csv": "out/measurements.csv"})
    first = run_study(spec, str(store_path), in_process=True)
    assert (first.n_tasks, first.done, first.skipped, first.failed) == (12, 12, 0, {})
    values = measurement_values(store_path)
    assert len(values) == first.n_values == counts(store_path)[0]
    with open(first.csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(values)
    assert {r["analysis"] for r in rows} == {"lesions", "radiomics_ct", "pet"}

    again = run_study(spec, str(store_path), in_process=True)
    assert (again.done, again.skipped, again.n_values) == (0, 12, 0)
    assert measurement_values(store_path) == values

    changed = [dict(a) for a in LIGHT_ANALYSES]
    changed[1] = dict(changed[1], settings={"preset": "ibsi_config_a", "families": ["stat", "ih"], "bin_width": 10})
    third = run_study(write_spec(tmp_path, analyses=changed), str(store_path), in_process=True)
    assert (third.done, third.skipped) == (4, 8)  # only the 4 radiomics tasks
    store = open_store(store_path)
    with store.session(readonly=True) as session:
        ran = set(session.scalars(select(RunTask.analysis).where(RunTask.run_id == third.run_id,
                                                                  RunTask.status == "done")))
    store.close()
    assert ran == {"radiomics_ct"}
    after = measurement_values(store_path)
    assert {k: v for k, v in after.items() if k in values} == values  # old settings kept beside the new

    forced = run_study(spec, str(store_path), in_process=True, force=True)
    assert forced.done == 12
    assert measurement_values(store_path) == after  # recomputed in place, nothing duplicated


def test_a_failing_visit_is_recorded_and_the_run_goes_on(store_path, tmp_path, cohort, capsys):
    manifest = cohort[1]
    broken = manifest.patients[0].patient_id
    victim = sorted(manifest.series_folder(broken, "followup", "PT").iterdir())[4]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    try:
        result = run_study(write_spec(tmp_path), str(store_path), in_process=True)
    finally:
        victim.write_bytes(data)
    # The broken PET breaks lesions (reads CT+PT) and pet of that visit; radiomics waits for lesions -> failed too.
    assert len(result.failed) == 3 and result.done == 9
    report = run_status(str(store_path), result.run_id)
    assert report["counts"] == {"done": 9, "failed": 3}
    assert {(f["subject"], f["timepoint"]) for f in report["failed"]} == {(broken, "follow-up 1")}
    upstream = [f for f in report["failed"] if f["analysis"] == "radiomics_ct"]
    assert "upstream task lesions" in upstream[0]["error"]
    with pytest.raises(SystemExit) as info:
        main(["status", str(result.run_id), "--db", str(store_path)])
    assert info.value.code in (0, None)
    out = capsys.readouterr().out
    assert "failed" in out and broken in out
    # Rerun with the file repaired: only the 3 failed tasks run.
    rerun = run_study(write_spec(tmp_path), str(store_path), in_process=True)
    assert (rerun.done, rerun.skipped, rerun.failed) == (3, 9, {})


def _done_tasks(path) -> int:
    store = open_store(path)
    try:
        with store.session(readonly=True) as session:
            return session.scalar(select(func.count(RunTask.id)).where(RunTask.status == "done"))
    finally:
        store.close()


def test_sigkill_midway_then_rerun_completes_exactly_once(cohort, store_path, tmp_path):
    import shutil

    reference = tmp_path / "reference.db"
    shutil.copyfile(cohort[2], reference)
    spec = write_spec(tmp_path)
    run_study(spec, str(reference), in_process=True)
    expected = measurement_values(reference)

    command = [sys.executable, "-m", "imagebio.cli.main", "run", str(spec), "--db", str(store_path), "--workers", "2"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while _done_tasks(store_path) < 3:
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the run and its pool workers, mid-task
        process.wait()
    killed_done = _done_tasks(store_path)
    assert 3 <= killed_done < 12

    result = run_study(spec, str(store_path), in_process=True)
    assert result.failed == {}
    assert result.skipped == killed_done and result.done == 12 - killed_done
    assert measurement_values(store_path) == expected
    assert counts(store_path) == counts(reference)


def test_two_runs_at_once_on_one_sqlite_store_duplicate_nothing(cohort, store_path, tmp_path):
    reference = tmp_path / "reference.db"
    shutil.copyfile(cohort[2], reference)
    spec = write_spec(tmp_path)
    run_study(spec, str(reference), in_process=True)
    command = [sys.executable, "-m", "imagebio.cli.main", "run", str(spec), "--db", str(store_path), "--in-process"]
    processes = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(2)]
    errors = [p.communicate(timeout=500)[1].decode() for p in processes]
    assert [p.returncode for p in processes] == [0, 0], errors
    assert measurement_values(store_path) == measurement_values(reference)  # raises on a duplicate key
    assert counts(store_path) == counts(reference)


def test_response_runs_per_subject_after_its_measurements(store_path, tmp_path):
    analyses = [
        {"name": "lesions", "kind": "lesion_biomarkers", "settings": {"series": ["CT"]}},
        {"name": "recist", "kind": "response", "depends_on": ["lesions"], "settings": {"criteria": "recist11"}},
    ]
    spec = write_spec(tmp_path, analyses=analyses, select={"modalities": ["CT"], "subjects": ["DP003-001"]},
                      outputs={"csv": "out.csv"})
    result = run_study(spec, str(store_path), in_process=True)
    assert (result.n_tasks, result.done, result.failed) == (3, 3, {})
    store = open_store(store_path)
    with store.session(readonly=True) as session:
        tasks = session.execute(select(RunTask.analysis, RunTask.timepoint_id, RunTask.started_at,
                                       RunTask.finished_at).where(RunTask.run_id == result.run_id)).all()
    store.close()
    (response,) = [t for t in tasks if t.analysis == "recist"]
    assert response.timepoint_id is None  # one task for the subject
    assert all(t.finished_at <= response.started_at for t in tasks if t.analysis == "lesions")
    with open(result.csv, newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["name"] == "response_recist11"]
    assert {r["timepoint"] for r in rows} == {"baseline", "follow-up 1"}
    assert {r["analysis"] for r in rows} == {"recist"}
    assert run_status(str(store_path))["run_id"] == result.run_id  # not the response room's own run
    again = run_study(spec, str(store_path), in_process=True)
    assert (again.done, again.skipped) == (0, 3)


def test_a_rerun_does_not_rescan_an_ingested_dicom_folder(cohort, store_path, tmp_path, monkeypatch):
    from imagebio.pipeline import runner

    store = open_store(store_path)
    try:
        assert runner._already_ingested(store, cohort[0] / "dicom")
        extra = tmp_path / "new_series"
        extra.mkdir()
        (extra / "image.dcm").write_bytes(b"x")
        assert not runner._already_ingested(store, tmp_path)
    finally:
        store.close()
    calls = []
    monkeypatch.setattr("imagebio.store.ingest_folder", lambda root, store: calls.append(root))
    spec = write_spec(tmp_path, inputs={"dicom": [str(cohort[0] / "dicom")]},
                      analyses=[{"kind": "pet_metrics"}], select={"subjects": ["DP003-002"], "timepoints": ["baseline"]})
    result = run_study(spec, str(store_path), in_process=True)
    assert result.done == 1 and calls == []
