"""A reference as the rest of the library sees it: decoded, typed, read-only.

`Record.from_entry` turns a BibTeX `Entry` (LaTeX kept as written) into plain
Unicode fields for display, indexing, citations and exports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from pybtex.database import Person
from pybtex.exceptions import PybtexError

from . import latex
from .bibtex import Entry, split_list

_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|2[01]\d\d)(?!\d)")
_DOI_PREFIX = re.compile(r"^\s*(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)


@dataclass(frozen=True)
class Name:
    """One person or organisation, decoded to Unicode."""

    family: str
    given: str = ""
    particle: str = ""  # "van", "de la"...
    suffix: str = ""  # "Jr"...
    literal: bool = False  # an organisation written in braces, e.g. {World Health Organization}

    @classmethod
    def parse(cls, raw: str) -> "Name":
        stripped = raw.strip()
        if stripped.startswith("{") and stripped.endswith("}") and _balanced_outer(stripped):
            return cls(family=latex.decode(stripped[1:-1]), literal=True)
        try:
            person = Person(stripped)
        except PybtexError:
            return cls(family=latex.decode(stripped), literal=True)
        given = " ".join(person.first_names + person.middle_names)
        return cls(
            family=latex.decode(" ".join(person.last_names)),
            given=latex.decode(given),
            particle=latex.decode(" ".join(person.prelast_names)),
            suffix=latex.decode(" ".join(person.lineage_names)),
        )

    @property
    def is_others(self) -> bool:
        """BibTeX's "and others": not a person but a mark that the list goes on ("et al.")."""
        return self == _OTHERS

    @property
    def full_family(self) -> str:
        return f"{self.particle} {self.family}".strip()

    def initials(self, separator: str = " ") -> str:
        """'Vincent J.' -> 'V. J.'; hyphenated given names keep the hyphen ('J.-P.')."""
        parts = []
        for word in self.given.split():
            pieces = [p for p in word.split("-") if p]
            parts.append("-".join(p[0] + "." for p in pieces))
        return separator.join(parts)

    def display(self) -> str:
        """'Felitti, V. J.' style, or the organisation's name."""
        if self.literal or not self.given:
            return self.full_family
        suffix = f", {self.suffix}" if self.suffix else ""
        return f"{self.full_family}, {self.initials()}{suffix}"

    def natural(self) -> str:
        """'Vincent J. Felitti' style."""
        if self.literal:
            return self.family
        return " ".join(p for p in (self.given, self.particle, self.family, self.suffix) if p)


_OTHERS = Name(family="others")


def people(names: Iterable[Name]) -> tuple[Name, ...]:
    """The names that are people or organisations: BibTeX's "and others" left out.

    For formats with no "et al." of their own (RIS, CSL-JSON), where "others"
    would be read as a person of that name.
    """
    return tuple(n for n in names if not n.is_others)


def names_line(names: Sequence[Name], limit: int | None = None) -> str:
    """'Varese, F.; Smeets, F. et al.': the names as a reader sees them, at most `limit` of them.

    "et al." ends the line when BibTeX's "and others" says the list goes on, or
    when names beyond `limit` are left out; "others" is never shown as a name.
    """
    shown = people(names)
    more = len(shown) < len(names) or (limit is not None and len(shown) > limit)
    line = "; ".join(n.display() for n in shown[:limit])
    if more:
        return f"{line} et al." if line else "et al."
    return line


def _balanced_outer(text: str) -> bool:
    """True when the first brace closes at the very end ({A and B} yes, {A} and {B} no)."""
    depth = 0
    for index, char in enumerate(text):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0 and index != len(text) - 1:
                return False
    return depth == 0


def bare_doi(value: str) -> str:
    """The DOI alone, case kept: 'https://doi.org/10.1/ABC' -> '10.1/ABC'."""
    return _DOI_PREFIX.sub("", value.strip()).strip()


def normalise_doi(value: str) -> str:
    """The DOI for comparison (DOIs ignore case): 'https://doi.org/10.1/ABC' -> '10.1/abc'."""
    return bare_doi(value).lower()


def year_of(value: str) -> int | None:
    match = _YEAR.search(value or "")
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Record:
    key: str
    type: str
    title: str
    authors: tuple[Name, ...] = ()
    editors: tuple[Name, ...] = ()
    year: int | None = None
    venue: str = ""  # journal, book title, publisher, school or institution: where it appeared
    doi: str = ""
    url: str = ""
    abstract: str = ""
    keywords: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    evidence_type: str = ""
    settings: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    key_finding: str = ""
    finding_checked: bool = False
    provenance: str = ""
    added: str = ""
    added_by: str = ""
    fields: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    entry: Entry | None = field(default=None, hash=False, compare=False, repr=False)
    # A fingerprint of the file it was read from (Library.get); editors send it back with
    # their changes so that a save over someone else's newer change is refused.
    version: str = field(default="", compare=False)

    @classmethod
    def from_entry(cls, entry: Entry) -> "Record":
        get = entry.fields.get
        decoded = {name: latex.decode(value) for name, value in entry.fields.items()
                   if name not in ("url", "doi", "file")}
        decoded["url"] = get("url", "").strip()
        decoded["doi"] = get("doi", "").strip()
        venue = (decoded.get("journal") or decoded.get("journaltitle") or decoded.get("booktitle")
                 or decoded.get("school") or decoded.get("institution")
                 or decoded.get("organization") or decoded.get("publisher") or "")
        authors = tuple(Name.parse(n) for n in entry.persons.get("author", ()))
        editors = tuple(Name.parse(n) for n in entry.persons.get("editor", ()))
        return cls(
            key=entry.key,
            type=entry.type,
            title=decoded.get("title", ""),
            authors=authors,
            editors=editors,
            year=year_of(get("year", "") or get("date", "")),
            venue=venue,
            doi=bare_doi(get("doi", "")),
            url=decoded["url"],
            abstract=decoded.get("abstract", ""),
            keywords=split_list(decoded.get("keywords", "")),
            themes=split_list(get("themes", "")),
            evidence_type=get("evidence-type", "").strip(),
            settings=split_list(get("setting", "")),
            countries=split_list(decoded.get("country", "")),
            key_finding=decoded.get("key-finding", ""),
            finding_checked=get("finding-checked", "").strip().lower() in ("yes", "true", "1"),
            provenance=decoded.get("provenance", ""),
            added=get("added", "").strip(),
            added_by=decoded.get("added-by", ""),
            fields=decoded,
            entry=entry,
        )

    @property
    def creators(self) -> tuple[Name, ...]:
        return self.authors or self.editors

    def author_line(self, limit: int = 3) -> str:
        """'Felitti, V. J.; Anda, R. F.; Nordenberg, D. et al.' for result cards."""
        return names_line(self.creators, limit)

    @property
    def doi_url(self) -> str:
        return f"https://doi.org/{self.doi}" if self.doi else ""
