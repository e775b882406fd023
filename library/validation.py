"""Checks on entries and on the whole collection; each problem names file, line, key and reason."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Iterable

from .bibtex import MAX_FIELD_LENGTH as BIBTEX_MAX_FIELD_LENGTH, Entry, split_list
from .errors import InvalidKey, Problem
from .records import bare_doi, normalise_doi
from .taxonomy import Vocabulary

# Fields each entry type must have; a tuple inside means "one of these".
REQUIRED: dict[str, tuple[str | tuple[str, ...], ...]] = {
    "article": (("author",), "title", ("journal", "journaltitle"), ("year", "date")),
    "book": (("author", "editor"), "title", ("year", "date")),
    "inbook": (("author", "editor"), "title", ("year", "date")),
    "incollection": (("author",), "title", "booktitle", ("year", "date")),
    "inproceedings": (("author",), "title", "booktitle", ("year", "date")),
    "conference": (("author",), "title", "booktitle", ("year", "date")),
    "phdthesis": (("author",), "title", ("school", "institution"), ("year", "date")),
    "mastersthesis": (("author",), "title", ("school", "institution"), ("year", "date")),
    "thesis": (("author",), "title", ("school", "institution"), ("year", "date")),
    "techreport": (("author", "institution"), "title", ("institution", "publisher"), ("year", "date")),
    "report": (("author", "institution"), "title", ("institution", "publisher"), ("year", "date")),
    "online": ("title", ("url", "doi")),
    "misc": ("title",),
    "unpublished": (("author",), "title"),
    "manual": ("title",),
    "booklet": ("title",),
    "proceedings": ("title", ("year", "date")),
    "collection": (("editor",), "title", ("year", "date")),
    "software": ("title",),
    "dataset": ("title",),
}
KNOWN_TYPES = frozenset(REQUIRED) | {"electronic", "www", "webpage", "patent", "periodical",
                                     "standard", "softwareversion", "codefragment", "article-journal"}

CONTAINER_FIELDS = frozenset({"journal", "journaltitle", "booktitle", "school", "publisher"})

# Anchored with \Z, not $: "$" lets a trailing newline through ("abc\n" as a key).
DOI_SYNTAX = re.compile(r"^10\.\d{4,9}/\S+\Z")
SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*\Z")
WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?\Z", re.IGNORECASE | re.DOTALL)
MAX_KEY_LENGTH = 100
# A field is a title, an abstract, a note: far below this.  Beyond it, indexing alone would hold
# up a save (and every search waiting for it) for many seconds.  (The parser applies the same
# limit to values that abbreviations expand.)
MAX_FIELD_LENGTH = BIBTEX_MAX_FIELD_LENGTH
FIRST_YEAR = 1500


def check_key(key: str) -> str:
    """The key if it is safe as a file name in the collection; `InvalidKey` says why not."""
    if not key:
        raise InvalidKey("The citation key is empty. Give the entry a key such as 'smith2020burnout'.")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"The citation key '{key[:40]}...' is too long ({len(key)} characters; "
                         f"the limit is {MAX_KEY_LENGTH}).")
    if not isinstance(key, str) or not SAFE_KEY.fullmatch(key) or ".." in key:
        shown = key.replace("\x00", "\\0")
        raise InvalidKey(f"The citation key '{shown}' cannot be used as a file name: use only letters, "
                         "digits, '-', '_', '.' and '+', starting with a letter or digit.")
    if WINDOWS_RESERVED.fullmatch(key):
        raise InvalidKey(f"The citation key '{key}' is a name Windows reserves; choose another key.")
    return key


def key_problem(key: str) -> str | None:
    try:
        check_key(key)
    except InvalidKey as error:
        return str(error)
    return None


def check_entry(entry: Entry, vocabulary: Vocabulary | None, *, this_year: int | None = None,
                for_collection: bool = True) -> list[Problem]:
    """Every problem with one entry.  `for_collection` adds the checks a saved reference must pass."""
    problems: list[Problem] = []

    def add(reason: str, severity: str = "error") -> None:
        problems.append(Problem(entry.source, entry.line, entry.key, reason, severity))

    this_year = this_year or dt.date.today().year
    reason = key_problem(entry.key)
    if reason:
        add(reason)
    for name, value in entry.fields.items():
        if len(value) > MAX_FIELD_LENGTH:
            add(f"the field '{name}' is {len(value):,} characters long; the limit is {MAX_FIELD_LENGTH:,}. "
                "Shorten it (an abstract is rarely over 5,000 characters).")
    if entry.type not in KNOWN_TYPES:
        add(f"'@{entry.type}' is not an entry type the library knows; it will be treated as '@misc'.",
            "warning")
    for requirement in REQUIRED.get(entry.type, REQUIRED["misc"]):
        names = (requirement,) if isinstance(requirement, str) else requirement
        if not any(entry.fields.get(n) or entry.persons.get(n) for n in names):
            if any(n in CONTAINER_FIELDS for n in names):
                # Better a reference without its journal than one completed from memory:
                # shown, so a librarian can add it once checked, but not a bar to saving.
                add(f"the field '{' or '.join(names)}' is missing for @{entry.type}; add it once checked.",
                    "warning")
            else:
                add(f"the required field '{' or '.join(names)}' is missing for @{entry.type}.")
    year_text = entry.fields.get("year", "")
    if year_text:
        match = re.fullmatch(r"\s*(\d{4})\s*", year_text)
        if not match:
            add(f"the year '{year_text}' is not a four-digit year.")
        elif not FIRST_YEAR <= int(match.group(1)) <= this_year + 1:
            add(f"the year {match.group(1)} is not plausible (expected {FIRST_YEAR} to {this_year + 1}).")
    url = entry.fields.get("url", "").strip()
    if url and not re.match(r"https?://", url, re.IGNORECASE):
        # Refused, not just left unlinked: a 'javascript:' or 'file:' address has no place in a reference.
        add(f"the link '{url[:80]}' is not a web address: it must start with https:// or http://. "
            "Correct it or remove the url field.")
    doi = entry.fields.get("doi", "")
    if doi and not DOI_SYNTAX.fullmatch(bare_doi(doi)):
        add(f"the DOI '{doi}' is not well formed (a DOI looks like 10.1016/S0749-3797(98)00017-8).")
    if vocabulary is not None:
        problems.extend(_check_project_fields(entry, vocabulary, add))
    if for_collection:
        for name in ("key-finding", "evidence-type"):
            if name in entry.fields and not entry.fields[name].strip():
                add(f"the field '{name}' is empty.")
    return problems


def _check_project_fields(entry: Entry, vocabulary: Vocabulary, add) -> list[Problem]:  # type: ignore[no-untyped-def]
    for theme in split_list(entry.fields.get("themes", "")):
        if theme not in vocabulary.theme_by_slug:
            add(f"unknown theme '{theme}' (not in {vocabulary.source}); use a theme from the vocabulary "
                "or add it there first.")
    evidence = entry.fields.get("evidence-type", "").strip()
    if evidence and evidence not in vocabulary.evidence_type_by_slug:
        known = ", ".join(vocabulary.evidence_type_by_slug)
        add(f"unknown evidence type '{evidence}'; use one of: {known}.")
    for setting in split_list(entry.fields.get("setting", "")):
        if setting not in vocabulary.setting_by_slug:
            known = ", ".join(vocabulary.setting_by_slug)
            add(f"unknown setting '{setting}'; use one of: {known}.")
    checked = entry.fields.get("finding-checked", "").strip().lower()
    if checked and checked not in ("yes", "no"):
        add(f"'finding-checked' must be 'yes' or 'no', not '{checked}'.")
    added = entry.fields.get("added", "").strip()
    if added:
        try:
            dt.date.fromisoformat(added)
        except ValueError:
            add(f"'added' must be a date written YYYY-MM-DD, not '{added}'.")
    return []


@dataclass(frozen=True)
class CollectionReport:
    """What `check` found: how many references, and every problem."""

    count: int
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")

    @property
    def ok(self) -> bool:
        return not self.errors


def check_collection(entries: Iterable[Entry], vocabulary: Vocabulary) -> list[Problem]:
    """Problems across entries: the same key twice (in any case) and the same DOI twice."""
    problems: list[Problem] = []
    keys: dict[str, Entry] = {}
    dois: dict[str, Entry] = {}
    for entry in entries:
        problems.extend(check_entry(entry, vocabulary))
        folded = entry.key.casefold()
        if folded in keys:
            problems.append(Problem(entry.source, entry.line, entry.key,
                                    f"the key is also used by {keys[folded].source}; keys must be unique."))
        else:
            keys[folded] = entry
        doi = entry.fields.get("doi")
        if doi:
            normal = normalise_doi(doi)
            if normal in dois:
                other = dois[normal]
                problems.append(Problem(entry.source, entry.line, entry.key,
                                        f"the DOI {bare_doi(doi)} is also on '{other.key}' ({other.source}); "
                                        "this looks like a duplicate reference."))
            else:
                dois[normal] = entry
    return problems
