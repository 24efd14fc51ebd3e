"""Opening the study store: engine, sessions and schema migration to the current version.

``open_store()`` accepts a file path (SQLite) or any SQLAlchemy URL (e.g. ``postgresql+psycopg://user@host/db``)
and brings the schema to the newest Alembic revision shipped inside the package, so an installed imagebio needs
no ``alembic.ini``. For a new revision during development::

    from alembic import command
    from imagebio.store.session import alembic_config
    command.revision(alembic_config("sqlite:///dev.db"), message="add x", autogenerate=True)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from imagebio.errors import StoreError

__all__ = ["Store", "open_store", "alembic_config", "resolve_url", "DEFAULT_DB_FILENAME", "DB_ENV_VAR"]

DEFAULT_DB_FILENAME = "imagebio.db"
DB_ENV_VAR = "IMAGEBIO_DB"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 30_000
_READONLY_OPTION = "imagebio_readonly"
_PG_MIGRATION_LOCK_KEY = 0x1A6EB10  # any constant shared by every imagebio process


def resolve_url(url_or_path: str | Path | None = None) -> URL:
    """Turn what the user gave into a SQLAlchemy URL.

    Parameters
    ----------
    url_or_path : str or Path or None
        ``None`` uses ``$IMAGEBIO_DB`` or else ``imagebio.db`` in the current directory; a string containing
        ``://`` is a SQLAlchemy URL; anything else is the path of a SQLite file.

    Raises
    ------
    StoreError
        When the string looks like a URL but SQLAlchemy cannot parse it.
    """
    if url_or_path is None:
        url_or_path = os.environ.get(DB_ENV_VAR) or DEFAULT_DB_FILENAME
    if isinstance(url_or_path, str) and "://" in url_or_path:
        try:
            return make_url(url_or_path)
        except ArgumentError as exc:
            raise StoreError(f"cannot parse database URL {_mask_raw(url_or_path)!r}: {exc}") from exc
    path = Path(url_or_path).expanduser()
    if str(path) == ":memory:":
        return make_url("sqlite://")
    return URL.create("sqlite+pysqlite", database=str(path.resolve()))


def _mask_raw(text: str) -> str:
    # A string SQLAlchemy could not parse: hide whatever sits between "user:" and "@".
    scheme, sep, rest = text.partition("://")
    if "@" in rest and ":" in rest.split("@", 1)[0]:
        user = rest.split("@", 1)[0].split(":", 1)[0]
        rest = f"{user}:***@{rest.split('@', 1)[1]}"
    return scheme + sep + rest


def _shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def alembic_config(url: str | URL | None = None, connection: Any = None):
    """An Alembic ``Config`` pointing at the migrations shipped inside the package.

    Parameters
    ----------
    url : str or URL, optional
        Database URL, used when no ``connection`` is given (offline SQL generation, ``alembic revision``).
    connection : sqlalchemy.engine.Connection, optional
        An open connection the migrations run on.
    """
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        rendered = url.render_as_string(hide_password=False) if isinstance(url, URL) else str(url)
        # ConfigParser interpolation would choke on a '%' in a password.
        cfg.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _configure_sqlite(engine: Engine, in_memory: bool) -> None:
    """Foreign keys, WAL, a busy timeout, and real transactions for pysqlite.

    pysqlite opens transactions lazily and never for SELECT, which breaks SAVEPOINT and lets a
    select-then-insert race; we take over and emit ``BEGIN IMMEDIATE`` ourselves so each write transaction
    holds the database write lock from its first statement. Read-only sessions use a plain ``BEGIN``, which
    under WAL is never blocked by a writer.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, connection_record):  # noqa: ARG001
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            # Under WAL, NORMAL keeps every commit across a killed process; a power cut may drop the last
            # commits but never corrupts the file.
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        readonly = conn.get_execution_options().get(_READONLY_OPTION, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


class Store:
    """An opened, migrated study store.

    Use :meth:`session` for a unit of work that commits on success and rolls back on error::

        store = open_store("study.db")
        with store.session() as s:
            subject = upsert_subject(s, "PAT-001")
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(
            bind=engine.execution_options(**{_READONLY_OPTION: True}), expire_on_commit=False
        )

    @property
    def url(self) -> URL:
        """The database URL."""
        return self.engine.url

    @property
    def display_url(self) -> str:
        """The database URL with any password masked, for messages."""
        return _shown(self.engine.url)

    @contextmanager
    def session(self, readonly: bool = False) -> Iterator[Session]:
        """A session inside one transaction: committed when the block ends, rolled back if it raises.

        Parameters
        ----------
        readonly : bool
            For reads only: on SQLite it does not take the write lock, so it never waits for a running ingest.
        """
        factory = self._read_sessions if readonly else self._sessions
        with factory() as session, session.begin():
            yield session

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.display_url!r})"


def open_store(url_or_path: str | Path | None = None, *, echo: bool = False) -> Store:
    """Open (creating if needed) the study store and migrate its schema to the newest revision.

    Parameters
    ----------
    url_or_path : str or Path or None
        A SQLite file path, a SQLAlchemy URL (``sqlite:///x.db``, ``postgresql+psycopg://user:pw@host/db``), or
        ``None`` for ``$IMAGEBIO_DB`` or else ``./imagebio.db``. ``":memory:"`` gives a private in-memory
        SQLite database (tests).
    echo : bool
        Log every SQL statement.

    Returns
    -------
    Store

    Raises
    ------
    StoreError
        When the database cannot be reached or created, or its schema cannot be migrated (for instance because it
        was written by a newer imagebio). The message names the URL with the password masked.
    """
    url = resolve_url(url_or_path)
    shown = _shown(url)
    is_sqlite = url.get_backend_name() == "sqlite"
    in_memory = is_sqlite and url.database in (None, "", ":memory:")
    if is_sqlite and not in_memory:
        parent = Path(url.database).parent
        if not parent.is_dir():
            raise StoreError(f"cannot open store {shown}: folder {parent} does not exist")
    kwargs: dict[str, Any] = {"echo": echo}
    if in_memory:
        kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    elif not is_sqlite:
        kwargs.update(pool_pre_ping=True)  # long runs outlive server-side idle timeouts
    try:
        engine = create_engine(url, **kwargs)
    except ImportError as exc:
        raise StoreError(f"cannot open store {shown}: its database driver is not installed ({exc})") from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open store {shown}: {exc}") from exc
    if is_sqlite:
        _configure_sqlite(engine, in_memory)
    try:
        _migrate(engine)
    except Exception as exc:
        engine.dispose()
        if isinstance(exc, StoreError):
            raise
        raise StoreError(f"cannot open store {shown}: {type(exc).__name__}: {_first_line(exc)}") from exc
    return Store(engine)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else ""


def _migrate(engine: Engine) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    script = ScriptDirectory.from_config(alembic_config())
    known = {rev.revision for rev in script.walk_revisions()}
    with engine.execution_options(**{_READONLY_OPTION: True}).connect() as connection:
        current = _current_revision(connection)
    if current is not None and current not in known:
        raise StoreError(
            f"store {_shown(engine.url)} has schema revision {current!r}, unknown to imagebio "
            f"(known: {', '.join(sorted(known))}); it was probably written by a newer imagebio"
        )
    if current == script.get_current_head():
        return  # nothing to do, and no write lock taken
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # Two processes opening a new database at once: the second waits, then finds the schema at head.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK_KEY})")
        cfg = alembic_config(connection=connection)
        try:
            command.upgrade(cfg, "head")
        except CommandError as exc:
            raise StoreError(f"cannot migrate store {_shown(engine.url)}: {exc}") from exc


def _current_revision(connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    if not inspect(connection).has_table("alembic_version"):
        return None
    heads = MigrationContext.configure(connection).get_current_heads()
    return heads[0] if heads else None
