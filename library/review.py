"""The batch of references under review before they are added: data, not widgets.

A batch is seeded from pasted or uploaded BibTeX or RIS, a DOI look-up or the add form.
Each item holds the entry as read, what to do with it (add it, skip it, replace or merge
into the reference it repeats, keep both), its themes, evidence type, settings and key
finding (plain text, as typed), and the duplicates found for it, in the collection and
earlier in the same batch.  The batch is kept as JSON in the data folder under a random
id, so a page reload brings it back; the app's widgets edit it one field at a time, and
one `Library.save_review` saves it (the command line's `add` builds one too).
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
import secrets
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Sequence

from filelock import FileLock

from .bibtex import Entry, split_list
from .duplicates import MAX_CANDIDATES, TITLE_SIMILARITY, Match, normalise_title
from .errors import LibraryError, Problem
from .records import Record, normalise_doi
from .store import atomic_write
from .taxonomy import Vocabulary
from .validation import check_entry
from .values import apply_changes, canonical

DECISIONS = ("new", "skip", "replace", "both", "merge")
# Most certain first: which duplicate an item's decision is about.
CERTAINTIES = ("same key", "same DOI", "likely", "possible")
REVIEW_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
KEEP_DAYS = 30  # unsaved reviews older than this are removed


class ReviewNotFound(LibraryError):
    """The review was saved, cancelled or never existed."""


@dataclass(frozen=True)
class Duplicate:
    """A reference this entry may repeat: in the collection, or earlier in the batch."""

    key: str
    title: str
    year: int | None
    authors: str
    doi: str
    certainty: str  # one of CERTAINTIES
    reason: str
    in_batch: int | None = None  # the earlier item's index when it is in this batch

    @classmethod
    def from_match(cls, match: Match) -> "Duplicate":
        return cls(match.key, match.title, match.year, match.authors, match.doi, match.certainty, match.reason)

    @property
    def where(self) -> str:
        return "earlier in what you are adding" if self.in_batch is not None else "already in the collection"


@dataclass(frozen=True)
class ReviewItem:
    """One entry under review.  A tag left None keeps what the entry itself says."""

    entry: Entry
    decision: str = "new"
    themes: tuple[str, ...] | None = None
    evidence_type: str | None = None
    settings: tuple[str, ...] | None = None
    key_finding: str | None = None  # plain text as typed
    duplicates: tuple[Duplicate, ...] = ()

    @property
    def primary(self) -> Duplicate | None:
        return self.duplicates[0] if self.duplicates else None

    def options(self) -> tuple[str, ...]:
        """The decisions that make sense for this item, the default first where it matters."""
        match = self.primary
        if match is None:
            return ("new", "skip")
        if match.certainty == "same DOI":
            return ("skip", "replace", "merge")  # the same work: keeping both would be refused
        if match.certainty == "possible":
            return ("new", "skip", "replace", "merge")
        return ("skip", "replace", "both", "merge")

    def default_decision(self) -> str:
        return self.options()[0]


@dataclass(frozen=True)
class ReviewBatch:
    id: str
    items: tuple[ReviewItem, ...]
    problems: tuple[Problem, ...] = ()  # what reading the input found (entries left out, warnings)
    source: str = ""
    created: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    page: int = 1

    def with_item(self, index: int, **changes: object) -> "ReviewBatch":
        if not 0 <= index < len(self.items):
            raise LibraryError(f"There is no entry number {index + 1} in this review.")
        item = self.items[index]
        if "decision" in changes and changes["decision"] not in DECISIONS:
            raise LibraryError(f"'{changes['decision']}' is not a decision ({', '.join(DECISIONS)}).")
        for name in ("themes", "settings"):
            if name in changes:
                changes[name] = tuple(dict.fromkeys(str(s) for s in changes[name]))  # type: ignore[union-attr]
        items = list(self.items)
        items[index] = replace(item, **changes)  # type: ignore[arg-type]
        return replace(self, items=tuple(items))

    def apply_to_all(self, *, themes: Sequence[str] = (), evidence_type: str = "",
                     skip_duplicates: bool = False) -> "ReviewBatch":
        items = []
        for item in self.items:
            if themes:
                item = replace(item, themes=tuple(dict.fromkeys(themes)))
            if evidence_type:
                item = replace(item, evidence_type=evidence_type)
            if skip_duplicates and item.duplicates and "skip" in item.options():
                item = replace(item, decision="skip")
            items.append(item)
        return replace(self, items=tuple(items))

    # ------------------------------------------------------------ JSON
    def to_json(self) -> str:
        return json.dumps({
            "id": self.id, "source": self.source, "created": self.created, "page": self.page,
            "problems": [p.__dict__ for p in self.problems],
            "items": [{
                "entry": {"key": i.entry.key, "type": i.entry.type, "fields": i.entry.fields,
                          "persons": {r: list(n) for r, n in i.entry.persons.items()},
                          "source": i.entry.source, "line": i.entry.line},
                "decision": i.decision, "themes": None if i.themes is None else list(i.themes),
                "evidence_type": i.evidence_type, "settings": None if i.settings is None else list(i.settings),
                "key_finding": i.key_finding,
                "duplicates": [d.__dict__ for d in i.duplicates],
            } for i in self.items],
        }, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "ReviewBatch":
        data = json.loads(text)
        items = []
        for raw in data["items"]:
            e = raw["entry"]
            entry = Entry(str(e["key"]), str(e["type"]), {str(k): str(v) for k, v in e["fields"].items()},
                          {str(r): tuple(str(n) for n in names) for r, names in e["persons"].items()},
                          str(e.get("source", "<input>")), e.get("line"))
            items.append(ReviewItem(entry, str(raw["decision"]), _tuple_or_none(raw["themes"]),
                                    _str_or_none(raw["evidence_type"]), _tuple_or_none(raw["settings"]),
                                    _str_or_none(raw["key_finding"]),
                                    tuple(Duplicate(**d) for d in raw["duplicates"])))
        return cls(str(data["id"]), tuple(items), tuple(Problem(**p) for p in data.get("problems", ())),
                   str(data.get("source", "")), str(data.get("created", "")), int(data.get("page", 1)))


def _tuple_or_none(value: object) -> tuple[str, ...] | None:
    return None if value is None else tuple(str(v) for v in value)  # type: ignore[union-attr]


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def tagged_entry(item: ReviewItem) -> Entry:
    """The item's entry with its review tags applied.  A tag or finding the librarian did not
    change keeps the entry's own raw text; a new key finding is plain text, encoded."""
    entry = item.entry
    record = Record.from_entry(entry)
    changes: dict[str, str] = {}
    if item.themes is not None and tuple(item.themes) != record.themes:
        changes["themes"] = ", ".join(item.themes)
    if item.evidence_type is not None and item.evidence_type != record.evidence_type:
        changes["evidence-type"] = item.evidence_type
    if item.settings is not None and tuple(item.settings) != record.settings:
        changes["setting"] = ", ".join(item.settings)
    if item.key_finding is not None and canonical(item.key_finding, field="key-finding") != record.key_finding:
        changes["key-finding"] = item.key_finding
        if canonical(item.key_finding) and not entry.fields.get("finding-checked"):
            changes["finding-checked"] = "no"
    return apply_changes(entry, changes) if changes else entry


