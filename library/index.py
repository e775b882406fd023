"""The search index: a Whoosh cache of the collection that keeps itself in sync.

The BibTeX files are the truth.  The index lives in its own folder (outside
`references/`), stores everything a result card needs, and records a
fingerprint of every file it indexed (size, modification time and a content
hash) in `state.sqlite`.  Opening compares that fingerprint with the folder and
re-indexes only what was added, changed or deleted; a schema change, a
vocabulary change, or a missing or damaged index leads to a full rebuild from
the files.  One writer at a time holds `write.lock`; readers never wait.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import time
from operator import attrgetter
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from filelock import FileLock, Timeout
from whoosh import index as whoosh_index
from whoosh.columns import VarBytesColumn
from whoosh.fields import COLUMN, ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.reading import SegmentReader
from whoosh.writing import SegmentWriter

from .analysis import PLAIN, STEMMED, text_field
from .bibtex import Entry, parse_bytes
from .errors import LockTimeout, Problem
from .postings import CODEC
from .records import Record, names_line
from .store import Collection, FileStat
from .taxonomy import Vocabulary

# Bump whenever SCHEMA, what goes into a document, or the terms library/analysis.py makes of a
# text change: every index built with another number is rebuilt from the files on next open.
SCHEMA_VERSION = 12  # 12: own stems for words the stemmer joined wrongly (OWN_STEMS); "US" in capitals is "USA"

# Stemmed fields (spelling and word forms made one, see library/analysis.py) for ranking and
# phrases; "_x" copies keep words as written so that prefix (trainin*) and fuzzy (traning~)
# terms match what was written; "topics" holds the labels and synonyms of a reference's themes
# and the labels of its settings and evidence type.
SCHEMA: Schema = Schema(
    key=ID(stored=True, unique=True),
    title=text_field(STEMMED, stored=True, field_boost=3.0),
    title_x=TEXT(analyzer=PLAIN, phrase=False),
    authors=text_field(PLAIN, stored=True, field_boost=1.5),
    # shift_step=0: whoosh-reloaded 2.7.5 splits ranges over shifted terms wrongly when one
    # end is open (year:<2010 matched every year); plain terms are few for years anyway.
    year=NUMERIC(int, bits=32, stored=True, sortable=True, signed=False, shift_step=0),
    venue=text_field(STEMMED, stored=True),  # a journal title: its words stemmed like the text
    finding=text_field(STEMMED, stored=True, field_boost=2.0),
    finding_x=TEXT(analyzer=PLAIN, phrase=False),
    abstract=text_field(STEMMED, stored=True),
    abstract_x=TEXT(analyzer=PLAIN, phrase=False),
    keywords=text_field(STEMMED, stored=True),
    keywords_x=TEXT(analyzer=PLAIN, phrase=False),
    topics=text_field(STEMMED),  # the vocabulary's words for the reference (see topics_text)
    topics_x=TEXT(analyzer=PLAIN, phrase=False),
    theme=KEYWORD(commas=True, scorable=False),  # own themes and all their ancestors
    themes=STORED,  # own themes only, for the chips on a card
    type=ID(stored=True),  # evidence type
    setting=KEYWORD(commas=True, stored=True),
    country=KEYWORD(commas=True, lowercase=True, stored=True),
    doi=ID(stored=True),
    url=STORED,
    entry_type=STORED,
    checked=STORED,
    facets=COLUMN(VarBytesColumn()),  # "themes|type|settings|year" for fast facet counts
)



TEXT_FIELDS = ("title", "finding", "abstract", "keywords")
WHOOSH_DIR = "whoosh"
STATE_FILE = "state.sqlite"
WRITE_LOCK = "write.lock"
SEGMENT_DOCS = 1500  # references per segment in a parallel rebuild: a worker holds one in memory


@dataclass(frozen=True)
class SyncReport:
    added: int = 0
    changed: int = 0
    deleted: int = 0
    rebuilt: bool = False
    reason: str = ""
    seconds: float = 0.0
    problems: tuple[Problem, ...] = ()
    parsed_files: int = 0  # how many BibTeX files were read to bring the index up to date
    skipped_busy: bool = False  # another process was writing; the index may lag for a moment

    @property
    def touched(self) -> int:
        return self.added + self.changed + self.deleted


ProgressCallback = Callable[[int, int], None]


def topics_text(themes: tuple[str, ...] | list[str], vocabulary: Vocabulary, *,
                settings: tuple[str, ...] | list[str] = (), evidence_type: str = "") -> str:
    """The vocabulary's words for a reference, to search them with its text: the labels and
    synonyms of its themes and of every broader theme, and the labels of its settings and of
    its evidence type ("Inpatient wards", "Thesis or other grey literature"), as the filters
    show them.

    A top-level heading that only groups narrower themes ("What managers ask") lends its
    synonyms, not its label, to the references of the narrower themes: its label names a
    group, not what the references are about.  A slug the vocabulary does not know gives nothing.
    """
    parts: list[str] = []
    for slug in vocabulary.with_ancestors(list(themes)):
        theme = vocabulary.theme_by_slug.get(slug)
        if theme is None:
            continue
        heading = theme.parent is None and bool(vocabulary.children(slug)) and slug not in themes
        parts.extend(theme.synonyms if heading else (theme.label, *theme.synonyms))
    for slug in settings:
        setting = vocabulary.setting_by_slug.get(slug)
        if setting is not None:
            parts.append(setting.label)
    kind = vocabulary.evidence_type_by_slug.get(evidence_type) if evidence_type else None
    if kind is not None:
        parts.append(kind.label)
    return " ; ".join(parts)


def document_for(record: Record, vocabulary: Vocabulary) -> dict:
    """The Whoosh document for a reference: what search, facets and the result card need."""
    expanded = vocabulary.with_ancestors(list(record.themes))
    topics = topics_text(record.themes, vocabulary, settings=record.settings, evidence_type=record.evidence_type)
    keywords = ", ".join(record.keywords)
    authors = names_line(record.creators)  # "and others" shows as "et al.", never as a name
    facets = "|".join((",".join(expanded), record.evidence_type, ",".join(record.settings),
                       str(record.year or 0)))
    doc = {
        "key": record.key,
        "title": record.title,
        "title_x": record.title,
        "authors": authors,
        "venue": record.venue,
        "finding": record.key_finding,
        "finding_x": record.key_finding,
        "abstract": record.abstract,
        "abstract_x": record.abstract,
        "keywords": keywords,
        "keywords_x": keywords,
        "topics": topics,
        "topics_x": topics,
        "theme": ",".join(expanded),
        "themes": list(record.themes),
        "type": record.evidence_type,
        "setting": ",".join(record.settings),
        "country": ",".join(record.countries),
        "doi": record.doi,
        "url": record.url,
        "entry_type": record.type,
        "checked": record.finding_checked,
        "facets": facets.encode("utf-8"),
    }
    if record.year:
        doc["year"] = record.year
    return {k: v for k, v in doc.items() if v not in ("", None)}


# ------------------------------------------------------------------ the state file


class _State:
    """What the index holds: one row per indexed file with its fingerprint."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
            conn.execute("CREATE TABLE IF NOT EXISTS files (name TEXT PRIMARY KEY, key TEXT, size INTEGER,"
                         " mtime_ns INTEGER, digest TEXT, pending INTEGER DEFAULT 0, problems TEXT)")
            yield conn
        finally:
            conn.close()

    def meta(self) -> dict[str, str]:
        with self.connect() as conn:
            return dict(conn.execute("SELECT name, value FROM meta").fetchall())

    def readable(self) -> bool:
        try:
            with self.connect() as conn:
                return conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        except sqlite3.DatabaseError:
            return False

    def discard(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def files(self) -> dict[str, tuple]:
        with self.connect() as conn:
            rows = conn.execute("SELECT name, key, size, mtime_ns, digest, pending FROM files").fetchall()
        return {row[0]: row for row in rows}


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _parse_chunk(items: list[tuple[str, bytes]]) -> list[tuple[str, Entry | None, list[Problem]]]:
    """Parse several files' bytes (runs in a worker process during a full rebuild)."""
    out = []
    for name, data in items:
        result = parse_bytes(data, name)
        entry = result.entries[0] if result.entries else None
        problems = list(result.problems)
        if entry is None and not result.errors:
            problems.append(Problem(name, None, None, "the file holds no BibTeX entry."))
        elif len(result.entries) > 1:
            problems.append(Problem(name, None, entry.key if entry else None,
                                    f"the file holds {len(result.entries)} entries; the collection keeps "
                                    "one entry per file, so only the first is searchable."))
        out.append((name, entry, problems))
    return out


def _index_chunk(building: str, root: str, names: list[str], vocabulary: Vocabulary
                 ) -> tuple[object | None, list[tuple[str, Entry | None, list[Problem], str]]]:
    """Read, parse and index some files into a new segment (runs in a worker process during a rebuild)."""
    writer = SegmentWriter(whoosh_index.open_dir(building, schema=SCHEMA), _lk=False, limitmb=512, codec=CODEC)
    items = []
    for name in names:
        try:
            items.append((name, (Path(root) / name).read_bytes()))
        except FileNotFoundError:
            continue
    out = []
    for (name, data), (_, entry, problems) in zip(items, _parse_chunk(items)):
        if entry is not None:
            writer.add_document(**document_for(Record.from_entry(entry), vocabulary))
        out.append((name, entry, problems, _digest(data)))
    if writer.doc_count():
        return writer._finalize_segment(), out  # what Whoosh's own multi-process writer hands back
    writer.cancel()
    return None, out


def _merge_small(writer, segments: list) -> list:  # type: ignore[no-untyped-def]
    """Merge policy for syncs: fold the small segments that syncs leave into one, never the big ones.

    Whoosh's default policy would merge a rebuild's many equal segments into one on the
    first sync after it (tens of seconds on a big collection).
    """
    small = [s for s in segments if s.doc_count_all() < SEGMENT_DOCS // 4]
    if len(small) < 4:
        return segments
    for segment in small:
        reader = SegmentReader(writer.storage, writer.schema, segment)
        writer.add_reader(reader)
        reader.close()
    return [s for s in segments if s not in small]


class SearchIndex:
    """The Whoosh index for one collection, kept in step with it by `sync`."""

    def __init__(self, index_dir: Path, *, lock_timeout: float = 15.0, weighting=None) -> None:  # type: ignore[no-untyped-def]
        self.dir = Path(index_dir)
        self.weighting = weighting  # Whoosh's scoring model for searches; None is its BM25F()
        self.lock_timeout = lock_timeout
        self._state = _State(self.dir / STATE_FILE)
        self._ix = None
        self._searcher = None
        self._probed = None  # the searcher that has read a stored document (see needs_rebuild)

    # ------------------------------------------------------------ opening
    @property
    def whoosh_dir(self) -> Path:
        return self.dir / WHOOSH_DIR

    def _open_whoosh(self):  # type: ignore[no-untyped-def]
        if self._ix is None:
            self._ix = whoosh_index.open_dir(str(self.whoosh_dir), schema=SCHEMA)
        return self._ix

    def searcher(self):  # type: ignore[no-untyped-def]
        """A searcher on the latest committed index, reused between searches."""
        options = {"weighting": self.weighting} if self.weighting is not None else {}
        if self._searcher is None:
            self._searcher = self._open_whoosh().searcher(**options)
        elif not self._searcher.up_to_date():
            # Not Searcher.refresh(): whoosh-reloaded 2.7.5 reuses the old segment readers
            # there, with their old deletions, so deleted or edited references were still found.
            stale, self._searcher = self._searcher, self._open_whoosh().searcher(**options)
            stale.close()
        return self._searcher

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
        self._searcher = self._probed = None
        self._ix = None

    @contextmanager
    def write_lock(self, timeout: float | None = None) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        wait = self.lock_timeout if timeout is None else timeout
        lock = FileLock(str(self.dir / WRITE_LOCK), timeout=wait)
        try:
            lock.acquire()
        except Timeout:
            raise LockTimeout(
                f"The search index is being updated by another process and it has not finished within "
                f"{wait:g} seconds. Try again in a moment."
            ) from None
        try:
            yield
        finally:
            lock.release()

    # ------------------------------------------------------------ sync
    def needs_rebuild(self, vocabulary_digest: str) -> str:
        """Why a full rebuild is needed, or '' when an incremental sync will do."""
        if not self.whoosh_dir.is_dir() or not any(self.whoosh_dir.glob("*.toc")):
            return "there is no index yet"
        try:
            meta = self._state.meta()
        except sqlite3.DatabaseError:
            return "the index's record of files is damaged"
        if meta.get("schema_version") != str(SCHEMA_VERSION):
            return "the index was built by another version of the library"
        if meta.get("status") != "ready":
            return "the last build did not finish"
        if meta.get("vocabulary") != vocabulary_digest:
            return "the theme vocabulary changed"
        try:
            # The count comes from the table of contents; the searcher that reads a stored
            # document to prove the files are readable is the one searches then reuse.
            count = sum(segment.doc_count() for segment in self._open_whoosh()._segments())
            probe = self.searcher()
            if count and probe is not self._probed:
                probe.stored_fields(next(iter(probe.reader().all_doc_ids())))
                self._probed = probe
            with self._state.connect() as conn:
                expected = conn.execute("SELECT COUNT(*) FROM files WHERE key IS NOT NULL "
                                        "AND pending = 0").fetchone()[0]
                pending = conn.execute("SELECT COUNT(*) FROM files WHERE pending = 1").fetchone()[0]
            if not pending and count != expected:
                return f"the index holds {count} references but should hold {expected}"
        except Exception as error:  # any failure to read the cache means: rebuild it from the files
            self.close()
            return f"the index could not be read ({type(error).__name__})"
        return ""

    def sync(self, collection: Collection, vocabulary: Vocabulary, vocabulary_digest: str, *,
             progress: ProgressCallback | None = None, wait: bool = True,
             force_rebuild: bool = False, procs: int | None = None) -> SyncReport:
        """Bring the index up to date with the collection folder."""
        started = time.perf_counter()
        seen = self._signature()
        reason = "a rebuild was asked for" if force_rebuild else self.needs_rebuild(vocabulary_digest)
        stats = collection.scan()
        if not reason:
            plan = self._plan(collection, stats)
            if plan is None:
                return SyncReport(seconds=time.perf_counter() - started)
        try:
            lock_wait = None if wait else 0.0
            with self.write_lock(lock_wait):
                # Another process may have done the work while we waited for the lock; if no
                # process committed meanwhile, the look at the folder just taken still holds.
                if reason or self._signature() != seen:
                    stats = collection.scan()
                    reason = "a rebuild was asked for" if force_rebuild else self.needs_rebuild(vocabulary_digest)
                    plan = None if reason else self._plan(collection, stats)
                if reason:
                    report = self._rebuild(collection, stats, vocabulary, vocabulary_digest, reason,
                                           progress, procs)
                else:
                    if plan is None:
                        return SyncReport(seconds=time.perf_counter() - started)
                    report = self._apply(collection, stats, vocabulary, plan, progress)
        except LockTimeout:
            if wait:
                raise
            return SyncReport(skipped_busy=True, seconds=time.perf_counter() - started)
        return SyncReport(report.added, report.changed, report.deleted, report.rebuilt, report.reason,
                          time.perf_counter() - started, report.problems, report.parsed_files)

    def _signature(self) -> tuple:
        """Changes whenever any process commits to the index (or rebuilds it)."""
        try:
            return self.whoosh_dir.stat().st_ino, self._open_whoosh().latest_generation()
        except Exception:  # no index yet, or an unreadable one: never equal, so look again
            return (object(),)

    def _plan(self, collection: Collection, stats: dict[str, FileStat]) -> dict | None:
        # Nearly every file is as indexed: compare (name, size, mtime) sets, a loop in C, and
        # read the record of files only for the names that differ.
        with self._state.connect() as conn:
            indexed = set(conn.execute("SELECT name, size, mtime_ns FROM files WHERE pending = 0"))
            differ = {row[0] for row in conn.execute("SELECT name FROM files WHERE pending = 1")}
        on_disk = map(attrgetter("name", "size", "mtime_ns"), stats.values())
        differ.update(name for name, _, _ in indexed.symmetric_difference(on_disk))
        if not differ:
            return None
        if len(differ) > 500:
            known = self._state.files()
        else:
            with self._state.connect() as conn:
                known = {row[0]: row for row in conn.execute(
                    "SELECT name, key, size, mtime_ns, digest, pending FROM files WHERE name IN "
                    f"({','.join('?' * len(differ))})", sorted(differ))}
        added = sorted(n for n in differ if n in stats and n not in known)
        deleted = [n for n in known if n not in stats]
        changed: list[str] = []
        touched: dict[str, tuple[int, int]] = {}
        contents: dict[str, bytes] = {}
        for name, row in known.items():
            stat = stats.get(name)
            if stat is None:
                continue
            _, _, size, mtime_ns, digest, pending = row
            if not pending and size == stat.size and mtime_ns == stat.mtime_ns:
                continue
            try:
                data = (collection.root / name).read_bytes()
            except FileNotFoundError:
                deleted.append(name)
                continue
            if not pending and digest == _digest(data):
                touched[name] = (stat.size, stat.mtime_ns)  # touched, same content: no re-index
            else:
                changed.append(name)
                contents[name] = data
        if not (added or deleted or changed or touched):
            return None
        return {"added": added, "deleted": deleted, "changed": changed, "touched": touched,
                "contents": contents, "known": known}

    def _apply(self, collection: Collection, stats: dict[str, FileStat], vocabulary: Vocabulary,
               plan: dict, progress: ProgressCallback | None) -> SyncReport:
        known = plan["known"]
        added, deleted, changed = plan["added"], plan["deleted"], plan["changed"]
        with self._state.connect() as conn:
            conn.execute("BEGIN")
            for name, (size, mtime_ns) in plan["touched"].items():
                conn.execute("UPDATE files SET size=?, mtime_ns=? WHERE name=?", (size, mtime_ns, name))
            # Mark what is about to change, so that a crash before the index commit
            # leads to a clean re-index of exactly these files on next open.
            for name in added:
                conn.execute("INSERT OR REPLACE INTO files (name, key, size, mtime_ns, digest, pending) "
                             "VALUES (?, NULL, -1, -1, '', 1)", (name,))
            for name in changed + deleted:
                conn.execute("UPDATE files SET pending=1 WHERE name=?", (name,))
            conn.execute("COMMIT")
        if not (added or deleted or changed):
            return SyncReport()
        items = []
        for name in added:
            try:
                items.append((name, (collection.root / name).read_bytes()))
            except FileNotFoundError:
                continue
        items.extend((name, plan["contents"][name]) for name in changed)
        parsed = _parse_chunk(items)
        digests = {name: _digest(data) for name, data in items}
        problems: list[Problem] = []
        writer = self._open_whoosh().writer(timeout=self.lock_timeout, codec=CODEC)
        # One searcher for every delete (each delete_by_term would open every segment again):
        # the one searches use when it is current, as needs_rebuild has just made it.
        current = self._searcher is not None and self._searcher.up_to_date()
        deleter = self._searcher if current else writer.searcher()
        try:
            for name in deleted + changed:
                old_key = known[name][1] if name in known else None
                if old_key:
                    writer.delete_by_term("key", old_key, searcher=deleter)
            for name in added:
                # A file whose key is already indexed under another file name would
                # duplicate it; the sync after a crash also lands here.
                writer.delete_by_term("key", Path(name).stem, searcher=deleter)
            rows = []
            for done, (name, entry, entry_problems) in enumerate(parsed, 1):
                problems.extend(entry_problems)
                key = None
                if entry is not None:
                    # Also when the file was pending with no key recorded: a crash after the
                    # last commit may have left this very document in the index already.
                    writer.delete_by_term("key", entry.key, searcher=deleter)
                    writer.add_document(**document_for(Record.from_entry(entry), vocabulary))
                    key = entry.key
                stat = stats.get(name)
                rows.append((name, key, stat.size if stat else -1, stat.mtime_ns if stat else -1,
                             digests[name], _problems_text(entry_problems)))
                if progress:
                    progress(done, len(parsed))
            if not current:
                deleter.close()
            writer.commit(mergetype=_merge_small)
        except BaseException:
            if not current:
                deleter.close()
            writer.cancel()
            raise
        with self._state.connect() as conn:
            conn.execute("BEGIN")
            for name in deleted:
                conn.execute("DELETE FROM files WHERE name=?", (name,))
            conn.executemany("INSERT OR REPLACE INTO files (name, key, size, mtime_ns, digest, pending, problems)"
                             " VALUES (?, ?, ?, ?, ?, 0, ?)", rows)
            conn.execute("COMMIT")
        return SyncReport(added=len(added), changed=len(changed), deleted=len(deleted),
                          problems=tuple(problems), parsed_files=len(parsed))

    def _rebuild(self, collection: Collection, stats: dict[str, FileStat], vocabulary: Vocabulary,
                 vocabulary_digest: str, reason: str, progress: ProgressCallback | None,
                 procs: int | None) -> SyncReport:
        self.close()
        self.dir.mkdir(parents=True, exist_ok=True)
        if not self._state.readable():
            self._state.discard()  # a cache like the rest: rebuilt below from the files
        with self._state.connect() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('status', 'building')")
        building = self.dir / f"whoosh-building-{os.getpid()}"
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir(parents=True)
        ix = whoosh_index.create_in(str(building), SCHEMA)
        names = sorted(stats)
        total = len(names)
        problems: list[Problem] = []
        rows: list[tuple] = []
        procs = procs or min(2, os.cpu_count() or 1)
        writer = ix.writer(limitmb=256, codec=CODEC)
        done = 0
        try:
            # Whoosh's analysis and posting writes are ~90% of a build: with several cores,
            # worker processes read, parse and index a chunk of files each into a segment of
            # its own, and the commit adds those segments to the index as they are.
            parallel = procs > 1 and total >= 2 * SEGMENT_DOCS
            chunks = (self._index_all(collection, names, vocabulary, building, procs) if parallel
                      else self._parse_all(collection, names, procs))
            segments: list = []
            for chunk_result in chunks:
                if parallel:
                    segment, chunk_result = chunk_result
                    segments.extend([segment] if segment is not None else [])
                for name, entry, entry_problems, digest in chunk_result:
                    problems.extend(entry_problems)
                    key = None
                    if entry is not None:
                        if not parallel:
                            writer.add_document(**document_for(Record.from_entry(entry), vocabulary))
                        key = entry.key
                    stat = stats[name]
                    rows.append((name, key, stat.size, stat.mtime_ns, digest, _problems_text(entry_problems)))
                    done += 1
                    if progress and (done % 250 == 0 or done == total):
                        progress(done, total)
            writer.commit(mergetype=lambda _writer, existing: existing + segments)
        except BaseException:
            writer.cancel()
            shutil.rmtree(building, ignore_errors=True)
            raise
        # Swap the finished index into place; readers of the old one keep their open files.
        old = self.dir / f"whoosh-old-{os.getpid()}"
        if self.whoosh_dir.exists():
            os.replace(self.whoosh_dir, old)
        os.replace(building, self.whoosh_dir)
        shutil.rmtree(old, ignore_errors=True)
        for leftover in self.dir.glob("whoosh-*"):
            _remove_if_abandoned(leftover)
        with self._state.connect() as conn:
            conn.execute("BEGIN")
            conn.execute("DELETE FROM files")
            conn.executemany("INSERT INTO files (name, key, size, mtime_ns, digest, pending, problems)"
                             " VALUES (?, ?, ?, ?, ?, 0, ?)", rows)
            conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [
                ("schema_version", str(SCHEMA_VERSION)), ("vocabulary", vocabulary_digest),
                ("status", "ready"), ("built", time.strftime("%Y-%m-%dT%H:%M:%S"))])
            conn.execute("COMMIT")
        if progress and total == 0:
            progress(0, 0)
        return SyncReport(added=len(rows), rebuilt=True, reason=reason, problems=tuple(problems),
                          parsed_files=len(rows))

    @staticmethod
    def _index_all(collection: Collection, names: list[str], vocabulary: Vocabulary, building: Path,
                   procs: int) -> Iterator[tuple[object | None, list[tuple[str, Entry | None, list[Problem], str]]]]:
        """Index chunks of files into segments of their own, in worker processes, in file order."""
        with ProcessPoolExecutor(max_workers=procs) as pool:
            futures = [pool.submit(_index_chunk, str(building), str(collection.root), names[start:start + SEGMENT_DOCS],
                                   vocabulary) for start in range(0, len(names), SEGMENT_DOCS)]
            for future in futures:
                yield future.result()

    @staticmethod
    def _parse_all(collection: Collection, names: list[str], procs: int
                   ) -> Iterator[list[tuple[str, Entry | None, list[Problem], str]]]:
        """Read and parse every file, in worker processes when there are many."""
        chunk_size = 500

        def chunks() -> Iterator[list[tuple[str, bytes]]]:
            for start in range(0, len(names), chunk_size):
                items = []
                for name in names[start:start + chunk_size]:
                    try:
                        items.append((name, (collection.root / name).read_bytes()))
                    except FileNotFoundError:
                        continue
                yield items

        def with_digests(items: list[tuple[str, bytes]], parsed: list) -> list:
            digests = {name: _digest(data) for name, data in items}
            return [(name, entry, probs, digests[name]) for name, entry, probs in parsed]

        if procs <= 1 or len(names) < 2 * chunk_size:
            for items in chunks():
                yield with_digests(items, _parse_chunk(items))
            return
        with ProcessPoolExecutor(max_workers=procs) as pool:
            pending: list = []
            for items in chunks():
                pending.append((items, pool.submit(_parse_chunk, items)))
                if len(pending) > procs * 2:
                    items0, future = pending.pop(0)
                    yield with_digests(items0, future.result())
            for items0, future in pending:
                yield with_digests(items0, future.result())

    # ------------------------------------------------------------ information
    def file_problems(self) -> list[Problem]:
        """Problems met while indexing (files that could not be read are not searchable)."""
        out: list[Problem] = []
        try:
            with self._state.connect() as conn:
                rows = conn.execute("SELECT problems FROM files WHERE problems IS NOT NULL AND problems != ''")
                for (text,) in rows:
                    out.extend(_problems_from_text(text))
        except sqlite3.DatabaseError:
            pass
        return out

    def doc_count(self) -> int:
        return self.searcher().doc_count()


def _problems_text(problems: Iterable[Problem]) -> str:
    import json

    return json.dumps([p.__dict__ for p in problems]) if problems else ""


def _problems_from_text(text: str) -> list[Problem]:
    import json

    try:
        return [Problem(**item) for item in json.loads(text)]
    except (ValueError, TypeError):
        return []


def _remove_if_abandoned(path: Path) -> None:
    """Remove a build folder left by a process that no longer runs."""
    try:
        pid = int(path.name.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return
    if pid == os.getpid():
        return
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        shutil.rmtree(path, ignore_errors=True)
    except PermissionError:
        pass


def vocabulary_digest_of(path: Path) -> str:
    try:
        return _digest(Path(path).read_bytes())
    except FileNotFoundError:
        return ""
