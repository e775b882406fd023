"""The library's public verbs: open, search, read, check, add, edit, delete, restore, export.

Paired steps stay together: adding a reference validates it, writes its file
and updates the index in one call.  Every write verb does its whole
read-modify-write under the collection lock, writes only bytes proven to read
back as intended, and reports what happened after the save (the change log or
the index could not be updated) without pretending nothing changed.
"""

from __future__ import annotations

import datetime as dt
import errno
import re
import shutil
import sqlite3
import threading
import time
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass, field, replace as dc_replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Mapping, Sequence

from . import journal
from .bibtex import PROJECT_FIELDS, Entry, ParseResult, format_entries, parse_bytes, parse_text, split_list
from .config import Settings
from .duplicates import Match, find_duplicates, merge_entries
from .errors import (DuplicateReference, EditConflict, EntryProblems, IndexUnavailable, InvalidKey, InvalidValue,
                     LibraryError, LockTimeout, NotInTrash, Problem, ReferenceNotFound, SaveRefused, VocabularyError,
                     WriteFailed)
from .forms import field_label
from .index import ProgressCallback, SearchIndex, SyncReport, vocabulary_digest_of
from .journal import FileChange
from .locks import writer_lock
from .records import Record, bare_doi
from .review import (CERTAINTIES, DECISIONS, BatchDuplicates, Duplicate, ReviewBatch, ReviewItem, ReviewStore,
                     duplicates_within, item_from_entry, new_id as new_review_id, tagged_entry)
from .search import Facets, SearchRequest, SearchResult, Searcher
from .store import Collection, atomic_write, version_of
from .taxonomy import (SLUG, VOCABULARY_FILE, Theme, Vocabulary, load_vocabulary, vocabulary_from_dict,
                       vocabulary_text, vocabulary_to_dict)
from .validation import CollectionReport, KNOWN_TYPES, check_collection, check_entry, check_key
from .values import (TypedValue, apply_changes, canonical, change_kinds, decoded_value, describe_change_kinds,
                     field_changes, shorten)

if TYPE_CHECKING:
    import pandas as pd

    from .changelog import ChangeLogIndex
    from .database import Database
    from .packs import Pack
    from .packstore import PackStore

if TYPE_CHECKING:  # the evidence-pack verbs' types
    from .exporters.brief import Brief, BriefTerms
    from .exporters.pdf import Fit
    from .onepage import FitResult, PackPreview


@dataclass(frozen=True)
class AddResult:
    added: tuple[str, ...]
    replaced: tuple[str, ...]
    problems: tuple[Problem, ...]  # warnings that did not stop the save
    sync: SyncReport
    merged: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    notices: tuple[str, ...] = ()  # saved, but something after the save did not happen (log, index)


@dataclass(frozen=True)
class EditResult:
    key: str  # the reference's key after the edit
    version: str  # its version now
    changes: dict[str, list[str]]  # field: [old, new], shortened; empty when nothing changed
    sync: SyncReport
    notices: tuple[str, ...] = ()
    kinds: dict[str, str] = field(default_factory=dict)  # field: "added", "removed" or "changed"
    kept: tuple[str, ...] = ()  # the library's own fields a replacing record left out, kept as they were

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    @property
    def summary(self) -> str:
        """What the save did to each field: 'volume changed; note removed; pages added'."""
        return describe_change_kinds({name: self.kinds.get(name, "changed") for name in self.changes})


@dataclass(frozen=True)
class ChangeResult:
    sync: SyncReport
    notices: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()  # the references it changed (a theme renamed in them, say)


@dataclass(frozen=True)
class _Op:
    """One file a batch will write: the entry, and what it replaces (entry, version) if anything."""

    action: str  # add, replace, merge
    entry: Entry
    before: tuple[Entry, str] | None
    target: str | None


def unchecked_if_finding_changed(before: Entry, after: Entry, *, explicit: bool) -> Entry:
    """`after`, with `finding-checked` set to no when its key finding differs from `before`'s and
    the edit did not itself say whether the new text was checked: a new finding has not been
    checked against the full text just because the old one was."""
    if explicit or after.fields.get("finding-checked") != "yes":
        return after
    if decoded_value("key-finding", before.fields.get("key-finding", "")) == \
            decoded_value("key-finding", after.fields.get("key-finding", "")):
        return after
    return Entry(after.key, after.type, {**after.fields, "finding-checked": "no"}, after.persons, after.source,
                 after.line)