@dataclass(frozen=True)
class ReviewIssue:
    """Something a librarian should fix or know before saving an entry, said with what to do.
    `blocking` issues stop the save (the same checks as the command line's `add`)."""

    message: str
    blocking: bool = False


def item_issues(item: ReviewItem, vocabulary: Vocabulary) -> tuple[ReviewIssue, ...]:
    """What is wrong or missing in one entry under review: its problems (a link that is not a web
    address, a missing title...), tags the vocabulary does not know (which the review cannot keep),
    and no themes, evidence type or authors.  Nothing is dropped without being listed here."""
    if item.decision == "skip":
        return ()
    entry = item.entry
    issues: list[ReviewIssue] = []
    tagged = tagged_entry(_known_tags_only(item, vocabulary))
    for problem in check_entry(tagged, vocabulary):
        if problem.severity == "error":
            issues.append(ReviewIssue(_sentence(problem.reason), blocking=True))
    unknown_themes = [t for t in split_list(entry.fields.get("themes", "")) if t not in vocabulary.theme_by_slug]
    unknown_types = [t for t in [entry.fields.get("evidence-type", "").strip()]
                     if t and t not in vocabulary.evidence_type_by_slug]
    unknown_settings = [s for s in split_list(entry.fields.get("setting", "")) if s not in vocabulary.setting_by_slug]
    for words, names, where in (("theme", unknown_themes, "Themes"), ("evidence type", unknown_types, "Evidence type"),
                                ("setting", unknown_settings, "Setting")):
        if names:
            listed = ", ".join(f"'{n}'" for n in names)
            plural = "s" if len(names) > 1 else ""
            issues.append(ReviewIssue(
                f"The entry names the {words}{plural} {listed}, which the vocabulary does not have, so "
                f"{'they' if plural else 'it'} will not be saved. Choose from the list under {where} below, "
                f"or add {'them' if plural else 'it'} on the Themes tab first and read the input again."))
    themes = item.themes if item.themes is not None else tuple(
        t for t in split_list(entry.fields.get("themes", "")) if t in vocabulary.theme_by_slug)
    if not themes:
        issues.append(ReviewIssue("No themes: choose one to five under Themes, so that advocates find it "
                                  "when they browse a theme."))
    evidence_type = item.evidence_type if item.evidence_type is not None else entry.fields.get("evidence-type", "")
    if not (evidence_type or "").strip() or evidence_type not in vocabulary.evidence_type_by_slug:
        issues.append(ReviewIssue("No evidence type: choose one under Evidence type, so that the evidence map "
                                  "and the filters count it."))
    if not entry.persons.get("author") and not entry.persons.get("editor") and not any(
            i.blocking and "author" in i.message for i in issues):
        issues.append(ReviewIssue("No authors: check the source. A reference without authors cannot be cited "
                                  "properly; add them to the entry and read it again, or edit the reference "
                                  "after saving."))
    return tuple(issues)


