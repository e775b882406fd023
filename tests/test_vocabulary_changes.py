"""Vocabulary changes are all or nothing (issue 11, item 4).

Renaming, merging and deleting a theme check the new vocabulary before any file is touched;
then a journal in the data folder records the whole change, every affected reference and
themes.toml are rewritten (each atomically), and the next open finishes a change that was cut
short.  The kills are real: `python -m library themes rename` gets SIGKILL after a random delay
(seeded), and afterwards `check` passes, every time.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

import library.journal as journal_module
from library import Library
from library.errors import VocabularyError
from library.taxonomy import Theme
from tests.security_support import REPO, assert_sound, bib_files, cli, entry_text, library_env, seed_collection, \
    settings_for

TAGGED = 150  # references carrying the theme that is renamed
KILLS = int(os.environ.get("LIBRARY_KILLS", "6"))


def tagged_collection(root: Path, count: int = TAGGED) -> Path:
    references = seed_collection(root, 5)
    for n in range(count):
        themes = "burnout, leadership" if n % 3 else "leadership, burnout, training"
        (references / f"tagged{n:03d}.bib").write_text(
            entry_text(f"tagged{n:03d}", n, extra=f",\n  themes = {{{themes}}}"), encoding="utf-8")
    return references


def state(root: Path) -> dict[str, bytes]:
    files = bib_files(root / "references")
    files["themes.toml"] = (root / "references" / "themes.toml").read_bytes()
    return files


def slugs(root: Path) -> list[str]:
    return [t["slug"] for t in tomllib.loads((root / "references" / "themes.toml").read_text())["theme"]]


def log(root: Path) -> list[dict]:
    path = root / "data" / "changes.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def root(tmp_path: Path) -> Path:
    tagged_collection(tmp_path, 12)
    return tmp_path


@pytest.fixture
def library(root: Path) -> Library:
    lib = Library(settings_for(root))
    yield lib
    lib.close()


# ---------------------------------------------------------------- checked first


@pytest.mark.parametrize("new", ["Bad Slug", "bad--slug", "bad-", "-bad", "bad\n", "bad_slug", "", "BURNOUT",
                                 "burnout\nleadership", "leadership"])
def test_a_rename_to_an_unusable_slug_changes_nothing(root: Path, library: Library, new: str) -> None:
    before = state(root)
    with pytest.raises(VocabularyError):
        library.rename_theme("burnout", new)
    assert state(root) == before
    assert log(root) == [] and not (root / "data" / "journal.json").exists()
    assert library.check().ok


@pytest.mark.parametrize(("action", "message"), [
    (lambda lib: lib.merge_theme("burnout", "burnout"), "two different"),
    (lambda lib: lib.merge_theme("nosuch", "burnout"), "no theme 'nosuch'"),
    (lambda lib: lib.delete_theme("burnout"), "is used by 12 reference"),
    (lambda lib: lib.add_theme(Theme("new-one", "  ", "")), "needs a label"),
    (lambda lib: lib.add_theme(Theme("new one", "New", "")), "cannot be a theme's slug"),
    (lambda lib: lib.add_theme(Theme("new-one", "New\x07", "")), "U\\+0007"),
], ids=["merge-into-itself", "merge-unknown", "delete-in-use", "empty-label", "bad-slug", "control-char"])
def test_unusable_vocabulary_changes_are_refused_before_any_file(root: Path, library: Library, action,  # type: ignore[no-untyped-def]
                                                                 message: str) -> None:
    before = state(root)
    with pytest.raises(Exception, match=message):
        action(library)
    assert state(root) == before


# ---------------------------------------------------------------- made whole


def test_a_rename_changes_every_reference_and_the_vocabulary_and_logs_each(root: Path, library: Library) -> None:
    result = library.rename_theme("burnout", "burnout-at-work", label="Burnout at work", who="alice")

    assert len(result.keys) == 12
    assert "burnout" not in slugs(root) and "burnout-at-work" in slugs(root)
    for n in range(12):
        text = (root / "references" / f"tagged{n:03d}.bib").read_text()
        assert "burnout-at-work" in text and "{burnout," not in text and ", burnout," not in text
    lines = log(root)
    assert len(lines) == 13 and {line["who"] for line in lines} == {"alice"}
    assert sum(1 for line in lines if line["action"] == "edit" and "themes" in line["changes"]) == 12
    assert lines[-1]["action"] == "vocabulary"
    assert library.theme_use("burnout-at-work") == 12
    assert not (root / "data" / "journal.json").exists()
    assert_sound(root)


def test_a_merge_retags_references_and_moves_narrower_themes(root: Path, library: Library) -> None:
    vocabulary = library.vocabulary
    parent_of_burnout = vocabulary.theme_by_slug["burnout"].parent
    library.add_theme(Theme("burnout-subtype", "A narrower burnout theme", "", "burnout"))

    result = library.merge_theme("burnout", "leadership", who="bob")

    assert len(result.keys) == 12
    assert "burnout" not in slugs(root)
    assert library.vocabulary.theme_by_slug["burnout-subtype"].parent == "leadership"
    for n in range(12):
        themes = Library(settings_for(root), sync=False).get(f"tagged{n:03d}").themes
        assert themes.count("leadership") == 1 and "burnout" not in themes
    assert parent_of_burnout is None or parent_of_burnout in library.vocabulary.theme_by_slug
    assert_sound(root)


def test_deleting_an_unused_theme(root: Path, library: Library) -> None:
    library.add_theme(Theme("unused-theme", "Unused", ""))
    library.delete_theme("unused-theme")
    assert "unused-theme" not in slugs(root)
    assert_sound(root)


def test_an_interrupted_change_is_finished_by_the_next_open(root: Path, library: Library,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = journal_module.atomic_write
    written: list[str] = []

    class Killed(BaseException):
        pass

    def dies_after_three(path, data):  # type: ignore[no-untyped-def]
        if path.suffix == ".bib" and len(written) == 3:
            raise Killed()
        real_write(path, data)
        written.append(path.name)

    monkeypatch.setattr(journal_module, "atomic_write", dies_after_three)
    with pytest.raises(Killed):
        library.rename_theme("burnout", "burnout-at-work", who="alice")
    monkeypatch.undo()
    assert (root / "data" / "journal.json").exists()
    assert "burnout" in slugs(root)  # themes.toml is written last

    reopened = Library(settings_for(root))

    assert any("has now been finished" in notice for notice in reopened.notices)
    assert "burnout-at-work" in slugs(root) and not (root / "data" / "journal.json").exists()
    lines = log(root)
    assert len(lines) == 13 and len({line["id"] for line in lines}) == 13
    assert_sound(root)


def test_a_reference_changed_by_hand_before_the_change_is_finished_is_left_and_reported(
        root: Path, library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = journal_module.atomic_write

    def journal_only(path, data):  # type: ignore[no-untyped-def]
        if path.name != "journal.json":
            raise KeyboardInterrupt  # stopped right after the journal was written
        real_write(path, data)

    monkeypatch.setattr(journal_module, "atomic_write", journal_only)
    with pytest.raises(KeyboardInterrupt):
        library.rename_theme("burnout", "burnout-at-work")
    monkeypatch.undo()
    hand_edited = root / "references" / "tagged004.bib"
    hand_edited.write_text(hand_edited.read_text().replace("Journal of Tests", "Journal of Hand Edits"))

    reopened = Library(settings_for(root))

    assert any("tagged004.bib" in notice and "left as they are" in notice for notice in reopened.notices)
    text = hand_edited.read_text()
    assert "Journal of Hand Edits" in text and "burnout-at-work" not in text
    assert "burnout-at-work" in (root / "references" / "tagged005.bib").read_text()


# ---------------------------------------------------------------- killed at random moments


def _run_and_kill(root: Path, args: list[str], delay: float, *, after_journal: bool = False) -> int | None:
    """SIGKILL `python -m library ARGS` `delay` seconds after it starts, or (`after_journal`) after
    the journal appears: half the kill points fall inside the window where files are rewritten."""
    process = subprocess.Popen([sys.executable, "-m", "library", *args], cwd=REPO, env=library_env(root),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if after_journal:
        journal = root / "data" / "journal.json"
        while process.poll() is None and not journal.exists():
            time.sleep(0.0005)
    try:
        process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
    return process.wait(timeout=60)


@pytest.mark.slow
@pytest.mark.parametrize("args", [["themes", "rename", "burnout", "burnout-at-work"],
                                  ["themes", "merge", "burnout", "leadership"]], ids=["rename", "merge"])
def test_a_vocabulary_change_killed_at_any_moment_leaves_a_collection_that_checks(tmp_path: Path,
                                                                                 args: list[str]) -> None:
    tagged_collection(tmp_path, TAGGED)
    Library(settings_for(tmp_path)).close()
    pristine = tmp_path / "pristine"
    shutil.copytree(tmp_path / "references", pristine)
    old = state(tmp_path)
    journal = tmp_path / "data" / "journal.json"
    process = subprocess.Popen([sys.executable, "-m", "library", *args], cwd=REPO, env=library_env(tmp_path),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    started = time.perf_counter()
    while process.poll() is None and not journal.exists():
        time.sleep(0.0005)
    journal_seen = time.perf_counter()
    while process.poll() is None and journal.exists():
        time.sleep(0.0005)
    rewrite = max(time.perf_counter() - journal_seen, 0.005)  # how long the journal lives: the files change
    out, err = process.communicate(timeout=120)
    full = time.perf_counter() - started
    done = subprocess.CompletedProcess(args, process.returncode, out, err)
    assert done.returncode == 0, done.stderr.decode()
    new = state(tmp_path)
    assert new != old and cli(tmp_path, "check").returncode == 0
    rng = random.Random(11 if args[1] == "rename" else 12)
    outcomes = {"old": 0, "new": 0, "cut mid-change": 0}
    for _ in range(KILLS):
        shutil.rmtree(tmp_path / "references")
        shutil.copytree(pristine, tmp_path / "references")
        shutil.rmtree(tmp_path / "data", ignore_errors=True)
        if rng.random() < 0.5:
            _run_and_kill(tmp_path, args, rng.uniform(0.05, 1.0) * full)
        else:
            _run_and_kill(tmp_path, args, rng.uniform(0.0, 1.0) * rewrite, after_journal=True)
        for name, data in state(tmp_path).items():
            assert data in (old.get(name), new.get(name)), f"{name} is neither the old nor the new file"
        outcomes["cut mid-change"] += (tmp_path / "data" / "journal.json").exists()

        checked = cli(tmp_path, "check")  # opening the library finishes what the kill cut short

        assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
        after = state(tmp_path)
        assert after in (old, new), "each file is old or new, and all of them together"
        outcomes["new" if after == new else "old"] += 1
        assert not (tmp_path / "data" / "journal.json").exists()
        lines = log(tmp_path)
        assert len(lines) == (0 if after == old else len(done.stdout.decode().split(": ", 1)[1].split(", ")) + 1)
        assert len({line["id"] for line in lines}) == len(lines), "a change-log line was written twice"
    assert_sound(tmp_path)
    print(f"{args[1]}: {KILLS} kills in {full:.1f} s runs ({rewrite:.2f} s rewriting): {outcomes}")


def test_a_reference_deleted_before_a_rename_is_restored_with_the_new_theme(root: Path, library: Library) -> None:
    library.delete("tagged001")
    library.rename_theme("burnout", "burnout-at-work")

    library.restore("tagged001")

    assert "burnout-at-work" in Library(settings_for(root), sync=False).get("tagged001").themes
    assert_sound(root)


def test_a_trash_copy_the_vocabulary_no_longer_knows_is_not_restored_broken(root: Path, library: Library) -> None:
    from library.errors import EntryProblems

    library.delete("tagged001")
    [(_, copy)] = library.collection.trashed()
    copy.write_text(copy.read_text().replace("leadership", "no-longer-a-theme"))

    with pytest.raises(EntryProblems, match="cannot be restored as it is") as caught:
        library.restore("tagged001")

    assert "unknown theme 'no-longer-a-theme'" in str(caught.value) and str(copy) in str(caught.value)
    assert not (root / "references" / "tagged001.bib").exists()
    assert_sound(root)
