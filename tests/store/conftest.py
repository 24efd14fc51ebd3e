"""Fixtures of the store tests: fresh stores and a synthetic DICOM cohort.

The ``store`` fixture is a fresh SQLite file. Set ``IMAGEBIO_TEST_DB_URL`` (e.g.
``postgresql+psycopg://postgres@/imagebio?host=/tmp``) to run the same tests against another database; its
imagebio tables are dropped and recreated by the migrations before each test.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, func, select, text

from imagebio.store import open_store
from imagebio.store.models import Base

from .dicom_cohort import Cohort, write_cohort

TEST_DB_URL = os.environ.get("IMAGEBIO_TEST_DB_URL")


def _reset(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # every table of every revision, registered or not in this process
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        else:
            Base.metadata.drop_all(connection)
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


@pytest.fixture
def sqlite_store(tmp_path):
    opened = open_store(tmp_path / "store.db")
    yield opened
    opened.close()


@pytest.fixture
def store(tmp_path):
    if TEST_DB_URL:
        _reset(TEST_DB_URL)
        opened = open_store(TEST_DB_URL)
    else:
        opened = open_store(tmp_path / "store.db")
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def cohort(tmp_path_factory) -> Cohort:
    return write_cohort(tmp_path_factory.mktemp("cohort"))


def row_counts(store) -> dict[str, int]:
    """Number of rows in every table of the store."""
    with store.session(readonly=True) as session:
        return {
            name: session.scalar(select(func.count()).select_from(table))
            for name, table in Base.metadata.tables.items()
        }
