"""The schema comes from the Alembic migrations shipped in the package, and they match the models."""

from __future__ import annotations

import io
import sqlite3

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from imagebio.errors import StoreError
from imagebio.store import open_store
from imagebio.store.models import Base
from imagebio.store.session import MIGRATIONS_DIR, alembic_config


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_migrations_are_shipped_inside_the_package():
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    versions = sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("0*.py"))
    assert versions[0] == "0001_initial.py"
    # revisions are numbered in order and chained: the head is the highest number
    assert head_revision() == versions[-1].split("_")[0]


def test_open_store_creates_every_table_on_a_fresh_sqlite_file(tmp_path):
    path = tmp_path / "fresh.db"
    assert not path.exists()
    store = open_store(path)
    try:
        tables = set(inspect(store.engine).get_table_names())
    finally:
        store.close()
    assert tables == set(Base.metadata.tables) | {"alembic_version"}
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT version_num FROM alembic_version").fetchall() == [(head_revision(),)]


def test_models_and_migrations_have_no_drift(store):
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_drift_check_would_see_a_missing_column(store):
    # Guard for the test above: the comparison does detect a difference when there is one.
    with store.engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE measurements DROP COLUMN unit")
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [(d[0], d[2], d[3].name) for d in diff] == [("add_column", "measurements", "unit")]


def test_downgrade_to_base_and_upgrade_again(tmp_path):
    path = tmp_path / "updown.db"
    open_store(path).close()
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection=connection), "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    engine.dispose()
    store = open_store(path)
    try:
        assert set(Base.metadata.tables) <= set(inspect(store.engine).get_table_names())
    finally:
        store.close()


def test_offline_sql_for_postgresql_renders_every_table():
    buffer = io.StringIO()
    cfg = alembic_config("postgresql://user@localhost/imagebio")
    cfg.output_buffer = buffer
    command.upgrade(cfg, "head", sql=True)
    sql = buffer.getvalue()
    for table in Base.metadata.tables:
        assert f"CREATE TABLE {table} (" in sql
    assert "TIMESTAMP WITH TIME ZONE" in sql
    assert "CONSTRAINT uq_measurements_roi_id_series_id_name_method_settings_hash UNIQUE" in sql


def test_store_written_by_a_newer_imagebio_is_refused(tmp_path):
    path = tmp_path / "newer.db"
    open_store(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StoreError, match=r"revision '9999'.*newer imagebio"):
        open_store(path)
