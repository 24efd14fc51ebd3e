"""The task graph: one task per (subject, time point, analysis, settings hash), explicit dependencies, skipping."""

from __future__ import annotations

import pickle

import pytest
from sqlalchemy import select

from imagebio.errors import SpecError
from imagebio.pipeline.spec import load_spec, parse_spec
from imagebio.pipeline.tasks import (
    analysis_hashes,
    build_tasks,
    completed_keys,
    execute_task,
    task_key,
    task_payload,
)
from imagebio.store import Measurement, open_store, start_run
from imagebio.store.models import RunTask

from .conftest import LIGHT_ANALYSES


def spec_with(**changes):
    analyses = [dict(a, settings=dict(a.get("settings", {}))) for a in LIGHT_ANALYSES]
    for name, settings in changes.items():
        next(a for a in analyses if a["name"] == name)["settings"].update(settings)
    return parse_spec({"analyses": analyses, "select": {"modalities": ["CT", "PT"]}})


def test_one_task_per_visit_and_analysis_with_dependencies(store_path, spec_path):
    spec = load_spec(spec_path)
    store = open_store(store_path)
    with store.session(readonly=True) as session:
        tasks = build_tasks(session, spec)
    store.close()
    # 2 patients x 2 visits x 3 analyses
    assert len(tasks) == 12
    assert len({t.key for t in tasks}) == 12
    by_key = {t.key: t for t in tasks}
    for task in tasks:
        if task.analysis == "radiomics_ct":
            (upstream,) = task.depends_on
            assert by_key[upstream].analysis == "lesions"
            assert by_key[upstream].timepoint_id == task.timepoint_id
        else:
            assert task.depends_on == ()
        assert task.key == task_key(task.subject, task.timepoint_uid, task.kind, task.settings_hash)
    positions = {t.key: i for i, t in enumerate(tasks)}
    assert all(positions[d] < positions[t.key] for t in tasks for d in t.depends_on)


def test_selection_restricts_the_tasks_but_not_the_hash(store_path):
    store = open_store(store_path)
    narrow = parse_spec({"analyses": LIGHT_ANALYSES, "select": {"modalities": ["CT", "PT"], "timepoints": ["baseline"],
                                                                "subjects": ["DP003-001"]}})
    with store.session(readonly=True) as session:
        tasks = build_tasks(session, narrow)
    store.close()
    assert {(t.subject, t.timepoint_label) for t in tasks} == {("DP003-001", "baseline")}
    assert analysis_hashes(narrow) == analysis_hashes(spec_with())


def test_a_changed_setting_changes_only_that_analysis_and_its_dependents():
    before = analysis_hashes(spec_with())
    lesions_changed = analysis_hashes(spec_with(lesions={"series": ["CT"]}))
    assert lesions_changed["pet"] == before["pet"]
    assert lesions_changed["lesions"] != before["lesions"]
    assert lesions_changed["radiomics_ct"] != before["radiomics_ct"]  # downstream of lesions
    radiomics_changed = analysis_hashes(spec_with(radiomics_ct={"bin_width": 10}))
    assert [n for n in before if radiomics_changed[n] != before[n]] == ["radiomics_ct"]


def test_identical_analyses_are_refused():
    twice = [LIGHT_ANALYSES[2], dict(LIGHT_ANALYSES[2], name="pet_again")]
    with pytest.raises(SpecError, match="identical"):
        analysis_hashes(parse_spec({"analyses": twice}))


def _run_tasks(store, spec, analysis):
    with store.session() as session:
        tasks = [t for t in build_tasks(session, spec) if t.analysis == analysis]
        run_id = start_run(session, "test", {}).id
        for t in tasks:
            session.add(RunTask(run_id=run_id, task_key=t.key, subject_id=t.subject_id, timepoint_id=t.timepoint_id,
                                analysis=t.analysis, kind=t.kind, settings_hash=t.settings_hash,
                                software_version="test", status="pending"))
    return run_id, tasks


def test_a_task_writes_its_values_and_done_state_and_ships_no_arrays(store_path, spec_path):
    from imagebio.pipeline.tasks import register_store

    spec = load_spec(spec_path)
    store = open_store(store_path)
    url = register_store(store)
    run_id, tasks = _run_tasks(store, spec, "pet")
    payload = task_payload(url, run_id, tasks[0], spec.analysis("pet"))
    assert len(pickle.dumps(payload)) < 4096  # ids, paths and settings only
    outcome = execute_task(payload)
    assert outcome["status"] == "done" and outcome["n_values"] > 0
    with store.session(readonly=True) as session:
        row = session.scalars(select(RunTask).where(RunTask.task_key == tasks[0].key)).one()
        values = session.scalars(select(Measurement).where(Measurement.settings_hash == tasks[0].settings_hash)).all()
        assert completed_keys(session, [t.key for t in tasks], "test") == {tasks[0].key}
        assert completed_keys(session, [t.key for t in tasks], "other-version") == set()
    assert row.status == "done" and row.n_values == outcome["n_values"] == len(values)
    assert {v.method for v in values} == {"pet_lesion_metrics"}
    assert {v.run_id for v in values} == {run_id}
    store.close()


def test_a_failing_task_rolls_back_and_records_its_error(store_path, spec_path, cohort):
    from imagebio.pipeline.tasks import register_store

    spec = load_spec(spec_path)
    store = open_store(store_path)
    url = register_store(store)
    run_id, tasks = _run_tasks(store, spec, "pet")
    manifest = cohort[1]
    task = next(t for t in tasks if t.subject == manifest.patients[0].patient_id and t.timepoint_label == "baseline")
    victim = sorted(manifest.series_folder(task.subject, "baseline", "PT").iterdir())[3]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    try:
        outcome = execute_task(task_payload(url, run_id, task, spec.analysis("pet")))
    finally:
        victim.write_bytes(data)
    assert outcome["status"] == "failed"
    with store.session(readonly=True) as session:
        row = session.scalars(select(RunTask).where(RunTask.task_key == task.key)).one()
        n_values = len(session.scalars(select(Measurement)).all())
    assert row.status == "failed" and row.error == outcome["error"]
    assert victim.name in row.error or "slice" in row.error or "DICOM" in row.error
    assert n_values == 0
    store.close()
