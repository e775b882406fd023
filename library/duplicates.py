"""Is this reference already in the collection?  Same DOI first, then a fuzzy match on title,
year and first author, with the reason shown to the librarian."""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from whoosh import query as wq

from . import latex
from .bibtex import Entry, split_list
from .records import Record, normalise_doi

Certainty = Literal["same DOI", "likely", "possible"]
TITLE_SIMILARITY = 0.92
MAX_CANDIDATES = 20


@dataclass(frozen=True)
class Match:
    key: str
    title: str
    year: int | None
    authors: str
    doi: str
    certainty: Certainty
    reason: str


def normalise_title(title: str) -> str:
    """Lower case, accents and punctuation removed: 'The ACE Study!' -> 'the ace study'."""
    text = unicodedata.normalize("NFKD", latex.decode(title)).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9]+", " ", text.lower())).strip()


def title_similarity(a: str, b: str) -> float:
    a, b = normalise_title(a), normalise_title(b)
    if not a or not b:
        return 0.0
    return difflib.SequenceMatcher(None, a, b).ratio()


@dataclass(frozen=True)
class Likeness:
    """What two references share, as the duplicate check judges it: a title at least
    `TITLE_SIMILARITY` alike, the same year, the same first author's family name (a detail
    one of them lacks counts as the same)."""

    title: bool
    year: bool
    first_author: bool


def likeness(title: str, year: int | None, family: str,
             other_title: str, other_year: int | None, other_family: str) -> Likeness:
    """How alike two references are (`family`: the first author's, as `normalise_title` gives it)."""
    return Likeness(
        title=title_similarity(title, other_title) >= TITLE_SIMILARITY,
        year=year is None or other_year in (None, year),
        first_author=not family or not other_family or family == other_family,
    )


def same_work(saved: Record, current: Record) -> bool:
    """Whether two records are one work, possibly corrected since: always with the same DOI; with two
    different DOIs, only when the title and the first author match as the duplicate check matches them
    (a corrected DOI); else when the titles match and so does the year or the first author (a
    corrected year or first author).  Records with no title to compare are taken as the same work."""
    if saved.doi and current.doi and normalise_doi(saved.doi) == normalise_doi(current.doi):
        return True
    if not normalise_title(saved.title) or not normalise_title(current.title):
        return not (saved.doi and current.doi)
    alike = likeness(saved.title, saved.year, _first_family(saved),
                     current.title, current.year, _first_family(current))
    if saved.doi and current.doi:
        return alike.title and alike.first_author
    return alike.title and (alike.year or alike.first_author)


def _first_family(record: Record) -> str:
    return normalise_title(record.creators[0].full_family) if record.creators else ""


def _family(authors_display: str) -> str:
    first = authors_display.split(";")[0]
    return normalise_title(first.split(",")[0])


def find_duplicates(entry: Entry, searcher, *, exclude_key: str | None = None) -> list[Match]:  # type: ignore[no-untyped-def]
    """Possible copies of `entry` in an index searcher's collection, most certain first."""
    record = Record.from_entry(entry)
    matches: dict[str, Match] = {}
    if record.doi:
        doi = normalise_doi(record.doi)
        prefix = doi.split("/", 1)[0]
        for docnum in searcher.docs_for_query(wq.Prefix("doi", prefix)) if "/" in doi else []:
            stored = searcher.stored_fields(docnum)
            if normalise_doi(stored.get("doi", "")) == doi and stored["key"] != exclude_key:
                matches[stored["key"]] = _match(stored, "same DOI", f"has the same DOI ({record.doi})")
        # A DOI written in another case is the same DOI; Whoosh IDs are case-sensitive.
        for candidate in {record.doi, record.doi.upper(), record.doi.lower()}:
            for docnum in searcher.docs_for_query(wq.Term("doi", candidate)):
                stored = searcher.stored_fields(docnum)
                if stored["key"] != exclude_key:
                    matches.setdefault(stored["key"], _match(stored, "same DOI", f"has the same DOI ({record.doi})"))
    words = [w for w in normalise_title(record.title).split() if len(w) > 2][:12]
    if words:
        results = searcher.search(wq.Or([wq.Term("title_x", w) for w in words]), limit=MAX_CANDIDATES)
        # The whole family name, particle included ("van der Kolk"), as the card's author line has it.
        family = _first_family(record)
        for hit in results:
            stored = hit.fields()
            key = stored["key"]
            if key in matches or key == exclude_key:
                continue
            alike = likeness(record.title, record.year, family,
                             stored.get("title", ""), stored.get("year"), _family(stored.get("authors", "")))
            if not alike.title:
                continue
            if alike.year and alike.first_author:
                matches[key] = _match(stored, "likely", "has the same title, year and first author")
            else:
                why = "a different year" if not alike.year else "a different first author"
                matches[key] = _match(stored, "possible",
                                      f"has the same title but {why}: perhaps another edition or version")
    order = {"same DOI": 0, "likely": 1, "possible": 2}
    return sorted(matches.values(), key=lambda m: order[m.certainty])


def _match(stored: dict, certainty: Certainty, reason: str) -> Match:
    return Match(stored["key"], stored.get("title", ""), stored.get("year"), stored.get("authors", ""),
                 stored.get("doi", ""), certainty, reason)


def merge_entries(existing: Entry, incoming: Entry) -> Entry:
    """The existing reference with the incoming one's extra details: nothing already there is overwritten;
    themes, settings and countries are combined."""
    fields = dict(existing.fields)
    for name, value in incoming.fields.items():
        if name in ("themes", "setting", "country"):
            combined = list(dict.fromkeys(split_list(fields.get(name, "")) + split_list(value)))
            fields[name] = ", ".join(combined)
        elif not fields.get(name):
            fields[name] = value
    persons = dict(existing.persons)
    for role, names in incoming.persons.items():
        persons.setdefault(role, names)
    return Entry(existing.key, existing.type, fields, persons, existing.source, existing.line)
