"""Saved evidence packs: an SQLite database in the data folder.

One connection per call, in WAL mode with a busy timeout, so the app's
threads, several app processes and the CLI can read and write at the same
time.  Writers take the write lock at the start of their transaction
(`BEGIN IMMEDIATE`), so two writers queue rather than fail half-way.

Each pack can have a share token: a random, URL-safe string that opens the
pack read-only (`get_by_token`) without knowing its id.
"""

from __future__ import annotations

import datetime as dt
import secrets
import sqlite3
import uuid
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

from .errors import PackError, WriteFailed
from .packs import Pack, dump_pack, load_pack

DATABASE_FILE = "packs.sqlite3"
SCHEMA_VERSION = 1
# Stored packs were checked when saved; this only guards against a damaged row.
_STORED_PACK_LIMIT = 50_000_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS packs (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    share_token TEXT UNIQUE
);
CREATE INDEX IF NOT EXISTS packs_by_updated ON packs (updated DESC);
"""


@dataclass(frozen=True)
class PackSummary:
    id: str
    title: str
    updated: dt.datetime  # UTC


@dataclass(frozen=True)
class StoredPack:
    id: str
    pack: Pack
    created: dt.datetime  # UTC
    updated: dt.datetime  # UTC
    share_token: str | None


class PackStore:
    """The saved packs in `data_dir` (the app passes `settings.data_dir`)."""

    def __init__(self, data_dir: Path | str, *, timeout: float = 15.0) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / DATABASE_FILE
        self.timeout = timeout
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise WriteFailed(f"Cannot create the data folder {self.data_dir}: {error.strerror}.") from None
        with self._connect() as connection:
            # WAL is a property of the database file: set once, kept by every later connection.
            connection.execute("PRAGMA journal_mode=WAL")
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise PackError(f"The saved packs in {self.path} were written by a newer version "
                                "of the library; update it to open them.")
            connection.executescript(_SCHEMA)
            connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    # ------------------------------------------------------------ connections
    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            connection = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        except sqlite3.Error as error:
            raise WriteFailed(f"Cannot open the saved packs at {self.path}: {error}.") from None
        with closing(connection):
            connection.execute("PRAGMA busy_timeout = %d" % int(self.timeout * 1000))
            try:
                yield connection
            except sqlite3.OperationalError as error:
                if "locked" in str(error) or "busy" in str(error):
                    raise WriteFailed("The saved packs are busy (another save took too long); "
                                      "try again in a moment.") from None
                raise WriteFailed(f"The saved packs could not be updated: {error}.") from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    # ------------------------------------------------------------ verbs
    def save(self, pack: Pack, pack_id: str | None = None) -> str:
        """Insert a new pack (no `pack_id`) or replace the saved one; returns its id."""
        body = dump_pack(pack)
        now = _now()
        with self._write() as connection:
            if pack_id is None:
                pack_id = uuid.uuid4().hex
                connection.execute(
                    "INSERT INTO packs (id, title, body, created, updated) VALUES (?, ?, ?, ?, ?)",
                    (pack_id, pack.title, body, now, now))
            else:
                cursor = connection.execute(
                    "UPDATE packs SET title = ?, body = ?, updated = ? WHERE id = ?",
                    (pack.title, body, now, pack_id))
                if cursor.rowcount == 0:
                    raise _not_found(pack_id)
        return pack_id

    def list(self) -> list[PackSummary]:
        """Every saved pack, most recently changed first."""
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT id, title, updated FROM packs ORDER BY updated DESC, title").fetchall()
        return [PackSummary(row[0], row[1], _time(row[2])) for row in rows]

    def get(self, pack_id: str) -> Pack:
        return self.get_stored(pack_id).pack

    def get_stored(self, pack_id: str) -> StoredPack:
        with self._connect() as connection:
            row = connection.execute(
                "SELECT id, body, created, updated, share_token FROM packs WHERE id = ?",
                (pack_id,)).fetchone()
        if row is None:
            raise _not_found(pack_id)
        return StoredPack(row[0], load_pack(row[1], max_bytes=_STORED_PACK_LIMIT), _time(row[2]),
                          _time(row[3]), row[4])

    def duplicate(self, pack_id: str, title: str | None = None) -> str:
        """A copy of a saved pack (titled "Copy of ..." unless `title` is given); returns its id."""
        with self._write() as connection:
            row = connection.execute("SELECT title, body FROM packs WHERE id = ?",
                                     (pack_id,)).fetchone()
            if row is None:
                raise _not_found(pack_id)
            pack = load_pack(row[1], max_bytes=_STORED_PACK_LIMIT)
            new_title = title if title is not None else f"Copy of {row[0]}"
            copy = replace(pack, title=new_title)
            new_id = uuid.uuid4().hex
            now = _now()
            connection.execute(
                "INSERT INTO packs (id, title, body, created, updated) VALUES (?, ?, ?, ?, ?)",
                (new_id, new_title, dump_pack(copy), now, now))
        return new_id

    def delete(self, pack_id: str) -> None:
        with self._write() as connection:
            cursor = connection.execute("DELETE FROM packs WHERE id = ?", (pack_id,))
            if cursor.rowcount == 0:
                raise _not_found(pack_id)

    def share_token(self, pack_id: str) -> str:
        """The pack's share token, made on first request; the same token afterwards."""
        with self._write() as connection:
            row = connection.execute("SELECT share_token FROM packs WHERE id = ?",
                                     (pack_id,)).fetchone()
            if row is None:
                raise _not_found(pack_id)
            if row[0]:
                return str(row[0])
            token = secrets.token_urlsafe(24)
            connection.execute("UPDATE packs SET share_token = ? WHERE id = ?", (token, pack_id))
        return token

    def revoke_token(self, pack_id: str) -> None:
        """Stop the pack's share link working (a later `share_token` makes a new one)."""
        with self._write() as connection:
            cursor = connection.execute("UPDATE packs SET share_token = NULL WHERE id = ?",
                                        (pack_id,))
            if cursor.rowcount == 0:
                raise _not_found(pack_id)

    def get_by_token(self, token: str) -> Pack:
        """The pack a share link points to, for read-only viewing."""
        if not token:
            raise PackError("This share link is incomplete; ask for the link again.")
        with self._connect() as connection:
            row = connection.execute("SELECT body FROM packs WHERE share_token = ?",
                                     (token,)).fetchone()
        if row is None:
            raise PackError("This share link does not open a pack: it may have been withdrawn, "
                            "or the pack deleted. Ask its author for a new link.")
        return load_pack(row[0], max_bytes=_STORED_PACK_LIMIT)


def _not_found(pack_id: str) -> PackError:
    return PackError(f"No saved pack has the id '{pack_id}'; it may have been deleted.")


def _now() -> str:
    # Microseconds keep "most recently changed first" stable for quick successive saves.
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


def _time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)
