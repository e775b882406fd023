"""Saved evidence packs, in the shared database (see `library.database`), with their owners.

Every pack has two random secrets besides its id:

- its private **edit link** (`edit_token`), which the pack page keeps in its
  address so that a reload, a link from the browser's history or a server
  restart brings the same pack back.  A pack made by someone signed in belongs
  to them (`owner`, see `library.owners`) and only they may change or delete
  it; a pack made by someone not signed in belongs to whoever holds its edit
  link.
- its read-only **share link** (`share_token`), made when the owner shares the
  pack and revocable.  It shows the version the owner shared (`shared_body`,
  `shared_style`), not the pack as it is being edited, so a reader never sees a
  half-made brief; the owner updates it by sharing again.

There is no way to list packs without an identity: a signed-in person lists
their own (`owned_by`), a browser the packs whose edit links it holds (`held`),
and only the administrator (the command line) every pack.

Saves carry the revision they started from, so two windows editing one pack
cannot overwrite each other unseen (`PackConflict`).

Packs saved by versions before the shared database lived in `packs.sqlite3` in
the data folder; the first open copies them across (see `import_legacy`).
"""

from __future__ import annotations

import datetime as dt
import secrets
import sqlite3
import uuid
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable

from filelock import FileLock
from sqlalchemy import Connection, delete, insert, select, update

from .citations import STYLES
from .database import Database
from .errors import PackAccessDenied, PackConflict, PackError, PackNotFound, PackWithdrawn
from .owners import Identity, may_edit
from .packs import MAX_TEXT_CHARS, Pack, dump_pack, load_pack
from .tables import packs as packs_table

LEGACY_FILE = "packs.sqlite3"
# Stored packs were checked when saved; this only guards against a damaged row.
_STORED_PACK_LIMIT = 50_000_000
_TOKEN_BYTES = 24  # 32 URL-safe characters: 192 random bits
MAX_HELD_LINKS = 200  # edit links one browser session may list


@dataclass(frozen=True)
class PackSummary:
    """One line of a list of packs ("My packs", `pack list`)."""

    id: str
    title: str
    updated: dt.datetime  # UTC
    owner: str | None
    shared: bool
    edit_token: str = field(repr=False)


@dataclass(frozen=True)
class SharedVersion:
    """What a pack's share link shows: the pack as its owner shared it, in the style they chose."""

    pack: Pack
    style: str
    at: dt.datetime  # UTC


@dataclass(frozen=True)
class StoredPack:
    """A saved pack as its owner sees it: the pack in progress, its links and its shared version."""

    id: str
    pack: Pack
    style: str
    owner: str | None
    revision: int
    created: dt.datetime  # UTC
    updated: dt.datetime  # UTC
    edit_token: str = field(repr=False)
    share_token: str | None = field(default=None, repr=False)
    shared: SharedVersion | None = None

    @property
    def shared_is_current(self) -> bool:
        """True when the share link shows the pack exactly as it is now."""
        return self.shared is not None and self.shared.pack == self.pack and self.shared.style == self.style


def _check_style(style: str) -> str:
    if style not in STYLES:
        raise PackError(f"Unknown reference style '{style}': choose one of {', '.join(STYLES)}.")
    return style


def _token() -> str:
    return secrets.token_urlsafe(_TOKEN_BYTES)


