"""The library's public verbs: open, search, read, check, add, edit, delete, restore, export.

Paired steps stay together: adding a reference validates it, writes its file
and updates the index in one call.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from .bibtex import Entry, ParseResult, format_entries, parse_bytes, parse_text, split_list
from .config import Settings
from .errors import (DuplicateReference, EntryProblems, InvalidKey, LibraryError, Problem,
                     ReferenceNotFound, VocabularyError)
from .index import ProgressCallback, SearchIndex, SyncReport, vocabulary_digest_of
from .duplicates import Match, find_duplicates
from .records import Record
from .search import Facets, SearchRequest, SearchResult, Searcher

if TYPE_CHECKING:
    import pandas as pd

    from .database import Database
    from .packs import Pack
    from .packstore import PackStore
from .store import Collection, atomic_write
from .taxonomy import (VOCABULARY_FILE, Theme, Vocabulary, load_vocabulary, vocabulary_from_dict,
                       vocabulary_to_dict)
from .validation import CollectionReport, check_collection, check_entry, check_key

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


class Library:
    """One collection with its vocabulary, index and data folder.

    Opening brings the index up to date with the files (re-indexing only what
    changed).  Safe to share between threads of one process.
    """

    def __init__(self, settings: Settings | None = None, *, progress: ProgressCallback | None = None,
                 sync: bool = True) -> None:
        self.settings = settings or Settings.from_env()
        self.collection = Collection(self.settings.references_dir, self.settings.data_dir,
                                     lock_timeout=self.settings.lock_timeout, user=self.settings.user)
        self.index = SearchIndex(self.settings.index_dir, lock_timeout=self.settings.lock_timeout)
        self._searcher = Searcher(self.index)
        self._lock = threading.RLock()
        self._state_lock = threading.RLock()
        self._database: "Database | None" = None
        self._packs: "PackStore | None" = None
        self._vocabulary: Vocabulary | None = None
        self._vocabulary_digest = ""
        self._last_refresh = 0.0
        self._dir_mtime = 0
        self.last_sync = SyncReport()
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
        """
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
            return report

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
        """The full reference, read from its file (the truth, not the index)."""
        try:
            check_key(key)
        except InvalidKey:
            raise ReferenceNotFound(key) from None
        return Record.from_entry(self.collection.read(key))

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
    def validate(self, entries: Sequence[Entry]) -> list[Problem]:
        problems: list[Problem] = []
        for entry in entries:
            problems.extend(check_entry(entry, self.vocabulary))
        return problems

    def duplicates_of(self, entry: Entry, *, exclude_key: str | None = None) -> list[Match]:
        """References already in the collection that this entry may repeat, most certain first."""
        with self._lock:
            return find_duplicates(entry, self.index.searcher(), exclude_key=exclude_key)

    def add_entries(self, entries: Sequence[Entry], *, replace: bool = False, who: str | None = None,
                    stamp: bool = True, allow_similar: bool = False) -> AddResult:
        """Validate, refuse duplicates, write one file per entry atomically, update the index.

        Nothing is written unless every entry passes.  A reference with the same key
        is refused unless `replace`; one with the same DOI always; one with the same
        title, year and first author unless `allow_similar` (the librarian chose
        "keep both").
        """
        today = dt.date.today().isoformat()
        prepared = []
        for entry in entries:
            if stamp and not entry.fields.get("added"):
                entry = entry.with_fields(added=today)
            if stamp and not entry.fields.get("added-by"):
                entry = entry.with_fields(added_by=who or self.settings.user)
            prepared.append(entry)
        problems = self.validate(prepared)
        seen: dict[str, str] = {}
        for entry in prepared:
            folded = entry.key.casefold()
            if folded in seen:
                problems.append(Problem(entry.source, entry.line, entry.key,
                                        "this key appears twice in what you are adding."))
            seen[folded] = entry.key
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            raise EntryProblems(errors, "Nothing was saved, because of these problems:")
        added: list[str] = []
        replaced: list[str] = []
        # The collection lock alone guards the files: `self._lock` is taken only around the
        # index (in refresh and duplicates_of), so other sessions' searches go on during a save.
        with self.collection.locked():
            self.refresh()
            for entry in prepared:
                if self.collection.path_for(entry.key).exists() and not replace:
                    raise DuplicateReference(
                        f"'{entry.key}' is already in the collection. Nothing was saved. Edit the existing "
                        "reference, give the new one another key, or choose 'replace' to overwrite it.")
                for match in self.duplicates_of(entry, exclude_key=entry.key):
                    if match.certainty == "same DOI" or (match.certainty == "likely" and not allow_similar):
                        raise DuplicateReference(
                            f"'{entry.key}' looks like '{match.key}', already in the collection: it {match.reason}. "
                            "Nothing was saved. Edit or merge into the existing reference instead"
                            + ("." if match.certainty == "same DOI" else ", or choose 'keep both'."))
                    problems.append(Problem(entry.source, entry.line, entry.key,
                                            f"similar to '{match.key}': it {match.reason}.", "warning"))
            for entry in prepared:
                existed = self.collection.path_for(entry.key).exists()
                self.collection.write(entry, action="replace" if existed else "add", who=who)
                (replaced if existed else added).append(entry.key)
            sync = self.refresh()
        warnings = tuple(p for p in problems if p.severity == "warning")
        return AddResult(tuple(added), tuple(replaced), warnings, sync)

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
        return AddResult(added.added, added.replaced,
                         tuple(p for p in result.problems if p.severity == "warning") + added.problems,
                         added.sync)

    def update(self, entry: Entry, *, who: str | None = None, previous_key: str | None = None) -> SyncReport:
        """Save an edited reference (its key may change; the old file then goes to the trash)."""
        errors = [p for p in self.validate([entry]) if p.severity == "error"]
        if errors:
            raise EntryProblems(errors, "The changes were not saved, because of these problems:")
        with self.collection.locked():
            old_key = previous_key or entry.key
            if not self.collection.path_for(old_key).exists():
                raise ReferenceNotFound(old_key)
            if old_key != entry.key and self.collection.path_for(entry.key).exists():
                raise DuplicateReference(f"'{entry.key}' is already in the collection; choose another key.")
            self.collection.write(entry, action="edit", who=who,
                                  detail=f"renamed from {old_key}" if old_key != entry.key else "")
            if old_key != entry.key:
                self.collection.remove(old_key, who=who)
            return self.refresh()

    def delete(self, key: str, *, who: str | None = None) -> SyncReport:
        with self.collection.locked():
            self.collection.remove(key, who=who)
            return self.refresh()

    def restore(self, key: str, *, who: str | None = None) -> SyncReport:
        with self.collection.locked():
            self.collection.restore(key, who=who)
            return self.refresh()

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
        from .packs import KeyMessage, Pack, PackReference, Selection

        concern = self.vocabulary.concern_by_slug.get(slug)
        if concern is None:
            raise VocabularyError(f"There is no concern '{slug}' in the vocabulary.")
        hits = self.search(SearchRequest(themes=concern.themes, per_page=limit)).hits
        themes = ", ".join(self.vocabulary.label(t) for t in concern.themes)
        pack = Pack(
            title=f"Answering the concern: “{concern.label}”",
            concern=concern.label,
            key_messages=(KeyMessage(concern.response, tuple(range(1, len(hits) + 1))),) if hits else (),
            references=tuple(PackReference(h.key, h.key_finding) for h in hits),
            selection=Selection(note=f"the library’s references on the concern “{concern.label}” "
                                     f"(themes: {themes})"),
        )

        def in_every_style(candidate: "Pack") -> Fit:
            results = [self.check_pack_fits(candidate, style) for style in STYLES]
            return next((r for r in results if not r.fits), results[0])

        return fit_to_one_page(pack, in_every_style, shorten_notes=False).pack

    @staticmethod
    def prefill_notes(pack: "Pack", records: dict[str, Record | None]) -> "Pack":
        """A reference with no "why this matters here" note gets its key finding."""
        references = tuple(
            replace(r, note=records[r.key].key_finding)  # type: ignore[union-attr]
            if not r.note.strip() and records.get(r.key) is not None else r
            for r in pack.references)
        return replace(pack, references=references)

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
        from .onepage import PackPreview
        from .packs import compare

        brief = self.pack_brief(pack, style)
        return PackPreview(html=html_page.page(brief), fit=pdf.fit(brief), tips=tuple(pack.advice()),
                           notes=tuple(compare(pack, self.get_many(pack.keys))))

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
    def save_vocabulary(self, vocabulary: Vocabulary, *, who: str | None = None, detail: str = "") -> SyncReport:
        """Check and write themes.toml atomically; the index then rebuilds with the new hierarchy."""
        import tomli_w

        data = vocabulary_to_dict(vocabulary)
        checked = vocabulary_from_dict(data, str(self.vocabulary_path))  # raises VocabularyError
        with self.collection.locked():
            atomic_write(self.vocabulary_path, tomli_w.dumps(vocabulary_to_dict(checked)).encode("utf-8"))
            self.collection.log("vocabulary", "themes.toml", detail, who)
            return self.refresh()

    def theme_use(self, slug: str) -> int:
        """How many references are tagged with this theme or a theme under it."""
        return self.search(SearchRequest(themes=(slug,), per_page=1)).total

    def add_theme(self, theme: Theme, *, who: str | None = None) -> SyncReport:
        vocabulary = self.vocabulary
        if theme.slug in vocabulary.theme_by_slug:
            raise VocabularyError(f"A theme with the slug '{theme.slug}' already exists.")
        themes = list(vocabulary.themes)
        # Keep parents before children: a new child goes after its parent's last descendant.
        position = len(themes)
        if theme.parent:
            family = {theme.parent, *vocabulary.descendants(theme.parent)}
            position = max(i for i, t in enumerate(themes) if t.slug in family) + 1
        themes.insert(position, theme)
        return self.save_vocabulary(replace(vocabulary, themes=tuple(themes)), who=who,
                                    detail=f"added theme {theme.slug}")

    def rename_theme(self, old: str, new: str, *, label: str | None = None, who: str | None = None) -> SyncReport:
        """Give a theme a new slug (and label), updating every reference that uses it."""
        vocabulary = self.vocabulary
        if old not in vocabulary.theme_by_slug:
            raise VocabularyError(f"There is no theme '{old}'.")
        if new != old and new in vocabulary.theme_by_slug:
            raise VocabularyError(f"A theme with the slug '{new}' already exists.")
        themes = tuple(
            replace(t, slug=new if t.slug == old else t.slug, label=(label or t.label) if t.slug == old else t.label,
                    parent=new if t.parent == old else t.parent)
            for t in vocabulary.themes)
        concerns = tuple(replace(c, themes=tuple(new if s == old else s for s in c.themes))
                         for c in vocabulary.concerns)
        renamed = replace(vocabulary, themes=themes, concerns=concerns)
        with self.collection.locked():
            if new != old:
                for key in self._keys_tagged(old):
                    entry = self.collection.read(key)
                    tags = [new if t == old else t for t in split_list(entry.fields.get("themes", ""))]
                    self.collection.write(entry.with_fields(themes=", ".join(dict.fromkeys(tags))), action="edit",
                                          detail=f"theme {old} renamed to {new}", who=who)
            return self.save_vocabulary(renamed, who=who, detail=f"renamed theme {old} to {new}")

    def delete_theme(self, slug: str, *, who: str | None = None) -> SyncReport:
        """Remove an unused theme; a theme in use or with narrower themes is never deleted."""
        vocabulary = self.vocabulary
        if slug not in vocabulary.theme_by_slug:
            raise VocabularyError(f"There is no theme '{slug}'.")
        children = vocabulary.children(slug)
        if children:
            raise VocabularyError(f"'{slug}' has narrower themes ({', '.join(c.slug for c in children)}); "
                                  "move or delete those first.")
        used = self.theme_use(slug)
        if used:
            raise VocabularyError(f"'{slug}' is used by {used} reference(s); re-tag them or rename the theme "
                                  "instead of deleting it.")
        concerns = [c.slug for c in vocabulary.concerns if slug in c.themes]
        if concerns:
            raise VocabularyError(f"'{slug}' is linked to the concern(s) {', '.join(concerns)}; unlink it first.")
        themes = tuple(t for t in vocabulary.themes if t.slug != slug)
        return self.save_vocabulary(replace(vocabulary, themes=themes), who=who,
                                    detail=f"deleted theme {slug}")

    def _keys_tagged(self, slug: str) -> list[str]:
        keys: list[str] = []
        page = 1
        while True:
            result = self.search(SearchRequest(themes=(slug,), page=page, per_page=100))
            keys.extend(h.key for h in result.hits if slug in h.themes)
            if page >= result.pages:
                return keys
            page += 1

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

    def close(self) -> None:
        self.index.close()


def open_library(settings: Settings | None = None, **kwargs: object) -> Library:
    return Library(settings, **kwargs)  # type: ignore[arg-type]