class Library:
    """One collection with its vocabulary, index and data folder.

    Opening brings the index up to date with the files (re-indexing only what
    changed).  Safe to share between threads of one process.
    """

    def __init__(self, settings: Settings | None = None, *, progress: ProgressCallback | None = None,
                 sync: bool = True) -> None:
        self.settings = settings or Settings.from_env()
        self.collection = Collection(self.settings.references_dir, self.settings.data_dir,
                                     lock_timeout=self.settings.lock_timeout, user=self.settings.user,
                                     lock=writer_lock(self.settings.references_dir, self.settings.database_url,
                                                      self.settings.lock_timeout))
        self.index = SearchIndex(self.settings.index_dir, lock_timeout=self.settings.lock_timeout)
        self._searcher = Searcher(self.index)
        self._lock = threading.RLock()
        self._state_lock = threading.RLock()
        self._database: "Database | None" = None
        self._packs: "PackStore | None" = None
        self._changes: "ChangeLogIndex | None" = None
        self._vocabulary: Vocabulary | None = None
        self._vocabulary_digest = ""
        self._last_refresh = 0.0
        self._dir_mtime = 0
        self.last_sync = SyncReport()
        self.reviews = ReviewStore(self.settings.data_dir / "reviews")
        self.notices: list[str] = []  # what opening did that a person should know (a change finished)
        self.index_problem = ""  # why the index could not be brought up to date, while it cannot
        self._index_problem_told = ""
        self._recover_at_open()
        self._load_vocabulary()
        if sync:
            self.last_sync = self.refresh(progress=progress)

    # ------------------------------------------------------------ vocabulary
    @property
    def vocabulary_path(self) -> Path:
        return self.settings.references_dir / VOCABULARY_FILE

    @property
    def vocabulary(self) -> Vocabulary:
        assert self._vocabulary is not None
        return self._vocabulary

    def _load_vocabulary(self) -> None:
        digest = vocabulary_digest_of(self.vocabulary_path)
        if self._vocabulary is None or digest != self._vocabulary_digest:
            self._vocabulary = load_vocabulary(self.vocabulary_path)
            self._vocabulary_digest = digest

    # ------------------------------------------------------------ keeping in sync
    def refresh(self, *, progress: ProgressCallback | None = None, wait: bool = True,
                max_age: float | None = None) -> SyncReport:
        """Bring the index up to date with the folder.

        With `max_age`, a full look at the folder happens only when that many
        seconds have passed or the folder itself changed (files added, deleted
        or replaced), which keeps page loads cheap on very large collections.

        When the index's disk is full or read-only, searches go on with the index as it
        is: the failure is kept in `index_problem` (and `take_index_problem` hands it out
        once) instead of stopping the caller."""
        try:
            return self._sync(progress=progress, wait=wait, max_age=max_age)
        except (OSError, sqlite3.Error) as error:
            if not _storage_fault(error):
                raise
            self._index_fault(error, usable_required=True)
            return SyncReport()

    def _sync(self, *, progress: ProgressCallback | None = None, wait: bool = True,
              max_age: float | None = None) -> SyncReport:
        with self._lock:
            if max_age is not None:
                try:
                    dir_mtime = self.settings.references_dir.stat().st_mtime_ns
                except FileNotFoundError:
                    dir_mtime = 0
                fresh = time.monotonic() - self._last_refresh < max_age
                if fresh and dir_mtime == self._dir_mtime:
                    return SyncReport()
                self._dir_mtime = dir_mtime
            self._load_vocabulary()
            report = self.index.sync(self.collection, self.vocabulary, self._vocabulary_digest,
                                     progress=progress, wait=wait)
            self._last_refresh = time.monotonic()
            self.index_problem = self._index_problem_told = ""
            return report

    def _index_fault(self, error: BaseException, *, usable_required: bool) -> str:
        """Record why the index could not be updated; searches carry on with it as it is."""
        self._last_refresh = time.monotonic()  # do not retry on every page load
        reason = _fault_reason(error, self.settings.index_dir)
        self.index_problem = (f"The search index in {self.settings.index_dir} could not be brought up to date: "
                              f"{reason} Searches use the index as it was, so the newest changes may be missing "
                              "from results; free some space or make the folder writable, and it catches up by "
                              "itself.")
        if usable_required and not any(self.index.whoosh_dir.glob("*.toc")):
            raise IndexUnavailable(f"The search index in {self.settings.index_dir} cannot be built: {reason} "
                                   "Free some space or make the folder writable, then try again.") from None
        self.index.close()  # reopened on the next search, from what is on disk
        return reason

    def take_index_problem(self) -> str:
        """The index problem, the first time it is asked for (so it is reported once)."""
        if self.index_problem and self.index_problem != self._index_problem_told:
            self._index_problem_told = self.index_problem
            return self.index_problem
        return ""

    def rebuild(self, *, progress: ProgressCallback | None = None, procs: int | None = None) -> SyncReport:
        with self._lock:
            self._load_vocabulary()
            return self.index.sync(self.collection, self.vocabulary, self._vocabulary_digest,
                                   progress=progress, force_rebuild=True, procs=procs)

    # ------------------------------------------------------------ reading
    def search(self, request: SearchRequest | str = "", **filters: object) -> SearchResult:
        if isinstance(request, str):
            request = SearchRequest(text=request, **filters)  # type: ignore[arg-type]
        with self._lock:
            return self._searcher.search(request)

    def overview(self) -> Facets:
        """Counts of the whole collection by theme, evidence type, setting and year."""
        with self._lock:
            return self._searcher.overview()

    def coverage(self) -> "pd.DataFrame":
        """The evidence map: references per theme (with its narrower themes) and evidence type."""
        from .coverage import coverage_table

        with self._lock:
            return coverage_table(self._searcher, self.vocabulary)

    def get(self, key: str) -> Record:
        """The full reference, read from its file (the truth, not the index), with its version."""
        try:
            check_key(key)
        except InvalidKey:
            raise ReferenceNotFound(key) from None
        entry, version = self.collection.read_versioned(key)
        return dc_replace(Record.from_entry(entry), version=version)

    def get_many(self, keys: Iterable[str]) -> dict[str, Record | None]:
        out: dict[str, Record | None] = {}
        for key in keys:
            try:
                out[key] = self.get(key)
            except ReferenceNotFound:
                out[key] = None
        return out

    def all_entries(self) -> tuple[list[Entry], list[Problem]]:
        """Every entry in the collection, read from the files (slow on big collections)."""
        entries: list[Entry] = []
        problems: list[Problem] = []
        for name in sorted(self.collection.scan()):
            path = self.settings.references_dir / name
            result = parse_bytes(path.read_bytes(), str(path))
            problems.extend(result.problems)
            if not result.entries and not result.errors:
                problems.append(Problem(str(path), None, None, "the file holds no BibTeX entry."))
            if len(result.entries) > 1:
                problems.append(Problem(str(path), result.entries[1].line, result.entries[1].key,
                                        "the collection keeps one entry per file; move this entry to "
                                        f"its own file ({result.entries[1].key}.bib)."))
            for entry in result.entries[:1]:
                if entry.key != Path(name).stem:
                    problems.append(Problem(str(path), entry.line, entry.key,
                                            f"the file name should be '{entry.key}.bib' to match the key."))
                entries.append(entry)
        return entries, problems

    def check(self) -> CollectionReport:
        """Validate the whole collection: every file, every entry, keys and DOIs across files."""
        entries, problems = self.all_entries()
        problems.extend(check_collection(entries, self.vocabulary))
        return CollectionReport(len(entries), tuple(problems))

    def export(self, request: SearchRequest | str | None = None) -> str:
        """BibTeX of the whole collection, or of every reference a search finds (as written)."""
        if request is None:
            entries, _ = self.all_entries()
            return format_entries(entries)
        if isinstance(request, str):
            request = SearchRequest(text=request)
        keys: list[str] = []
        page = 1
        while True:
            result = self.search(SearchRequest(**{**request.__dict__, "page": page, "per_page": 100}))
            keys.extend(h.key for h in result.hits)
            if page >= result.pages:
                break
            page += 1
        return format_entries(self.collection.read(k) for k in keys)

    # ------------------------------------------------------------ changing
    # Every verb below takes the collection lock for the whole read-modify-write, finishes any
    # change a killed process left in the journal first, writes only bytes proven to read back
    # as intended, and says afterwards exactly what happened (`notices`: saved, but the change
    # log or the index could not be updated).  `self._lock` is taken only around the index (in
    # refresh and duplicates_of), so other sessions' searches go on during a save.

    @contextmanager
    def _writing(self) -> Iterator[list[str]]:
        with self.collection.locked():
            notices: list[str] = []
            try:
                outcome = journal.recover(self.collection)
                if outcome is not None:
                    notices.extend(outcome.notices(recovered=True))
                    self._load_vocabulary()
                yield notices
            finally:
                # Still under the lock: the change log's index takes the lines just appended.
                problem = self._index_changes()
                if problem:
                    notices.append(problem)

    def _recover_at_open(self) -> None:
        if not journal.path_of(self.collection).exists():
            return
        try:
            with self._writing() as notices:
                self.notices.extend(notices)
        except LibraryError as error:
            self.notices.append(f"An unfinished change could not be finished yet ({error}); it will be "
                                "finished by the next save.")

    def _sync_for_write(self) -> None:
        """Bring the index up to date before looking for duplicates; a failing index is not a
        reason to refuse a save (the files are the truth), but it is reported."""
        try:
            self._sync()
        except (OSError, sqlite3.Error) as error:
            if not _storage_fault(error):
                raise
            self._index_fault(error, usable_required=False)

    def _sync_after_write(self) -> tuple[SyncReport, tuple[str, ...]]:
        """The index updated after a save; if it cannot be, the save still stands and says so."""
        try:
            return self._sync(), ()
        except LockTimeout as error:
            reason = str(error)
        except (OSError, sqlite3.Error) as error:
            if not _storage_fault(error):
                raise
            reason = self._index_fault(error, usable_required=False)
        return SyncReport(), (f"The change was saved, but the search index could not be updated: {reason} "
                              "Searches show the collection as it was until the index catches up, which it does "
                              "by itself on the next save or start.",)

    def validate(self, entries: Sequence[Entry]) -> list[Problem]:
        problems: list[Problem] = []
        for entry in entries:
            problems.extend(check_entry(entry, self.vocabulary))
        return problems

    def duplicates_of(self, entry: Entry, *, exclude_key: str | None = None) -> list[Match]:
        """References already in the collection that this entry may repeat, most certain first."""
        with self._lock:
            return find_duplicates(entry, self.index.searcher(), exclude_key=exclude_key)

    def holdings(self, keys: Iterable[str] | None = None) -> list[dict[str, object]]:
        """Key, title, year, authors (as on a card) and DOI of every reference (or of `keys`), as the
        index stores them: no file is read.  Discovery uses them to recognise works found elsewhere."""
        names = ("key", "title", "year", "authors", "doi")
        with self._lock:
            searcher = self.index.searcher()
            if keys is None:
                found = list(searcher.all_stored_fields())
            else:
                found = [f for f in (searcher.document(key=k) for k in keys) if f is not None]
            return [{name: fields.get(name) for name in names} for fields in found]

    def _taken_keys(self) -> dict[str, str]:
        """Every key in the collection by its case-folded form (one look at the folder)."""
        return {name[: -len(".bib")].casefold(): name[: -len(".bib")] for name in self.collection.scan()}

    def _key_holder(self, key: str, taken: Mapping[str, str] | None = None) -> str | None:
        """The key of the file that `key` would collide with (the same key in any case), if any."""
        if self.collection.path_for(key).exists():
            return key
        return (taken if taken is not None else self._taken_keys()).get(key.casefold())

    def _collection_duplicates(self, entry: Entry, *, exclude: Iterable[str] = (),
                               taken: Mapping[str, str] | None = None) -> list[Duplicate]:
        exclude = set(exclude)
        found = [Duplicate.from_match(m) for m in self.duplicates_of(entry) if m.key not in exclude]
        holder = self._key_holder(entry.key, taken)
        if holder and holder not in exclude and not any(d.key == holder for d in found):
            try:
                other = Record.from_entry(self.collection.read(holder))
                found.append(Duplicate(holder, other.title, other.year, other.author_line(), other.doi, "same key",
                                       f"has the same key ({holder})"))
            except ReferenceNotFound:
                pass
        return sorted(found, key=lambda d: CERTAINTIES.index(d.certainty))

    # ------------------------------------------------------------ adding: one verb for every batch
    def start_review(self, result: ParseResult, *, source: str = "") -> ReviewBatch:
        """A review batch for what was read: duplicates found in the collection and within the
        batch, a decision proposed for each, saved in the data folder under a new id."""
        entries = list(result.entries)
        vocabulary = self.vocabulary
        items = []
        taken = self._taken_keys()
        for entry, within in zip(entries, duplicates_within(entries)):
            found = self._collection_duplicates(entry, taken=taken) + within
            items.append(item_from_entry(entry, found, themes=vocabulary.theme_by_slug,
                                         evidence_types=vocabulary.evidence_type_by_slug,
                                         settings=vocabulary.setting_by_slug))
        batch = ReviewBatch(new_review_id(), tuple(items), tuple(result.problems), source)
        self.reviews.prune()
        return self.reviews.save(batch)

    def save_review(self, batch: ReviewBatch | str, *, who: str | None = None) -> AddResult:
        """Save a review batch (or the one with this id) as decided; the review is then removed."""
        if isinstance(batch, str):
            batch = self.reviews.load(batch)
        result = self.save_batch(batch.items, who=who)
        self.reviews.delete(batch.id)
        return result

    def add_entries(self, entries: Sequence[Entry], *, replace: bool = False, who: str | None = None,
                    stamp: bool = True, allow_similar: bool = False) -> AddResult:
        """Validate, refuse duplicates, write one file per entry, update the index: all or nothing.

        A reference with the same key is refused unless `replace`; one with the same DOI always
        (in the collection or earlier in `entries`); one with the same title, year and first
        author unless `allow_similar` (the librarian chose "keep both")."""
        items = []
        taken = self._taken_keys() if replace else {}
        for entry in entries:
            decision = "both" if allow_similar else "new"
            duplicates: tuple[Duplicate, ...] = ()
            if replace and self._key_holder(entry.key, taken) == entry.key:
                decision = "replace"
                duplicates = (Duplicate(entry.key, "", None, "", "", "same key", "has the same key"),)
            items.append(ReviewItem(entry, decision, duplicates=duplicates))
        return self.save_batch(items, who=who, stamp=stamp)

    def add_text(self, text: str, source: str = "<pasted text>", **options: object) -> AddResult:
        result = parse_text(text, source)
        return self._add_parsed(result, source, **options)

    def add_bytes(self, data: bytes, source: str, **options: object) -> AddResult:
        if len(data) > self.settings.max_upload_bytes:
            raise LibraryError(f"{source} is {len(data) / 1_048_576:.1f} MB, over the limit of "
                               f"{self.settings.max_upload_mb:g} MB. Split it into smaller files.")
        return self._add_parsed(parse_bytes(data, source), source, **options)

    def _add_parsed(self, result: ParseResult, source: str, **options: object) -> AddResult:
        if result.errors:
            raise EntryProblems(list(result.errors), "Nothing was saved, because of these problems:")
        if not result.entries:
            raise EntryProblems([Problem(source, None, None, "no BibTeX entries were found.")],
                                "Nothing was saved:")
        added = self.add_entries(list(result.entries), **options)  # type: ignore[arg-type]
        return dc_replace(added, problems=tuple(p for p in result.problems if p.severity == "warning")
                          + added.problems)

    def save_batch(self, items: Sequence[ReviewItem], *, who: str | None = None, stamp: bool = True) -> AddResult:
        """Save review items as decided, all or nothing.  The one verb behind `add`, uploads,
        pastes, DOI look-ups and the review page.

        Every entry is checked, and every duplicate (in the collection, and earlier in the batch)
        looked for again under the collection lock, before anything is written; a decision the
        duplicates do not allow refuses the whole batch with the reason."""
        who = who or self.settings.user
        today = dt.date.today().isoformat()
        prepared: list[tuple[ReviewItem, Entry]] = []
        problems: list[Problem] = []
        skipped: list[str] = []
        for item in items:
            if item.decision == "skip":
                skipped.append(item.entry.key)
                continue
            if item.decision not in DECISIONS:
                problems.append(Problem(item.entry.source, item.entry.line, item.entry.key,
                                        f"'{item.decision}' is not a decision ({', '.join(DECISIONS)})."))
                continue
            try:
                entry = tagged_entry(item)
            except (InvalidValue, InvalidKey) as error:
                problems.append(Problem(item.entry.source, item.entry.line, item.entry.key, str(error)))
                continue
            if stamp and not entry.fields.get("added"):
                entry = entry.with_fields(added=today)
            if stamp and not entry.fields.get("added-by"):
                entry = apply_changes(entry, {"added-by": who})
            prepared.append((item, entry))
        problems.extend(self.validate([entry for _, entry in prepared]))
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            raise EntryProblems(errors, "Nothing was saved, because of these problems:")
        if not prepared:  # every item skipped: nothing to write, nothing to lock
            return AddResult((), (), tuple(p for p in problems if p.severity == "warning"), SyncReport(),
                             skipped=tuple(skipped))
        with self._writing() as notices:
            self._sync_for_write()
            plan, warnings = self._plan_batch(prepared)
            finals = [op.entry for op in plan]
            errors = [p for p in self.validate(finals) if p.severity == "error"]
            if errors:
                raise EntryProblems(errors, "Nothing was saved, because of these problems:")
            notices.extend(self._commit(plan, who=who, description=f"adding {len(plan)} references"))
            sync, more = self._sync_after_write()
        warnings.extend(p for p in problems if p.severity == "warning")
        return AddResult(
            added=tuple(op.entry.key for op in plan if op.action == "add"),
            replaced=tuple(op.entry.key for op in plan if op.action == "replace"),
            problems=tuple(warnings), sync=sync,
            merged=tuple(op.entry.key for op in plan if op.action == "merge"),
            skipped=tuple(skipped), notices=tuple(notices) + more)

    def _plan_batch(self, prepared: list[tuple[ReviewItem, Entry]]) -> tuple[list["_Op"], list[Problem]]:
        """What each item becomes, as decided, checked against the collection as it is now and
        against the items before it.  Raises `DuplicateReference` for a decision that would leave
        two copies of a work (or two files for one key)."""
        ops: list[_Op] = []
        warnings: list[Problem] = []
        on_disk = self._taken_keys()
        taken = set(on_disk)
        finder = BatchDuplicates()  # the items before this one, as they will be saved (index = op)

        def refuse(entry: Entry, match: Duplicate, *, keep_both: bool) -> DuplicateReference:
            where = entry.source + (f", line {entry.line}" if entry.line is not None else "") + ": "
            if match.in_batch is not None:
                other = ops[match.in_batch].entry
                return DuplicateReference(
                    f"{where}'{entry.key}' looks like '{other.key}'"
                    + (f" (line {other.line})" if other.line is not None and other.source == entry.source else "")
                    + f", earlier in what you are adding: it {match.reason}. Nothing was saved. Leave one of "
                    "them out, or choose to skip, replace or merge it.")
            if match.certainty == "same key" or match.key.casefold() == entry.key.casefold():
                return DuplicateReference(
                    f"{where}'{entry.key}' is already in the collection. Nothing was saved. Edit the existing "
                    "reference, give the new one another key, or choose 'replace' to overwrite it.")
            return DuplicateReference(
                f"{where}'{entry.key}' looks like '{match.key}', already in the collection: it {match.reason}. "
                "Nothing was saved. Edit or merge into the existing reference instead"
                + ("." if match.certainty == "same DOI" or not keep_both else ", or choose 'keep both'."))

        for item, entry in prepared:
            within = finder.find(entry)
            overwritten = {op.target for op in ops if op.target}
            in_collection = self._collection_duplicates(entry, exclude=overwritten, taken=on_disk)
            found = sorted(in_collection + within, key=lambda d: CERTAINTIES.index(d.certainty))
            decision = item.decision
            target = _target(item, found) if decision in ("replace", "merge") else None
            if decision in ("replace", "merge") and target is None:
                decision = "new"  # what it was to replace is not there (any more): add it
            if decision == "new":
                blocking = [d for d in found if d.certainty in ("same key", "same DOI", "likely")]
                if blocking:
                    raise refuse(entry, blocking[0], keep_both=True)
            if decision == "both":
                same_doi = [d for d in found if d.certainty == "same DOI"]
                if same_doi:
                    raise refuse(entry, same_doi[0], keep_both=False)
                if entry.key.casefold() in taken or any(d.certainty == "same key" for d in within):
                    entry = entry.with_key(_free_key(entry.key, taken))
            for match in found:
                if match.certainty == "possible" and (target is None or match.key != target.key):
                    warnings.append(Problem(entry.source, entry.line, entry.key,
                                            f"similar to '{match.key}' ({match.where}): it {match.reason}.",
                                            "warning"))
            if target is None:
                ops.append(_Op("add", entry, None, None))
                finder.add(entry)
                taken.add(entry.key.casefold())
                continue
            # Anything else this would repeat by DOI makes two copies of one work.
            others = [d for d in found if d.certainty == "same DOI" and d.key != target.key]
            if others:
                raise refuse(entry, others[0], keep_both=False)
            if target.in_batch is not None:
                earlier = ops[target.in_batch]
                merged = merge_entries(earlier.entry, entry) if decision == "merge" else entry.with_key(
                    earlier.entry.key)
                ops[target.in_batch] = _Op(earlier.action, merged, earlier.before, earlier.target)
                finder.replace(target.in_batch, merged)
                continue
            existing, version = self.collection.read_versioned(target.key)
            final = merge_entries(existing, entry) if decision == "merge" else entry.with_key(target.key)
            ops.append(_Op(decision, final, (existing, version), target.key))
            finder.add(final)
            taken.add(target.key.casefold())
        # Two items turned into one file (both replacing one reference) keep the last word.
        return ops, warnings

    def _commit(self, ops: Sequence["_Op"], *, who: str, description: str) -> list[str]:
        """Write the planned files: one directly, several through the journal (all or none)."""
        notices: list[str] = []
        if not ops:
            return notices
        if len(ops) == 1:
            op = ops[0]
            saved = self.collection.write(op.entry, action=op.action, who=who,
                                          changes=field_changes(op.before[0] if op.before else None, op.entry))
            if saved.log_problem:
                notices.append(saved.log_problem)
            return notices
        files, lines = [], []
        for op in ops:
            data = self.collection.verified_bytes(op.entry)
            files.append(FileChange(f"{op.entry.key}.bib", op.before[1] if op.before else None,
                                    data.decode("utf-8")))
            lines.append(self.collection.log_line(
                op.action, op.entry.key, who=who, version=version_of(data),
                changes=field_changes(op.before[0] if op.before else None, op.entry)))
        outcome = journal.run(self.collection, journal.new_journal(description, files, lines))
        notices.extend(outcome.notices(recovered=False))
        return notices

    # ------------------------------------------------------------ editing
    def edit(self, key: str, changes: Mapping[str, TypedValue], *, base_version: str | None = None,
             who: str | None = None, new_key: str | None = None, entry_type: str | None = None) -> "EditResult":
        """Change some fields of one reference: the whole read-modify-write under the lock.

        `changes` maps field names to plain text as typed (a person role to a sequence of
        `Name`s; None or '' removes the field); fields not named keep their raw LaTeX.  With
        `base_version`, a reference changed by anyone since that version is not touched:
        `EditConflict` says who changed it, when and what."""
        finish = self._edit_steps(key, changes, new_key, entry_type)
        return self._save_edit(key, finish, base_version=base_version, who=who)

    def _edit_steps(self, key: str, changes: Mapping[str, TypedValue], new_key: str | None,
                    entry_type: str | None) -> "Callable[[Entry], Entry]":
        """The last steps of an edit (typed changes, then type, then key), every value checked now,
        before waiting for the lock."""
        apply_changes(Entry(key or "x", "misc", {}, {}), changes)  # refuse bad values before waiting
        if entry_type is not None:
            entry_type = _check_type(entry_type)
        if new_key is not None:
            check_key(new_key)

        explicit = any(name.lower() == "finding-checked" for name in changes)

        def finish(entry: Entry) -> Entry:
            edited = unchecked_if_finding_changed(entry, apply_changes(entry, changes), explicit=explicit)
            if entry_type is not None:
                edited = Entry(edited.key, entry_type, edited.fields, edited.persons, edited.source, edited.line)
            return edited.with_key(new_key) if new_key else edited

        return finish

    def replace_record(self, key: str, entry: Entry, *, changes: Mapping[str, TypedValue] | None = None,
                       new_key: str | None = None, entry_type: str | None = None, base_version: str | None = None,
                       who: str | None = None) -> "EditResult":
        """Replace the bibliographic record of `key` with `entry` (read from a .bib or .ris file, as
        `edit --file` does), under the lock.

        `entry` is the new bibliographic record: standard fields and people it leaves out are
        removed.  The library's own fields (`PROJECT_FIELDS`: themes, key finding, provenance...)
        that `entry` leaves out are kept as they were, since an export from a reference manager
        never carries them; the result's `kept` names them.  `changes`, `entry_type` and
        `new_key` are then applied as `edit` applies them.  `entry.key` must be `key` or `new_key`:
        a file whose key differs renames nothing by itself (`EntryProblems`, nothing changed)."""
        changes = dict(changes or {})
        if entry.key not in (key, new_key):
            if new_key is None:
                reason = (f"the file's entry has the key '{entry.key}', but the reference being edited is "
                          f"'{key}'. To rename {key} to {entry.key}, give the new key as such (--new-key "
                          f"{entry.key}); to keep the key {key}, change the key in the file to {key}.")
            else:
                reason = (f"the file's entry has the key '{entry.key}', which is neither the reference being "
                          f"edited ('{key}') nor its new key ('{new_key}'). Change the key in the file to "
                          f"{key} or {new_key}.")
            raise EntryProblems([Problem(entry.source, entry.line, entry.key, reason)], "Nothing was changed:")
        finish = self._edit_steps(key, changes, new_key, entry_type)
        kept: list[str] = []

        def change(current: Entry) -> Entry:
            own = {name: current.fields[name] for name in PROJECT_FIELDS
                   if name in current.fields and name not in entry.fields}
            kept[:] = [name for name in own if name not in changes]
            record = Entry(key, entry.type, {**entry.fields, **own}, dict(entry.persons), entry.source, entry.line)
            record = unchecked_if_finding_changed(current, record, explicit="finding-checked" in entry.fields)
            return finish(record)

        result = self._save_edit(key, change, base_version=base_version, who=who)
        return dc_replace(result, kept=tuple(kept))

    def update(self, entry: Entry, *, who: str | None = None, previous_key: str | None = None,
               base_version: str | None = None) -> "EditResult":
        """Replace a whole reference with `entry` (its key may change: the old file then goes to
        the trash).  With `base_version`, refused if the reference changed since."""
        return self._save_edit(previous_key or entry.key, lambda _old: entry, base_version=base_version, who=who)

    def _save_edit(self, key: str, change: "Callable[[Entry], Entry]", *, base_version: str | None,
                   who: str | None) -> "EditResult":
        who = who or self.settings.user
        try:
            check_key(key)
        except InvalidKey:
            raise ReferenceNotFound(key) from None
        with self._writing() as notices:
            entry, version = self.collection.read_versioned(key)
            if base_version is not None and base_version != version:
                raise self._conflict(key, base_version, version)
            edited = change(entry)
            errors = [p for p in self.validate([edited]) if p.severity == "error"]
            if errors:
                raise EntryProblems(errors, "The changes were not saved, because of these problems:")
            diff = field_changes(entry, edited)
            if not diff:
                return EditResult(key, version, {}, SyncReport(), tuple(notices))
            kinds = change_kinds(entry, edited, diff)
            if "key-finding" in diff and "finding-checked" in diff and edited.fields.get("finding-checked") == "no":
                notices.append(f"The key finding of {edited.key} changed, so it is marked as not yet checked against "
                               "the full text. Mark it checked again once you have read the work.")
            self._sync_for_write()
            if edited.key != key:
                holder = self._key_holder(edited.key)
                if holder and holder.casefold() != key.casefold():
                    raise DuplicateReference(f"'{edited.key}' is already in the collection"
                                             + (f" (as '{holder}')" if holder != edited.key else "")
                                             + "; choose another key. Nothing was changed.")
            if edited.fields.get("doi"):
                same = [m for m in self.duplicates_of(edited, exclude_key=key)
                        if m.certainty == "same DOI" and m.key != edited.key]
                if same:
                    raise DuplicateReference(f"The DOI {bare_doi(edited.fields['doi'])} is already on "
                                             f"'{same[0].key}'; two references cannot share a DOI. Nothing was "
                                             "changed.")
            if edited.key == key:
                saved = self.collection.write(edited, action="edit", who=who, changes=diff)
                new_version = saved.version
                if saved.log_problem:
                    notices.append(saved.log_problem)
            else:
                data = self.collection.verified_bytes(edited)
                new_version = version_of(data)
                trash_name = self.collection.trash_name(key)
                line = self.collection.log_line("edit", edited.key, f"renamed from {key} (the old file went to "
                                                f"the trash as {trash_name})", who, changes=diff,
                                                version=new_version)
                outcome = journal.run(self.collection, journal.new_journal(
                    f"renaming {key} to {edited.key}",
                    [FileChange(f"{edited.key}.bib", self.collection.version(edited.key), data.decode("utf-8")),
                     FileChange(f"{key}.bib", version, None, trash_name)], [line]))
                notices.extend(outcome.notices(recovered=False))
            sync, more = self._sync_after_write()
        return EditResult(edited.key, new_version, diff, sync, tuple(notices) + more, kinds)

    def _conflict(self, key: str, base_version: str, version: str) -> EditConflict:
        later, base_found = self.collection.changes_since(key, base_version)
        if not base_found:
            # The version the editor started from was not made through the library: show the
            # latest change only if it is the one that made the file as it is now.
            latest = self.collection.changes(limit=1, key=key)
            later = latest if latest and latest[0].version == version else []
        changes = tuple(later)
        if changes:
            latest = changes[0]
            what = "; ".join(c.describe_changes(field_label) for c in changes if c.changes) or "the whole entry"
            message = (f"'{key}' was changed by {latest.who} at {_when(latest.when)} while you were editing it "
                       f"({what}). Your changes were not saved; they are still in the form, so you can "
                       "apply them to the new version or leave them.")
        else:
            message = (f"'{key}' was changed outside the library (by hand or by a version-control update) "
                       "while you were editing it. Your changes were not saved; they are still in the form, "
                       "so you can apply them to the new version or leave them.")
        return EditConflict(key, base_version, version, changes, message)

    def delete(self, key: str, *, who: str | None = None, base_version: str | None = None) -> "ChangeResult":
        with self._writing() as notices:
            if base_version is not None:
                current = self.collection.version(key)
                if current is None:
                    raise ReferenceNotFound(key)
                if current != base_version:
                    raise self._conflict(key, base_version, current)
            saved = self.collection.remove(key, who=who)
            if saved.log_problem:
                notices.append(saved.log_problem)
            sync, more = self._sync_after_write()
        return ChangeResult(sync, tuple(notices) + more)

    def restore(self, key: str, *, who: str | None = None) -> "ChangeResult":
        with self._writing() as notices:
            holder = self._key_holder(key)
            if holder:
                raise WriteFailed(f"'{key}' is already in the collection"
                                  + (f" (as '{holder}')" if holder != key else "")
                                  + "; delete or rename it before restoring the old copy. Nothing was changed.")
            copy = next((path for trashed_key, path in self.collection.trashed() if trashed_key == key), None)
            if copy is None:
                raise NotInTrash(key)
            parsed = parse_bytes(copy.read_bytes(), str(copy))
            if parsed.entries and [e.key for e in parsed.entries] == [key]:
                errors = [p for p in self.validate(parsed.entries) if p.severity == "error"]
                if errors:
                    raise EntryProblems(errors, f"'{key}' cannot be restored as it is, because the collection has "
                                                f"changed since it was deleted; nothing was changed. Fix these in "
                                                f"the copy in the trash ({copy}), or in the vocabulary, first:")
            if parsed.entries and parsed.entries[0].fields.get("doi"):
                self._sync_for_write()
                same = [m for m in self.duplicates_of(parsed.entries[0], exclude_key=key)
                        if m.certainty == "same DOI"]
                if same:
                    raise DuplicateReference(f"'{key}' cannot be restored: its DOI is now on '{same[0].key}', "
                                             "and two references cannot share a DOI. Nothing was changed.")
            saved = self.collection.restore(key, who=who)
            if saved.log_problem:
                notices.append(saved.log_problem)
            sync, more = self._sync_after_write()
        return ChangeResult(sync, tuple(notices) + more)

    # ------------------------------------------------------------ evidence packs
    def render_pack(self, pack: "Pack", fmt: str, style: str = "apa") -> bytes:
        """The pack in `fmt` (pdf, docx, html, md, bib, ris, csljson), from the current references,
        falling back to the details saved with the pack for any that were removed.

        A PDF that cannot fit one page raises `PackDoesNotFit` saying what to cut; the
        pack page renders a format only when its download is asked for.
        """
        from .exporters import build_pack

        records = self.get_many(pack.keys)
        return build_pack(self.prefill_notes(pack, records), records, fmt, style, terms=self.brief_terms())

    def concern_pack(self, slug: str, *, limit: int = 6) -> "Pack":
        """A pack to start from for a common concern: its references chosen, its response as a first message.

        The template fits one A4 page in every citation style.  Where the
        references' notes (their key findings, caveats included) would run
        over, the lowest-ranked references go to the brief's "Further
        reading" line: still cited and listed, never dropped.
        """
        from .citations import STYLES
        from .exporters.pdf import Fit
        from .onepage import fit_to_one_page
        from .packs import CONCERN, KeyMessage, Pack, PackReference, Selection

        concern = self.vocabulary.concern_by_slug.get(slug)
        if concern is None:
            raise VocabularyError(f"There is no concern '{slug}' in the vocabulary.")
        found = self.search(SearchRequest(themes=concern.themes, per_page=limit))
        hits = found.hits
        themes = ", ".join(self.vocabulary.label(t) for t in concern.themes)
        # Said as it is: the pack holds the highest-ranked few, not every reference on the concern.
        # Worded so it stays true after some are removed ("from the 6...").
        if len(hits) < found.total:
            which = f"from the {len(hits)} references (of {found.total}) the library ranks highest for"
        else:
            which = ("from the library’s only reference on" if len(hits) == 1
                     else f"from the library’s {len(hits)} references on")
        pack = Pack(
            title=f"Answering the concern: “{concern.label}”",
            concern=concern.label,
            key_messages=(KeyMessage(concern.response, tuple(range(1, len(hits) + 1))),) if hits else (),
            references=tuple(PackReference(h.key, h.key_finding, chosen_by=CONCERN) for h in hits),
            date=dt.date.today(),
            selection=Selection(note=f"{which} the concern “{concern.label}” (themes: {themes})"),
        )

        def in_every_style(candidate: "Pack") -> Fit:
            results = [self.check_pack_fits(candidate, style) for style in STYLES]
            return next((r for r in results if not r.fits), results[0])

        return fit_to_one_page(pack, in_every_style, shorten_notes=False).pack

    @staticmethod
    def prefill_notes(pack: "Pack", records: dict[str, Record | None]) -> "Pack":
        """A reference with no "why this matters here" note gets its key finding: the
        collection's, or for a reference it no longer holds, the one saved with the pack."""
        from .packs import record_for

        references = []
        for reference in pack.references:
            if not reference.note.strip():
                record = record_for(reference, records)
                if record is not None:
                    reference = dc_replace(reference, note=record.key_finding)
            references.append(reference)
        return dc_replace(pack, references=tuple(references))

    def brief_terms(self) -> "BriefTerms":
        """The vocabulary's words for briefs (kinds of evidence, themes, concerns), kept until it changes."""
        from .exporters.brief import BriefTerms

        vocabulary = self.vocabulary
        cached = self.__dict__.get("_brief_terms_cache")
        if cached is None or cached[0] is not vocabulary:
            cached = (vocabulary, BriefTerms.from_vocabulary(vocabulary))
            self.__dict__["_brief_terms_cache"] = cached
        return cached[1]

    def pack_brief(self, pack: "Pack", style: str = "apa") -> "Brief":
        """The brief's words for a pack (what every visual format lays out), notes prefilled."""
        from .exporters.brief import build_brief
        from .packs import resolve_records

        records = self.get_many(pack.keys)
        pack = self.prefill_notes(pack, records)
        return build_brief(pack, resolve_records(pack, records), style, self.brief_terms())

    def check_pack_fits(self, pack: "Pack", style: str = "apa") -> "Fit":
        """Whether the pack's PDF fits one A4 page in `style` (and at which print size), without
        rendering it: quick enough for every edit on the pack page."""
        from .exporters import pdf
        from .exporters.brief import pack_over_limits
        from .packs import resolve_records

        records = self.get_many(pack.keys)
        pack = self.prefill_notes(pack, records)
        too_long = pack_over_limits(pack, resolve_records(pack, records))
        if too_long:
            return pdf.Fit(False, advice=pdf.too_long_advice(too_long))
        return pdf.fit(self.pack_brief(pack, style))

    def preview_pack(self, pack: "Pack", style: str = "apa") -> "PackPreview":
        """What the pack page shows after each edit: the brief as a web page, whether its PDF
        fits one page, tips, and what changed in the collection since it was saved."""
        from .exporters import html_page, pdf
        from .citations import citation_labels
        from .onepage import PackPreview
        from .packs import compare, resolve_records

        brief = self.pack_brief(pack, style)
        records = self.get_many(pack.keys)
        # Each note names its reference as the page does ("O’Connor et al., 2018"), not by its key.
        labels = dict(zip(pack.keys, citation_labels(resolve_records(pack, records), style)))
        return PackPreview(html=html_page.page(brief), fit=pdf.fit(brief), tips=tuple(pack.advice()),
                           notes=tuple(compare(pack, records, labels)))

    def fit_pack(self, pack: "Pack", style: str = "apa") -> "FitResult":
        """"Fit to one page": the pack shortened step by step until its PDF fits in `style`,
        with each step in plain words (`onepage.fit_to_one_page`)."""
        from .citations import citation_labels
        from .onepage import fit_to_one_page
        from .packs import resolve_records

        records = self.get_many(pack.keys)
        labels = citation_labels(resolve_records(pack, records), style)
        return fit_to_one_page(pack, lambda candidate: self.check_pack_fits(candidate, style), labels=labels)

    def pack_citation_labels(self, pack: "Pack", style: str = "apa") -> list[str]:
        """Each reference's short label ("Felitti et al., 1998"), for pickers; et al. only where the style uses it."""
        from .citations import citation_labels
        from .packs import resolve_records

        return citation_labels(resolve_records(pack, self.get_many(pack.keys)), style)

    def read_pack(self, data: bytes | str) -> "Pack":
        from .packs import load_pack

        return load_pack(data, max_bytes=self.settings.max_upload_bytes)

    # ------------------------------------------------------------ the vocabulary
    def _vocabulary_bytes(self, vocabulary: Vocabulary,
                          renamed: Mapping[str, str] | None = None) -> tuple[bytes, bytes | None]:
        """themes.toml for `vocabulary`, written as an edit of the file as it is now (the
        librarian's comments and layout kept, only what changed changes: `taxonomy.vocabulary_text`),
        after proving that it reads back as exactly that; with the file's bytes it was made from
        (None when there is no file yet)."""
        data = vocabulary_to_dict(vocabulary)
        vocabulary_from_dict(data, str(self.vocabulary_path))  # raises VocabularyError, before any write
        try:
            current: bytes | None = self.vocabulary_path.read_bytes()
        except FileNotFoundError:
            current = None
        try:
            now = current.decode("utf-8") if current is not None else None
        except UnicodeDecodeError as error:
            raise VocabularyError(f"{self.vocabulary_path}: the file on disk is not UTF-8 text now ({error}); fix it "
                                  "before changing the vocabulary. Nothing was changed.") from None
        text = vocabulary_text(dc_replace(vocabulary, source=str(self.vocabulary_path)), now,
                               renamed=dict(renamed or {}))
        try:
            back = vocabulary_to_dict(vocabulary_from_dict(tomllib.loads(text), str(self.vocabulary_path)))
        except (tomllib.TOMLDecodeError, VocabularyError) as error:
            raise SaveRefused(f"The vocabulary was not saved: written out, it could not be read back ({error}). "
                              "Nothing was changed.") from None
        if back != data:
            raise SaveRefused("The vocabulary was not saved: written out, it would not read back as intended. "
                              "Nothing was changed.")
        return text.encode("utf-8"), current

    def save_vocabulary(self, vocabulary: Vocabulary, *, who: str | None = None, detail: str = "") -> "ChangeResult":
        """Check and write themes.toml atomically; the index then rebuilds with the new hierarchy."""
        return self._change_vocabulary(vocabulary, {}, who=who, detail=detail)

    def _change_vocabulary(self, vocabulary: Vocabulary, retag: Mapping[str, str | None], *, who: str | None,
                           detail: str) -> "ChangeResult":
        """Write a new vocabulary and, in the same journal, every reference whose themes change
        (`retag` maps an old slug to its new one, or to None to drop it): all files or none."""
        # A renamed theme keeps its place, notes and layout in the file (a merge's target already has one).
        renamed = {old: new for old, new in retag.items() if new and new not in self.vocabulary.theme_by_slug}
        data, based_on = self._vocabulary_bytes(vocabulary, renamed)  # checked before the lock and before any file
        who = who or self.settings.user
        with self._writing() as notices:
            try:
                changed = self.vocabulary_path.read_bytes() != based_on
            except FileNotFoundError:
                changed = based_on is not None
            if changed:  # edited by hand or by another writer since: edit the file as it is now
                data, based_on = self._vocabulary_bytes(vocabulary, renamed)
            files: list[FileChange] = []
            lines: list[dict] = []
            for key in self._keys_using(set(retag)):
                entry, version = self.collection.read_versioned(key)
                tags = [retag.get(t, t) if t in retag else t for t in split_list(entry.fields.get("themes", ""))]
                themes = ", ".join(dict.fromkeys(t for t in tags if t))
                edited = entry.with_fields(themes=themes or None)
                diff = field_changes(entry, edited)
                if not diff:
                    continue
                raw = self.collection.verified_bytes(edited)
                files.append(FileChange(f"{key}.bib", version, raw.decode("utf-8")))
                lines.append(self.collection.log_line("edit", key, detail, who, changes=diff,
                                                      version=version_of(raw)))
            files.append(FileChange(VOCABULARY_FILE, None if based_on is None else version_of(based_on),
                                    data.decode("utf-8")))
            lines.append(self.collection.log_line("vocabulary", VOCABULARY_FILE, detail, who,
                                                  version=version_of(data)))
            if len(files) == 1:
                atomic_write(self.vocabulary_path, data)
                problem = self.collection.append_log(lines)
                if problem:
                    notices.append(problem)
            else:
                outcome = journal.run(self.collection, journal.new_journal(detail, files, lines))
                notices.extend(outcome.notices(recovered=False))
            self._load_vocabulary()
            notices.extend(self._retag_trash(retag))
            sync, more = self._sync_after_write()
        return ChangeResult(sync, tuple(notices) + more, tuple(f.name[: -len(".bib")] for f in files[:-1]))

    def _retag_trash(self, retag: Mapping[str, str | None]) -> list[str]:
        """Copies in the trash follow a rename or merge too, so that restoring one later gives a
        reference the vocabulary knows.  Each copy is rewritten atomically; one that cannot be is
        reported (restoring it is then refused with the reason, never saved broken)."""
        if not retag or not self.collection.trash_dir.exists():
            return []
        left: list[str] = []
        needles = [slug.encode("utf-8") for slug in retag]
        for path in sorted(self.collection.trash_dir.glob("*.bib")):
            try:
                data = path.read_bytes()
                if not any(n in data for n in needles):
                    continue
                parsed = parse_bytes(data, str(path))
                if parsed.errors or len(parsed.entries) != 1:
                    continue
                entry = parsed.entries[0]
                tags = [retag.get(t, t) if t in retag else t for t in split_list(entry.fields.get("themes", ""))]
                themes = ", ".join(dict.fromkeys(t for t in tags if t))
                edited = entry.with_fields(themes=themes or None)
                if edited.fields != entry.fields:
                    atomic_write(path, self.collection.verified_bytes(edited))
            except (OSError, LibraryError):
                left.append(path.name)
        if left:
            return [f"{len(left)} cop{'y' if len(left) == 1 else 'ies'} in the trash still use the old theme "
                    f"({', '.join(left[:5])}); restoring one will say what to change first."]
        return []

    def _keys_using(self, slugs: set[str]) -> list[str]:
        """Every reference tagged with one of `slugs`, read from the files (not the index, which
        may lag behind a hand edit)."""
        if not slugs:
            return []
        needles = [s.encode("utf-8") for s in slugs]
        keys = []
        for name in sorted(self.collection.scan()):
            try:
                data = (self.collection.root / name).read_bytes()
            except FileNotFoundError:
                continue
            if not any(n in data for n in needles):
                continue
            parsed = parse_bytes(data, name)
            if parsed.entries and set(split_list(parsed.entries[0].fields.get("themes", ""))) & slugs \
                    and parsed.entries[0].key == name[: -len(".bib")]:
                keys.append(parsed.entries[0].key)
        return keys

    def theme_use(self, slug: str) -> int:
        """How many references are tagged with this theme or a theme under it."""
        return self.search(SearchRequest(themes=(slug,), per_page=1)).total

    def add_theme(self, theme: Theme, *, who: str | None = None) -> "ChangeResult":
        theme = _checked_theme(theme)
        vocabulary = self.vocabulary
        if theme.slug in vocabulary.theme_by_slug:
            raise VocabularyError(f"A theme with the slug '{theme.slug}' already exists.")
        themes = list(vocabulary.themes)
        # Keep parents before children: a new child goes after its parent's last descendant.
        position = len(themes)
        if theme.parent:
            if theme.parent not in vocabulary.theme_by_slug:
                raise VocabularyError(f"There is no theme '{theme.parent}' to put '{theme.slug}' under.")
            family = {theme.parent, *vocabulary.descendants(theme.parent)}
            position = max(i for i, t in enumerate(themes) if t.slug in family) + 1
        themes.insert(position, theme)
        return self.save_vocabulary(dc_replace(vocabulary, themes=tuple(themes)), who=who,
                                    detail=f"added theme {theme.slug}")

    def rename_theme(self, old: str, new: str, *, label: str | None = None, who: str | None = None) -> "ChangeResult":
        """Give a theme a new slug (and label), updating every reference that uses it: the new
        vocabulary is checked first, then every file changes, or none does."""
        vocabulary = self.vocabulary
        if old not in vocabulary.theme_by_slug:
            raise VocabularyError(f"There is no theme '{old}'.")
        if not isinstance(new, str) or not SLUG.fullmatch(new):
            raise VocabularyError(f"'{shorten(str(new))}' cannot be a theme's slug: use lower-case letters, digits "
                                  "and single hyphens, such as 'staff-wellbeing'. Nothing was changed.")
        if new != old and new in vocabulary.theme_by_slug:
            raise VocabularyError(f"A theme with the slug '{new}' already exists; to fold one theme into another, "
                                  "merge them. Nothing was changed.")
        if label is not None:
            label = _checked_label(label)
        themes = tuple(
            dc_replace(t, slug=new if t.slug == old else t.slug,
                       label=(label or t.label) if t.slug == old else t.label,
                       parent=new if t.parent == old else t.parent)
            for t in vocabulary.themes)
        concerns = tuple(dc_replace(c, themes=tuple(new if s == old else s for s in c.themes))
                         for c in vocabulary.concerns)
        renamed = dc_replace(vocabulary, themes=themes, concerns=concerns)
        detail = f"renamed theme {old} to {new}" if new != old else f"relabelled theme {old}"
        return self._change_vocabulary(renamed, {old: new} if new != old else {}, who=who, detail=detail)

    def merge_theme(self, source: str, into: str, *, who: str | None = None) -> "ChangeResult":
        """Fold theme `source` into `into`: its references are tagged `into` instead, its narrower
        themes move under `into`, its concerns point at `into`, and `source` goes."""
        vocabulary = self.vocabulary
        for slug in (source, into):
            if slug not in vocabulary.theme_by_slug:
                raise VocabularyError(f"There is no theme '{slug}'.")
        if source == into:
            raise VocabularyError("Choose two different themes to merge.")
        if into in vocabulary.descendants(source):
            raise VocabularyError(f"'{into}' is under '{source}'; merge it the other way round, or move it first.")
        themes = [dc_replace(t, parent=into if t.parent == source else t.parent)
                  for t in vocabulary.themes if t.slug != source]
        ordered = Vocabulary(tuple(themes), vocabulary.evidence_types, vocabulary.settings)
        concerns = tuple(dc_replace(c, themes=tuple(dict.fromkeys(into if s == source else s for s in c.themes)))
                         for c in vocabulary.concerns)
        merged = dc_replace(vocabulary, themes=tuple(t for t, _ in ordered.walk()), concerns=concerns)
        return self._change_vocabulary(merged, {source: into}, who=who,
                                       detail=f"merged theme {source} into {into}")

    def delete_theme(self, slug: str, *, who: str | None = None) -> "ChangeResult":
        """Remove an unused theme; a theme in use or with narrower themes is never deleted."""
        vocabulary = self.vocabulary
        if slug not in vocabulary.theme_by_slug:
            raise VocabularyError(f"There is no theme '{slug}'.")
        children = vocabulary.children(slug)
        if children:
            raise VocabularyError(f"'{slug}' has narrower themes ({', '.join(c.slug for c in children)}); "
                                  "move or delete those first.")
        used = len(self._keys_using({slug}))
        if used:
            raise VocabularyError(f"'{slug}' is used by {used} reference(s); re-tag them, rename the theme or merge "
                                  "it into another instead of deleting it.")
        concerns = [c.slug for c in vocabulary.concerns if slug in c.themes]
        if concerns:
            raise VocabularyError(f"'{slug}' is linked to the concern(s) {', '.join(concerns)}; unlink it first.")
        themes = tuple(t for t in vocabulary.themes if t.slug != slug)
        return self.save_vocabulary(dc_replace(vocabulary, themes=themes), who=who,
                                    detail=f"deleted theme {slug}")

    # ------------------------------------------------------------ shared state (packs...)
    @property
    def database(self) -> "Database":
        """The shared database (LIBRARY_DATABASE_URL), opened and migrated on first use."""
        from .database import open_database

        with self._state_lock:
            if self._database is None:
                self._database = open_database(self.settings.database, timeout=self.settings.lock_timeout)
            return self._database

    @property
    def packs(self) -> "PackStore":
        """The saved evidence packs (packs saved by earlier versions are brought across once)."""
        from .packstore import PackStore

        with self._state_lock:
            if self._packs is None:
                store = PackStore(self.database)
                store.import_legacy(self.settings.data_dir)
                self._packs = store
            return self._packs

    @property
    def changes(self) -> "ChangeLogIndex":
        """The change log, indexed in the shared database (kept in step with changes.jsonl)."""
        from .changelog import ChangeLogIndex

        with self._state_lock:
            if self._changes is None:
                self._changes = ChangeLogIndex(self.database, self.collection.log_path)
            return self._changes

    def _index_changes(self) -> str:
        """Bring the change log's index up to date after a save; '' or what went wrong.

        Only where this process already uses the database (the app does from its first page):
        the command line does not open it just for this, and the next read catches up."""
        if self._database is None:
            return ""
        from .database import DatabaseUnavailable

        try:
            self.changes.sync()
        except (DatabaseUnavailable, OSError) as error:
            return (f"The change was saved and written to the change log, but the change log's index in the "
                    f"database could not be updated ({error}). The librarian page's change log catches up "
                    "by itself once the database can be used.")
        return ""

    def close(self) -> None:
        self.index.close()


