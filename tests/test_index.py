"""The index is a cache that keeps itself in step with the files (library.index).

Every test builds a real Whoosh index in tmp_path from a copy of the small fictional
collection in tests/data/search-collection (the conftest points LIBRARY_* there).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from whoosh import query as wq

import library.api
import library.bibtex
import library.index
from library import Library, SearchRequest, Settings
from library.errors import LockTimeout, ReferenceNotFound
from library.taxonomy import load_vocabulary

from .conftest import DATA

COLLECTION = DATA / "search-collection"
N_REFERENCES = len(list(COLLECTION.glob("*.bib")))


@pytest.fixture
def references(tmp_path: Path) -> Path:
    folder = tmp_path / "references"
    shutil.copytree(COLLECTION, folder)
    return folder


@pytest.fixture
def parse_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every call of parse_bytes (a pure function), wherever the library looks it up."""
    calls: list[str] = []
    real = library.bibtex.parse_bytes

    def counting(data: bytes, source: str):  # type: ignore[no-untyped-def]
        calls.append(source)
        return real(data, source)

    for module in (library.bibtex, library.index, library.api):
        monkeypatch.setattr(module, "parse_bytes", counting)
    return calls


def copies_of(lib: Library, key: str) -> int:
    searcher = lib.index.searcher()
    return len(list(searcher.docs_for_query(wq.Term("key", key))))


def found(lib: Library, text: str) -> set[str]:
    return {hit.key for hit in lib.search(text, per_page=100).hits}


def write_reference(folder: Path, key: str, title: str, doi: str) -> Path:
    path = folder / f"{key}.bib"
    path.write_text(
        f"@article{{{key},\n  author = {{Zeller, Una}},\n  title = {{{title}}},\n"
        f"  journal = {{Journal of Imaginary Care Studies}},\n  year = {{2024}},\n  doi = {{{doi}}},\n"
        "  themes = {training},\n  evidence-type = {trial},\n  key-finding = {Invented for a test.},\n"
        "  finding-checked = {no},\n  provenance = {Fictional, for the index tests.}\n}\n",
        encoding="utf-8")
    return path


