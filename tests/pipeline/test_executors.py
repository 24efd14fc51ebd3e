"""Execution backends: in-process, local process pool and Dask LocalCluster give bit-identical measurements."""

from __future__ import annotations

import shutil
import time

import pytest

from imagebio.errors import InvalidParameterError
from imagebio.pipeline.executors import (
    DaskExecutor,
    InProcessExecutor,
    make_executor,
)
from imagebio.pipeline.runner import run_study

from .conftest import measurement_values


def _square(payload):
    return payload["x"] ** 2


def test_make_executor_picks_one_backend():
    assert isinstance(make_executor(in_process=True), InProcessExecutor)
    with pytest.raises(InvalidParameterError, match="at most one"):
        make_executor(in_process=True, dask_local=2)


def test_in_process_executor_hands_back_results_and_errors():
    with InProcessExecutor() as executor:
        futures = [executor.submit(_square, {"x": 3}), executor.submit(_square, {})]
        done, pending = executor.wait(futures)
        assert pending == set() and executor.outcome(futures[0]) == 9
        with pytest.raises(KeyError):
            executor.outcome(futures[1])


def test_unreachable_scheduler_is_one_clear_error():
    started = time.monotonic()
    with pytest.raises(InvalidParameterError, match="reachable Dask scheduler"):
        DaskExecutor(scheduler="tcp://127.0.0.1:9", connect_timeout_s=2)
    assert time.monotonic() - started < 30


@pytest.mark.slow
def test_three_backends_give_identical_measurements(cohort, spec_path, tmp_path):
    results = {}
    values = {}
    for name, options in (
        ("in-process", {"in_process": True}),
        ("process-pool", {"workers": 2}),
        ("dask", {"dask_local": 2}),
    ):
        db = tmp_path / f"{name}.db"
        shutil.copyfile(cohort[2], db)
        results[name] = run_study(spec_path, str(db), **options)
        values[name] = measurement_values(db)
        assert results[name].failed == {} and results[name].done == 12
    assert results["dask"].dashboard_link and results["dask"].dashboard_link.startswith("http")
    assert len(values["in-process"]) == results["in-process"].n_values > 500
    # Bit-identical: same keys, same floats (None where undefined).
    assert values["process-pool"] == values["in-process"]
    assert values["dask"] == values["in-process"]
    for name, result in results.items():
        print(f"{name}: {result.n_tasks} tasks in {result.seconds:.1f} s ({result.executor})")


class _BreaksAfterTwo(InProcessExecutor):
    """An executor that dies (like a process pool whose worker was killed) after two tasks."""

    def __init__(self):
        self.submitted = 0

    def submit(self, fn, payload):
        self.submitted += 1
        if self.submitted > 2:
            raise RuntimeError("pool is broken")
        return super().submit(fn, payload)


@pytest.mark.slow
def test_a_broken_executor_ends_the_run_with_every_task_accounted_for(store_path, spec_path):
    from imagebio.pipeline.runner import run_status

    result = run_study(spec_path, str(store_path), executor=_BreaksAfterTwo())
    assert result.done == 2 and len(result.failed) == 10
    assert all("RuntimeError: pool is broken" in error for error in result.failed.values())
    report = run_status(str(store_path), result.run_id)
    assert report["counts"] == {"done": 2, "failed": 10}
    rerun = run_study(spec_path, str(store_path), in_process=True)
    assert (rerun.done, rerun.skipped, rerun.failed) == (10, 2, {})
