"""The library's domain errors.

Every message tells the reader what went wrong and what to do about it.  The
app and the CLI catch `LibraryError` and show its message; any other exception
is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass


class LibraryError(Exception):
    """Base class for every error the library raises on purpose."""


class SettingsError(LibraryError):
    """A setting (environment variable or argument) has an unusable value."""


class VocabularyError(LibraryError):
    """The theme vocabulary file is missing or malformed."""


class ReferenceNotFound(LibraryError):
    """No reference with the given citation key is in the collection."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"No reference with the key '{key}' is in the collection. "
            "Check the spelling, or search for it by title."
        )
        self.key = key


class NotInTrash(ReferenceNotFound):
    """No reference with the given citation key is in the trash (so it cannot be restored)."""

    def __init__(self, key: str) -> None:
        LibraryError.__init__(self, f"No reference with the key '{key}' is in the trash. List what the trash "
                                    "holds with: python -m library restore")
        self.key = key


class OutputRefused(LibraryError):
    """A file named with `-o` cannot be written there (inside the collection, a folder, no such folder)."""


class InvalidKey(LibraryError):
    """A citation key that cannot safely be used as a file name."""


class DuplicateReference(LibraryError):
    """Adding would create a second copy of a reference already in the collection."""


class EntryProblems(LibraryError):
    """BibTeX input has problems that stop it from being saved.

    `problems` lists every one (file, line, key, reason) so the caller can
    show them all at once.
    """

    def __init__(self, problems: "list[Problem]", summary: str | None = None) -> None:
        self.problems = list(problems)
        lines = [p.describe() for p in self.problems[:20]]
        more = len(self.problems) - len(lines)
        if more > 0:
            lines.append(f"... and {more} more problem(s).")
        head = summary or f"{len(self.problems)} problem(s) found:"
        super().__init__("\n".join([head, *lines]))


class InvalidValue(LibraryError):
    """A typed value that cannot be saved as it is (a control character, a link that is not
    http(s), a slug with spaces...); the message says which field and why."""


class EditConflict(LibraryError):
    """The reference changed since the editor read it; nothing was saved.

    `changes` are the change-log entries made since (newest first), each with who, when
    and what (field: old -> new), so the editor can see them and reapply their own text.
    """

    def __init__(self, key: str, base_version: str, current_version: str, changes: "tuple" = (),
                 message: str = "") -> None:
        self.key = key
        self.base_version = base_version
        self.current_version = current_version
        self.changes = tuple(changes)
        super().__init__(message or f"'{key}' was changed by someone else while you were editing it; "
                                    "your changes were not saved.")


class SaveRefused(LibraryError):
    """The bytes about to be written would not read back as the intended entry or file;
    nothing was changed."""


class SavedPartly(LibraryError):
    """A batch stopped part-way on a disk fault: `saved` were written, `not_saved` were not."""

    def __init__(self, message: str, saved: "tuple[str, ...]", not_saved: "tuple[str, ...]") -> None:
        self.saved = tuple(saved)
        self.not_saved = tuple(not_saved)
        super().__init__(message)


class LockTimeout(LibraryError):
    """Another writer held the collection or index lock for too long."""


class WriteFailed(LibraryError):
    """A file could not be written (disk full, read-only folder...); nothing was changed."""


class IndexUnavailable(LibraryError):
    """The search index could not be opened or rebuilt."""


class PackError(LibraryError):
    """An evidence pack is malformed or cannot be rendered."""


class PackFileInvalid(PackError):
    """A file that cannot be read as a pack (not JSON, or a field that is missing, of the wrong
    kind, too long or not readable BibTeX); the message names the field and why.  An input
    problem: exit 1 on the command line."""


class PackDoesNotFit(PackError):
    """The brief does not fit on one page; the message says what to cut."""


class PackNotFound(PackError):
    """No saved pack answers this edit link or id (never made, or deleted)."""


class PackWithdrawn(PackError):
    """A share link that no longer opens a pack: its owner withdrew it, or deleted the pack."""


class PackAccessDenied(PackError):
    """The pack belongs to someone else: only its owner may change or delete it."""


class PackConflict(PackError):
    """The pack was changed elsewhere (another window) since this copy was read; nothing was saved."""


class MessageConflict(PackConflict):
    """Two people changed the same key message at once: the second change was not saved.

    `theirs` is the text the message holds now, or None when it was removed; `theirs_keys`
    the references it cites now (so "Keep my text" replaces exactly that message)."""

    def __init__(self, number: int, theirs: str | None, yours: str, theirs_keys: tuple[str, ...] = ()) -> None:
        self.number, self.theirs, self.yours, self.theirs_keys = number, theirs, yours, theirs_keys
        if theirs is None:
            super().__init__(
                f"Key message {number} was removed in another window, or by someone else, while you were "
                "changing it, so your change was not saved. Your text is still in the box: keep it (it is "
                "added as a new message), or use theirs (it is dropped).")
            return
        now = f"it now reads: “{theirs}”" if theirs else "it is now empty"
        super().__init__(
            f"Key message {number} was changed in another window, or by someone else, while you were "
            f"writing it, so your text was not saved ({now}). Your text is still in the box: keep it "
            "(it replaces theirs), or use theirs.")


class FieldConflict(PackConflict):
    """Two people changed the same part of a pack (its ask, title, a note...) at once: the second
    change was not saved.  `theirs` is what it holds now."""

    def __init__(self, label: str, theirs: str, yours: str) -> None:
        self.label, self.theirs, self.yours = label, theirs, yours
        now = f"it now reads: “{theirs}”" if theirs else "it is now empty"
        super().__init__(
            f"“{label}” was changed in another window, or by someone else, while you were writing, so "
            f"your text was not saved ({now}). Your text is still in the box: keep it (it replaces "
            "theirs), or use theirs.")


class LookupFailed(LibraryError):
    """A DOI lookup failed (offline, not found, service error)."""


class DiscoveryFailed(LibraryError):
    """A literature search (OpenAlex, Europe PMC, PubMed, Crossref) could not be run or read."""


class ScreeningError(LibraryError):
    """A discovery query, screening decision, exclusion reason or saved search that cannot be used."""


class AccessDenied(LibraryError):
    """The user is not signed in as a librarian."""


@dataclass(frozen=True)
class Problem:
    """One problem found in BibTeX input, located as precisely as we can."""

    source: str
    line: int | None
    key: str | None
    reason: str
    severity: str = "error"  # "error" stops a save; "warning" is shown but allowed

    def describe(self) -> str:
        where = self.source
        if self.line is not None:
            where += f", line {self.line}"
        if self.key:
            where += f", entry '{self.key}'"
        label = "Warning" if self.severity == "warning" else "Error"
        return f"{where}: {label}: {self.reason}"
