"""Evidence packs: the one-page brief an advocate builds for a manager, as data.

A `Pack` is format-neutral and frozen; the exporters in `library.exporters`
turn it into PDF, Word, HTML, Markdown and reference files.  Packs are saved
as JSON (`dump_pack`/`load_pack`), and every reference in a saved pack keeps a
snapshot of its details, so a pack still renders after the reference was
corrected or removed from the collection, and `compare` says what changed.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Mapping, Sequence

from pybtex.textutils import normalize_whitespace

from . import latex
from .bibtex import PERSON_FIELDS, Entry, format_entry, parse_text
from .duplicates import same_work
from .errors import InvalidValue, PackError, PackFileInvalid
from .links import EMBEDDED_LINK, LOCAL_FILE_FIELDS
from .records import Name, Record, bare_doi, normalise_doi
from .values import BIDI_CONTROLS, INVISIBLE, encode_name

# 2: a reference's snapshot is its BibTeX entry as written (type, fields, people by role);
# selection.searches holds objects (the words and filters as data) and one_by_one says whether
# references were also chosen one by one.  Format 1 kept decoded details and searches as text.
# Both are read; format 2 is written.  A reference's "chosen_by" (added later, optional, so format 2
# still) says what brought it into the pack; references without it are described as before.
PACK_FORMAT_VERSION = 2
ONE_BY_ONE = "one_by_one"  # `PackReference.chosen_by`: added from its own page
CONCERN = "concern"  # `PackReference.chosen_by`: chosen with the pack for a concern (`Selection.note`)
MAX_KEY_MESSAGES = 5
RECOMMENDED_KEY_MESSAGES = (3, 5)
MAX_REFERENCES = 50  # far more than fits on a page; a guard against junk files
DEFAULT_MAX_BYTES = 1_000_000
MAX_TEXT_CHARS = 5_000  # one field; a key message is a sentence or two
MAX_SNAPSHOT_FIELDS = 100  # fields of one reference's snapshot (the seed collection's most: 14)
_TYPE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")  # a BibTeX entry type: article, book, techreport...


@dataclass(frozen=True)
class KeyMessage:
    """A key message and the numbers (1-based) of the references behind it."""

    text: str
    cites: tuple[int, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    """A reference's BibTeX entry as it was when the pack was saved.

    Its type, fields and people by role (author, editor, translator) are kept as the
    collection's file writes them: LaTeX, case-protecting braces ("{ACE}") and all.
    `to_record` reads them back as the collection reads its files, so a pack whose
    reference was since renamed or removed renders every format (APA, Harvard, BibTeX,
    RIS, CSL-JSON, PDF, Word) exactly as it did from the collection.  Fields that point
    at a file on someone's computer are not kept.
    """

    type: str = "misc"
    fields: tuple[tuple[str, str], ...] = ()  # (name, value as written), in the file's order
    persons: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (role, names as written)

    @classmethod
    def from_entry(cls, entry: Entry) -> "Snapshot":
        return cls(
            type=entry.type,
            # A field longer than a pack file allows (an abstract of over 5,000 characters) is not
            # needed to cite the work, and would stop the pack loading: it is not kept.
            fields=tuple((name, value) for name, value in entry.fields.items()
                         if name not in LOCAL_FILE_FIELDS and len(value) <= MAX_TEXT_CHARS),
            persons=tuple((role, tuple(names)) for role, names in entry.persons.items() if names),
        )

    @classmethod
    def from_record(cls, record: Record) -> "Snapshot":
        if record.entry is not None:
            return cls.from_entry(record.entry)
        # A record made in code rather than read from a file: its decoded details, re-encoded.
        return cls.from_details(
            title=record.title, authors=record.authors, editors=record.editors, year=record.year,
            doi=record.doi, venue=record.venue, type=record.type, url=record.url,
            volume=record.fields.get("volume", ""),
            number=record.fields.get("number", "") or record.fields.get("issue", ""),
            pages=record.fields.get("pages", ""), evidence_type=record.evidence_type, themes=record.themes)

    @classmethod
    def from_details(cls, *, title: str, authors: Sequence[Name] = (), editors: Sequence[Name] = (),
                     year: int | None = None, doi: str = "", venue: str = "", type: str = "misc",
                     url: str = "", volume: str = "", number: str = "", pages: str = "",
                     evidence_type: str = "", themes: Sequence[str] = ()) -> "Snapshot":
        """A snapshot from decoded details, as packs saved before format 2 kept them.

        Those snapshots kept no roles (every name an author) and no case protection,
        so their references render as well as those details allow, and are written
        back in the full form the next time the pack is saved.
        """
        kind = type.strip().lower()
        kind = kind if _TYPE_NAME.fullmatch(kind) else "misc"
        venue_field = {
            "article": "journal", "incollection": "booktitle", "inproceedings": "booktitle",
            "inbook": "booktitle", "phdthesis": "school", "mastersthesis": "school",
            "techreport": "institution",
        }.get(kind, "publisher")
        fields = {name: latex.encode(value) for name, value in (
            ("title", title), (venue_field, venue), ("volume", volume),
            ("number", number), ("pages", pages), ("year", str(year or "")),
        ) if value}
        # A DOI and a URL are written raw, as the collection writes them; percent-encoded
        # braces mean the same in an address and keep the entry valid BibTeX.
        if doi:
            fields["doi"] = _raw_address(doi)
        elif url:
            fields["url"] = _raw_address(url)
        if themes:
            fields["themes"] = ", ".join(themes)
        if evidence_type:
            fields["evidence-type"] = evidence_type
        persons = tuple((role, tuple(normalize_whitespace(encode_name(n, field=role)) for n in names))
                        for role, names in (("author", authors), ("editor", editors)) if names)
        # Whitespace as BibTeX reads it (a run is one space), so the entry reads back as it is kept.
        kept = ((name, normalize_whitespace(value).strip()) for name, value in fields.items())
        return cls(type=kind, fields=tuple((name, value) for name, value in kept if value), persons=persons)

    def entry(self, key: str) -> Entry:
        """The BibTeX entry it was taken from, under `key`."""
        return Entry(key, self.type, dict(self.fields), dict(self.persons), source="saved pack")

    def to_record(self, key: str) -> Record:
        """The Record the collection gave when the pack was saved, for a reference it no longer has."""
        return Record.from_entry(self.entry(key))

    def without_links(self) -> "Snapshot":
        """The snapshot without its web address, or any field with a link written in it."""
        fields = tuple((name, value) for name, value in self.fields
                       if name != "url" and not EMBEDDED_LINK.search(value))
        return replace(self, fields=fields)


@dataclass(frozen=True)
class PackReference:
    """A reference chosen for the pack, with why it matters for this brief."""

    key: str
    note: str = ""  # "why this matters here", prefilled from the key finding
    evidence: str = ""  # the kind of evidence as the brief shows it; empty: from the record
    snapshot: Snapshot | None = None
    # Listed under "Further reading" (in the reference list, without its note in
    # "What the evidence says"), to keep the brief to one page; the note is kept.
    further_reading: bool = False
    # What brought it into the pack: the `Search` it was added from, ONE_BY_ONE or CONCERN;
    # None when not recorded (packs saved before this was kept).  `Pack.selection_in_use`.
    chosen_by: Search | str | None = None

    @classmethod
    def from_record(cls, record: Record, evidence: str = "") -> "PackReference":
        return cls(record.key, record.key_finding, evidence, Snapshot.from_record(record))


@dataclass(frozen=True)
class Search:
    """A search of the evidence library that references were added from: the words typed and the
    filters on, as data.  Filters are kept as the labels the reader saw (not slugs), so a pack
    file reads the same in a library whose vocabulary differs.  `exporters.brief.how_chosen`
    puts it into words."""

    words: str = ""
    themes: tuple[str, ...] = ()
    all_themes: bool = False  # references on every one of `themes`, not on any one of them
    evidence_types: tuple[str, ...] = ()
    settings: tuple[str, ...] = ()
    year_from: int | None = None
    year_to: int | None = None

    def texts(self) -> tuple[str, ...]:
        return (self.words, *self.themes, *self.evidence_types, *self.settings)


@dataclass(frozen=True)
class Selection:
    """How the references were chosen; most briefs never say, so this one does."""

    searches: tuple[Search, ...] = ()  # the searches references were added from, in order
    filters: tuple[str, ...] = ()  # free text, e.g. "Evidence type: systematic review" (older files)
    note: str = ""
    one_by_one: bool = False  # some references were added one by one, from their own page

    def is_empty(self) -> bool:
        return not (self.searches or self.filters or self.note or self.one_by_one)

    def with_search(self, search: Search) -> "Selection":
        """This selection with `search` recorded (once)."""
        return self if search in self.searches else replace(self, searches=self.searches + (search,))


@dataclass(frozen=True)
class Pack:
    title: str
    ask: str = ""
    key_messages: tuple[KeyMessage, ...] = ()
    references: tuple[PackReference, ...] = ()
    audience: str = ""
    concern: str = ""  # the barrier it answers, e.g. "this is just the medical model renamed"
    prepared_by: str = ""
    date: dt.date | None = None
    selection: Selection = field(default_factory=Selection)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(r.key for r in self.references)

    def selection_in_use(self) -> Selection:
        """How the references still in the pack were chosen, as the brief's footer says it.

        Where every reference records what brought it in (`PackReference.chosen_by`), only
        those are described: a search, "one by one" or the concern whose references were all
        removed drops out.  Where any does not (a pack saved before this was recorded), the
        pack's selection is described whole, as it always was.
        """
        chosen = [r.chosen_by for r in self.references]
        if any(c is None for c in chosen):
            return self.selection
        searches = [c for c in chosen if isinstance(c, Search)]
        return Selection(
            searches=tuple(dict.fromkeys([*(s for s in self.selection.searches if s in searches), *searches])),
            note=self.selection.note if CONCERN in chosen else "",
            one_by_one=ONE_BY_ONE in chosen)

    def number_of(self, key: str) -> int:
        """The reference's number in the brief (1-based), as its citations print it."""
        folded = key.casefold()
        for number, reference in enumerate(self.references, 1):
            if reference.key.casefold() == folded:
                return number
        raise PackError(f"'{key}' is not in this pack.")

    # Every change to the references goes through `_renumbered`, so a key
    # message's citation numbers always follow its references: after a reorder
    # or a removal, [2] still means the work it meant.
    def reordered(self, keys: Sequence[str]) -> "Pack":
        """The pack with its references in the order of `keys` (the same keys, in a new order)."""
        numbers = [self.number_of(k) for k in keys]
        if sorted(numbers) != list(range(1, len(self.references) + 1)):
            raise PackError("A new order must list every reference of the pack exactly once.")
        return self._renumbered(numbers)

    def moved(self, key: str, step: int) -> "Pack":
        """The pack with one reference moved up (negative `step`) or down the list."""
        order = list(self.keys)
        index = self.number_of(key) - 1
        target = min(max(index + step, 0), len(order) - 1)
        order.insert(target, order.pop(index))
        return self.reordered(order)

    def without(self, key: str) -> "Pack":
        """The pack without one reference; key messages stop citing it and the rest are renumbered."""
        gone = self.number_of(key)
        return self._renumbered([n for n in range(1, len(self.references) + 1) if n != gone])

    def with_reference(self, reference: PackReference) -> "Pack":
        """The pack with a reference added at the end (a key it already holds is refused)."""
        if reference.key.casefold() in {k.casefold() for k in self.keys}:
            raise PackError(f"'{reference.key}' is already in this pack.")
        return replace(self, references=self.references + (reference,))

    def with_cites(self, message: int, keys: Sequence[str]) -> "Pack":
        """The pack with key message `message` (1-based) citing the references with these keys."""
        if not 1 <= message <= len(self.key_messages):
            raise PackError(f"There is no key message {message}.")
        cites = tuple(sorted({self.number_of(k) for k in keys}))
        messages = list(self.key_messages)
        messages[message - 1] = replace(messages[message - 1], cites=cites)
        return replace(self, key_messages=tuple(messages))

    def cited_keys(self, message: int) -> tuple[str, ...]:
        """The keys of the references key message `message` (1-based) cites, in citation order."""
        return tuple(self.references[n - 1].key for n in self.key_messages[message - 1].cites
                     if 0 < n <= len(self.references))

    def _renumbered(self, old_numbers: Sequence[int]) -> "Pack":
        """References in the order of their old numbers; citations follow, dropped ones vanish."""
        new_number = {old: new for new, old in enumerate(old_numbers, 1)}
        messages = tuple(
            replace(m, cites=tuple(sorted(new_number[n] for n in m.cites if n in new_number)))
            for m in self.key_messages)
        references = tuple(self.references[old - 1] for old in old_numbers)
        return replace(self, references=references, key_messages=messages)

    def with_snapshots(self, records_by_key: Mapping[str, Record | None]) -> "Pack":
        """The pack with each reference's snapshot taken from the current record (when there is one,
        and it is the work the snapshot describes: see `is_replaced`)."""
        references = []
        for reference in self.references:
            record = records_by_key.get(reference.key)
            # A key that now names a different work keeps the details of the work the pack cites.
            if record is not None and not is_replaced(reference, record):
                reference = replace(reference, snapshot=Snapshot.from_record(record))
            references.append(reference)
        return replace(self, references=tuple(references))

    def advice(self) -> list[str]:
        """What would make this a better brief; unlike errors, none of these stop it rendering."""
        tips = []
        low, high = RECOMMENDED_KEY_MESSAGES
        if not self.ask.strip():
            tips.append("Say what you are asking the manager to do.")
        if len(self.key_messages) < low:
            tips.append(f"A brief works best with {low} to {high} key messages; this one has "
                        f"{len(self.key_messages)}.")
        for number, message in enumerate(self.key_messages, 1):
            if not message.cites:
                tips.append(f"Key message {number} cites no reference; add the numbers of the "
                            "references that support it.")
        cited = {n for m in self.key_messages for n in m.cites}
        for number, reference in enumerate(self.references, 1):
            if number not in cited:
                tips.append(f"Reference {number} supports no key message.")
            if not reference.note.strip() and not reference.further_reading:
                tips.append(f"Reference {number} has no note saying why it "
                            "matters here.")
        return tips


