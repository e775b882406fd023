"""Saved evidence packs, in the shared database (see `library.database`).

Each pack can have a share token: a random, URL-safe string that opens the
pack read-only (`get_by_token`) without knowing its id.

Packs saved by versions before the shared database lived in `packs.sqlite3` in
the data folder; the first open copies them across (see `import_legacy`).
"""

from __future__ import annotations

import datetime as dt
import secrets
import sqlite3
import uuid
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path

from filelock import FileLock
from sqlalchemy import delete, insert, select, update

from .database import Database
from .errors import PackError
from .packs import Pack, dump_pack, load_pack
from .tables import packs as packs_table

LEGACY_FILE = "packs.sqlite3"
# Stored packs were checked when saved; this only guards against a damaged row.
_STORED_PACK_LIMIT = 50_000_000


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
    """The saved packs in one database (the app's is `Library.packs`)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    # ------------------------------------------------------------ verbs
    def save(self, pack: Pack, pack_id: str | None = None) -> str:
        """Insert a new pack (no `pack_id`) or replace the saved one; returns its id."""
        body = dump_pack(pack)
        now = _now()
        with self.database.write() as connection:
            if pack_id is None:
                pack_id = uuid.uuid4().hex
                connection.execute(insert(packs_table).values(
                    id=pack_id, title=pack.title, body=body, created=now, updated=now))
            else:
                done = connection.execute(update(packs_table).where(packs_table.c.id == pack_id)
                                          .values(title=pack.title, body=body, updated=now))
                if done.rowcount == 0:
                    raise _not_found(pack_id)
        return pack_id

    def list(self) -> list[PackSummary]:
        """Every saved pack, most recently changed first."""
        with self.database.read() as connection:
            rows = connection.execute(
                select(packs_table.c.id, packs_table.c.title, packs_table.c.updated)
                .order_by(packs_table.c.updated.desc(), packs_table.c.title)).all()
        return [PackSummary(row.id, row.title, _time(row.updated)) for row in rows]

    def get(self, pack_id: str) -> Pack:
        return self.get_stored(pack_id).pack

    def get_stored(self, pack_id: str) -> StoredPack:
        with self.database.read() as connection:
            row = connection.execute(select(packs_table).where(packs_table.c.id == pack_id)).first()
        if row is None:
            raise _not_found(pack_id)
        return StoredPack(row.id, load_pack(row.body, max_bytes=_STORED_PACK_LIMIT), _time(row.created),
                          _time(row.updated), row.share_token)

    def duplicate(self, pack_id: str, title: str | None = None) -> str:
        """A copy of a saved pack (titled "Copy of ..." unless `title` is given); returns its id."""
        with self.database.write() as connection:
            row = connection.execute(select(packs_table.c.title, packs_table.c.body)
                                     .where(packs_table.c.id == pack_id)).first()
            if row is None:
                raise _not_found(pack_id)
            pack = load_pack(row.body, max_bytes=_STORED_PACK_LIMIT)
            new_title = title if title is not None else f"Copy of {row.title}"
            copy = replace(pack, title=new_title)
            new_id = uuid.uuid4().hex
            now = _now()
            connection.execute(insert(packs_table).values(
                id=new_id, title=new_title, body=dump_pack(copy), created=now, updated=now))
        return new_id

    def delete(self, pack_id: str) -> None:
        with self.database.write() as connection:
            done = connection.execute(delete(packs_table).where(packs_table.c.id == pack_id))
            if done.rowcount == 0:
                raise _not_found(pack_id)

    def share_token(self, pack_id: str) -> str:
        """The pack's share token, made on first request; the same token afterwards."""
        with self.database.write() as connection:
            row = connection.execute(select(packs_table.c.share_token).where(packs_table.c.id == pack_id)
                                     .with_for_update()).first()
            if row is None:
                raise _not_found(pack_id)
            if row.share_token:
                return str(row.share_token)
            token = secrets.token_urlsafe(24)
            connection.execute(update(packs_table).where(packs_table.c.id == pack_id).values(share_token=token))
        return token

    def revoke_token(self, pack_id: str) -> None:
        """Stop the pack's share link working (a later `share_token` makes a new one)."""
        with self.database.write() as connection:
            done = connection.execute(update(packs_table).where(packs_table.c.id == pack_id)
                                      .values(share_token=None))
            if done.rowcount == 0:
                raise _not_found(pack_id)

    def get_by_token(self, token: str) -> Pack:
        """The pack a share link points to, for read-only viewing."""
        if not token:
            raise PackError("This share link is incomplete; ask for the link again.")
        with self.database.read() as connection:
            body = connection.execute(select(packs_table.c.body)
                                      .where(packs_table.c.share_token == token)).scalar()
        if body is None:
            raise PackError("This share link does not open a pack: it may have been withdrawn, "
                            "or the pack deleted. Ask its author for a new link.")
        return load_pack(body, max_bytes=_STORED_PACK_LIMIT)

    # ------------------------------------------------------------ upgrading
    def import_legacy(self, data_dir: Path) -> int:
        """Copy packs from the `packs.sqlite3` of earlier versions, once; returns how many.

        Packs already in the database (same id) are left as they are.  The old file is
        then renamed, so it is read only once and kept as a backup.
        """
        legacy = Path(data_dir) / LEGACY_FILE
        if not legacy.exists():
            return 0
        # Two app processes starting at once must not both copy the file.
        with FileLock(str(legacy) + ".lock", timeout=60):
            if not legacy.exists():
                return 0
            return self._import_legacy(legacy)

    def _import_legacy(self, legacy: Path) -> int:
        try:
            with closing(sqlite3.connect(f"file:{legacy}?mode=ro", uri=True)) as old:
                rows = old.execute("SELECT id, title, body, created, updated, share_token FROM packs").fetchall()
        except sqlite3.Error as error:
            raise PackError(f"The packs saved by an earlier version ({legacy}) cannot be read: {error}. "
                            "Move the file aside to start without them.") from None
        copied = 0
        with self.database.write() as connection:
            have = set(connection.execute(select(packs_table.c.id)).scalars())
            for row in rows:
                if row[0] in have:
                    continue
                connection.execute(insert(packs_table).values(
                    id=row[0], title=row[1], body=row[2], created=row[3], updated=row[4], share_token=row[5]))
                copied += 1
        legacy.rename(legacy.with_name(LEGACY_FILE + ".imported"))
        for suffix in ("-wal", "-shm"):
            leftover = legacy.with_name(LEGACY_FILE + suffix)
            if leftover.exists():
                leftover.rename(legacy.with_name(LEGACY_FILE + ".imported" + suffix))
        return copied


def _not_found(pack_id: str) -> PackError:
    return PackError(f"No saved pack has the id '{pack_id}'; it may have been deleted.")


def _now() -> str:
    # Microseconds keep "most recently changed first" stable for quick successive saves.
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


def _time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)
