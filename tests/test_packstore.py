"""Saved packs in the shared database: every test runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from library import Library, Settings
from library.database import Database
from library.errors import PackError
from library.packs import KeyMessage, Pack, PackReference, dump_pack
from library.packstore import LEGACY_FILE, PackStore

from .conftest import REPO


@pytest.fixture()
def pack() -> Pack:
    return Pack(
        title="Should our wards become trauma-informed?",
        audience="Ward managers",
        ask="Agree a six-month pilot on two acute wards.",
        key_messages=(KeyMessage("Adverse childhood experiences are common.", (1,)),),
        references=(PackReference("felitti1998relationship", "Common and harmful."),),
        prepared_by="Jo Bloggs",
        date=dt.date(2025, 3, 1),
    )


@pytest.fixture()
def store(database: Database) -> PackStore:
    return PackStore(database)


def test_store_save_list_get_update(store: PackStore, pack: Pack) -> None:
    pack_id = store.save(pack)
    assert store.get(pack_id) == pack
    [summary] = store.list()
    assert (summary.id, summary.title) == (pack_id, pack.title)
    assert summary.updated.tzinfo is not None
    first_saved = summary.updated

    renamed = replace(pack, title="Trauma-informed wards: a pilot")
    assert store.save(renamed, pack_id) == pack_id
    [summary] = store.list()
    assert summary.title == "Trauma-informed wards: a pilot"
    assert summary.updated > first_saved
    stored = store.get_stored(pack_id)
    assert stored.pack == renamed and stored.created == first_saved


def test_store_duplicate_and_delete(store: PackStore, pack: Pack) -> None:
    original = store.save(pack)
    copy = store.duplicate(original)
    assert copy != original
    assert store.get(copy) == replace(pack, title=f"Copy of {pack.title}")
    assert [s.id for s in store.list()] == [copy, original]  # most recently changed first
    named = store.duplicate(original, title="For the board")
    assert store.get(named).title == "For the board"

    store.delete(original)
    with pytest.raises(PackError, match="No saved pack has the id"):
        store.get(original)
    with pytest.raises(PackError, match="No saved pack has the id"):
        store.delete(original)
    with pytest.raises(PackError, match="No saved pack has the id"):
        store.save(pack, original)
    assert {s.id for s in store.list()} == {copy, named}


def test_store_share_tokens(store: PackStore, pack: Pack) -> None:
    pack_id = store.save(pack)
    other = store.save(replace(pack, title="Another pack"))
    token = store.share_token(pack_id)
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", token)  # random and URL-safe
    assert store.share_token(pack_id) == token  # the same link each time
    assert store.share_token(other) != token
    assert store.get_by_token(token) == pack
    assert store.get_stored(pack_id).share_token == token
    assert store.get_stored(store.duplicate(pack_id)).share_token is None  # a copy is not shared

    store.revoke_token(pack_id)
    with pytest.raises(PackError, match="does not open a pack"):
        store.get_by_token(token)
    assert store.share_token(pack_id) != token
    with pytest.raises(PackError, match="incomplete"):
        store.get_by_token("")


def test_store_survives_reopening(database_url: str, pack: Pack) -> None:
    first = Database(database_url)
    pack_id = PackStore(first).save(pack)
    first.close()
    again = Database(database_url)
    assert PackStore(again).get(pack_id) == pack
    again.close()


def test_store_is_safe_with_several_processes(database_url: str) -> None:
    code = textwrap.dedent(f"""
        import sys
        from library.database import Database
        from library.packs import Pack
        from library.packstore import PackStore
        store = PackStore(Database({database_url!r}))
        worker = sys.argv[1]
        for n in range(15):
            pack_id = store.save(Pack(title=f"worker {{worker}} pack {{n}}"))
            store.share_token(pack_id)
            store.list()
    """)
    workers = [subprocess.Popen([sys.executable, "-c", code, str(w)], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for w in range(3)]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err.decode()
    database = Database(database_url)
    titles = {s.title for s in PackStore(database).list()}
    database.close()
    assert titles == {f"worker {w} pack {n}" for w in range(3) for n in range(15)}


def _legacy_file(data_dir: Path, rows: list[tuple]) -> Path:
    """A packs.sqlite3 exactly as versions before the shared database wrote it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LEGACY_FILE
    with sqlite3.connect(path) as connection:
        connection.executescript("""
            CREATE TABLE packs (id TEXT PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL,
                                created TEXT NOT NULL, updated TEXT NOT NULL, share_token TEXT UNIQUE);
            CREATE INDEX packs_by_updated ON packs (updated DESC);
            PRAGMA user_version=1;
        """)
        connection.executemany("INSERT INTO packs VALUES (?, ?, ?, ?, ?, ?)", rows)
    connection.close()
    return path


def test_packs_saved_by_earlier_versions_are_brought_across_once(tmp_path: Path, pack: Pack) -> None:
    settings = Settings.from_env(references_dir=REPO / "references", index_dir=tmp_path / "index",
                                 data_dir=tmp_path / "data")
    when = "2025-03-01T10:00:00.000000+00:00"
    legacy = _legacy_file(settings.data_dir, [("old1", pack.title, dump_pack(pack), when, when, "tok-old-1"),
                                              ("old2", "Second", dump_pack(replace(pack, title="Second")),
                                               when, when, None)])
    library = Library(settings, sync=False)
    store = library.packs
    assert {s.id for s in store.list()} == {"old1", "old2"}
    assert store.get("old1") == pack
    assert store.get_by_token("tok-old-1") == pack  # share links made before the upgrade still work
    assert not legacy.exists() and (settings.data_dir / (LEGACY_FILE + ".imported")).exists()
    library.close()

    again = Library(settings, sync=False)
    assert len(again.packs.list()) == 2  # not copied twice
    again.close()


def test_an_unreadable_legacy_file_is_named_and_nothing_is_lost(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / LEGACY_FILE).write_bytes(b"this is not a database")
    database = Database(f"sqlite:///{data_dir / 'library.sqlite3'}")
    with pytest.raises(PackError, match=re.escape(str(data_dir / LEGACY_FILE))):
        PackStore(database).import_legacy(data_dir)
    assert (data_dir / LEGACY_FILE).read_bytes() == b"this is not a database"
    database.close()