# ---------------------------------------------------------------- resolving references


def is_replaced(reference: PackReference, current: Record | None) -> bool:
    """Whether the collection's record under the reference's key is a different work from the one
    the pack saved (the key was renamed, then given to another reference): `duplicates.same_work`
    judges, so a corrected title, year, author or added pages are still the same work."""
    if current is None or reference.snapshot is None:
        return False
    return not same_work(reference.snapshot.to_record(reference.key), current)


def record_for(reference: PackReference, records_by_key: Mapping[str, Record | None]) -> Record | None:
    """The record a reference cites: the collection's (the current details), unless the collection
    no longer holds it or its key now names a different work; then the details saved with the pack."""
    record = records_by_key.get(reference.key)
    if reference.snapshot is not None and (record is None or is_replaced(reference, record)):
        return reference.snapshot.to_record(reference.key)
    return record


def uses_saved_details(reference: PackReference, records_by_key: Mapping[str, Record | None]) -> bool:
    """Whether the pack cites this reference from the details saved with it, not the collection's."""
    record = records_by_key.get(reference.key)
    return reference.snapshot is not None and (record is None or is_replaced(reference, record))


def resolve_records(pack: Pack, records_by_key: Mapping[str, Record | None]) -> list[Record]:
    """The record for each reference, in pack order: the collection's, else the saved snapshot
    (also when the key now names a different work: `record_for`)."""
    records = []
    missing = []
    for number, reference in enumerate(pack.references, 1):
        record = record_for(reference, records_by_key)
        if record is None:
            missing.append(f"{number} ('{reference.key}')")
            continue
        records.append(record)
    if missing:
        raise PackError(
            f"Reference{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"{'are' if len(missing) > 1 else 'is'} not in the collection and the pack has no "
            "saved details to fall back on. Remove them from the pack or add them to the collection.")
    return records