def bump_mtime(path: Path) -> None:
    """Move the modification time on by a second without touching the content."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


# ---------------------------------------------------------------- building and incremental sync


def test_first_open_builds_the_index(references: Path) -> None:
    lib = Library()
    report = lib.last_sync
    assert report.rebuilt and report.reason == "there is no index yet"
    assert (report.added, report.parsed_files) == (N_REFERENCES, N_REFERENCES)
    assert lib.index.doc_count() == N_REFERENCES
    assert lib.settings.index_dir != references and not any(references.glob("*.seg"))


def test_adding_a_file_indexes_exactly_that_file(references: Path, parse_calls: list[str]) -> None:
    lib = Library()
    parse_calls.clear()
    write_reference(references, "zeller2024lanterns", "Lanterns on the ward", "10.5555/idx.0001")

    report = lib.refresh()

    assert (report.added, report.changed, report.deleted, report.rebuilt) == (1, 0, 0, False)
    assert report.parsed_files == 1
    assert parse_calls == ["zeller2024lanterns.bib"]
    assert found(lib, "lanterns") == {"zeller2024lanterns"}
    assert lib.index.doc_count() == N_REFERENCES + 1


def test_editing_a_file_reindexes_it(references: Path) -> None:
    lib = Library()
    assert found(lib, "title:night") == {"muller2019night"}
    path = references / "muller2019night.bib"
    path.write_text(path.read_text(encoding="utf-8").replace("on the night shift", "on the weekend rota"),
                    encoding="utf-8")

    report = lib.refresh()

    assert (report.added, report.changed, report.deleted, report.parsed_files) == (0, 1, 0, 1)
    assert found(lib, '"weekend rota"') == {"muller2019night"}
    assert found(lib, "title:night") == set()
    assert copies_of(lib, "muller2019night") == 1


def test_touching_a_file_without_changing_it_parses_nothing(references: Path, parse_calls: list[str]) -> None:
    lib = Library()
    parse_calls.clear()
    bump_mtime(references / "muller2019night.bib")

    report = lib.refresh()

    assert (report.touched, report.parsed_files, report.rebuilt) == (0, 0, False)
    assert parse_calls == []
    # The new modification time is remembered: the next look does not even read the file.
    assert lib.index._state.files()["muller2019night.bib"][3] == (references / "muller2019night.bib").stat().st_mtime_ns
    assert lib.refresh().parsed_files == 0


def test_deleting_a_file_removes_it(references: Path) -> None:
    lib = Library()
    assert "muller2019night" in found(lib, "burnout")
    (references / "muller2019night.bib").unlink()

    report = lib.refresh()

    assert (report.added, report.changed, report.deleted, report.parsed_files) == (0, 0, 1, 0)
    assert found(lib, "burnout") == {"castellanos2010exhaustion", "ito2016compassion"}
    assert copies_of(lib, "muller2019night") == 0
    with pytest.raises(ReferenceNotFound):
        lib.get("muller2019night")


def test_hand_edit_while_closed_is_found_on_next_open(references: Path) -> None:
    lib = Library()
    lib.close()
    path = references / "osei2021guidance.bib"
    path.write_text(path.read_text(encoding="utf-8").replace("Guidance on restraint", "Guidance on calm rooms"),
                    encoding="utf-8")

    reopened = Library()

    assert (reopened.last_sync.changed, reopened.last_sync.parsed_files) == (1, 1)
    assert found(reopened, "calm rooms") == {"osei2021guidance"}
    assert reopened.get("osei2021guidance").title == "Guidance on calm rooms for children’s services"


def test_opening_an_unchanged_library_parses_no_bibtex(references: Path, parse_calls: list[str]) -> None:
    Library().close()
    parse_calls.clear()

    lib = Library()

    assert lib.last_sync.parsed_files == 0
    assert (lib.last_sync.touched, lib.last_sync.rebuilt) == (0, False)
    assert parse_calls == []
    assert found(lib, "burnout") == {"castellanos2010exhaustion", "ito2016compassion", "muller2019night"}
    assert parse_calls == []  # searching reads the index, not the files


# ---------------------------------------------------------------- full rebuilds


def test_schema_change_rebuilds(references: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Library().close()
    monkeypatch.setattr(library.index, "SCHEMA_VERSION", library.index.SCHEMA_VERSION + 1)

    lib = Library()

    assert lib.last_sync.rebuilt
    assert lib.last_sync.reason == "the index was built by another version of the library"
    assert (lib.last_sync.added, lib.index.doc_count()) == (N_REFERENCES, N_REFERENCES)
    assert not Library().last_sync.rebuilt  # and it is recorded, so once is enough


def test_vocabulary_change_rebuilds(references: Path) -> None:
    lib = Library()
    vocabulary = references / "themes.toml"
    assert found(lib, "theme:outcomes") >= {"eriksen2012restraint", "osei2021guidance"}
    text = vocabulary.read_text(encoding="utf-8")
    moved = text.replace('slug = "restraint-seclusion"\nlabel = "Restraint and seclusion"\nparent = "outcomes"',
                         'slug = "restraint-seclusion"\nlabel = "Restraint and seclusion"\nparent = "implementation"')
    assert moved != text
    vocabulary.write_text(moved, encoding="utf-8")

    report = lib.refresh()

    assert report.rebuilt and report.reason == "the theme vocabulary changed"
    assert report.parsed_files == N_REFERENCES
    # The roll-up follows the new tree: restraint now counts under implementation, not outcomes.
    assert found(lib, "theme:implementation") >= {"eriksen2012restraint", "osei2021guidance"}
    assert not found(lib, "theme:outcomes") & {"eriksen2012restraint", "osei2021guidance"}


def having_all(lib: Library, text: str) -> set[str]:
    """The references with every word of the text (none when the search falls back to most of them)."""
    result = lib.search(text, per_page=100)
    return set() if result.partial else {hit.key for hit in result.hits}


SETTING_LABEL = ('slug = "inpatient"\nlabel = "Inpatient"', 'slug = "inpatient"\nlabel = "Forensic rehabilitation units"')
TYPE_LABEL = ('slug = "guidance"\nlabel = "Guidance"', 'slug = "guidance"\nlabel = "Handbook or manual"')


@pytest.mark.parametrize(("relabel", "old_label", "new_label", "request_"), [
    (SETTING_LABEL, "inpatient", "forensic rehabilitation units", SearchRequest(settings=("inpatient",), per_page=100)),
    (TYPE_LABEL, "guidance", "handbook", SearchRequest(evidence_types=("guidance",), per_page=100)),
], ids=["setting", "evidence-type"])
@pytest.mark.parametrize("how", ["by hand", "saved by the library"])
def test_a_relabelled_setting_or_evidence_type_is_searched_by_its_new_label(
        references: Path, tmp_path: Path, relabel: tuple[str, str], old_label: str, new_label: str,
        request_: SearchRequest, how: str) -> None:
    lib = Library()
    tagged = {hit.key for hit in lib.search(request_).hits}
    assert tagged and tagged <= having_all(lib, old_label)  # the label is searched with the text
    assert having_all(lib, f'topics:"{old_label}"') == tagged
    assert not having_all(lib, new_label)
    vocabulary = references / "themes.toml"
    text = vocabulary.read_text(encoding="utf-8")
    assert relabel[0] in text
    if how == "by hand":
        vocabulary.write_text(text.replace(*relabel), encoding="utf-8")
        report = lib.refresh()
    else:
        edited = tmp_path / "edited.toml"
        edited.write_text(text.replace(*relabel), encoding="utf-8")
        report = lib.save_vocabulary(load_vocabulary(edited), detail="relabelled").sync

    assert report.rebuilt and report.reason == "the theme vocabulary changed"
    assert having_all(lib, new_label) == tagged
    assert having_all(lib, f'topics:"{new_label}"') == tagged
    assert not having_all(lib, f'topics:"{old_label}"')  # the old label has left the index


def test_deleted_index_folder_is_rebuilt(references: Path, tmp_path: Path) -> None:
    Library().close()
    shutil.rmtree(tmp_path / "index")

    lib = Library()

    assert lib.last_sync.rebuilt and lib.last_sync.reason == "there is no index yet"
    assert lib.index.doc_count() == N_REFERENCES
    assert found(lib, "burnout") == {"castellanos2010exhaustion", "ito2016compassion", "muller2019night"}


def _overwrite(paths: Iterator[Path], data: Callable[[bytes], bytes]) -> int:
    count = 0
    for path in paths:
        path.write_bytes(data(path.read_bytes()))
        count += 1
    return count


DAMAGE = {
    "segments overwritten": ("whoosh/*.seg", lambda old: b"garbage" * 100),
    "segments truncated": ("whoosh/*.seg", lambda old: old[: len(old) // 2]),
    "toc overwritten": ("whoosh/*.toc", lambda old: b"garbage"),
    "toc truncated": ("whoosh/*.toc", lambda old: b""),
    "state overwritten": ("state.sqlite*", lambda old: b"this is not an SQLite database" * 100),
    "state truncated": ("state.sqlite", lambda old: old[:100]),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_damaged_index_is_rebuilt(references: Path, tmp_path: Path, damage: str) -> None:
    lib = Library()
    lib.close()
    pattern, garbage = DAMAGE[damage]
    assert _overwrite((tmp_path / "index").glob(pattern), garbage) >= 1

    reopened = Library()

    assert reopened.last_sync.rebuilt
    assert reopened.index.doc_count() == N_REFERENCES
    assert found(reopened, "burnout") == {"castellanos2010exhaustion", "ito2016compassion", "muller2019night"}
    assert copies_of(reopened, "muller2019night") == 1
    assert not Library().last_sync.rebuilt


# ---------------------------------------------------------------- crashes and concurrency


def _mark(tmp_path: Path, sql: str, *args: object) -> None:
    with sqlite3.connect(tmp_path / "index" / "state.sqlite") as conn:
        assert conn.execute(sql, args).rowcount == 1


def _crash_before_commit_of_edit(references: Path, tmp_path: Path, lib: Library) -> str:
    """Marked pending, then died before the Whoosh commit: the index still has the old text."""
    path = references / "muller2019night.bib"
    path.write_text(path.read_text(encoding="utf-8").replace("night-shift", "weekend rota"), encoding="utf-8")
    _mark(tmp_path, "UPDATE files SET pending = 1 WHERE name = ?", path.name)
    return "muller2019night"


def _crash_after_commit_of_edit(references: Path, tmp_path: Path, lib: Library) -> str:
    """The edit reached the index, but the process died before recording it."""
    path = references / "muller2019night.bib"
    path.write_text(path.read_text(encoding="utf-8").replace("night-shift", "weekend rota"), encoding="utf-8")
    lib.refresh()
    _mark(tmp_path, "UPDATE files SET pending = 1 WHERE name = ?", path.name)
    return "muller2019night"


def _crash_after_commit_of_new_file(references: Path, tmp_path: Path, lib: Library) -> str:
    """A new file reached the index, but its row is still the 'about to add' mark."""
    write_reference(references, "zeller2024lanterns", "Weekend rota lanterns", "10.5555/idx.0002")
    lib.refresh()
    _mark(tmp_path, "UPDATE files SET key = NULL, size = -1, mtime_ns = -1, digest = '', pending = 1 "
                    "WHERE name = ?", "zeller2024lanterns.bib")
    return "zeller2024lanterns"


@pytest.mark.parametrize("crash", [_crash_before_commit_of_edit, _crash_after_commit_of_edit,
                                   _crash_after_commit_of_new_file],
                         ids=["before-commit-edit", "after-commit-edit", "after-commit-new-file"])
def test_pending_rows_are_reindexed_without_duplicates(references: Path, tmp_path: Path, crash) -> None:  # type: ignore[no-untyped-def]
    lib = Library()
    key = crash(references, tmp_path, lib)
    lib.close()

    reopened = Library()

    files = len(list(references.glob("*.bib")))
    assert reopened.last_sync.parsed_files == 1 and not reopened.last_sync.rebuilt
    assert reopened.index.doc_count() == files
    assert copies_of(reopened, key) == 1
    assert found(reopened, '"weekend rota"') == {key}
    assert not any(row[5] for row in reopened.index._state.files().values())


CHANGES = {
    "add": (lambda refs: write_reference(refs, "zeller2024lanterns", "Lanterns on the ward", "10.5555/idx.0003"),
            "lanterns", {"zeller2024lanterns"}),
    "edit": (lambda refs: (refs / "muller2019night.bib").write_text(
        (refs / "muller2019night.bib").read_text(encoding="utf-8").replace("the night shift", "the lantern shift"),
        encoding="utf-8"), "lantern", {"muller2019night"}),
    "delete": (lambda refs: (refs / "muller2019night.bib").unlink(), "night", set()),
}


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_a_second_library_sees_the_change_after_refresh(references: Path, change: str) -> None:
    writer, reader = Library(), Library()
    # The reader has searched already, so it holds an open searcher on the old index.
    assert len(reader.search("").hits) == N_REFERENCES
    make_change, word, expected = CHANGES[change]
    make_change(references)
    writer.refresh()

    reader.refresh()

    assert found(reader, word) == expected
    assert reader.search("").total == len(list(references.glob("*.bib")))
    assert [h.key for h in reader.search("burnout", per_page=100).hits].count("muller2019night") <= 1


def test_lock_timeout_is_a_clear_error(references: Path) -> None:
    holder = Library()
    waiter = Library(Settings.from_env(lock_timeout=0.2))
    write_reference(references, "zeller2024lanterns", "Lanterns on the ward", "10.5555/idx.0004")
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with holder.index.write_lock():
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(30)
        with pytest.raises(LockTimeout) as caught:
            waiter.refresh()
        busy = waiter.refresh(wait=False)
    finally:
        release.set()
        thread.join()

    message = str(caught.value)
    assert "being updated by another process" in message
    assert "0.2 seconds" in message
    assert "Try again" in message
    assert busy.skipped_busy and busy.touched == 0
    # Nothing was half done: once the lock is free the waiting change goes in.
    assert waiter.refresh().added == 1
    assert found(waiter, "lanterns") == {"zeller2024lanterns"}
