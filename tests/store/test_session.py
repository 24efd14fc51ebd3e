"""Opening the store: where it lives, SQLite settings, and errors that name the database."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from imagebio.errors import StoreError
from imagebio.store import open_store, upsert_subject
from imagebio.store.models import Subject
from imagebio.store.session import DB_ENV_VAR, DEFAULT_DB_FILENAME, resolve_url


def test_plain_path_and_none_mean_sqlite_files(tmp_path, monkeypatch):
    assert resolve_url(tmp_path / "a.db").render_as_string() == f"sqlite+pysqlite:///{tmp_path / 'a.db'}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(DB_ENV_VAR, raising=False)
    assert resolve_url(None).database == str(tmp_path / DEFAULT_DB_FILENAME)
    monkeypatch.setenv(DB_ENV_VAR, str(tmp_path / "from_env.db"))
    assert resolve_url(None).database == str(tmp_path / "from_env.db")
    monkeypatch.setenv(DB_ENV_VAR, "postgresql+psycopg://u:pw@db.example/imagebio")
    url = resolve_url(None)
    assert (url.drivername, url.host, url.database) == ("postgresql+psycopg", "db.example", "imagebio")


def test_default_store_is_created_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(DB_ENV_VAR, raising=False)
    open_store().close()
    assert (tmp_path / DEFAULT_DB_FILENAME).is_file()


def test_sqlite_has_foreign_keys_and_wal(sqlite_store):
    with sqlite_store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_foreign_keys_are_enforced(store):
    from imagebio.store.models import Timepoint

    with pytest.raises(IntegrityError), store.session() as session:
        session.add(Timepoint(study_instance_uid="1.2.3", subject_id=12345))


def test_session_rolls_back_when_the_block_raises(store):
    with pytest.raises(RuntimeError), store.session() as session:
        upsert_subject(session, "P1")
        raise RuntimeError("boom")
    with store.session(readonly=True) as session:
        assert session.scalars(select(Subject)).all() == []


def test_reader_is_not_blocked_by_an_open_write_transaction(store):
    with store.session() as writer:
        upsert_subject(writer, "P1")
        # The writer holds the SQLite write lock; a read-only session still sees the last committed state.
        with store.session(readonly=True) as reader:
            assert reader.scalars(select(Subject)).all() == []
    with store.session(readonly=True) as reader:
        assert [s.patient_id for s in reader.scalars(select(Subject))] == ["P1"]


def test_in_memory_store(tmp_path):
    store = open_store(":memory:")
    with store.session() as session:
        upsert_subject(session, "P1")
    with store.session(readonly=True) as session:
        assert session.scalars(select(Subject.patient_id)).all() == ["P1"]
    store.close()


def test_missing_folder_is_a_store_error_naming_the_path(tmp_path):
    target = tmp_path / "no" / "such" / "dir" / "x.db"
    with pytest.raises(StoreError, match=r"x\.db.*does not exist"):
        open_store(target)


def test_unreachable_database_error_masks_the_password():
    # Port 1 on localhost refuses connections (or the driver is missing): either way a StoreError.
    with pytest.raises(StoreError) as caught:
        open_store("postgresql+psycopg://alice:s3cret-pw@127.0.0.1:1/imagebio")
    message = str(caught.value)
    assert "s3cret-pw" not in message
    assert "postgresql+psycopg://alice:***@127.0.0.1:1/imagebio" in message


def test_unparseable_url_is_a_store_error_without_the_password():
    with pytest.raises(StoreError) as caught:
        open_store("not a scheme://bob:hunter2@host/db")
    assert "hunter2" not in str(caught.value)
    assert "bob:***@host/db" in str(caught.value)


def test_not_a_database_file_is_a_store_error(tmp_path):
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not an sqlite database" * 100)
    with pytest.raises(StoreError, match=r"garbage\.db"):
        open_store(path)
