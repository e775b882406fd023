"""The collection lock: one writer at a time, across threads, processes and app servers.

Two kinds, behind one small interface (`acquire`, `release`, re-entrant within a thread):

* `FileWriterLock`: a lock file in the collection folder (`references/.library.lock`), right
  for one machine.  Shared network file systems do not honour such locks reliably, so
* `AdvisoryWriterLock`: with PostgreSQL configured (`LIBRARY_DATABASE_URL`), a PostgreSQL
  session-level advisory lock, taken on a connection of its own that lives exactly as long as
  the lock.  If the process dies, PostgreSQL ends its session and the lock is released, as
  the operating system releases a dead process's lock file.

Both wait up to `LIBRARY_LOCK_TIMEOUT` seconds for another writer and then raise
`LockTimeout` with the same message.  `writer_lock(settings)` chooses between them.
"""

from __future__ import annotations

import threading
import time
import zlib
from pathlib import Path
from typing import Protocol

from filelock import FileLock, Timeout

from .errors import LockTimeout

LOCK_NAME = ".library.lock"
# One collection per database: the key under which its writers queue (advisory lock keys are
# per database, so another library's database is never affected).
COLLECTION_LOCK_ID = zlib.crc32(b"trauma-informed-evidence-library:collection")


def busy_message(timeout: float) -> str:
    return (f"Another librarian (or process) has been saving to the collection for over {timeout:g} seconds. "
            "Wait a moment and try again; if it persists, check for a stuck process.")


class WriterLock(Protocol):
    timeout: float
    kind: str  # "file" or "postgresql", for messages and tests

    def acquire(self) -> None:
        """Wait for the lock (at most `timeout` seconds, else `LockTimeout`); re-entrant in a thread."""

    def release(self) -> None:
        ...


class FileWriterLock:
    """A lock file beside the references: exclusive between processes, threads and open files."""

    kind = "file"

    def __init__(self, root: Path, timeout: float) -> None:
        self.root = Path(root)
        self.timeout = timeout
        # filelock's FileLock is re-entrant per thread (rename_theme saves the vocabulary while
        # holding it) and exclusive between threads, because each thread opens the file itself.
        self._lock = FileLock(str(self.root / LOCK_NAME), timeout=timeout)

    def acquire(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._lock.acquire()
        except Timeout:
            raise LockTimeout(busy_message(self.timeout)) from None

    def release(self) -> None:
        self._lock.release()


class AdvisoryWriterLock:
    """`pg_advisory_lock` on a dedicated connection, opened when the lock is taken and closed when
    it is let go (closing the session releases the lock even if the unlock itself failed).

    PostgreSQL queues waiters in order; `lock_timeout` bounds the wait, so the timeout means
    the same as the file lock's.  Threads of one process queue on a re-entrant lock first, so
    one thread holds the database lock for the process at a time."""

    kind = "postgresql"

    def __init__(self, url: str, timeout: float, *, key: int = COLLECTION_LOCK_ID) -> None:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        # psycopg takes a libpq URI: the same address without SQLAlchemy's driver suffix.
        self._conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        self._shown = parsed.render_as_string(hide_password=True)
        self.timeout = timeout
        self.key = key
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._connection = None  # the psycopg connection holding the lock, while it is held

    def acquire(self) -> None:
        started = time.monotonic()
        if not self._thread_lock.acquire(timeout=self.timeout):
            raise LockTimeout(busy_message(self.timeout))
        try:
            if self._depth == 0:
                left = max(0.001, self.timeout - (time.monotonic() - started))
                self._connection = self._lock_on_new_connection(left)
            self._depth += 1
        except BaseException:
            self._thread_lock.release()
            raise

    def _lock_on_new_connection(self, seconds: float):  # type: ignore[no-untyped-def]
        import psycopg
        from psycopg import errors

        try:
            connection = psycopg.connect(self._conninfo, autocommit=True,
                                         connect_timeout=max(1, int(self.timeout)))
        except psycopg.OperationalError as error:
            from .database import DatabaseUnavailable

            reason = str(error).strip().splitlines()[0] if str(error).strip() else "no reason given"
            raise DatabaseUnavailable(
                f"The collection could not be locked for saving: the database {self._shown} could not be "
                f"reached ({reason}). Nothing was changed. Check that it is running and that "
                "LIBRARY_DATABASE_URL is right.") from None
        try:
            connection.execute(f"SET lock_timeout = {max(1, int(seconds * 1000))}")
            connection.execute("SELECT pg_advisory_lock(%s)", (self.key,))
        except errors.LockNotAvailable:
            connection.close()
            raise LockTimeout(busy_message(self.timeout)) from None
        except psycopg.Error as error:
            connection.close()
            from .database import DatabaseUnavailable

            raise DatabaseUnavailable(f"The collection could not be locked for saving ({self._shown}): "
                                      f"{str(error).strip().splitlines()[0]}. Nothing was changed.") from None
        return connection

    def release(self) -> None:
        try:
            self._depth -= 1
            if self._depth == 0 and self._connection is not None:
                connection, self._connection = self._connection, None
                try:
                    connection.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
                except Exception:  # noqa: BLE001 - closing the session below releases it anyway
                    pass
                finally:
                    connection.close()
        finally:
            self._thread_lock.release()

    @property
    def held(self) -> bool:
        return self._connection is not None


def is_postgresql(url: str) -> bool:
    return url.strip().lower().startswith(("postgresql:", "postgresql+"))


def writer_lock(root: Path, database_url: str, timeout: float) -> WriterLock:
    """The advisory lock when the shared database is PostgreSQL, else the lock file."""
    if database_url and is_postgresql(database_url):
        return AdvisoryWriterLock(database_url, timeout)
    return FileWriterLock(root, timeout)

