"""The collection on disk: one BibTeX file per reference, named by its citation key.

Every change is written atomically (a temporary file in the same folder, then
a rename) while holding the collection lock, and recorded in an append-only
change log.  Before a file is replaced, the exact bytes about to be written are
parsed again and compared with the intended entry: a difference refuses the
write.  Deleted files go to a trash folder and can be restored.

A reference's version is a fingerprint of its file's bytes; editors carry the
version they started from, so that a save over someone else's change is refused.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import os
import re
import secrets
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from .bibtex import Entry, ParseResult, format_entry, parse_bytes, parse_file, parse_text
from .errors import ReferenceNotFound, SaveRefused, WriteFailed
from .locks import LOCK_NAME, FileWriterLock, WriterLock  # noqa: F401 - LOCK_NAME: where it lives
from .validation import check_key

TEMP_PREFIX = ".tmp-"
# Change-log lines that could not be written to the data folder wait here (beside the
# files they describe, which were just written) and are added on the next successful write.
PENDING_LOG = ".changes-pending.jsonl"
_WHITESPACE = re.compile(r"\s+")


def version_of(data: bytes) -> str:
    """A reference's version: a short fingerprint of its file's bytes."""
    return hashlib.blake2b(data, digest_size=8).hexdigest()


@dataclass(frozen=True)
class FileStat:
    name: str  # file name, e.g. "felitti1998relationship.bib"
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Change:
    """One line of the change log: who changed what, when, and how (field: [old, new])."""

    when: str
    who: str
    action: str  # add, replace, edit, delete, restore, vocabulary
    key: str
    detail: str = ""
    changes: dict[str, list[str]] = field(default_factory=dict, hash=False)
    version: str = ""  # the file's version after this change ("" when it was removed)
    id: str = ""

    @classmethod
    def from_json(cls, data: dict) -> "Change":
        if not isinstance(data, dict):  # a line of JSON that is not a change (damage from outside)
            raise TypeError("a change-log line must be a JSON object")
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})

    def describe_changes(self, label: "Callable[[str], str]" = str) -> str:
        """'Title: “old” → “new”; Themes: “a” → “a, b”' with `label` naming each field (values
        already shortened in the log)."""
        return "; ".join(f"{label(name)}: “{old}” → “{new}”" for name, (old, new) in self.changes.items())


@dataclass(frozen=True)
class Saved:
    """What a write did: the file, its new version, and any follow-up that did not happen."""

    path: Path
    version: str = ""
    log_problem: str = ""  # set when the change-log line could not be written (it waits to be)


class Collection:
    """The folder of `.bib` files, plus the trash and change log in the data folder."""

    def __init__(self, references_dir: Path, data_dir: Path, *, lock_timeout: float = 15.0,
                 user: str = "unknown", lock: WriterLock | None = None) -> None:
        self.root = Path(references_dir)
        self.data_dir = Path(data_dir)
        self.lock_timeout = lock_timeout
        self.user = user
        # One lock object per collection: re-entrant within a thread (rename_theme saves the
        # vocabulary while holding it), exclusive between threads, processes and, with the
        # PostgreSQL lock (library/locks.py), app servers.
        self.writer_lock: WriterLock = lock or FileWriterLock(self.root, lock_timeout)

    # ------------------------------------------------------------ reading
    def scan(self) -> dict[str, FileStat]:
        """Name, size and modification time of every reference file, without reading any."""
        stats: dict[str, FileStat] = {}
        try:
            entries = os.scandir(self.root)
        except FileNotFoundError:
            return stats
        with entries:
            for item in entries:
                name = item.name
                if not name.endswith(".bib") or name.startswith("."):
                    continue
                try:
                    st = item.stat()
                except FileNotFoundError:  # deleted while we looked
                    continue
                stats[name] = FileStat(name, st.st_size, st.st_mtime_ns)
        return stats

    def path_for(self, key: str) -> Path:
        return self.root / f"{check_key(key)}.bib"

    def exists(self, key: str) -> bool:
        return self.path_for(key).exists()

    def read(self, key: str) -> Entry:
        return self.read_versioned(key)[0]

    def read_versioned(self, key: str) -> tuple[Entry, str]:
        """The entry and its version (a fingerprint of the bytes it was read from)."""
        path = self.path_for(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ReferenceNotFound(key) from None
        result = parse_bytes(data, str(path))
        for entry in result.entries:
            if entry.key == key:
                return entry, version_of(data)
        if result.entries:
            return result.entries[0], version_of(data)
        raise ReferenceNotFound(key)

    def version(self, key: str) -> str | None:
        """The current version of `<key>.bib`, or None when there is no such file."""
        try:
            return version_of(self.path_for(key).read_bytes())
        except FileNotFoundError:
            return None

    def read_file(self, name: str) -> ParseResult:
        return parse_file(self.root / name)

    # ------------------------------------------------------------ writing
    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the collection lock; one writer at a time across processes (and servers).
        Raises `LockTimeout` after waiting `lock_timeout` seconds for another writer."""
        lock = self.writer_lock
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            lock.acquire()
        except OSError as error:
            raise WriteFailed(self._os_message(error, self.root)) from None
        try:
            yield
        finally:
            lock.release()

    def verified_bytes(self, entry: Entry) -> bytes:
        """The file for `entry`, after proving that it reads back as exactly that entry.

        The bytes are parsed with the library's own parser and compared, key, type,
        every field and every person, with what was intended; any difference (a new
        field, a second entry, an unreadable file) raises `SaveRefused`."""
        self.path_for(entry.key)  # an unsafe key never gets this far
        text = format_entry(entry)
        data = text.encode("utf-8")
        difference = entry_difference(entry, parse_text(text, f"{entry.key}.bib"))
        if difference:
            raise SaveRefused(f"'{entry.key}' was not saved: written out, it would not read back as intended "
                              f"({difference}). Nothing was changed. Check the value for stray braces or "
                              "backslashes, or type it as plain text in the edit form.")
        return data

    def write(self, entry: Entry, *, action: str = "add", detail: str = "", who: str | None = None,
              changes: dict[str, list[str]] | None = None) -> Saved:
        """Write one entry to `<key>.bib` atomically, verified first.  Call inside `locked()`.

        When the file was written but its change-log line could not be, the returned
        `Saved.log_problem` says so (the line is kept and added on the next write)."""
        data = self.verified_bytes(entry)
        path = self.path_for(entry.key)
        atomic_write(path, data)
        version = version_of(data)
        problem = self.log(action, entry.key, detail, who, changes=changes, version=version)
        return Saved(path, version, problem)

    def remove(self, key: str, *, who: str | None = None, detail: str = "", log: bool = True,
               trash_name: str | None = None) -> Saved:
        """Move `<key>.bib` to the trash.  Call inside `locked()`."""
        path = self.path_for(key)
        if not path.exists():
            raise ReferenceNotFound(key)
        trash = self.trash_dir
        try:
            trash.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise WriteFailed(self._os_message(error, trash)) from None
        target = trash / (trash_name or self.trash_name(key))
        try:
            os.replace(path, target)
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise WriteFailed(self._os_message(error, path)) from None
            atomic_write(target, path.read_bytes())
            try:
                path.unlink()
            except OSError as unlink_error:
                target.unlink(missing_ok=True)
                raise WriteFailed(self._os_message(unlink_error, path)) from None
        _fsync_dir(self.root)
        problem = self.log("delete", key, detail or f"moved to {target.name}", who) if log else ""
        return Saved(target, "", problem)

    @staticmethod
    def trash_name(key: str) -> str:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        return f"{key}--{stamp}.bib"

    def trashed(self) -> list[tuple[str, Path]]:
        """(key, file) for everything in the trash, newest first."""
        if not self.trash_dir.exists():
            return []
        items = sorted(self.trash_dir.glob("*--*.bib"), key=lambda p: p.name.rsplit("--", 1)[1], reverse=True)
        return [(p.name.rsplit("--", 1)[0], p) for p in items]

    def restore(self, key: str, *, who: str | None = None) -> Saved:
        """Bring the most recently deleted `key` back, if its copy reads as that one entry.
        Call inside `locked()`."""
        for trashed_key, source in self.trashed():
            if trashed_key == key:
                target = self.path_for(key)
                if target.exists():
                    raise WriteFailed(f"'{key}' is already in the collection; delete or rename it "
                                      "before restoring the old copy.")
                data = source.read_bytes()
                result = parse_bytes(data, str(source))
                if result.errors or [e.key for e in result.entries] != [key]:
                    reasons = "; ".join(p.describe() for p in result.errors[:3]) or (
                        f"it holds {len(result.entries)} entries" if len(result.entries) != 1
                        else f"its entry is '{result.entries[0].key}', not '{key}'")
                    raise SaveRefused(f"The copy of '{key}' in the trash ({source}) cannot be restored as it is: "
                                      f"{reasons}. It was left in the trash; nothing was changed.")
                atomic_write(target, data)
                try:
                    source.unlink()
                except OSError:
                    pass  # restored; the copy left in the trash is harmless
                version = version_of(data)
                problem = self.log("restore", key, f"from {source.name}", who, version=version)
                return Saved(target, version, problem)
        raise ReferenceNotFound(key)

    @property
    def trash_dir(self) -> Path:
        return self.data_dir / "trash"

    # ------------------------------------------------------------ change log
    @property
    def log_path(self) -> Path:
        return self.data_dir / "changes.jsonl"

    @property
    def pending_log_path(self) -> Path:
        return self.root / PENDING_LOG

    def log_line(self, action: str, key: str, detail: str = "", who: str | None = None, *,
                 changes: dict[str, list[str]] | None = None, version: str = "") -> dict:
        return Change(dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), who or self.user, action,
                      key, detail, dict(changes or {}), version, secrets.token_hex(8)).__dict__

    def log(self, action: str, key: str, detail: str = "", who: str | None = None, *,
            changes: dict[str, list[str]] | None = None, version: str = "") -> str:
        """Append a line to the change log; '' when written, else what went wrong (the line
        then waits in the pending file and is added on the next successful write)."""
        line = self.log_line(action, key, detail, who, changes=changes, version=version)
        return self.append_log([line])

    def append_log(self, lines: list[dict]) -> str:
        """Append change-log lines (any waiting ones first).  Returns '' or the problem."""
        pending = self._pending_lines()
        logged = self._logged_ids(pending + lines)
        todo = [line for line in pending + lines if line.get("id") not in logged]
        data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in todo).encode("utf-8")
        try:
            if data:
                self.data_dir.mkdir(parents=True, exist_ok=True)
                # O_APPEND keeps concurrent writers' lines whole.
                fd = os.open(self.log_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
                try:
                    size = os.fstat(fd).st_size
                    if size and os.pread(fd, 1, size - 1) != b"\n":
                        data = b"\n" + data  # a line cut short by a crash must not swallow this one
                    _write_all(fd, data)
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError as error:
            return self._keep_pending(lines, error)
        if pending:
            try:
                self.pending_log_path.unlink()
            except FileNotFoundError:
                pass
            except OSError:
                pass  # written to the log; the ids stop them being added twice
        return ""

    def _keep_pending(self, lines: list[dict], error: OSError) -> str:
        reason = os_error_reason(error, self.log_path)
        data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode("utf-8")
        try:
            fd = os.open(self.pending_log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            shown = "; ".join(f"{line['action']} {line['key']}" for line in lines)
            return (f"The change log could not be updated: {reason} The line(s) for this change ({shown}) "
                    "could not be kept for later either, so the change log will not show them.")
        return (f"The change log could not be updated: {reason} The line(s) for this change wait in "
                f"{self.pending_log_path} and will be added to the change log on the next successful save.")

    def _pending_lines(self) -> list[dict]:
        try:
            text = self.pending_log_path.read_text(encoding="utf-8")
        except (FileNotFoundError, UnicodeDecodeError):
            return []
        except OSError:
            return []
        out = []
        for line in text.splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue  # cut short by a crash
            if isinstance(item, dict) and {"action", "key"} <= set(item):
                out.append(item)
        return out

    def _logged_ids(self, lines: list[dict], tail_bytes: int = 1 << 20) -> set[str]:
        """Which of these lines' ids the end of the change log already holds."""
        wanted = {line.get("id") for line in lines if line.get("id")}
        if not wanted:
            return set()
        try:
            with open(self.log_path, "rb") as handle:
                size = handle.seek(0, os.SEEK_END)
                handle.seek(max(0, size - tail_bytes))
                tail = handle.read().decode("utf-8", errors="replace")
        except OSError:
            return set()
        return {line_id for line_id in wanted if f'"id": "{line_id}"' in tail}

    def changes(self, limit: int = 200, *, key: str | None = None) -> list[Change]:
        """The latest changes, newest first (only those of `key` when given)."""
        if not self.log_path.exists():
            return []
        out = []
        for line in reversed(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()):
            try:
                change = Change.from_json(json.loads(line))
            except (ValueError, TypeError):
                continue  # a line cut short by a crash: skip it, keep the rest
            if key is None or change.key == key:
                out.append(change)
                if len(out) >= limit:
                    break
        return out

    def changes_since(self, key: str, version: str, *, limit: int = 50) -> tuple[list[Change], bool]:
        """The changes to `key` made after the one that gave it `version`, newest first, and
        whether that version was found in the log (if not, it was changed outside the library)."""
        since: list[Change] = []
        for change in self.changes(limit=10_000, key=key):
            if change.version == version:
                return since, True
            if len(since) < limit:
                since.append(change)
        return since, False

    @staticmethod
    def _os_message(error: OSError, path: Path) -> str:
        return os_error_message(error, path)


def os_error_reason(error: OSError, path: Path) -> str:
    """What went wrong writing `path`, without saying what it means for the change."""
    if error.errno == errno.ENOSPC:
        return f"The disk is full, so {path} could not be written."
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{path} cannot be written (the folder is read-only or you lack permission)."
    return f"{path} could not be written ({error.strerror or error})."


def os_error_message(error: OSError, path: Path) -> str:
    """The message for a write that failed before anything changed."""
    reason = os_error_reason(error, path)
    if error.errno == errno.ENOSPC:
        return reason + " Nothing was changed; free some space and try again."
    return reason + " Nothing was changed."


def entry_difference(intended: Entry, result: ParseResult) -> str:
    """How what the parser read differs from what was intended ('' when it is the same).

    Whitespace is compared as BibTeX reads it (runs as one space, ends trimmed), and an
    empty value as no value."""
    if result.errors:
        return "the file could not be read: " + result.errors[0].reason
    if len(result.entries) != 1:
        return f"the file would hold {len(result.entries)} entries"
    if result.problems:
        return result.problems[0].reason
    [back] = result.entries
    if back.key != intended.key:
        return f"the key would read '{back.key}'"
    if back.type != intended.type.lower():
        return f"the type would read '@{back.type}'"
    want = {name.lower(): _ws(value) for name, value in intended.fields.items() if _ws(value)}
    if back.fields != want:
        for name in sorted(set(want) | set(back.fields)):
            if name not in back.fields:
                return f"the field '{name}' would be lost"
            if name not in want:
                return f"a field '{name}' would appear that was not there"
            if back.fields[name] != want[name]:
                return f"the field '{name}' would read differently"
    want_persons = {role.lower(): tuple(_ws(n) for n in names if _ws(n))
                    for role, names in intended.persons.items()}
    want_persons = {role: names for role, names in want_persons.items() if names}
    if back.persons != want_persons:
        for role in sorted(set(want_persons) | set(back.persons)):
            if back.persons.get(role) != want_persons.get(role):
                return (f"the names in '{role}' would read as {len(back.persons.get(role, ()))} name(s), "
                        f"not {len(want_persons.get(role, ()))}" if len(back.persons.get(role, ())) !=
                        len(want_persons.get(role, ())) else f"the names in '{role}' would read differently")
    return ""


def _ws(value: str) -> str:
    return _WHITESPACE.sub(" ", value).strip()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a part."""
    path = Path(path)
    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".part", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
        tmp_name = None
        _fsync_dir(path.parent)
    except OSError as error:
        raise WriteFailed(os_error_message(error, path)) from None
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
