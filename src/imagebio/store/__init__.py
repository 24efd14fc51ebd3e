"""The study store: subjects, timepoints, series, ROIs and measurements with provenance, in SQLite or PostgreSQL.

    from imagebio.store import open_store, ingest_folder
    store = open_store("study.db")            # or a SQLAlchemy URL; migrated to the current schema
    report = ingest_folder("dicom/", store)   # idempotent: rerun to complete an interrupted ingest
    with store.session() as s:                # one transaction
        ...
"""

from imagebio.store.ingest import IngestReport, ingest_folder
from imagebio.store import review  # noqa: F401 - registers the review tables (users, grants, overrides, audit)
from imagebio.store.models import Measurement, Roi, Run, RunSubject, RunTask, Series, Subject, Timepoint
from imagebio.store.session import Store, open_store
from imagebio.store.writers import (
    MeasurementRow,
    MeasurementWrite,
    finish_run,
    hash_settings,
    mark_subject,
    record_measurements,
    start_run,
    upsert_roi,
    upsert_series,
    upsert_subject,
    upsert_timepoint,
)

__all__ = [
    "Store",
    "open_store",
    "ingest_folder",
    "IngestReport",
    "Subject",
    "Timepoint",
    "Series",
    "Roi",
    "Measurement",
    "Run",
    "RunSubject",
    "RunTask",
    "MeasurementRow",
    "MeasurementWrite",
    "hash_settings",
    "upsert_subject",
    "upsert_timepoint",
    "upsert_series",
    "upsert_roi",
    "record_measurements",
    "start_run",
    "mark_subject",
    "finish_run",
]
