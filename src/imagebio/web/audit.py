"""The audit log writer: requests hand their entries to one background thread that writes them in batches.

A request never waits for the audit write (nor holds a store connection for it); :meth:`AuditWriter.flush`
waits until everything handed over is written (used before reading the log, and at shutdown).
"""

from __future__ import annotations

import logging
import queue
import threading

from imagebio.store import Store

__all__ = ["AuditWriter"]

log = logging.getLogger(__name__)
_STOP = object()


class AuditWriter:
    """Writes :class:`~imagebio.store.review.AuditEntry` rows to ``store`` from one daemon thread."""

    def __init__(self, store: Store, max_batch: int = 500):
        self.store = store
        self.max_batch = max_batch
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="imagebio-audit", daemon=True)
        self._thread.start()

    def add(self, entry) -> None:
        self._queue.put(entry)

    def flush(self) -> None:
        """Block until every entry added so far is written."""
        self._queue.join()

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(30)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            entries = [e for e in batch if e is not _STOP]
            try:
                if entries:
                    with self.store.session() as session:
                        session.add_all(entries)
            except Exception:
                log.exception("audit log write of %d entries failed", len(entries))
            finally:
                for _ in batch:
                    self._queue.task_done()
            if len(entries) != len(batch):
                return