def compare(pack: Pack, current_records: Mapping[str, Record | None],
            labels: Mapping[str, str] | None = None) -> list[str]:
    """Plain-words notes on references that changed or went since the pack was saved.

    Each names its reference by `labels[key]` (its short label as the pack page shows it,
    "O’Connor et al., 2018"), else by its key in quotes."""
    notes = []
    for reference in pack.references:
        record = current_records.get(reference.key)
        key = (labels or {}).get(reference.key) or f"'{reference.key}'"
        if record is None:
            if reference.snapshot is not None:
                notes.append(f"{key} was removed from the collection; "
                             "the brief uses the details saved with the pack.")
            else:
                notes.append(f"{key} is not in the collection and the pack has no saved details "
                             "for it; remove it from the pack or add it to the collection.")
            continue
        if reference.snapshot is None:
            continue
        if is_replaced(reference, record):
            notes.append(replaced_note(reference, record))
            continue
        changes = _differences(reference.snapshot.to_record(reference.key), record)
        if changes:
            notes.append(f"{key} has changed since the pack was saved ({'; '.join(changes)}); "
                         "the brief uses the current details.")
    return notes


def replaced_note(reference: PackReference, current: Record) -> str:
    """The notice for a reference whose key now names a different work (see `is_replaced`)."""
    saved = reference.snapshot.to_record(reference.key) if reference.snapshot else current
    return (f"'{reference.key}' now names a different work in the collection ({_described(current)}), "
            f"so the brief cites the work saved with the pack ({_described(saved)}). Check the "
            "reference: if the collection gave it a new key, remove it from the pack and add it again.")


