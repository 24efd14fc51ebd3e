"""Where the tasks of a run execute: in this process, in a local process pool, or on a Dask cluster.

Every executor offers the same three operations to the runner — ``submit(fn, payload)``, ``wait(futures)``
(returns when at least one is finished) and ``outcome(future)`` — so the runner's scheduling (dependencies,
bookkeeping, progress) is the same for all. Payloads are small dicts of ids and paths: tasks read their images
where they run, nothing large goes through a queue or a scheduler.

Dask (``distributed``) is imported only by :class:`DaskExecutor`.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
from collections.abc import Callable, Iterable
from typing import Any

from imagebio.errors import InvalidParameterError

__all__ = ["Executor", "InProcessExecutor", "ProcessPoolExecutor", "DaskExecutor", "make_executor"]


class Executor:
    """Common interface of the execution backends (use as a context manager)."""

    name = "base"
    workers = 1
    #: How many tasks the runner keeps submitted at once.
    max_in_flight = 1
    dashboard_link: str | None = None

    def submit(self, fn: Callable[[Any], Any], payload: Any):  # pragma: no cover - interface
        raise NotImplementedError

    def wait(self, futures: Iterable) -> tuple[set, set]:
        """Block until at least one of ``futures`` is finished; returns ``(done, not_done)``."""
        done, pending = cf.wait(set(futures), return_when=cf.FIRST_COMPLETED)
        return set(done), set(pending)

    def outcome(self, future) -> Any:
        """The task's return value; raises what the backend raised (e.g. a worker that died)."""
        return future.result()

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return f"{self.name} ({self.workers} worker{'s' if self.workers != 1 else ''})"

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InProcessExecutor(Executor):
    """Runs each task immediately in this process (debugging: breakpoints and tracebacks work)."""

    name = "in-process"

    def submit(self, fn, payload):
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(payload))
        except BaseException as exc:  # noqa: BLE001 - handed to the runner like a remote failure
            if isinstance(exc, KeyboardInterrupt):
                raise
            future.set_exception(exc)
        return future


class ProcessPoolExecutor(Executor):
    """A local pool of ``workers`` processes started with *spawn* (no state inherited from the parent)."""

    name = "process-pool"

    def __init__(self, workers: int | None = None):
        import multiprocessing

        self.workers = int(workers or max(1, (os.cpu_count() or 2) - 1))
        if self.workers < 1:
            raise InvalidParameterError("workers", workers, "at least 1 worker process")
        self.max_in_flight = 2 * self.workers
        self._pool = cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"))

    def submit(self, fn, payload):
        return self._pool.submit(fn, payload)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor(Executor):
    """Tasks on a Dask distributed cluster: an existing scheduler (``tcp://host:port``) or a LocalCluster.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler; its workers must have imagebio installed and see the DICOM paths and the
        store.
    local_workers : int, optional
        Start a LocalCluster with this many single-threaded worker processes instead.
    connect_timeout_s : float
        How long to wait for the scheduler before failing.
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, local_workers: int | None = None, connect_timeout_s: float = 10.0):
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise InvalidParameterError(
                "executor", "dask", f"the 'distributed' package installed (pip install 'dask[distributed]'): {exc}"
            ) from None
        import logging

        self._cluster = None
        if scheduler:
            try:
                self._client = Client(scheduler, timeout=f"{connect_timeout_s}s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise InvalidParameterError(
                    "--scheduler", scheduler, f"a reachable Dask scheduler address tcp://host:port ({exc})"
                ) from None
            self.workers = len(self._client.scheduler_info().get("workers", {}))
        else:
            n = int(local_workers or max(1, (os.cpu_count() or 2) - 1))
            if n < 1:
                raise InvalidParameterError("dask_local", local_workers, "at least 1 worker")
            self._cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                silence_logs=logging.ERROR,
            )
            self._client = Client(self._cluster)
            self.workers = n
        self.dashboard_link = self._client.dashboard_link
        # Enough queued work for the scheduler to balance, without flooding it with a whole cohort at once.
        self.max_in_flight = max(64, 4 * self.workers)
        self._counter = 0

    def submit(self, fn, payload):
        self._counter += 1
        key = f"imagebio-task-{payload['task']['key']}-{os.getpid()}-{self._counter}"
        return self._client.submit(fn, payload, key=key, pure=False)

    def wait(self, futures):
        from distributed import wait

        done, pending = wait(list(futures), return_when="FIRST_COMPLETED")
        return set(done), set(pending)

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(
    in_process: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    dask_local: int | None = None,
) -> Executor:
    """The executor the command-line options ask for (process pool by default)."""
    chosen = [name for name, on in (("--in-process", in_process), ("--scheduler", scheduler),
                                   ("--dask-local", dask_local)) if on]
    if len(chosen) > 1:
        raise InvalidParameterError("executor", chosen, "at most one of --in-process, --scheduler, --dask-local")
    if in_process:
        return InProcessExecutor()
    if scheduler or dask_local:
        return DaskExecutor(scheduler=scheduler, local_workers=dask_local)
    return ProcessPoolExecutor(workers)
