"""Faults lose nothing: processes killed part-way, a damaged index, a full disk, a read-only
collection and a DOI service that is down.

The kills are real: `python -m library` runs as a subprocess and gets SIGKILL after a random
delay within the time the operation takes (seeded, so a failure can be replayed).  Afterwards
every file is either the old one or the new one, whole; `check` passes; and a library opened
afresh (which finishes a batch cut short) indexes exactly the files on disk.
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from library import Library
from library.bibtex import format_entry, parse_text
from library.errors import LibraryError, WriteFailed
from tests.security_support import (REPO, assert_sound, bib_files, cli, entry_text, library_env, synthetic_bib,
                                    seed_collection, settings_for)

KILLS = 5  # random kill points per operation


def _stamped(text: str) -> str:
    """BibTeX with `added` and `added-by` set, so the saved file's bytes are known in advance."""
    return text.replace("\n}", ",\n  added = {2026-01-02},\n  added-by = {tester}\n}")


def _expected_files(bib: str) -> dict[str, bytes]:
    return {f"{e.key}.bib": format_entry(e).encode("utf-8") for e in parse_text(bib).entries}


def _run_and_kill(root: Path, args: list[str], delay: float) -> int | None:
    """Start `python -m library ARGS`, SIGKILL it after `delay` seconds (if still running)."""
    process = subprocess.Popen([sys.executable, "-m", "library", *args], cwd=REPO, env=library_env(root),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
    return process.wait(timeout=60)


def _duration(root: Path, args: list[str]) -> float:
    """How long the operation takes here, so that kill points fall inside it."""
    started = time.perf_counter()
    result = cli(root, *args)
    assert result.returncode == 0, result.stderr.decode()
    return time.perf_counter() - started


def _assert_each_file_old_or_new(root: Path, old: dict[str, bytes], new: dict[str, bytes]) -> dict[str, bytes]:
    now = bib_files(root / "references")
    for name, data in now.items():
        assert data in (old.get(name), new.get(name)), f"{name} is neither the old nor the new file"
    assert set(old) - set(new) <= set(now), "a reference that was not being changed went missing"
    return now


def _leftovers(root: Path) -> list[str]:
    return [p.name for p in (root / "references").iterdir() if p.name.startswith(".tmp-")]


# ------------------------------------------------------------------ killed part-way


def test_killed_save_leaves_the_old_file_or_the_new_one(tmp_path: Path) -> None:
    seed_collection(tmp_path, 6)
    target = "felitti1998relationship"
    shutil.copy2(REPO / "references" / f"{target}.bib", tmp_path / "references")
    Library(settings_for(tmp_path)).close()
    old = bib_files(tmp_path / "references")
    text = old[f"{target}.bib"].decode().replace("key-finding = {", "key-finding = {Revised. ", 1)
    assert "Revised." in text
    new_file = tmp_path / "edited.bib"
    new_file.write_text(text)
    new = {**old, **_expected_files(text)}
    args = ["add", str(new_file), "--replace"]
    full = _duration(tmp_path, args)
    assert bib_files(tmp_path / "references")[f"{target}.bib"] == new[f"{target}.bib"]
    rng = random.Random(1)
    for _ in range(KILLS):
        (tmp_path / "references" / f"{target}.bib").write_bytes(old[f"{target}.bib"])
        _run_and_kill(tmp_path, args, rng.uniform(0.05, 1.0) * full)
        _assert_each_file_old_or_new(tmp_path, old, new)
        assert assert_sound(tmp_path) == {n[:-4] for n in old}
        assert not [n for n in _leftovers(tmp_path) if n.endswith(".bib")]


def test_killed_batch_import_leaves_whole_files_and_a_sound_index(tmp_path: Path) -> None:
    seed_collection(tmp_path, 5)
    Library(settings_for(tmp_path)).close()
    old = bib_files(tmp_path / "references")
    batch = _stamped("\n".join(entry_text(f"batch{n}", n) for n in range(300)))
    (tmp_path / "batch.bib").write_text(batch)
    new = {**old, **_expected_files(batch)}
    args = ["add", str(tmp_path / "batch.bib")]
    full = _duration(tmp_path, args)
    assert set(bib_files(tmp_path / "references")) == set(new)
    rng = random.Random(2)
    for _ in range(KILLS):
        for name in set(new) - set(old):
            (tmp_path / "references" / name).unlink(missing_ok=True)
        _run_and_kill(tmp_path, args, rng.uniform(0.05, 1.0) * full)
        _assert_each_file_old_or_new(tmp_path, old, new)
        # The batch goes through the journal: once the next open has finished it, all or none.
        assert assert_sound(tmp_path) in ({n[:-4] for n in old}, {n[:-4] for n in new})


@pytest.mark.parametrize("command", [["index"], ["search", "synthetic"]], ids=["rebuild", "incremental-sync"])
def test_killed_index_update_is_redone_on_next_open(tmp_path: Path, command: list[str]) -> None:
    references = seed_collection(tmp_path, 5)
    Library(settings_for(tmp_path)).close()
    extra = {f"sync{n}.bib": entry_text(f"sync{n}", n).encode() for n in range(800)}
    for name, data in extra.items():
        (references / name).write_bytes(data)
    full = _duration(tmp_path, ["index"])
    rng = random.Random(3)
    for round_number in range(KILLS):
        if command[0] == "search":
            # A fresh batch of files the index has not seen, for the sync to pick up.
            for name in list(extra)[round_number::KILLS]:
                (references / name).unlink()
            Library(settings_for(tmp_path)).close()
            for name in list(extra)[round_number::KILLS]:
                (references / name).write_bytes(extra[name])
        _run_and_kill(tmp_path, command, rng.uniform(0.05, 1.0) * full)
        assert len(assert_sound(tmp_path)) == 5 + len(extra)


# ------------------------------------------------------------------ a damaged index


def _damage_segments(index: Path) -> None:
    for path in (index / "whoosh").iterdir():
        if path.is_file() and not path.name.endswith(".lock"):
            path.write_bytes(b"\x00garbage" * 7)


def _damage_toc(index: Path) -> None:
    for path in (index / "whoosh").glob("*.toc"):
        path.write_bytes(os.urandom(64))


def _truncate_segments(index: Path) -> None:
    for path in (index / "whoosh").iterdir():
        if path.is_file() and path.suffix == ".seg":
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garbage_state(index: Path) -> None:
    for path in index.glob("state.sqlite*"):
        path.unlink()
    (index / "state.sqlite").write_bytes(b"this is not a database" * 100)


def _forget_files(index: Path) -> None:
    with sqlite3.connect(index / "state.sqlite") as conn:
        conn.execute("DELETE FROM files")


DAMAGE = {
    "deleted": lambda index: shutil.rmtree(index),
    "whoosh-deleted": lambda index: shutil.rmtree(index / "whoosh"),
    "state-deleted": lambda index: [p.unlink() for p in index.glob("state.sqlite*")],
    "segments-garbage": _damage_segments,
    "toc-garbage": _damage_toc,
    "segments-truncated": _truncate_segments,
    "state-garbage": _garbage_state,
    "state-forgets-files": _forget_files,
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_deleted_or_corrupted_index_is_rebuilt_on_open(tmp_path: Path, damage: str) -> None:
    seed_collection(tmp_path, 20)
    library = Library(settings_for(tmp_path))
    library.search("trauma")
    library.close()
    DAMAGE[damage](tmp_path / "index")
    assert len(assert_sound(tmp_path)) == 20
    assert Library(settings_for(tmp_path)).search("trauma").total > 0


# ------------------------------------------------------------------ a full disk, a read-only folder


def _fail_after_half(monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    """Writes inside the collection fail part-way, as on a disk that fills up mid-file."""
    real_fdopen = os.fdopen

    class Failing:
        def __init__(self, handle) -> None:  # type: ignore[no-untyped-def]
            self.handle = handle

        def __enter__(self):  # type: ignore[no-untyped-def]
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def write(self, data: bytes) -> int:
            self.handle.write(data[: len(data) // 2])
            self.handle.flush()
            raise OSError(code, os.strerror(code))

        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(self.handle, name)

    def fdopen(fd, *args, **kwargs):  # type: ignore[no-untyped-def]
        return Failing(real_fdopen(fd, *args, **kwargs))

    monkeypatch.setattr(os, "fdopen", fdopen)


@pytest.mark.parametrize("where", ["write", "rename"])
def test_disk_full_gives_a_clear_error_and_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           where: str) -> None:
    seed_collection(tmp_path, 5)
    library = Library(settings_for(tmp_path))
    before = bib_files(tmp_path / "references")
    existing = sorted(before)[0][:-4]
    if where == "write":
        _fail_after_half(monkeypatch, errno.ENOSPC)
    else:
        def no_space(*args: object, **kwargs: object) -> None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(WriteFailed, match="disk is full"):
        library.add_text(entry_text("newone1", 1))
    entry = library.collection.read(existing)
    with pytest.raises(WriteFailed, match="Nothing was changed"):
        library.update(entry.with_fields(note="an edit that cannot be saved"))
    monkeypatch.undo()
    assert bib_files(tmp_path / "references") == before
    assert _leftovers(tmp_path) == []
    assert_sound(tmp_path)


def _mount_tmpfs(path: Path, size: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                            capture_output=True)
    return result.returncode == 0


def _unmount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_a_really_full_disk_keeps_the_old_files(tmp_path: Path) -> None:
    """A small tmpfs filled up (needs root and mount; the in-process test above always runs)."""
    small = tmp_path / "small"
    if not _mount_tmpfs(small, "512k"):
        pytest.skip("cannot mount a tmpfs here (needs root); the simulated full disk is tested above")
    try:
        references = seed_collection(small, 5)
        settings = settings_for(small).with_(index_dir=tmp_path / "index", data_dir=tmp_path / "data")
        library = Library(settings)
        before = bib_files(references)
        filler = small / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"x" * 4096):
                pass
        except OSError as error:
            assert error.errno == errno.ENOSPC
        finally:
            os.close(fd)
        os.truncate(filler, max(0, filler.stat().st_size - 16 * 1024))  # room for small files only
        big = entry_text("bigone1", 1, extra=",\n  abstract = {" + "words " * 15_000 + "}")
        with pytest.raises(WriteFailed, match="disk is full"):
            library.add_text(big)
        key = sorted(before)[0][:-4]
        with pytest.raises(WriteFailed):
            library.update(library.collection.read(key).with_fields(abstract="long " * 18_000))
        assert bib_files(references) == before
        assert not [p for p in references.iterdir() if p.name.startswith(".tmp-")]
        assert library.search("").total == 5
        library.close()
    finally:
        _unmount(small)


def test_a_read_only_collection_gives_a_clear_error_and_search_still_works(tmp_path: Path) -> None:
    references = seed_collection(tmp_path, 5)
    mounted = _mount_tmpfs(tmp_path / "ro", "4m")
    if mounted:
        shutil.copytree(references, tmp_path / "ro" / "references")
        subprocess.run(["mount", "-o", "remount,ro", str(tmp_path / "ro")], check=True)
        root = tmp_path / "ro"
        settings = settings_for(root).with_(index_dir=tmp_path / "index", data_dir=tmp_path / "data")
    elif os.geteuid() == 0:
        pytest.skip("root ignores file permissions and cannot mount here")
    else:
        references.chmod(0o555)
        root = tmp_path
        settings = settings_for(tmp_path)
    try:
        library = Library(settings)
        before = bib_files(root / "references")
        key = sorted(before)[0][:-4]
        with pytest.raises(LibraryError, match="read-only"):
            library.add_text(entry_text("newone2", 2))
        with pytest.raises(LibraryError, match="read-only"):
            library.delete(key)
        assert bib_files(root / "references") == before
        assert library.search("").total == 5
        library.close()
    finally:
        if mounted:
            _unmount(tmp_path / "ro")
        else:
            references.chmod(0o755)


# ------------------------------------------------------------------ the DOI service is down


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_doi_service_down_shows_a_message_and_search_still_works(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import streamlit as st

    seed_collection(tmp_path, 10)
    monkeypatch.setenv("LIBRARY_REFERENCES_DIR", str(tmp_path / "references"))
    monkeypatch.setenv("LIBRARY_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("LIBRARY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LIBRARY_CROSSREF_URL", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("LIBRARY_HTTP_TIMEOUT", "2")
    st.cache_resource.clear()
    page = AppTest.from_file(str(REPO / "views" / "librarian.py"), default_timeout=60)
    page.session_state["librarian"] = "librarian (test)"  # signed in
    page.run()
    page.radio(key="add_method").set_value("doi").run()
    page.text_input(key="doi_text").input("10.1016/S0749-3797(98)00017-8")
    page.button(key="read-input").click().run()
    assert not page.exception
    assert any("Could not reach the DOI service" in e.value for e in page.error)
    assert len(bib_files(tmp_path / "references")) == 10

    search = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)  # opens on the search page
    search.query_params["q"] = "trauma"
    search.run()
    assert not search.exception
    assert any("found" in m.value for m in search.markdown)
    st.cache_resource.clear()

    result = cli(tmp_path, "add", "--doi", "10.1016/S0749-3797(98)00017-8",
                 LIBRARY_CROSSREF_URL=f"http://127.0.0.1:{_closed_port()}", LIBRARY_HTTP_TIMEOUT="2")
    assert result.returncode == 3
    assert b"Could not reach the DOI service" in result.stderr
    assert b"Traceback" not in result.stderr
    assert len(bib_files(tmp_path / "references")) == 10


# ------------------------------------------------------------------ messages that tell the truth (issue 11, item 6)


def _fill(folder: Path) -> Path:
    """Fill the file system under `folder` to the last byte; returns the filler to delete."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"x" * 4096):
            pass
    except OSError as error:
        assert error.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


class _Folder:
    """A folder that can be made read-only or full for real: its own tmpfs when we may mount one
    (root), else permissions (read-only only; root ignores them, so root always mounts)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.mounted = _mount_tmpfs(path, "2m")
        path.mkdir(parents=True, exist_ok=True)
        self.filler: Path | None = None

    def read_only(self) -> None:
        if self.mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(self.path)], check=True)
        else:
            for folder in (self.path, *[p for p in self.path.rglob("*") if p.is_dir()]):
                folder.chmod(0o555)

    def full(self) -> None:
        if not self.mounted:
            pytest.skip("a real full disk needs a tmpfs (root); the read-only case runs everywhere")
        self.filler = _fill(self.path)

    def writable(self) -> None:
        if self.mounted:
            subprocess.run(["mount", "-o", "remount,rw", str(self.path)], check=True)
            if self.filler is not None:
                self.filler.unlink()
                self.filler = None
        else:
            for folder in (self.path, *[p for p in self.path.rglob("*") if p.is_dir()]):
                folder.chmod(0o755)

    def close(self) -> None:
        if self.mounted:
            _unmount(self.path)
        else:
            self.writable()


@pytest.fixture
def data_folder(tmp_path: Path):  # type: ignore[no-untyped-def]
    folder = _Folder(tmp_path / "data")
    yield folder
    folder.close()


@pytest.fixture
def index_folder(tmp_path: Path):  # type: ignore[no-untyped-def]
    folder = _Folder(tmp_path / "index")
    yield folder
    folder.close()


def _log(root: Path) -> list[dict]:
    import json

    path = root / "data" / "changes.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.parametrize("fault", ["read-only", "full"])
def test_a_data_folder_fault_after_the_save_says_exactly_that_and_the_log_line_waits(
        tmp_path: Path, data_folder: _Folder, fault: str) -> None:
    seed_collection(tmp_path, 5)
    Library(settings_for(tmp_path)).close()
    (tmp_path / "new.bib").write_text(entry_text("newone1", 1))
    data_folder.read_only() if fault == "read-only" else data_folder.full()

    added = cli(tmp_path, "add", str(tmp_path / "new.bib"))
    edited = cli(tmp_path, "edit", "newone1", "--set", "note=first edit")

    for result in (added, edited):
        out, err = result.stdout.decode(), result.stderr.decode()
        assert result.returncode == 4, err
        assert "Nothing was changed" not in err and "Traceback" not in err
        assert "The change log could not be updated" in err and ".changes-pending.jsonl" in err
    assert "Added newone1" in added.stdout.decode() and "Saved newone1" in edited.stdout.decode()
    assert b"newone1" in cli(tmp_path, "search", "synthetic", "--format", "json").stdout
    assert (tmp_path / "references" / ".changes-pending.jsonl").exists()
    retry = cli(tmp_path, "add", str(tmp_path / "new.bib"))
    assert retry.returncode == 1 and b"already in the collection" in retry.stderr  # true: it was saved

    data_folder.writable()
    later = cli(tmp_path, "edit", "newone1", "--set", "note=second edit")

    assert later.returncode == 0, later.stderr.decode()
    log = _log(tmp_path)
    assert [(c["action"], c["key"]) for c in log] == [("add", "newone1"), ("edit", "newone1"), ("edit", "newone1")]
    assert [c["changes"].get("note") for c in log[1:]] == [["", "first edit"], ["first edit", "second edit"]]
    assert not (tmp_path / "references" / ".changes-pending.jsonl").exists()
    assert_sound(tmp_path)


def test_a_batch_that_cannot_record_its_journal_changes_nothing_and_says_so(tmp_path: Path,
                                                                           data_folder: _Folder) -> None:
    seed_collection(tmp_path, 5)
    Library(settings_for(tmp_path)).close()
    before = bib_files(tmp_path / "references")
    (tmp_path / "two.bib").write_text(entry_text("newtwo1", 2) + entry_text("newtwo2", 3))
    data_folder.read_only()

    result = cli(tmp_path, "add", str(tmp_path / "two.bib"))

    assert result.returncode == 3
    assert b"journal.json cannot be written" in result.stderr and b"Nothing was changed" in result.stderr
    assert bib_files(tmp_path / "references") == before


@pytest.mark.parametrize("fault", ["read-only", "full"])
def test_with_the_index_disk_at_fault_searches_keep_working_and_it_is_reported_once(
        tmp_path: Path, index_folder: _Folder, fault: str) -> None:
    seed_collection(tmp_path, 5)
    Library(settings_for(tmp_path)).close()
    (tmp_path / "new.bib").write_text(entry_text("newone1", 1))
    index_folder.read_only() if fault == "read-only" else index_folder.full()

    added = cli(tmp_path, "add", str(tmp_path / "new.bib"))
    found = cli(tmp_path, "search", "trauma")
    missing = cli(tmp_path, "search", "synthetic", "--format", "json")

    assert added.returncode == 4, added.stderr.decode()
    assert "Added newone1" in added.stdout.decode()
    assert added.stderr.decode().count("the search index could not be updated") == 1
    for result in (added, found, missing):
        assert b"Traceback" not in result.stderr and b"OperationalError" not in result.stderr
    assert found.returncode == 0 and b"reference(s) found" in found.stdout
    assert found.stderr.decode().count("could not be brought up to date") == 1
    reason = "read-only" if fault == "read-only" else "the disk is full"
    assert reason in found.stderr.decode()
    assert missing.returncode == 0 and b"newone1" not in missing.stdout  # the index as it was

    index_folder.writable()
    caught_up = cli(tmp_path, "search", "synthetic", "--format", "json")
    assert b"newone1" in caught_up.stdout and b"could not be brought up to date" not in caught_up.stderr
    assert_sound(tmp_path)


def test_the_index_problem_is_handed_out_once_per_fault(tmp_path: Path, index_folder: _Folder) -> None:
    seed_collection(tmp_path, 5)
    library = Library(settings_for(tmp_path))
    index_folder.read_only()
    (tmp_path / "references" / "newone1.bib").write_text(entry_text("newone1", 1))

    library.refresh()
    first = library.take_index_problem()
    library.refresh()
    library.refresh(max_age=0.0)

    assert "could not be brought up to date" in first
    assert library.take_index_problem() == ""
    assert library.search("trauma").total > 0
    index_folder.writable()
    library.refresh()
    assert library.index_problem == "" and library.search("synthetic").total == 1
    library.close()


def test_a_batch_stopped_part_way_by_a_full_disk_says_how_far_it_got_and_is_finished_later(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import library.journal as journal_module
    from library.errors import SavedPartly

    seed_collection(tmp_path, 5)
    library = Library(settings_for(tmp_path))
    real_write = journal_module.atomic_write
    written: list[str] = []

    def fills_up(path: Path, data: bytes) -> None:
        if path.suffix == ".bib" and len(written) == 2:
            raise WriteFailed(f"The disk is full, so {path} could not be written. Nothing was changed; free some "
                              "space and try again.")
        real_write(path, data)
        if path.suffix == ".bib":
            written.append(path.name)

    monkeypatch.setattr(journal_module, "atomic_write", fills_up)
    with pytest.raises(SavedPartly) as caught:
        library.add_text(synthetic_bib(5, prefix="part"))
    monkeypatch.undo()

    message = str(caught.value)
    assert "2 of 5 files were written" in message and "The disk is full" in message
    assert "Nothing was changed" not in message and "will be written by the next save or start" in message
    assert caught.value.saved == ("part0.bib", "part1.bib")
    reopened = Library(settings_for(tmp_path))
    assert any("has now been finished" in notice for notice in reopened.notices)
    assert {f"part{n}.bib" for n in range(5)} <= set(bib_files(tmp_path / "references"))
    assert [c["key"] for c in _log(tmp_path)] == [f"part{n}" for n in range(5)]
    assert_sound(tmp_path)
