"""The collection on disk: one BibTeX file per reference, named by its citation key.

Every change is written atomically (a temporary file in the same folder, then
a rename) while holding the collection lock, and recorded in an append-only
change log.  Deleted files go to a trash folder and can be restored.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout

from .bibtex import Entry, ParseResult, format_entry, parse_file
from .errors import LockTimeout, ReferenceNotFound, WriteFailed
from .validation import check_key

LOCK_NAME = ".library.lock"
TEMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class FileStat:
    name: str  # file name, e.g. "felitti1998relationship.bib"
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Change:
    when: str
    who: str
    action: str  # add, replace, edit, delete, restore, vocabulary
    key: str
    detail: str = ""


class Collection:
    """The folder of `.bib` files, plus the trash and change log in the data folder."""

    def __init__(self, references_dir: Path, data_dir: Path, *, lock_timeout: float = 15.0,
                 user: str = "unknown") -> None:
        self.root = Path(references_dir)
        self.data_dir = Path(data_dir)
        self.lock_timeout = lock_timeout
        self.user = user
        # One lock object per collection: re-entrant within a thread (rename_theme saves the
        # vocabulary while holding it), exclusive between threads and processes.
        self._file_lock = FileLock(str(self.root / LOCK_NAME), timeout=lock_timeout)

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
        path = self.path_for(key)
        try:
            result = parse_file(path)
        except FileNotFoundError:
            raise ReferenceNotFound(key) from None
        for entry in result.entries:
            if entry.key == key:
                return entry
        if result.entries:
            return result.entries[0]
        raise ReferenceNotFound(key)

    def read_file(self, name: str) -> ParseResult:
        return parse_file(self.root / name)

    # ------------------------------------------------------------ writing
    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the collection lock; one writer at a time across processes."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            lock = self._file_lock
            lock.acquire()
        except Timeout:
            raise LockTimeout(
                f"Another librarian (or process) has been saving to the collection for over "
                f"{self.lock_timeout:g} seconds. Wait a moment and try again; if it persists, "
                f"check for a stuck process."
            ) from None
        except OSError as error:
            raise WriteFailed(self._os_message(error, self.root)) from None
        try:
            yield
        finally:
            lock.release()

    def write(self, entry: Entry, *, action: str = "add", detail: str = "", who: str | None = None) -> Path:
        """Write one entry to `<key>.bib` atomically.  Call inside `locked()`."""
        path = self.path_for(entry.key)
        atomic_write(path, format_entry(entry).encode("utf-8"))
        self.log(action, entry.key, detail, who)
        return path

    def remove(self, key: str, *, who: str | None = None) -> Path:
        """Move `<key>.bib` to the trash.  Call inside `locked()`."""
        path = self.path_for(key)
        if not path.exists():
            raise ReferenceNotFound(key)
        trash = self.trash_dir
        trash.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        target = trash / f"{key}--{stamp}.bib"
        try:
            os.replace(path, target)
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise WriteFailed(self._os_message(error, path)) from None
            atomic_write(target, path.read_bytes())
            path.unlink()
        _fsync_dir(self.root)
        self.log("delete", key, f"moved to {target.name}", who)
        return target

    def trashed(self) -> list[tuple[str, Path]]:
        """(key, file) for everything in the trash, newest first."""
        if not self.trash_dir.exists():
            return []
        items = sorted(self.trash_dir.glob("*--*.bib"), key=lambda p: p.name.rsplit("--", 1)[1], reverse=True)
        return [(p.name.rsplit("--", 1)[0], p) for p in items]

    def restore(self, key: str, *, who: str | None = None) -> Path:
        """Bring the most recently deleted `key` back.  Call inside `locked()`."""
        for trashed_key, source in self.trashed():
            if trashed_key == key:
                target = self.path_for(key)
                if target.exists():
                    raise WriteFailed(f"'{key}' is already in the collection; delete or rename it "
                                      "before restoring the old copy.")
                atomic_write(target, source.read_bytes())
                source.unlink()
                self.log("restore", key, f"from {source.name}", who)
                return target
        raise ReferenceNotFound(key)

    @property
    def trash_dir(self) -> Path:
        return self.data_dir / "trash"

    # ------------------------------------------------------------ change log
    @property
    def log_path(self) -> Path:
        return self.data_dir / "changes.jsonl"

    def log(self, action: str, key: str, detail: str = "", who: str | None = None) -> None:
        change = Change(dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                        who or self.user, action, key, detail)
        line = json.dumps(change.__dict__, ensure_ascii=False) + "\n"
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            # O_APPEND keeps concurrent writers' lines whole.
            fd = os.open(self.log_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                data = line.encode("utf-8")
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    data = b"\n" + data  # a line cut short by a crash must not swallow this one
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as error:
            raise WriteFailed(self._os_message(error, self.log_path)) from None

    def changes(self, limit: int = 200) -> list[Change]:
        if not self.log_path.exists():
            return []
        lines = self.log_path.read_text(encoding="utf-8").splitlines()[-limit:]
        out = []
        for line in reversed(lines):
            try:
                out.append(Change(**json.loads(line)))
            except (ValueError, TypeError):
                continue  # a line cut short by a crash: skip it, keep the rest
        return out

    @staticmethod
    def _os_message(error: OSError, path: Path) -> str:
        return os_error_message(error, path)


def os_error_message(error: OSError, path: Path) -> str:
    if error.errno == errno.ENOSPC:
        return f"The disk is full, so {path} could not be written. Nothing was changed; free some space and try again."
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (f"{path} cannot be written (the folder is read-only or you lack permission). "
                "Nothing was changed.")
    return f"{path} could not be written ({error.strerror or error}). Nothing was changed."


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