def _known_tags_only(item: ReviewItem, vocabulary: Vocabulary) -> ReviewItem:
    """The item as it would be saved: the entry's unknown tags replaced by the known ones."""
    record = Record.from_entry(item.entry)
    return replace(
        item,
        themes=item.themes if item.themes is not None else tuple(t for t in record.themes
                                                               if t in vocabulary.theme_by_slug),
        evidence_type=item.evidence_type if item.evidence_type is not None else (
            record.evidence_type if record.evidence_type in vocabulary.evidence_type_by_slug else ""),
        settings=item.settings if item.settings is not None else tuple(s for s in record.settings
                                                                     if s in vocabulary.setting_by_slug))


def _sentence(reason: str) -> str:
    return reason[:1].upper() + reason[1:]


def new_id() -> str:
    return secrets.token_urlsafe(18)


def item_from_entry(entry: Entry, duplicates: Sequence[Duplicate], *, themes: Iterable[str] = (),
                    evidence_types: Iterable[str] = (), settings: Iterable[str] = ()) -> ReviewItem:
    """A new review item: its tags taken from the entry where the vocabulary knows them."""
    record = Record.from_entry(entry)
    known_themes, known_types, known_settings = set(themes), set(evidence_types), set(settings)
    item = ReviewItem(entry, "new",
                      tuple(t for t in record.themes if t in known_themes),
                      record.evidence_type if record.evidence_type in known_types else "",
                      tuple(s for s in record.settings if s in known_settings),
                      record.key_finding, tuple(sorted(duplicates, key=lambda d: CERTAINTIES.index(d.certainty))))
    return replace(item, decision=item.default_decision())


@dataclass
class _Seen:
    entry: Entry
    record: Record
    title: str  # normalised
    family: str  # the first author's, normalised


