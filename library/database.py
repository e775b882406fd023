"""The shared state that is not the collection, in one SQL database.

Saved packs (and, as they arrive, screening decisions, the change-log index and
sign-in throttling) live here.  By default the database is a SQLite file in the
data folder (`library.sqlite3`), right for one machine.  Several app servers
sharing one collection set `LIBRARY_DATABASE_URL` to a PostgreSQL database
(`postgresql+psycopg://user:password@host:5432/name`).

Opening a database applies the schema migrations (Alembic, `library/migrations/`)
that it lacks, one process at a time; a database written by a newer version of
the library is refused rather than misread.

Transactions: `read()` for reading, `write()` for changing.  On SQLite a write
takes the write lock when it begins (`BEGIN IMMEDIATE`), so two writers queue
instead of one failing half-way; readers never wait (WAL).
"""

from __future__ import annotations

import sqlite3
import threading
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout
from sqlalchemy import Connection, Engine, create_engine, event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from .errors import SettingsError, WriteFailed

DEFAULT_FILE = "library.sqlite3"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The key under which PostgreSQL serialises migrations between servers starting at once.
_MIGRATION_LOCK_ID = zlib.crc32(b"trauma-informed-evidence-library:migrations")


class DatabaseUnavailable(WriteFailed):
    """The database cannot be reached or used; the message says what to check."""


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{Path(data_dir) / DEFAULT_FILE}"


def describe(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return "(an unreadable database URL)"


class Database:
    """One database, with its engine and connection pool; safe to share between threads."""

    def __init__(self, url: str, *, timeout: float = 15.0, migrate: bool = True) -> None:
        try:
            parsed = make_url(url)
        except exc.ArgumentError:
            raise SettingsError(f"LIBRARY_DATABASE_URL is not a database URL: '{describe(url)}'. "
                                "Use sqlite:///path/to/file.sqlite3 or "
                                "postgresql+psycopg://user:password@host:5432/name.") from None
        self.url = url
        self.timeout = timeout
        self.dialect = parsed.get_backend_name()
        self.path: Path | None = None
        if self.dialect not in ("sqlite", "postgresql"):
            raise SettingsError(f"LIBRARY_DATABASE_URL must be a SQLite or PostgreSQL database, "
                                f"not '{self.dialect}'.")
        if self.dialect == "sqlite":
            self.engine = self._sqlite_engine(parsed.database or "")
        else:
            if parsed.drivername == "postgresql":  # the plain scheme means psycopg 2; we ship psycopg 3
                parsed = parsed.set(drivername="postgresql+psycopg")
            self.engine = create_engine(parsed, pool_pre_ping=True,
                                        connect_args={"connect_timeout": max(1, int(timeout))})
        if migrate:
            self.migrate()

    # ------------------------------------------------------------ engines
    def _sqlite_engine(self, database: str) -> Engine:
        if not database or database == ":memory:":
            raise SettingsError("A SQLite database for the library must be a file "
                                "(sqlite:///path/to/file.sqlite3), so that it outlives the process.")
        self.path = Path(database)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DatabaseUnavailable(f"Cannot create the folder {self.path.parent} for the database: "
                                      f"{error.strerror}.") from None
        # NullPool: a SQLite connection is cheap, and one per transaction never carries a
        # stale snapshot or a lock from one request to the next.
        engine = create_engine(f"sqlite:///{self.path}", poolclass=NullPool,
                               connect_args={"timeout": self.timeout, "check_same_thread": False})
        timeout_ms = int(self.timeout * 1000)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {timeout_ms}")
            cursor.execute("PRAGMA journal_mode = WAL")  # kept by the file once set
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Connection) -> None:
            immediate = connection.get_execution_options().get("library_write", False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    # ------------------------------------------------------------ transactions
    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._errors(), self.engine.connect() as connection:
            with connection.begin():
                yield connection

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that changes the database: all of it is kept, or none."""
        with self._errors(), self.engine.connect() as connection:
            connection = connection.execution_options(library_write=True)
            with connection.begin():
                yield connection

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except exc.OperationalError as error:
            raise DatabaseUnavailable(self._operational_message(error)) from None

    def _operational_message(self, error: exc.OperationalError) -> str:
        detail = str(error.orig) if error.orig is not None else str(error)
        if "locked" in detail or "busy" in detail:
            return ("The library's database is busy (another save took too long); "
                    "try again in a moment.")
        if "disk" in detail and "full" in detail:
            return (f"The disk holding the library's database is full ({describe(self.url)}). "
                    "Nothing was saved; free some space and try again.")
        if "readonly" in detail or "read-only" in detail:
            return (f"The library's database cannot be written ({describe(self.url)} is read-only). "
                    "Nothing was saved.")
        return (f"The library's database could not be used ({describe(self.url)}): "
                f"{detail.strip().splitlines()[0] if detail.strip() else 'no reason given'}. "
                "Check that it is running and that LIBRARY_DATABASE_URL is right.")

    # ------------------------------------------------------------ migrations
    def migrate(self) -> None:
        """Apply the migrations the database lacks; refuse one from a newer version of the library."""
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        script = ScriptDirectory.from_config(config)
        known = {revision.revision for revision in script.walk_revisions()}
        with self._migration_lock(), self._errors(), self.engine.connect() as connection:
            if self.dialect == "postgresql":
                connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
                connection.commit()
            try:
                current = set(MigrationContext.configure(connection).get_current_heads())
                connection.rollback()
                unknown = current - known
                if unknown:
                    raise DatabaseUnavailable(
                        f"The database {describe(self.url)} was last changed by a newer version of the "
                        f"library (schema {', '.join(sorted(unknown))}); update the library to use it.")
                if current != set(script.get_heads()):
                    config.attributes["connection"] = connection
                    command.upgrade(config, "heads")
                    connection.commit()
            finally:
                if self.dialect == "postgresql":
                    connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATION_LOCK_ID})
                    connection.commit()

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        if self.dialect != "sqlite" or self.path is None:
            yield
            return
        lock = FileLock(str(self.path) + ".migrate.lock", timeout=max(self.timeout, 30.0))
        try:
            with lock:
                yield
        except Timeout:
            raise DatabaseUnavailable(f"Another process has been updating {self.path} for too long; "
                                      "try again in a moment.") from None

    def revision(self) -> set[str]:
        """The migrations the database is at (for tests and `docs/deploy.md`'s upgrade notes)."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return set(MigrationContext.configure(connection).get_current_heads())

    def close(self) -> None:
        self.engine.dispose()


_OPEN: dict[str, Database] = {}
_OPEN_LOCK = threading.Lock()


def open_database(url: str, *, timeout: float = 15.0) -> Database:
    """The process's one `Database` for `url`, opened (and migrated) on first use."""
    with _OPEN_LOCK:
        database = _OPEN.get(url)
        if database is None:
            database = Database(url, timeout=timeout)
            _OPEN[url] = database
        return database
