"""Several librarians and readers at once: nothing lost, nothing doubled, searches keep working.

Real processes (`tests/concurrency_worker.py`) add, edit and delete through the library while
others search; afterwards every intended change is there, each reference is one file, the
collection checks clean and the index matches it.  Within one server process (the app), a
librarian's save never stops other sessions' searches.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from library import Library
from library.bibtex import parse_bytes
from library.errors import LockTimeout
from tests.concurrency_worker import (OVERLAP_EDIT_KEY, OWN_ADDS, OWN_DELETES, OWN_EDITS, SHARED_ADDS,
                                      own_key)
from tests.security_support import (REPO, assert_sound, bib_files, entry_text, library_env, seed_collection,
                                    settings_for, synthetic_bib)

WRITERS = 4
READERS = 2
# A liveness bound, not a speed check: a search that waits for a save would wait forever.
NO_DEADLOCK = 30.0


def test_four_writers_and_two_readers_lose_nothing(tmp_path: Path) -> None:
    references = seed_collection(tmp_path, 12)
    shutil.copy2(REPO / "references" / f"{OVERLAP_EDIT_KEY}.bib", references)
    seed = {name[:-4] for name in bib_files(references)}
    Library(settings_for(tmp_path)).close()  # build the index once, as a running app would have
    env = library_env(tmp_path, LIBRARY_LOCK_TIMEOUT="120")
    stop = tmp_path / "stop"

    def start(*args: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "tests.concurrency_worker", *args], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    readers = [start("reader", str(stop)) for _ in range(READERS)]
    writers = [start("writer", str(n)) for n in range(WRITERS)]
    written = []
    try:
        for process in writers:
            out, err = process.communicate(timeout=240)
            assert process.returncode == 0, err.decode()
            written.append(json.loads(out))
    finally:
        stop.touch()
        read = []
        for process in readers:
            out, err = process.communicate(timeout=240)
            assert process.returncode == 0, err.decode()
            read.append(json.loads(out))

    keys = assert_sound(tmp_path)
    expected = set(seed)
    for worker in range(WRITERS):
        expected |= {own_key(worker, n) for n in range(OWN_ADDS) if n not in OWN_DELETES}
    expected |= {f"shared-ref{n}" for n in range(SHARED_ADDS)}
    assert keys == expected

    files = bib_files(tmp_path / "references")
    for worker, outcome in enumerate(written):
        assert len(outcome["added"]) == OWN_ADDS and len(outcome["deleted"]) == len(OWN_DELETES)
        for number in range(OWN_EDITS):
            entry = parse_bytes(files[f"{own_key(worker, number)}.bib"], "x").entries[0]
            assert entry.fields["key-finding"] == f"Edited by worker {worker}."
    for number in range(SHARED_ADDS):
        winners = [o for o in written if f"shared-ref{number}" in o["shared_added"]]
        assert len(winners) == 1, "exactly one writer adds a key that all of them try to add"
    overlap = parse_bytes(files[f"{OVERLAP_EDIT_KEY}.bib"], "x").entries[0]
    assert sorted(overlap.fields["note"].split()) == [f"worker{n}" for n in range(WRITERS)], \
        "every writer's edit of the same reference is kept"
    assert not [p for p in (tmp_path / "references").iterdir() if p.name.startswith(".tmp-")]

    log = [json.loads(line) for line in (tmp_path / "data" / "changes.jsonl").read_text().splitlines()]
    assert sum(1 for c in log if c["action"] == "add") == WRITERS * OWN_ADDS + SHARED_ADDS
    assert sum(1 for c in log if c["action"] == "delete") == WRITERS * len(OWN_DELETES)
    assert sum(1 for c in log if c["action"] == "edit" and c["key"] == OVERLAP_EDIT_KEY) == WRITERS

    for outcome in read:
        assert outcome["errors"] == []
        assert outcome["searches"] > 0


def test_searches_complete_while_another_thread_holds_the_collection_lock(tmp_path: Path) -> None:
    seed_collection(tmp_path, 10)
    library = Library(settings_for(tmp_path))
    held, release = threading.Event(), threading.Event()

    def librarian() -> None:
        with library.collection.locked():
            held.set()
            release.wait(NO_DEADLOCK)

    thread = threading.Thread(target=librarian)
    thread.start()
    try:
        assert held.wait(NO_DEADLOCK)
        assert library.search("trauma").total > 0
        assert library.search("").total == 10
    finally:
        release.set()
        thread.join()


def test_searches_complete_while_a_save_is_half_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app shares one Library between sessions: a librarian's batch must not stall readers."""
    import library.journal as journal_module

    seed_collection(tmp_path, 10)
    library = Library(settings_for(tmp_path))
    real_write = journal_module.atomic_write
    paused, release = threading.Event(), threading.Event()

    def slow_write(path, data):  # type: ignore[no-untyped-def]
        real_write(path, data)
        if path.suffix == ".bib" and not paused.is_set():  # the first reference file of the batch
            paused.set()
            release.wait(NO_DEADLOCK)

    monkeypatch.setattr(journal_module, "atomic_write", slow_write)
    saver = threading.Thread(target=library.add_text, args=(synthetic_bib(3),))
    saver.start()
    results: list[int] = []
    try:
        assert paused.wait(NO_DEADLOCK)
        searcher = threading.Thread(target=lambda: results.append(library.search("").total))
        searcher.start()
        searcher.join(NO_DEADLOCK)
        assert results, "a search waited for a librarian's save to finish"
        assert results == [10]  # the save is not finished: the index still shows the old collection
    finally:
        release.set()
        saver.join()
    assert library.search("").total == 13


def test_the_collection_lock_is_exclusive_between_threads_and_reentrant_within_one(tmp_path: Path) -> None:
    seed_collection(tmp_path, 3)
    library = Library(settings_for(tmp_path, lock_timeout=0.3))
    other = Library(settings_for(tmp_path, lock_timeout=0.3))
    outcome: list[str] = []

    def second_writer() -> None:
        try:
            library.add_text(entry_text("late1", 1))
            outcome.append("saved")
        except LockTimeout as error:
            outcome.append(str(error))

    with library.collection.locked():
        with library.collection.locked():  # the same thread may take it again
            thread = threading.Thread(target=second_writer)
            thread.start()
            thread.join()
            with pytest.raises(LockTimeout, match="saving to the collection"):
                other.add_text(entry_text("late2", 2))
    assert len(outcome) == 1 and "Wait a moment and try again" in outcome[0]
    assert set(bib_files(tmp_path / "references")) == {p.name for p in sorted((REPO / "references").glob("*.bib"))[:3]}
    library.add_text(entry_text("late1", 1))  # free again once released
    assert_sound(tmp_path)


def test_renaming_a_theme_in_use_saves_its_references_and_the_vocabulary(tmp_path: Path) -> None:
    """rename_theme holds the collection lock and saves the vocabulary under it."""
    seed_collection(tmp_path)
    library = Library(settings_for(tmp_path, lock_timeout=2))
    used = next(t.slug for t in reversed(library.vocabulary.themes) if library.theme_use(t.slug))
    count = library.theme_use(used)
    library.rename_theme(used, f"{used}-renamed")
    assert library.theme_use(f"{used}-renamed") == count
    assert f"{used}-renamed" in (tmp_path / "references" / "themes.toml").read_text()
    assert_sound(tmp_path)