class BatchDuplicates:
    """Duplicates within a batch, found as `duplicates.find_duplicates` finds them in the collection:
    the same key, the same DOI, or the same title (likely when the year and first author agree too),
    comparing titles only with the earlier entries that share the most title words."""

    def __init__(self) -> None:
        self._seen: list[_Seen] = []
        self._by_key: dict[str, list[int]] = {}
        self._by_doi: dict[str, list[int]] = {}
        self._by_word: dict[str, list[int]] = {}

    def find(self, entry: Entry) -> list[Duplicate]:
        """The earlier entries that `entry` may repeat (it is not added)."""
        seen = self._describe(entry)
        record = seen.record
        found: dict[int, Duplicate] = {}
        for index in self._by_key.get(entry.key.casefold(), ()):
            found[index] = self._duplicate(index, "same key", f"has the same key ({self._seen[index].entry.key})")
        doi = normalise_doi(record.doi) if record.doi else ""
        for index in self._by_doi.get(doi, ()) if doi else ():
            found.setdefault(index, self._duplicate(index, "same DOI", f"has the same DOI ({record.doi})"))
        words = _title_words(seen.title)
        counts: dict[int, int] = {}
        for word in words:
            for index in self._by_word.get(word, ()):
                counts[index] = counts.get(index, 0) + 1
        for index in sorted(counts, key=lambda i: (-counts[i], -i))[:MAX_CANDIDATES]:
            if index in found:
                continue
            other = self._seen[index]
            if not _similar(seen.title, other.title):
                continue
            same_year = record.year is None or other.record.year is None or record.year == other.record.year
            same_author = not seen.family or not other.family or seen.family == other.family
            if same_year and same_author:
                found[index] = self._duplicate(index, "likely", "has the same title, year and first author")
            else:
                why = "a different year" if not same_year else "a different first author"
                found[index] = self._duplicate(index, "possible",
                                               f"has the same title but {why}: perhaps another edition or version")
        return sorted(found.values(), key=lambda d: (CERTAINTIES.index(d.certainty), d.in_batch))

    def add(self, entry: Entry) -> int:
        index = len(self._seen)
        self._seen.append(self._describe(entry))
        self._file(index)
        return index

    def replace(self, index: int, entry: Entry) -> None:
        """Entry `index` became `entry` (an item replaced or merged into it)."""
        for table in (self._by_key, self._by_doi, self._by_word):
            for indices in table.values():
                if index in indices:
                    indices.remove(index)
        self._seen[index] = self._describe(entry)
        self._file(index)

    def _file(self, index: int) -> None:
        seen = self._seen[index]
        self._by_key.setdefault(seen.entry.key.casefold(), []).append(index)
        if seen.record.doi:
            self._by_doi.setdefault(normalise_doi(seen.record.doi), []).append(index)
        for word in _title_words(seen.title):
            self._by_word.setdefault(word, []).append(index)

    @staticmethod
    def _describe(entry: Entry) -> _Seen:
        record = Record.from_entry(entry)
        family = normalise_title(record.creators[0].family) if record.creators else ""
        return _Seen(entry, record, normalise_title(record.title), family)

    def _duplicate(self, index: int, certainty: str, reason: str) -> Duplicate:
        other = self._seen[index]
        return Duplicate(other.entry.key, other.record.title, other.record.year, other.record.author_line(),
                         other.record.doi, certainty, reason, index)


def _similar(a: str, b: str) -> bool:
    """`duplicates.title_similarity` on titles already normalised, with difflib's cheap upper
    bounds tried first."""
    if not a or not b:
        return False
    matcher = difflib.SequenceMatcher(None, a, b)
    return (matcher.real_quick_ratio() >= TITLE_SIMILARITY and matcher.quick_ratio() >= TITLE_SIMILARITY
            and matcher.ratio() >= TITLE_SIMILARITY)


def _title_words(title: str) -> list[str]:
    return list(dict.fromkeys(w for w in title.split() if len(w) > 2))[:12]


def duplicates_within(entries: Sequence[Entry]) -> list[list[Duplicate]]:
    """For each entry of a batch, the earlier ones it may repeat."""
    finder = BatchDuplicates()
    out = []
    for entry in entries:
        out.append(finder.find(entry))
        finder.add(entry)
    return out


class ReviewStore:
    """Reviews in progress, one JSON file each in `<data>/reviews/`."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path(self, review_id: str) -> Path:
        if not isinstance(review_id, str) or not REVIEW_ID.fullmatch(review_id):
            raise ReviewNotFound("That review could not be found; it may have been saved or cancelled already.")
        return self.folder / f"{review_id}.json"

    def save(self, batch: ReviewBatch) -> ReviewBatch:
        atomic_write(self.path(batch.id), batch.to_json().encode("utf-8"))
        return batch

    def load(self, review_id: str) -> ReviewBatch:
        path = self.path(review_id)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ReviewNotFound("That review could not be found; it may have been saved or cancelled "
                                 "already.") from None
        try:
            return ReviewBatch.from_json(text)
        except (ValueError, KeyError, TypeError) as error:
            raise ReviewNotFound(f"The review {path} cannot be read ({error}); start again.") from None

    def update(self, review_id: str, change: Callable[[ReviewBatch], ReviewBatch]) -> ReviewBatch:
        """Read, change and write one review under its own lock, so that two tabs editing different
        entries of one review never undo each other's change."""
        path = self.path(review_id)
        with FileLock(str(path.with_suffix(".lock")), timeout=15):
            return self.save(change(self.load(review_id)))

    def delete(self, review_id: str) -> None:
        path = self.path(review_id)
        for leftover in (path, path.with_suffix(".lock")):
            try:
                leftover.unlink()
            except FileNotFoundError:
                pass

    def prune(self, days: int = KEEP_DAYS) -> None:
        """Remove reviews nobody has touched for `days` days."""
        limit = time.time() - days * 86400
        try:
            for path in self.folder.glob("*.json"):
                try:
                    if path.stat().st_mtime < limit:
                        path.unlink()
                except OSError:
                    continue
        except OSError:
            return