def is_ris(source: str) -> bool:
    """Whether `read_references` reads a file of this name as RIS (by its name: .ris), else BibTeX."""
    return source.lower().endswith(".ris")


def read_references(data: bytes, source: str) -> ParseResult:
    """The entries of an uploaded or given file: RIS by its name (.ris), else BibTeX, decoded the
    same way everywhere (byte-order marks, UTF-16, Windows-1252 with a warning)."""
    if is_ris(source):
        from .bibtex import decode_bytes
        from .ris import parse_ris

        text, problems = decode_bytes(data, source)
        if text is None:
            return ParseResult((), tuple(problems))
        result = parse_ris(text.lstrip("\ufeff"), source)
        return ParseResult(result.entries, tuple(problems) + tuple(result.problems), text)
    return parse_bytes(data, source)


def open_library(settings: Settings | None = None, **kwargs: object) -> Library:
    return Library(settings, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------- helpers

_TYPE_NAME = re.compile(r"[a-z][a-z0-9-]{0,29}")
_SQLITE_FAULTS = re.compile(r"disk|full|read-?only|unable to open|I/O error|permission", re.IGNORECASE)
_FAULT_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EIO}


def _storage_fault(error: BaseException) -> bool:
    """A full, read-only or failing disk (as opposed to a bug, which must surface)."""
    if isinstance(error, sqlite3.OperationalError):
        return bool(_SQLITE_FAULTS.search(str(error)))
    if isinstance(error, OSError):
        return error.errno in _FAULT_ERRNOS
    return False