class PackStore:
    """The saved packs in one database (the app's is `Library.packs`)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    # ------------------------------------------------------------ the owner's verbs
    def create(self, pack: Pack, *, owner: Identity | None, style: str = "apa") -> StoredPack:
        """Save a new pack, owned by `owner` (None: by whoever holds its edit link)."""
        _check_style(style)
        pack, body = _checked(pack)
        now, pack_id = _now(), uuid.uuid4().hex
        with self.database.write() as connection:
            connection.execute(insert(packs_table).values(
                id=pack_id, title=pack.title, body=body, created=now, updated=now,
                owner=owner.owner if owner else None, edit_token=_token(), style=style, revision=1))
            return self._stored(self._row(connection, packs_table.c.id == pack_id))

    def open(self, edit_token: str, who: Identity | None) -> StoredPack:
        """The pack its edit link opens, for `who` to change (`PackAccessDenied` if it is not theirs)."""
        with self.database.read() as connection:
            return self._stored(self._editable(connection, edit_token, who))

    def save(self, edit_token: str, pack: Pack, *, who: Identity | None, style: str | None = None,
             revision: int | None = None) -> StoredPack:
        """Replace the pack (and its style); with `revision`, only if nobody saved it since.

        The share link keeps showing the version shared before, until the owner shares again.
        """
        if style is not None:
            _check_style(style)
        pack, body = _checked(pack)
        with self.database.write() as connection:
            row = self._editable(connection, edit_token, who)
            if revision is not None and row.revision != revision:
                raise PackConflict("This pack was changed in another window or tab since you opened it, so "
                                   "your last change was not saved. The page now shows the latest version.")
            values: dict[str, Any] = {"title": pack.title, "body": body, "updated": _now(),
                                      "revision": row.revision + 1}
            if style is not None:
                values["style"] = style
            connection.execute(update(packs_table).where(packs_table.c.id == row.id).values(**values))
            return self._stored(self._row(connection, packs_table.c.id == row.id))

    def delete(self, edit_token: str, who: Identity | None) -> str:
        """Delete the pack for good (its share link then says it was withdrawn); returns its title."""
        with self.database.write() as connection:
            row = self._editable(connection, edit_token, who)
            connection.execute(delete(packs_table).where(packs_table.c.id == row.id))
            return str(row.title)

    def duplicate(self, edit_token: str, who: Identity | None, *, title: str | None = None) -> StoredPack:
        """A copy of the pack, titled "Copy of ..." unless `title` is given, owned by `who`.

        The copy has its own edit link and is not shared.
        """
        stored = self.open(edit_token, who)
        copy = replace(stored.pack, title=title if title is not None else _copy_title(stored.pack.title))
        return self.create(copy, owner=who, style=stored.style)

    def copy_shared(self, share_token: str, who: Identity | None) -> StoredPack:
        """A copy of what a share link shows, owned by `who`: a reader's own pack to build on."""
        shared = self.shared(share_token)
        copy = replace(shared.pack, title=_copy_title(shared.pack.title))
        return self.create(copy, owner=who, style=shared.style)

    def share(self, edit_token: str, who: Identity | None, *,
              check: Callable[[Pack, str], None] | None = None) -> StoredPack:
        """Make (or update) the share link's version: the pack as it is now, in its style.

        `check(pack, style)` runs first and may refuse by raising (e.g. `PackDoesNotFit`), so
        that a share link only ever shows a brief that fits one page.  The link itself
        stays the same when the version is updated.
        """
        stored = self.open(edit_token, who)
        if check is not None:
            check(stored.pack, stored.style)
        with self.database.write() as connection:
            row = self._editable(connection, edit_token, who)
            if row.revision != stored.revision:
                raise PackConflict("The pack changed while it was being checked; share it again.")
            connection.execute(update(packs_table).where(packs_table.c.id == row.id).values(
                share_token=row.share_token or _token(), shared_body=row.body, shared_style=row.style,
                shared_at=_now()))
            return self._stored(self._row(connection, packs_table.c.id == row.id))

    def withdraw(self, edit_token: str, who: Identity | None) -> StoredPack:
        """Stop the share link working: it then says the pack was withdrawn.  Sharing again makes a new link."""
        with self.database.write() as connection:
            row = self._editable(connection, edit_token, who)
            connection.execute(update(packs_table).where(packs_table.c.id == row.id).values(
                share_token=None, shared_body=None, shared_style=None, shared_at=None))
            return self._stored(self._row(connection, packs_table.c.id == row.id))

    # ------------------------------------------------------------ readers
    def shared(self, share_token: str) -> SharedVersion:
        """What a share link shows, for anyone holding it; `PackWithdrawn` once revoked or deleted."""
        if not share_token:
            raise PackWithdrawn("This link to an evidence pack is incomplete: ask its author to send it again.")
        with self.database.read() as connection:
            row = connection.execute(
                select(packs_table.c.shared_body, packs_table.c.shared_style, packs_table.c.shared_at,
                       packs_table.c.body, packs_table.c.updated)
                .where(packs_table.c.share_token == share_token)).first()
        if row is None:
            raise PackWithdrawn("This evidence pack was withdrawn by its author, or the link is incomplete. "
                                "Ask them for a new link if you still need it.")
        body = row.shared_body if row.shared_body is not None else row.body
        return SharedVersion(load_pack(body, max_bytes=_STORED_PACK_LIMIT), row.shared_style or "apa",
                             _time(row.shared_at or row.updated))

    # ------------------------------------------------------------ lists
    def owned_by(self, who: Identity) -> list[PackSummary]:
        """The packs `who` owns, most recently changed first (the administrator: every pack)."""
        query = self._summaries()
        if not who.is_admin:
            query = query.where(packs_table.c.owner == who.owner)
        with self.database.read() as connection:
            return [self._summary(row) for row in connection.execute(query).all()]

    def held(self, edit_tokens: Iterable[str], who: Identity | None = None) -> list[PackSummary]:
        """The packs these edit links open that `who` may change, most recently changed first.

        This is the "packs this browser has used" list for someone not signed in: it
        shows only what the browser already holds links to.
        """
        tokens = list(dict.fromkeys(t for t in edit_tokens if t))[:MAX_HELD_LINKS]
        if not tokens:
            return []
        with self.database.read() as connection:
            rows = connection.execute(self._summaries().where(packs_table.c.edit_token.in_(tokens))).all()
        return [self._summary(row) for row in rows
                if may_edit(row.owner, who, edit_token=row.edit_token, presented=row.edit_token)]

    def existing(self, edit_tokens: Iterable[str]) -> set[str]:
        """Which of these edit links still open a pack for someone: the rest were deleted, or never
        were links (a pack only its owner may change, signed in, is still here)."""
        tokens = list(dict.fromkeys(t for t in edit_tokens if t))[:MAX_HELD_LINKS]
        if not tokens:
            return set()
        with self.database.read() as connection:
            return set(connection.execute(select(packs_table.c.edit_token)
                                          .where(packs_table.c.edit_token.in_(tokens))).scalars())

    # ------------------------------------------------------------ the administrator's verbs (the CLI)
    def get(self, pack_id: str, who: Identity) -> StoredPack:
        self._need_admin(who)
        with self.database.read() as connection:
            row = self._row(connection, packs_table.c.id == pack_id)
            if row is None:
                raise _no_id(pack_id)
            return self._stored(row)

    def delete_by_id(self, pack_id: str, who: Identity) -> str:
        """Delete any pack by its id (the administrator only); returns its title."""
        self._need_admin(who)
        with self.database.write() as connection:
            row = self._row(connection, packs_table.c.id == pack_id)
            if row is None:
                raise _no_id(pack_id)
            connection.execute(delete(packs_table).where(packs_table.c.id == pack_id))
            return str(row.title)

    def replace_by_id(self, pack_id: str, pack: Pack, who: Identity, *, style: str | None = None) -> StoredPack:
        """Replace any pack's content by its id (the administrator only); its links stay the same."""
        self._need_admin(who)
        with self.database.read() as connection:
            row = self._row(connection, packs_table.c.id == pack_id)
        if row is None:
            raise _no_id(pack_id)
        return self.save(row.edit_token, pack, who=who, style=style)

    @staticmethod
    def _need_admin(who: Identity) -> None:
        if not who.is_admin:
            raise PackAccessDenied("Only the local administrator (the command line) can see or change "
                                   "packs by their id.")

    # ------------------------------------------------------------ rows
    @staticmethod
    def _row(connection: Connection, where: Any) -> Any:
        return connection.execute(select(packs_table).where(where)).first()

    def _editable(self, connection: Connection, edit_token: str, who: Identity | None) -> Any:
        row = self._row(connection, packs_table.c.edit_token == edit_token) if edit_token else None
        if row is None:
            raise PackNotFound("This edit link does not open a pack: the pack may have been deleted, or the "
                               "link is incomplete. Start a new pack, or open one from “My packs”.")
        if not may_edit(row.owner, who, edit_token=row.edit_token, presented=edit_token):
            raise PackAccessDenied("This pack can only be changed by the person who made it, signed in. "
                                   "Sign in as them, or ask them for its read-only link.")
        return row

    @staticmethod
    def _stored(row: Any) -> StoredPack:
        shared = None
        if row.share_token is not None:
            body = row.shared_body if row.shared_body is not None else row.body
            shared = SharedVersion(load_pack(body, max_bytes=_STORED_PACK_LIMIT), row.shared_style or "apa",
                                   _time(row.shared_at or row.updated))
        return StoredPack(id=row.id, pack=load_pack(row.body, max_bytes=_STORED_PACK_LIMIT), style=row.style,
                          owner=row.owner, revision=row.revision, created=_time(row.created),
                          updated=_time(row.updated), edit_token=row.edit_token, share_token=row.share_token,
                          shared=shared)

    @staticmethod
    def _summaries() -> Any:
        return (select(packs_table.c.id, packs_table.c.title, packs_table.c.updated, packs_table.c.owner,
                       packs_table.c.share_token, packs_table.c.edit_token)
                .order_by(packs_table.c.updated.desc(), packs_table.c.title))

    @staticmethod
    def _summary(row: Any) -> PackSummary:
        return PackSummary(row.id, row.title, _time(row.updated), row.owner, row.share_token is not None,
                           row.edit_token)

    # ------------------------------------------------------------ upgrading
    def import_legacy(self, data_dir: Path) -> int:
        """Copy packs from the `packs.sqlite3` of earlier versions, once; returns how many.

        Packs already in the database (same id) are left as they are.  Like every pack
        from before packs had owners, the copies belong to the local administrator and
        keep their share links.  The old file is then renamed, so it is read only once
        and kept as a backup.
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
                shared = row[5] is not None
                connection.execute(insert(packs_table).values(
                    id=row[0], title=row[1], body=row[2], created=row[3], updated=row[4], share_token=row[5],
                    owner=Identity.admin().owner, edit_token=_token(), style="apa", revision=1,
                    shared_body=row[2] if shared else None, shared_style="apa" if shared else None,
                    shared_at=row[4] if shared else None))
                copied += 1
        legacy.rename(legacy.with_name(LEGACY_FILE + ".imported"))
        for suffix in ("-wal", "-shm"):
            leftover = legacy.with_name(LEGACY_FILE + suffix)
            if leftover.exists():
                leftover.rename(legacy.with_name(LEGACY_FILE + ".imported" + suffix))
        return copied


def pack_address(base: str, **query: str) -> str:
    """The pack page's address with one link: `pack_address("https://x.org", share=token)`.

    `base` is the app's public address (LIBRARY_PUBLIC_URL or the browser's); without
    one, the address is relative to the app ("/pack?share=...").
    """
    from urllib.parse import urlencode

    return f"{base.rstrip('/')}/pack?{urlencode(query)}"


def _checked(pack: Pack) -> tuple[Pack, str]:
    """The pack as it will read back, and its JSON: what cannot be read back is refused before saving.

    Saving what `load_pack` would later refuse (an over-long note, a citation of a missing
    reference) would make the pack impossible to open, so the exact text is read back first;
    `PackError` names the field.
    """
    body = dump_pack(pack)
    checked = load_pack(body)
    return checked, dump_pack(checked)


def _copy_title(title: str) -> str:
    if title.startswith("Copy of ") or len(title) + 8 > MAX_TEXT_CHARS:
        return title
    return f"Copy of {title}"


def _no_id(pack_id: str) -> PackNotFound:
    return PackNotFound(f"No saved pack has the id '{pack_id}'; it may have been deleted. "
                        "`python -m library pack list` shows the ids.")


def _now() -> str:
    # Microseconds keep "most recently changed first" stable for quick successive saves.
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


def _time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)
