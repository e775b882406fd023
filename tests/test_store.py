"""The collection on disk: atomic writes, safe file names, trash, change log (library.store)."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from pathlib import Path

import pytest

from library import Library
from library.bibtex import Entry, format_entry, parse_file
from library.errors import EntryProblems, InvalidKey, LockTimeout, ReferenceNotFound, WriteFailed
from library.store import TEMP_PREFIX, Collection, atomic_write


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file and folder under root, with its content."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def entry(key: str = "smith2020tidy", title: str = "A tidy title") -> Entry:
    return Entry(key, "article", {"title": title, "journal": "Journal of Imaginary Care Studies", "year": "2020"},
                 {"author": ("Smith, Jane",)})


@pytest.fixture
def collection(tmp_path: Path) -> Collection:
    return Collection(tmp_path / "references", tmp_path / "data", lock_timeout=0.2, user="tester")


# ---------------------------------------------------------------- atomic writes


@pytest.mark.parametrize("existing", [None, b"old content\n"])
def test_atomic_write_leaves_only_the_file(tmp_path: Path, existing: bytes | None) -> None:
    target = tmp_path / "folder" / "a.bib"
    if existing is not None:
        target.parent.mkdir()
        target.write_bytes(existing)

    atomic_write(target, b"new content\n")

    assert target.read_bytes() == b"new content\n"
    assert [p.name for p in target.parent.iterdir()] == ["a.bib"]
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)


def test_failed_write_leaves_no_partial_or_temporary_file(tmp_path: Path) -> None:
    # Root ignores permissions, so a read-only folder is simulated by a folder that cannot
    # exist: its parent is an ordinary file.
    blocker = tmp_path / "references"
    blocker.write_text("I am a file, not a folder.\n")
    before = snapshot(tmp_path)

    with pytest.raises(WriteFailed) as caught:
        atomic_write(blocker / "smith2020tidy.bib", b"@article{smith2020tidy}\n")

    message = str(caught.value)
    assert str(blocker / "smith2020tidy.bib") in message
    assert "Nothing was changed" in message
    assert snapshot(tmp_path) == before


def test_failed_replace_keeps_the_old_file_and_cleans_up(tmp_path: Path) -> None:
    # The target name is taken by a folder, so the final rename fails after the data is written.
    target = tmp_path / "smith2020tidy.bib"
    target.mkdir()
    (target / "keep.txt").write_text("still here")
    before = snapshot(tmp_path)

    with pytest.raises(WriteFailed, match="Nothing was changed"):
        atomic_write(target, b"new")

    assert snapshot(tmp_path) == before
    assert not list(tmp_path.glob(TEMP_PREFIX + "*"))


def test_collection_write_into_an_impossible_folder(tmp_path: Path) -> None:
    (tmp_path / "references").write_text("a file where the collection should be")
    collection = Collection(tmp_path / "references", tmp_path / "data")
    before = snapshot(tmp_path)

    with pytest.raises(WriteFailed) as caught:
        with collection.locked():
            collection.write(entry())

    assert "references" in str(caught.value)
    assert snapshot(tmp_path) == before


def test_library_add_into_an_impossible_folder_reports_it(tmp_path: Path) -> None:
    lib_dir = tmp_path / "references"
    lib_dir.mkdir()
    (lib_dir / "themes.toml").write_text('[[theme]]\nslug = "burnout"\nlabel = "Burnout"\n')
    lib = Library()
    lib_dir.rename(tmp_path / "moved")
    (tmp_path / "references").write_text("now a file")

    with pytest.raises(WriteFailed):
        lib.add_entries([entry()])

    assert (tmp_path / "references").read_text() == "now a file"


# ---------------------------------------------------------------- keys that would escape


BAD_KEYS = ["../x", "../../etc/passwd", "/etc/passwd", "a/b", "a\\b", "a\x00b", "CON", "con", "nul.txt",
            "COM1", "LPT9.bib", "x" * 200, "", ".hidden", "-dash-first", "a b", "a..b", "ключ"]


@pytest.mark.parametrize("key", BAD_KEYS, ids=[repr(k)[:24] for k in BAD_KEYS])
def test_unsafe_keys_are_refused_before_any_file_is_touched(tmp_path: Path, collection: Collection,
                                                             key: str) -> None:
    (tmp_path / "references").mkdir()
    before = snapshot(tmp_path)

    for attempt in (lambda: collection.path_for(key), lambda: collection.write(entry(key)),
                    lambda: collection.remove(key), lambda: collection.read(key)):
        with pytest.raises(InvalidKey) as caught:
            attempt()
        assert "key" in str(caught.value)
    # Restore only ever uses names already in the trash, so an unsafe key is simply not there.
    with pytest.raises((InvalidKey, ReferenceNotFound)):
        collection.restore(key)

    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("key", BAD_KEYS, ids=[repr(k)[:24] for k in BAD_KEYS])
def test_library_refuses_unsafe_keys_and_writes_nothing(tmp_path: Path, key: str) -> None:
    (tmp_path / "references").mkdir()
    (tmp_path / "references" / "themes.toml").write_text('[[theme]]\nslug = "burnout"\nlabel = "Burnout"\n')
    lib = Library()
    before = snapshot(tmp_path / "references"), snapshot(tmp_path / "data") if (tmp_path / "data").exists() else {}

    with pytest.raises(EntryProblems) as caught:
        lib.add_entries([entry(key)])

    assert "key" in str(caught.value)
    after = snapshot(tmp_path / "references"), snapshot(tmp_path / "data") if (tmp_path / "data").exists() else {}
    assert after == before
    with pytest.raises(ReferenceNotFound):
        lib.get(key)


@pytest.mark.parametrize("key", ["smith2020tidy", "Smith-2020_tidy.v2+x", "1984orwell", "a" * 100])
def test_safe_keys_are_written_under_their_own_name(collection: Collection, key: str) -> None:
    with collection.locked():
        path = collection.write(entry(key)).path
    assert path == collection.root / f"{key}.bib"
    assert parse_file(path).entries[0].key == key


# ---------------------------------------------------------------- trash and restore


def test_delete_moves_to_the_trash_and_restore_brings_it_back(collection: Collection) -> None:
    with collection.locked():
        path = collection.write(entry()).path
        original = path.read_bytes()
        trashed = collection.remove("smith2020tidy", who="alice").path

    assert not path.exists()
    assert trashed.parent == collection.trash_dir and trashed.read_bytes() == original
    assert [key for key, _ in collection.trashed()] == ["smith2020tidy"]
    with pytest.raises(ReferenceNotFound):
        collection.read("smith2020tidy")

    with collection.locked():
        restored = collection.restore("smith2020tidy", who="bob").path

    assert restored == path and path.read_bytes() == original
    assert collection.trashed() == []


def test_restore_brings_back_the_most_recent_copy(collection: Collection) -> None:
    with collection.locked():
        collection.write(entry(title="First version"))
        collection.remove("smith2020tidy")
        collection.write(entry(title="Second version"))
        collection.remove("smith2020tidy")
        assert len(collection.trashed()) == 2
        collection.restore("smith2020tidy")

    assert collection.read("smith2020tidy").fields["title"] == "Second version"
    assert len(collection.trashed()) == 1


def test_restore_will_not_overwrite(collection: Collection) -> None:
    with collection.locked():
        collection.write(entry(title="Deleted"))
        collection.remove("smith2020tidy")
        collection.write(entry(title="Current"))
        with pytest.raises(WriteFailed, match="already in the collection"):
            collection.restore("smith2020tidy")
    assert collection.read("smith2020tidy").fields["title"] == "Current"
    assert len(collection.trashed()) == 1


@pytest.mark.parametrize("action", ["remove", "restore"])
def test_missing_keys_are_reported(collection: Collection, action: str) -> None:
    with collection.locked(), pytest.raises(ReferenceNotFound, match="nobody2020here"):
        getattr(collection, action)("nobody2020here")


# ---------------------------------------------------------------- change log


def test_every_change_is_logged_as_json(collection: Collection) -> None:
    with collection.locked():
        collection.write(entry(), action="add", who="alice")
        collection.write(entry(title="Better"), action="edit", who="bob")
        collection.remove("smith2020tidy")
        collection.restore("smith2020tidy", who="carol")

    lines = collection.log_path.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [(r["who"], r["action"], r["key"]) for r in records] == [
        ("alice", "add", "smith2020tidy"), ("bob", "edit", "smith2020tidy"),
        ("tester", "delete", "smith2020tidy"), ("carol", "restore", "smith2020tidy")]
    for record in records:
        assert set(record) == {"when", "who", "action", "key", "detail", "changes", "version", "id"}
        when = dt.datetime.fromisoformat(record["when"])
        assert when.tzinfo is not None
        assert abs(dt.datetime.now(dt.timezone.utc) - when) < dt.timedelta(days=1)
    assert records[2]["detail"].startswith("moved to smith2020tidy--")
    assert [c.action for c in collection.changes()] == ["restore", "delete", "edit", "add"]


def test_a_line_cut_short_by_a_crash_is_skipped(collection: Collection) -> None:
    collection.log("add", "smith2020tidy", who="alice")
    with collection.log_path.open("a", encoding="utf-8") as log:
        log.write('{"when": "2026-01-01T00:00:00+00:00", "who": "bo')
    collection.log("add", "jones2021next", who="alice")

    assert [c.key for c in collection.changes()] == ["jones2021next", "smith2020tidy"]


def test_names_are_logged_in_unicode(collection: Collection) -> None:
    collection.log("edit", "smith2020tidy", detail="renamed", who="Zoë Ødegård")
    line = collection.log_path.read_text(encoding="utf-8")
    assert "Zoë Ødegård" in line and json.loads(line)["who"] == "Zoë Ødegård"


# ---------------------------------------------------------------- one writer at a time


def test_collection_lock_timeout_is_a_clear_error(collection: Collection) -> None:
    other = Collection(collection.root, collection.data_dir, lock_timeout=0.2)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with collection.locked():
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(30)
        with pytest.raises(LockTimeout) as caught:
            with other.locked():
                other.write(entry())
    finally:
        release.set()
        thread.join()

    assert "0.2 seconds" in str(caught.value)
    assert not other.exists("smith2020tidy")
    with other.locked():
        other.write(entry())
    assert other.exists("smith2020tidy")


def test_written_files_are_what_format_entry_gives(collection: Collection) -> None:
    with collection.locked():
        path = collection.write(entry()).path
    assert path.read_bytes() == format_entry(entry()).encode("utf-8")
    assert not [name for name in os.listdir(collection.root) if name.startswith(TEMP_PREFIX)]
