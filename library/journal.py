"""The journal of a change to several files: all of them, or none.

A theme renamed in every reference that uses it, a batch of references added, a
reference given a new key: before the first file is touched, the whole change (every
file's new bytes, the files going to the trash, the change-log lines) is written to
`journal.json` in the data folder.  Then each file is replaced atomically, the log
lines are appended and the journal is removed.  A process killed part-way leaves the
journal behind, and the next writer (every `Library` open, every save) finishes it
before doing anything else, so each file ends all old or all new, and all of them new.

Finishing is idempotent: a file that already holds its new bytes is left alone, and a
change-log line already in the log (by its id) is not added twice.  A file that someone
changed by other means since the journal was written is left as it is and reported.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from .errors import LibraryError, ReferenceNotFound, SavedPartly, WriteFailed
from .store import Collection, atomic_write, os_error_reason, version_of

JOURNAL_FILE = "journal.json"


@dataclass(frozen=True)
class FileChange:
    """One file of the change: its new text, or (text None) a move to the trash."""

    name: str  # a file in the collection folder: "<key>.bib" or "themes.toml"
    before: str | None  # the version it had when the change was planned; None when absent
    text: str | None = None
    trash_name: str = ""


@dataclass(frozen=True)
class Journal:
    id: str
    description: str  # what the change is, for messages: "renaming the theme a to b"
    files: tuple[FileChange, ...]
    log: tuple[dict, ...] = ()
    when: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))

    def to_json(self) -> str:
        return json.dumps({"id": self.id, "description": self.description, "when": self.when,
                           "files": [f.__dict__ for f in self.files], "log": list(self.log)}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "Journal":
        data = json.loads(text)
        return cls(str(data["id"]), str(data["description"]),
                   tuple(FileChange(str(f["name"]), f["before"], f["text"], str(f.get("trash_name", "")))
                         for f in data["files"]),
                   tuple(data.get("log", ())), str(data.get("when", "")))


@dataclass(frozen=True)
class Outcome:
    """What finishing a journal did."""

    description: str
    written: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()  # changed by someone else since: left as they were
    log_problem: str = ""

    def notices(self, *, recovered: bool) -> tuple[str, ...]:
        out = []
        if recovered:
            out.append(f"An unfinished change ({self.description}) was interrupted earlier; it has now been "
                       "finished.")
        if self.skipped:
            out.append(f"While {self.description}, {', '.join(self.skipped)} had been changed by other means, "
                       "so they were left as they are: check them.")
        if self.log_problem:
            out.append(self.log_problem)
        return tuple(out)


def new_journal(description: str, files: list[FileChange], log: list[dict]) -> Journal:
    return Journal(secrets.token_hex(8), description, tuple(files), tuple(log))


def path_of(collection: Collection) -> Path:
    return collection.data_dir / JOURNAL_FILE


def run(collection: Collection, journal: Journal) -> Outcome:
    """Record the change, make it, and forget it.  Call inside `collection.locked()`.

    Nothing is changed when the journal itself cannot be written.  When a file cannot be
    written part-way, `SavedPartly` says how far it got; the journal stays, and the next
    save or start finishes the change."""
    atomic_write(path_of(collection), journal.to_json().encode("utf-8"))
    outcome = _apply(collection, journal)
    _forget(collection)
    return outcome


def pending(collection: Collection) -> Journal | None:
    path = path_of(collection)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise WriteFailed(os_error_reason(error, path)) from None
    try:
        return Journal.from_json(text)
    except (ValueError, KeyError, TypeError):
        # Written atomically, so this is damage from outside: keep it for a person to look at.
        aside = path.with_name(f"journal-unreadable-{dt.datetime.now():%Y%m%dT%H%M%S}.json")
        path.replace(aside)
        raise LibraryError(f"The journal of an unfinished change ({path}) could not be read, so that change "
                           f"could not be finished; it was moved to {aside}. Run `python -m library check` "
                           "and fix what it reports.") from None


def recover(collection: Collection) -> Outcome | None:
    """Finish the change a killed process left in the journal, if any.  Call inside `locked()`."""
    journal = pending(collection)
    if journal is None:
        return None
    outcome = _apply(collection, journal)
    _forget(collection)
    return outcome


def _apply(collection: Collection, journal: Journal) -> Outcome:
    written: list[str] = []
    try:
        return _apply_files(collection, journal, written)
    except WriteFailed as error:
        reason = str(error).split(" Nothing was changed", 1)[0]
        names = [f.name for f in journal.files]
        left = [n for n in names if n not in written]
        raise SavedPartly(
            f"While {journal.description}, {len(written)} of {len(names)} files were written before this "
            f"happened: {reason} The other {len(left)} ({', '.join(left[:10])}{'…' if len(left) > 10 else ''}) "
            f"wait in the journal {path_of(collection)} and will be written by the next save or start, once "
            "the problem is fixed.", tuple(written), tuple(left)) from None


def _apply_files(collection: Collection, journal: Journal, written: list[str]) -> Outcome:
    skipped: list[str] = []
    for change in journal.files:
        path = collection.root / change.name
        try:
            current = version_of(path.read_bytes())
        except FileNotFoundError:
            current = None
        if change.text is None:
            if current is None:
                continue  # already in the trash
            if current != change.before:
                skipped.append(change.name)
                continue
            try:
                collection.remove(change.name[: -len(".bib")], log=False, trash_name=change.trash_name)
            except ReferenceNotFound:
                continue
            written.append(change.name)
            continue
        data = change.text.encode("utf-8")
        if current == version_of(data):
            continue  # done before the interruption
        if current != change.before:
            skipped.append(change.name)
            continue
        atomic_write(path, data)
        written.append(change.name)
    left_alone = {name[: -len(".bib")] if name.endswith(".bib") else name for name in skipped}
    lines = [line for line in journal.log if line.get("key") not in left_alone]
    problem = collection.append_log(lines) if lines else ""
    return Outcome(journal.description, tuple(written), tuple(skipped), problem)


def _forget(collection: Collection) -> None:
    path = path_of(collection)
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as error:
        raise WriteFailed(f"The change was made, but its journal {path} could not be removed "
                          f"({error.strerror or error}); remove it by hand.") from None