def replaced_notes(pack: Pack, current_records: Mapping[str, Record | None]) -> list[str]:
    """`replaced_note` for each reference whose key now names a different work, in pack order."""
    return [replaced_note(r, current_records[r.key]) for r in pack.references  # type: ignore[arg-type]
            if is_replaced(r, current_records.get(r.key))]


def _described(record: Record) -> str:
    authors = record.creators[0].display() if record.creators else "no author"
    more = " et al." if len(record.creators) > 1 else ""
    return f"{authors}{more}, {record.year or 'no year'}, “{record.title or 'no title'}”"


def _differences(saved: Record, current: Record) -> list[str]:
    changes = []
    if saved.title.strip() != current.title.strip():
        changes.append(f"title was '{saved.title}', now '{current.title}'")
    saved_authors = [n.display() for n in saved.creators]
    current_authors = [n.display() for n in current.creators]
    if saved_authors != current_authors:
        changes.append(f"authors were {_names(saved_authors)}, now {_names(current_authors)}")
    if saved.year != current.year:
        changes.append(f"year was {saved.year or 'not given'}, now {current.year or 'not given'}")
    if normalise_doi(saved.doi) != normalise_doi(current.doi):
        changes.append(f"DOI was {saved.doi or 'not given'}, now {current.doi or 'not given'}")
    if saved.venue.strip() != current.venue.strip():
        changes.append(f"published in was '{saved.venue}', now '{current.venue}'")
    return changes


def _names(names: Sequence[str]) -> str:
    if not names:
        return "not given"
    shown = "; ".join(names[:3])
    return shown + (" and others" if len(names) > 3 else "")


def _raw_address(value: str) -> str:
    return value.strip().replace("{", "%7B").replace("}", "%7D")


# ---------------------------------------------------------------- JSON