def _fault_reason(error: BaseException, folder: Path) -> str:
    if isinstance(error, OSError) and error.errno == errno.ENOSPC or "full" in str(error).lower():
        return "the disk is full."
    try:
        # SQLite reports a full disk in WAL mode as "disk I/O error".
        if shutil.disk_usage(folder).free < 256 * 1024:
            return "the disk is full."
    except OSError:
        pass
    if isinstance(error, OSError) and error.errno in (errno.EROFS, errno.EACCES, errno.EPERM) \
            or re.search(r"read-?only|permission", str(error), re.IGNORECASE):
        return "the folder is read-only (or you lack permission to write there)."
    return f"{getattr(error, 'strerror', None) or error}."


def _check_type(entry_type: str) -> str:
    lowered = entry_type.strip().lower() if isinstance(entry_type, str) else ""
    if not _TYPE_NAME.fullmatch(lowered):
        raise InvalidValue(f"'{shorten(str(entry_type))}' cannot be an entry type: use a BibTeX type such as "
                           f"{', '.join(sorted(KNOWN_TYPES)[:6])}.")
    return lowered


def _target(item: ReviewItem, found: Sequence[Duplicate]) -> Duplicate | None:
    """What a replace or merge is about: the duplicate the librarian saw, if it is still there,
    else the most certain one found now."""
    if item.primary is not None:
        for match in found:
            if match.key == item.primary.key and (match.in_batch is None) == (item.primary.in_batch is None):
                return match
    return found[0] if found else None


def _free_key(key: str, taken: set[str]) -> str:
    for suffix in "bcdefghijklmnopqrstuvwxyz":
        candidate = f"{key[:99]}{suffix}"
        if candidate.casefold() not in taken:
            return candidate
    return f"{key[:80]}-{dt.datetime.now():%H%M%S%f}"


def _checked_label(label: str) -> str:
    value = canonical(label, field="label")
    if not value:
        raise VocabularyError("A theme needs a label (the words people see).")
    return value


def _checked_theme(theme: Theme) -> Theme:
    if not isinstance(theme.slug, str) or not SLUG.fullmatch(theme.slug):
        raise VocabularyError(f"'{shorten(str(theme.slug))}' cannot be a theme's slug: use lower-case letters, "
                              "digits and single hyphens, such as 'staff-wellbeing'.")
    # Synonyms are checked with the rest of the vocabulary when it is saved (taxonomy._synonyms).
    return Theme(theme.slug, _checked_label(theme.label), canonical(theme.description, field="description"),
                 theme.parent or None, tuple(canonical(s, field="synonym") for s in theme.synonyms))


def _when(stamp: str) -> str:
    try:
        moment = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    return moment.strftime("%H:%M on %d %B %Y (UTC)") if moment.tzinfo else stamp
