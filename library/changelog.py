"""The change log's index in the shared database: who changed what, queryable by person and reference.

The change log itself stays `LIBRARY_DATA_DIR/changes.jsonl` (written by `library.store`,
one JSON line per change, appended under the collection lock): it is the durable record,
a plain file that backups and `git` keep.  This module keeps a copy of it in the tables
`change_log` and `change_log_files` (library/tables.py) so that the librarian page can
show the newest changes, one person's or one reference's, without reading the whole file.

The copy is only ever filled from the file, never written on its own:

* every save brings it up to date right after its line is appended (`Library._writing`),
  still holding the collection lock;
* every read first reads whatever the file gained since (a save by the command line, by a
  server whose database was down, by a process killed after appending), so the copy is never
  behind what it shows;
* when the tables are empty, or the file was replaced, restored from a backup or shortened
  (the bytes the index last read no longer end where they did), the copy is rebuilt from the
  whole file.

Each line is kept once, by its `id` (lines from before ids existed are known by their
position), however often it is read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from sqlalchemy import Connection, delete, func, select, text

from .store import Change
from .tables import change_log, change_log_files

if TYPE_CHECKING:
    from .database import Database

_CATCH_UP_LOCK_ID = zlib.crc32(b"trauma-informed-evidence-library:change-log-index")
TAIL_BYTES = 256  # how much of the file before the point reached is fingerprinted
CHUNK_BYTES = 1 << 20  # the file is read this much at a time
BATCH_ROWS = 500
MAX_FIELD = {"who": 1000, "action": 20, "key": 200, "version": 40, "changed_at": 40}


@dataclass(frozen=True)
class SyncOutcome:
    added: int  # lines newly indexed
    rebuilt: bool  # the index was started again from the beginning of the file
    indexed_bytes: int


def _tail(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


class ChangeLogIndex:
    """The change log file `path`, indexed in `database`."""

    def __init__(self, database: "Database", path: Path) -> None:
        self.database = database
        self.path = Path(path)
        self.name = self.path.name

    # ------------------------------------------------------------ keeping in step
    def sync(self) -> SyncOutcome:
        """Index whatever the file holds that the index does not (rebuilding when needed)."""
        with self.database.read() as connection:
            state = self._state(connection)
        size = self._size()
        if state is not None and size == state[0] and self._tail_matches(state[0], state[1]):
            return SyncOutcome(0, False, size)  # in step: the common case costs one small read
        with self.database.write() as connection:
            return self._catch_up(connection)

    def rebuild(self) -> SyncOutcome:
        """Forget the index and read the whole file again."""
        with self.database.write() as connection:
            connection.execute(delete(change_log))
            connection.execute(delete(change_log_files).where(change_log_files.c.name == self.name))
            return self._catch_up(connection)

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def _state(self, connection: Connection, *, for_update: bool = False) -> tuple[int, str] | None:
        query = select(change_log_files.c.indexed_bytes, change_log_files.c.tail).where(
            change_log_files.c.name == self.name)
        if for_update:
            query = query.with_for_update()  # PostgreSQL: two servers catching up take turns
        row = connection.execute(query).first()
        return (int(row[0]), str(row[1])) if row else None

    def _tail_matches(self, offset: int, tail: str) -> bool:
        if offset == 0:
            return True
        try:
            with open(self.path, "rb") as handle:
                start = max(0, offset - TAIL_BYTES)
                handle.seek(start)
                return _tail(handle.read(offset - start)) == tail
        except OSError:
            return False

    def _catch_up(self, connection: Connection) -> SyncOutcome:
        if self.database.dialect == "postgresql":
            # Servers catching up at once take turns (SQLite's write transactions already do),
            # also before the first state row exists for FOR UPDATE to lock.
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _CATCH_UP_LOCK_ID})
        state = self._state(connection, for_update=True)
        size = self._size()
        offset, rebuilt = (state[0], False) if state else (0, True)
        if state is not None and (size < offset or not self._tail_matches(offset, state[1])):
            offset, rebuilt = 0, True  # replaced, restored or shortened: start again
        if offset == 0:
            connection.execute(delete(change_log))
            rebuilt = True
        added = 0
        tail = state[1] if state and not rebuilt else ""
        if size > offset:
            with open(self.path, "rb") as handle:
                rows: list[dict] = []
                for position, line in _whole_lines(handle, offset):
                    row = _row(position, line)
                    if row is not None:
                        rows.append(row)
                    offset = position + len(line)
                    if len(rows) >= BATCH_ROWS:
                        added += self._insert(connection, rows)
                        rows = []
                added += self._insert(connection, rows)
                start = max(0, offset - TAIL_BYTES)
                handle.seek(start)
                tail = _tail(handle.read(offset - start))
        values = {"indexed_bytes": offset, "tail": tail or _tail(b""), "updated": _now()}
        if state is None:
            connection.execute(change_log_files.insert().values(name=self.name, **values))
        else:
            connection.execute(change_log_files.update().where(change_log_files.c.name == self.name)
                               .values(**values))
        return SyncOutcome(added, rebuilt, offset)

    def _insert(self, connection: Connection, rows: list[dict]) -> int:
        if not rows:
            return 0
        if self.database.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        before = connection.execute(select(func.count()).select_from(change_log)).scalar_one()
        connection.execute(insert(change_log).on_conflict_do_nothing(index_elements=["id"]), rows)
        return int(connection.execute(select(func.count()).select_from(change_log)).scalar_one()) - int(before)

    # ------------------------------------------------------------ reading
    def recent(self, limit: int = 200, *, who: str | None = None, key: str | None = None,
               action: str | None = None, catch_up: bool = True) -> list[Change]:
        """The newest changes first, only one person's, one reference's or one action's when asked.
        `catch_up=False` when the caller has just called `sync` (one page drawing both lists)."""
        if catch_up:
            self.sync()
        query = select(change_log).order_by(change_log.c.position.desc()).limit(max(1, min(limit, 10_000)))
        if who:
            query = query.where(change_log.c.who == who)
        if key:
            query = query.where(change_log.c.key == key)
        if action:
            query = query.where(change_log.c.action == action)
        with self.database.read() as connection:
            return [_change(row) for row in connection.execute(query).mappings()]

    def people(self, *, catch_up: bool = True) -> list[str]:
        """Everyone the log names, alphabetically."""
        if catch_up:
            self.sync()
        with self.database.read() as connection:
            return sorted(connection.execute(select(change_log.c.who).distinct()).scalars().all(), key=str.casefold)

    def count(self, *, who: str | None = None, key: str | None = None) -> int:
        self.sync()
        query = select(func.count()).select_from(change_log)
        if who:
            query = query.where(change_log.c.who == who)
        if key:
            query = query.where(change_log.c.key == key)
        with self.database.read() as connection:
            return int(connection.execute(query).scalar_one())


def _whole_lines(handle, offset: int) -> Iterator[tuple[int, bytes]]:  # type: ignore[no-untyped-def]
    """(position, line with its newline) for every complete line from `offset`; a last line
    without its newline is being written (or was cut short by a crash) and is left for later."""
    handle.seek(offset)
    position = offset
    pending = b""
    while True:
        chunk = handle.read(CHUNK_BYTES)
        if not chunk:
            return
        data = pending + chunk
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            yield position, data[start:end + 1]
            position += end + 1 - start
            start = end + 1
        pending = data[start:]


def _text(value: object, limit: int | None = None) -> str:
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    text = text.replace("\x00", "")
    return text[:limit] if limit else text


def _row(position: int, line: bytes) -> dict | None:
    """The table row for one line, or None for a line that is not a change (damaged, blank)."""
    try:
        item = json.loads(line.decode("utf-8", errors="replace"))
    except ValueError:
        return None
    if not isinstance(item, dict) or "action" not in item or "key" not in item:
        return None
    changes = item.get("changes") if isinstance(item.get("changes"), dict) else {}
    return {
        "id": _text(item.get("id"), 64) or f"@{position}",
        "position": position,
        "changed_at": _text(item.get("when"), MAX_FIELD["changed_at"]),
        "who": _text(item.get("who"), MAX_FIELD["who"]),
        "action": _text(item.get("action"), MAX_FIELD["action"]),
        "key": _text(item.get("key"), MAX_FIELD["key"]),
        "detail": _text(item.get("detail")),
        "changes": json.dumps(changes, ensure_ascii=False),
        "version": _text(item.get("version"), MAX_FIELD["version"]),
    }


def _change(row) -> Change:  # type: ignore[no-untyped-def]
    try:
        changes = json.loads(row["changes"])
    except ValueError:
        changes = {}
    return Change(row["changed_at"], row["who"], row["action"], row["key"], row["detail"],
                  changes if isinstance(changes, dict) else {}, row["version"], row["id"])