def dump_pack(pack: Pack) -> str:
    """The pack as JSON text (UTF-8, readable), loadable by `load_pack`."""
    data: dict[str, Any] = {
        "version": PACK_FORMAT_VERSION,
        "title": pack.title,
        "audience": pack.audience,
        "ask": pack.ask,
        "concern": pack.concern,
        "key_messages": [{"text": m.text, "cites": list(m.cites)} for m in pack.key_messages],
        "references": [_dump_reference(r) for r in pack.references],
        "prepared_by": pack.prepared_by,
        "date": pack.date.isoformat() if pack.date else None,
        "selection": _dump_selection(pack.selection),
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def _dump_selection(selection: Selection) -> dict[str, Any]:
    data: dict[str, Any] = {
        "searches": [_dump_search(s) for s in selection.searches],
        "filters": list(selection.filters),
        "note": selection.note,
    }
    if selection.one_by_one:
        data["one_by_one"] = True
    return data


def _dump_search(search: Search) -> dict[str, Any]:
    data: dict[str, Any] = {"words": search.words}
    for name in ("themes", "evidence_types", "settings"):
        if getattr(search, name):
            data[name] = list(getattr(search, name))
    if search.all_themes:
        data["all_themes"] = True
    for name in ("year_from", "year_to"):
        if getattr(search, name) is not None:
            data[name] = getattr(search, name)
    return data


def _dump_reference(reference: PackReference) -> dict[str, Any]:
    data: dict[str, Any] = {"key": reference.key, "note": reference.note}
    if reference.evidence:
        data["evidence"] = reference.evidence
    if reference.further_reading:
        data["further_reading"] = True
    if isinstance(reference.chosen_by, Search):
        data["chosen_by"] = {"search": _dump_search(reference.chosen_by)}
    elif reference.chosen_by is not None:
        data["chosen_by"] = reference.chosen_by
    if reference.snapshot is not None:
        s = reference.snapshot
        data["snapshot"] = {
            "type": s.type,
            "persons": {role: list(names) for role, names in s.persons},
            "fields": dict(s.fields),
        }
    return data


def load_pack(data: bytes | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Pack:
    """A pack from JSON, checked field by field; `PackError` says which field is wrong and how."""
    size = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
    if size > max_bytes:
        raise PackFileInvalid(f"The pack file is too large ({_size(size)}; the limit is {_size(max_bytes)}). "
                        "Check that you chose a pack file saved by this library.")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise PackFileInvalid("The pack file is not UTF-8 text; choose a pack file saved by "
                            "this library.") from None
    try:
        raw = json.loads(data)
    except (json.JSONDecodeError, RecursionError) as error:
        where = f" (line {error.lineno}, column {error.colno})" if isinstance(error, json.JSONDecodeError) else ""
        raise PackFileInvalid(f"The pack file is not valid JSON{where}; choose a pack file "
                        "saved by this library.") from None
    return _parse_pack(raw)


def _size(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size:,} bytes"


def _parse_pack(raw: object) -> Pack:
    if not isinstance(raw, dict):
        raise PackFileInvalid("The pack file must hold a JSON object with a title, the ask, key "
                        f"messages and references, not {_kind(raw)}.")
    version = raw.get("version", PACK_FORMAT_VERSION)
    if not isinstance(version, int) or isinstance(version, bool):
        raise PackFileInvalid(f"'version' must be a whole number, not {_kind(version)}.")
    if version > PACK_FORMAT_VERSION:
        raise PackFileInvalid(f"This pack was saved by a newer version of the library (format {version}); "
                        "update the library to open it.")
    title = _text(raw, "title", required=True)
    references = _references(raw.get("references", []))
    messages = _messages(raw.get("key_messages", []), len(references))
    return Pack(
        title=title,
        ask=_text(raw, "ask"),
        key_messages=messages,
        references=references,
        audience=_text(raw, "audience"),
        concern=_text(raw, "concern"),
        prepared_by=_text(raw, "prepared_by"),
        date=_date(raw.get("date")),
        selection=_selection(raw.get("selection")),
    )


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return {str: "text", int: "a number", float: "a number", list: "a list",
            dict: "an object"}.get(type(value), type(value).__name__)


# Control characters (but tab and line breaks) and lone surrogates, which a JSON
# escape can carry but no file, database or export can hold as text; characters that reorder
# how the text around them is shown (which a typed value refuses: they can make a pack read
# differently from what it holds); and the invisible characters typed values drop.
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff"
                       + "".join(sorted(BIDI_CONTROLS | INVISIBLE)) + "]")


def _text(raw: Mapping[str, Any], name: str, *, where: str = "", required: bool = False) -> str:
    label = f"{where}{name}"
    value = raw.get(name)
    if value is None:
        if required:
            raise PackFileInvalid(f"'{label}' is missing; every pack needs one.")
        return ""
    if not isinstance(value, str):
        raise PackFileInvalid(f"'{label}' must be text, not {_kind(value)}.")
    value = _NOT_TEXT.sub("", value)
    if len(value) > MAX_TEXT_CHARS:
        raise PackFileInvalid(f"'{label}' is {len(value):,} characters long; the limit is "
                        f"{MAX_TEXT_CHARS:,}. A one-page brief needs far less.")
    if required and not value.strip():
        raise PackFileInvalid(f"'{label}' is empty; every pack needs one.")
    return value.strip()


def _messages(raw: object, reference_count: int) -> tuple[KeyMessage, ...]:
    if not isinstance(raw, list):
        raise PackFileInvalid(f"'key_messages' must be a list, not {_kind(raw)}.")
    if len(raw) > MAX_KEY_MESSAGES:
        raise PackFileInvalid(f"'key_messages' has {len(raw)} messages; a brief has at most "
                        f"{MAX_KEY_MESSAGES}. Merge or drop some.")
    messages = []
    for index, item in enumerate(raw):
        where = f"key_messages[{index + 1}]"
        if isinstance(item, str):
            text, cites_raw = _NOT_TEXT.sub("", item), []
        elif isinstance(item, dict):
            text = _text(item, "text", where=where + ".", required=True)
            cites_raw = item.get("cites", [])
        else:
            raise PackFileInvalid(f"'{where}' must be text or an object with 'text' and 'cites', "
                            f"not {_kind(item)}.")
        if not text.strip():
            raise PackFileInvalid(f"'{where}' is empty.")
        if len(text) > MAX_TEXT_CHARS:
            raise PackFileInvalid(f"'{where}' is {len(text):,} characters long; the limit is "
                            f"{MAX_TEXT_CHARS:,}.")
        messages.append(KeyMessage(text.strip(), _cites(cites_raw, where, reference_count)))
    return tuple(messages)


def _cites(raw: object, where: str, reference_count: int) -> tuple[int, ...]:
    if not isinstance(raw, list):
        raise PackFileInvalid(f"'{where}.cites' must be a list of reference numbers, not {_kind(raw)}.")
    cites: list[int] = []
    for value in raw:
        if not isinstance(value, int) or isinstance(value, bool):
            raise PackFileInvalid(f"'{where}.cites' must hold reference numbers (1, 2, ...), "
                            f"not {_kind(value)}.")
        if not 1 <= value <= reference_count:
            raise PackFileInvalid(f"'{where}.cites' refers to reference {value}, but the pack has "
                            f"{reference_count} reference{'' if reference_count == 1 else 's'}.")
        if value not in cites:
            cites.append(value)
    return tuple(cites)


def _references(raw: object) -> tuple[PackReference, ...]:
    if not isinstance(raw, list):
        raise PackFileInvalid(f"'references' must be a list, not {_kind(raw)}.")
    if len(raw) > MAX_REFERENCES:
        raise PackFileInvalid(f"'references' has {len(raw)} references; the limit is {MAX_REFERENCES}.")
    references = []
    seen: dict[str, int] = {}
    for index, item in enumerate(raw):
        where = f"references[{index + 1}]"
        if isinstance(item, str):
            item = {"key": item}
        if not isinstance(item, dict):
            raise PackFileInvalid(f"'{where}' must be an object with a 'key', not {_kind(item)}.")
        key = _text(item, "key", where=where + ".", required=True)
        folded = key.casefold()
        if folded in seen:
            raise PackFileInvalid(f"'{where}.key' repeats '{key}', already reference {seen[folded]}; "
                            "each reference appears once.")
        seen[folded] = index + 1
        snapshot = item.get("snapshot")
        further = item.get("further_reading", False)
        if not isinstance(further, bool):
            raise PackFileInvalid(f"'{where}.further_reading' must be true or false, not {_kind(further)}.")
        references.append(PackReference(
            key=key,
            note=_text(item, "note", where=where + "."),
            evidence=_text(item, "evidence", where=where + "."),
            snapshot=None if snapshot is None else _snapshot(snapshot, where + ".snapshot"),
            further_reading=further,
            chosen_by=_chosen_by(item.get("chosen_by"), where + ".chosen_by"),
        ))
    return tuple(references)


def _chosen_by(raw: object, where: str) -> Search | str | None:
    if raw is None or raw in (ONE_BY_ONE, CONCERN):
        return raw  # type: ignore[return-value]
    if isinstance(raw, dict) and set(raw) == {"search"} and isinstance(raw["search"], dict):
        return _search(raw["search"], where + ".search")
    raise PackFileInvalid(f"'{where}' must be \"{ONE_BY_ONE}\", \"{CONCERN}\" or an object holding the "
                    f"'search' it was added from, not {_kind(raw)}"
                    + (" (a word this library does not know)." if isinstance(raw, str) else "."))


def _snapshot(raw: object, where: str) -> Snapshot:
    if not isinstance(raw, dict):
        raise PackFileInvalid(f"'{where}' must be an object, not {_kind(raw)}.")
    if "fields" in raw or "persons" in raw:
        return _entry_snapshot(raw, where)
    return _details_snapshot(raw, where)


_FIELD_NAME = re.compile(r"[a-z][a-z0-9_:.+-]{0,59}")
_PROBE_KEY = "snapshot"  # the key the check below writes: a reference's own key may be any text


def _entry_snapshot(raw: Mapping[str, Any], where: str) -> Snapshot:
    """A snapshot in format 2: the entry's type, `fields` and `persons` as BibTeX writes them.

    The entry is written out and read back as a file of the collection would be; what
    would not read back the same (unbalanced braces, a name that splits in two) is refused.
    """
    prefix = where + "."
    kind = _text(raw, "type", where=prefix).lower() or "misc"
    if not _TYPE_NAME.fullmatch(kind):
        raise PackFileInvalid(f"'{prefix}type' must be a BibTeX entry type such as article or book, "
                        f"not '{kind[:40]}'.")
    fields_raw = raw.get("fields", {})
    if not isinstance(fields_raw, dict):
        raise PackFileInvalid(f"'{prefix}fields' must be an object of BibTeX fields and their values, "
                        f"not {_kind(fields_raw)}.")
    if len(fields_raw) > MAX_SNAPSHOT_FIELDS:
        raise PackFileInvalid(f"'{prefix}fields' has {len(fields_raw)} fields; the limit is {MAX_SNAPSHOT_FIELDS}.")
    fields: dict[str, str] = {}
    for name, value in fields_raw.items():
        label = f"{prefix}fields.{name}"[:120]
        folded = name.lower()
        if not _FIELD_NAME.fullmatch(folded):
            raise PackFileInvalid(f"'{label}' is not a BibTeX field name (letters, digits and - only).")
        if folded in PERSON_FIELDS:
            raise PackFileInvalid(f"'{label}' holds names: put them under '{prefix}persons'.")
        if folded in fields:
            raise PackFileInvalid(f"'{label}' repeats the field '{folded}'; each field appears once.")
        if not isinstance(value, str):
            raise PackFileInvalid(f"'{label}' must be text, not {_kind(value)}.")
        value = normalize_whitespace(_NOT_TEXT.sub("", value)).strip()
        if len(value) > MAX_TEXT_CHARS:
            raise PackFileInvalid(f"'{label}' is {len(value):,} characters long; the limit is {MAX_TEXT_CHARS:,}.")
        if value and folded not in LOCAL_FILE_FIELDS:
            fields[folded] = value
    persons_raw = raw.get("persons", {})
    if not isinstance(persons_raw, dict):
        raise PackFileInvalid(f"'{prefix}persons' must be an object of roles (author, editor, translator) "
                        f"and their names, not {_kind(persons_raw)}.")
    persons: dict[str, tuple[str, ...]] = {}
    for role, names_raw in persons_raw.items():
        label = f"{prefix}persons.{role}"[:120]
        folded = role.lower()
        if folded not in PERSON_FIELDS or folded in persons:
            raise PackFileInvalid(f"'{label}': a snapshot's persons are {', '.join(PERSON_FIELDS)}, each once.")
        names = _string_list(names_raw, label)
        if names:
            persons[folded] = tuple(normalize_whitespace(n) for n in names)
    snapshot = Snapshot(kind, tuple(fields.items()), tuple(persons.items()))
    if _unreadable(snapshot):
        label, reason = _unreadable_part(snapshot, prefix)
        raise PackFileInvalid(f"'{label}' is not BibTeX the library can read: {reason}. "
                              "Save the pack again from the library, or remove this snapshot from the file.")
    return snapshot


def _unreadable_part(snapshot: Snapshot, prefix: str) -> tuple[str, str]:
    """The field (or name) of an unreadable snapshot that does not read back, and why, in plain words."""
    for name, value in snapshot.fields:
        if _unreadable(Snapshot(snapshot.type, ((name, value),))):
            return f"{prefix}fields.{name}"[:120], _brace_problem(value)
    for role, names in snapshot.persons:
        for number, name in enumerate(names, 1):
            if _unreadable(Snapshot(snapshot.type, persons=((role, (name,)),))):
                label = f"{prefix}persons.{role}[{number}]"[:120]
                if re.search(r"\sand\s", name, re.IGNORECASE) and not _brace_problem(name, default=""):
                    return label, (f"“{name[:80]}” would read as more than one name, since BibTeX parts names "
                                   "with “and”: give each name as its own item, or put braces round a name "
                                   "that holds the word (“{Smith and Sons}”)")
                return label, _brace_problem(name)
    return prefix.rstrip("."), "it does not read back as written"


def _brace_problem(value: str, default: str = "it does not read back as written (check its braces and backslashes)") -> str:
    """What is wrong with a value's braces, in plain words (`default` when they pair up)."""
    depth = 0
    for char in value:  # BibTeX counts every brace, one after a backslash too
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                return "a closing brace “}” comes before its opening brace “{”, so the value would end early"
    if depth > 0:
        return "an opening brace “{” is never closed with “}”"
    return default


# A pack is read on every page of the app that shows it, and its snapshots rarely change:
# each distinct snapshot is written out and parsed once per process (a few hundred µs each).
@lru_cache(maxsize=4096)
def _unreadable(snapshot: Snapshot) -> str:
    """Why the snapshot would not read back as the entry it holds ("" when it would)."""
    fields, persons = dict(snapshot.fields), dict(snapshot.persons)
    result = parse_text(format_entry(Entry(_PROBE_KEY, snapshot.type, fields, persons)), "saved pack")
    back = result.entries[0] if len(result.entries) == 1 else None
    if result.errors:
        return result.errors[0].reason
    if back is None or (back.type, back.fields, back.persons) != (snapshot.type, fields, persons):
        return "its values do not read back as written"
    return ""


def _details_snapshot(raw: Mapping[str, Any], where: str) -> Snapshot:
    """A snapshot in format 1: decoded details (title, authors, year...)."""
    prefix = where + "."
    year = raw.get("year")
    if year is not None and (not isinstance(year, int) or isinstance(year, bool)):
        raise PackFileInvalid(f"'{prefix}year' must be a whole number, not {_kind(year)}.")
    authors_raw = raw.get("authors", [])
    if not isinstance(authors_raw, list):
        raise PackFileInvalid(f"'{prefix}authors' must be a list, not {_kind(authors_raw)}.")
    authors = tuple(_name(a, f"{prefix}authors[{i + 1}]") for i, a in enumerate(authors_raw))
    try:
        return _snapshot_of_details(raw, prefix, authors, year)
    except InvalidValue as error:
        raise PackFileInvalid(f"'{prefix}authors': {error}") from None


def _snapshot_of_details(raw: Mapping[str, Any], prefix: str, authors: tuple[Name, ...],
                         year: int | None) -> Snapshot:
    return Snapshot.from_details(
        title=_text(raw, "title", where=prefix),
        authors=authors,
        year=year,
        doi=bare_doi(_text(raw, "doi", where=prefix)),
        venue=_text(raw, "venue", where=prefix),
        type=_text(raw, "type", where=prefix) or "misc",
        url=_text(raw, "url", where=prefix),
        volume=_text(raw, "volume", where=prefix),
        number=_text(raw, "number", where=prefix),
        pages=_text(raw, "pages", where=prefix),
        evidence_type=_text(raw, "evidence_type", where=prefix),
        themes=_string_list(raw.get("themes", []), f"{prefix}themes"),
    )


def _name(raw: object, where: str) -> Name:
    if isinstance(raw, str):
        return Name.parse(raw)
    if not isinstance(raw, dict):
        raise PackFileInvalid(f"'{where}' must be a name object or text, not {_kind(raw)}.")
    prefix = where + "."
    if "literal" in raw:
        return Name(family=_text(raw, "literal", where=prefix, required=True), literal=True)
    return Name(
        family=_text(raw, "family", where=prefix, required=True),
        given=_text(raw, "given", where=prefix),
        particle=_text(raw, "particle", where=prefix),
        suffix=_text(raw, "suffix", where=prefix),
    )


def _date(raw: object) -> dt.date | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise PackFileInvalid(f"'date' must be a date written like 2025-03-01, not {_kind(raw)}.")
    try:
        return dt.date.fromisoformat(raw.strip()[:10])
    except ValueError:
        raise PackFileInvalid(f"'date' must be a date written like 2025-03-01, not '{raw}'.") from None


def _selection(raw: object) -> Selection:
    if raw is None:
        return Selection()
    if not isinstance(raw, dict):
        raise PackFileInvalid(f"'selection' must be an object with 'searches', 'filters' and 'note', "
                        f"not {_kind(raw)}.")
    one_by_one = raw.get("one_by_one", False)
    if not isinstance(one_by_one, bool):
        raise PackFileInvalid(f"'selection.one_by_one' must be true or false, not {_kind(one_by_one)}.")
    searches_raw = raw.get("searches", [])
    if not isinstance(searches_raw, list):
        raise PackFileInvalid(f"'selection.searches' must be a list, not {_kind(searches_raw)}.")
    searches: list[Search] = []
    for index, item in enumerate(searches_raw):
        where = f"selection.searches[{index + 1}]"
        if isinstance(item, str):  # written before format 2: a phrase, or the words searched for
            texts = _string_list([item], where)
            if not texts:
                continue
            found = _legacy_search(texts[0])
            if found is None:
                one_by_one = True
                continue
        elif isinstance(item, dict):
            found = _search(item, where)
        else:
            raise PackFileInvalid(f"'{where}' must be an object with the 'words' searched for, not {_kind(item)}.")
        if found not in searches:
            searches.append(found)
    return Selection(
        searches=tuple(searches),
        filters=_filters(raw.get("filters", []), "selection.filters"),
        note=_text(raw, "note", where="selection."),
        one_by_one=one_by_one,
    )


def _search(raw: Mapping[str, Any], where: str) -> Search:
    prefix = where + "."
    all_themes = raw.get("all_themes", False)
    if not isinstance(all_themes, bool):
        raise PackFileInvalid(f"'{prefix}all_themes' must be true or false, not {_kind(all_themes)}.")
    years: list[int | None] = []
    for name in ("year_from", "year_to"):
        year = raw.get(name)
        if year is not None and (not isinstance(year, int) or isinstance(year, bool) or not 0 <= year <= 9999):
            raise PackFileInvalid(f"'{prefix}{name}' must be a year such as 2015, not {_kind(year)}.")
        years.append(year)
    return Search(
        words=_text(raw, "words", where=prefix),
        themes=_string_list(raw.get("themes", []), prefix + "themes"),
        all_themes=all_themes,
        evidence_types=_string_list(raw.get("evidence_types", []), prefix + "evidence_types"),
        settings=_string_list(raw.get("settings", []), prefix + "settings"),
        year_from=years[0],
        year_to=years[1],
    )


# Format 1 kept how each reference was found as a phrase: "a search for “burnout”, evidence
# type: Trial", "browsing the whole library", "references chosen one by one", or (in files
# written by hand or by the command line) just the words searched for.
_LEGACY_WORDS = re.compile(r"a search for “(.*?)”(?=$|, (?:themes|evidence type|setting): |, years )")
_LEGACY_FILTER = re.compile(r"(?:^|, )(themes|evidence type|setting): (.+?)(?=$|, (?:themes|evidence type|setting): "
                            r"|, years )|(?:^|, )years (\d{1,4}|…) to (\d{1,4}|…)$")


def _legacy_search(text: str) -> Search | None:
    """A format-1 phrase as data (None: references chosen one by one); a phrase it cannot read
    is taken as the words searched for, as format 1 printed it."""
    if text == "references chosen one by one":
        return None
    if text == "browsing the whole library":
        return Search()
    words = ""
    rest = text
    found = _LEGACY_WORDS.match(text)
    if found:
        words, rest = found.group(1), text[found.end():]
    values: dict[str, tuple[str, ...]] = {}
    years: tuple[int | None, int | None] = (None, None)
    position = 0
    for match in _LEGACY_FILTER.finditer(rest):
        if match.start() != position:
            break
        position = match.end()
        if match.group(1):
            values[match.group(1)] = (match.group(2),)
        else:
            years = tuple(None if y == "…" else int(y) for y in match.group(3, 4))  # type: ignore[assignment]
    if position != len(rest) or (not found and not rest):
        return Search(words=text)
    return Search(words=words, themes=values.get("themes", ()), evidence_types=values.get("evidence type", ()),
                  settings=values.get("setting", ()), year_from=years[0], year_to=years[1])


def _string_list(raw: object, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise PackFileInvalid(f"'{where}' must be a list of text, not {_kind(raw)}.")
    for value in raw:
        if not isinstance(value, str):
            raise PackFileInvalid(f"'{where}' must hold text only, not {_kind(value)}.")
        if len(value) > MAX_TEXT_CHARS:
            raise PackFileInvalid(f"An item of '{where}' is too long ({len(value):,} characters).")
    cleaned = (_NOT_TEXT.sub("", v).strip() for v in raw)
    return tuple(v for v in cleaned if v)


def _filters(raw: object, where: str) -> tuple[str, ...]:
    """Filters as written ("Evidence type: systematic review"), or as an object of name to value(s)."""
    if isinstance(raw, dict):
        items = []
        for name, value in raw.items():
            values = value if isinstance(value, list) else [value]
            texts = _string_list([v if isinstance(v, str) else str(v) for v in values
                                  if v is not None and not isinstance(v, (dict, list))],
                                 f"{where}.{name}")
            if texts:
                items.append(f"{name}: {', '.join(texts)}")
        return tuple(items)
    return _string_list(raw, where)
