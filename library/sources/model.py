"""What a literature search asks for and what it brings back, whichever service answers.

A `Query` is what the librarian typed and chose; a `Candidate` is one work a
service found, as plain text (markup removed, lengths bounded, links checked:
see `library.sources.markup`); a `Page` is one answer with the total the
service reported and, where it offers one, the cursor for the next page.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import asdict, dataclass, replace
from typing import Any

from ..errors import ScreeningError

SOURCE_LABELS = {"openalex": "OpenAlex", "europepmc": "Europe PMC", "pubmed": "PubMed", "crossref": "Crossref"}
TYPES = ("any", "review", "article")
TYPE_LABELS = {"any": "any kind", "review": "reviews only", "article": "articles other than reviews"}
SORTS = ("relevance", "newest")
DEFAULT_LIMIT = 25
MAX_LIMIT = 200
MAX_QUERY_LENGTH = 500
FIRST_YEAR = 1900

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Query:
    """A discovery search: what to look for, where, and how much."""

    text: str
    source: str = "openalex"
    since: int | None = None  # publication year from which to search
    type: str = "any"  # review | article | any
    limit: int = DEFAULT_LIMIT
    sort: str = "relevance"  # relevance | newest

    def checked(self, *, this_year: int | None = None) -> "Query":
        """The query with its text tidied, or `ScreeningError` saying what to change."""
        text = _SPACES.sub(" ", _CONTROL.sub(" ", self.text or "")).strip()
        if not text:
            raise ScreeningError("Type what to search for, e.g. trauma-informed care staff burnout.")
        if len(text) > MAX_QUERY_LENGTH:
            raise ScreeningError(f"The search is {len(text):,} characters long; the limit is "
                                 f"{MAX_QUERY_LENGTH}. Use fewer words.")
        if self.source not in SOURCE_LABELS:
            raise ScreeningError(f"'{self.source}' is not a source; choose one of: {', '.join(SOURCE_LABELS)}.")
        if self.type not in TYPES:
            raise ScreeningError(f"'{self.type}' is not a kind of work to search for; choose one of: "
                                 f"{', '.join(TYPES)}.")
        if self.sort not in SORTS:
            raise ScreeningError(f"'{self.sort}' is not a sort order; choose one of: {', '.join(SORTS)}.")
        last_year = (this_year or dt.date.today().year) + 1
        if self.since is not None and not FIRST_YEAR <= self.since <= last_year:
            raise ScreeningError(f"The year to search from must be between {FIRST_YEAR} and {last_year}, "
                                 f"not {self.since}.")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ScreeningError(f"Ask for between 1 and {MAX_LIMIT} results at a time, not {self.limit}.")
        return replace(self, text=text)

    def describe(self) -> str:
        """How the search reads in provenance and in the screening record."""
        parts = [f"{SOURCE_LABELS.get(self.source, self.source)} search for “{self.text}”"]
        filters = []
        if self.since:
            filters.append(f"published {self.since} or later")
        if self.type != "any":
            filters.append(TYPE_LABELS[self.type])
        if filters:
            parts.append(f"({', '.join(filters)})")
        return " ".join(parts)


@dataclass(frozen=True)
class Author:
    """One author as the service gave it: a display name, split into parts where the service splits it."""

    name: str
    family: str = ""
    given: str = ""
    suffix: str = ""  # "Jr"
    organisation: bool = False


@dataclass(frozen=True)
class Candidate:
    """One work a service found, in plain text, ready to be shown, screened and imported."""

    source: str  # openalex | europepmc | pubmed | crossref
    source_id: str  # the service's own identifier (W2741809807, MED:39709209, 36987902, a DOI)
    title: str
    authors: tuple[Author, ...] = ()
    more_authors: bool = False  # the list was cut (very long author lists)
    year: int | None = None
    venue: str = ""  # journal, book, repository...
    doi: str = ""  # bare DOI, case kept
    pmid: str = ""
    abstract: str = ""  # the publisher's abstract as plain text; sections separated by blank lines
    oa_url: str = ""  # where it can be read free of charge (http(s) only), if the service says
    cited_by: int | None = None
    kind: str = "article"  # the BibTeX entry type it would be imported as
    publication_type: str = ""  # what the service calls it: "review", "Journal Article; Review"...
    volume: str = ""
    issue: str = ""
    pages: str = ""
    url: str = ""  # the record's page at the service (http(s) only)

    @property
    def id(self) -> str:
        """One identity across services: the DOI, else the PMID, else the service's own id."""
        if self.doi:
            return "doi:" + self.doi.lower()
        if self.pmid:
            return "pmid:" + self.pmid
        return f"{self.source}:{self.source_id}" if self.source_id else "title:" + self.title_key

    @property
    def title_key(self) -> str:
        """Title, year and first author's family name, normalised: how screening recognises a work
        that has no DOI or PMID, whichever service found it."""
        return title_key(self.title, self.year, self.first_family)

    @property
    def first_family(self) -> str:
        if not self.authors:
            return ""
        first = self.authors[0]
        if first.family:
            return first.family
        return first.name.split()[-1] if first.name.split() and not first.organisation else first.name

    @property
    def author_names(self) -> list[str]:
        names = [a.name for a in self.authors]
        return names + ["et al."] if self.more_authors else names

    def author_line(self, limit: int = 3) -> str:
        names = [a.name for a in self.authors]
        if len(names) > limit or self.more_authors:
            return ", ".join(names[:limit]) + " et al."
        return ", ".join(names)

    @property
    def doi_url(self) -> str:
        return f"https://doi.org/{self.doi}" if self.doi else ""

    @property
    def pubmed_url(self) -> str:
        return f"https://pubmed.ncbi.nlm.nih.gov/{self.pmid}/" if self.pmid else ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["authors"] = [asdict(a) for a in self.authors]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Candidate":
        """A candidate stored earlier (the screening database keeps what each search found)."""
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        values["authors"] = tuple(Author(**{k: v for k, v in a.items() if k in Author.__dataclass_fields__})
                                  for a in data.get("authors", ()) if isinstance(a, dict))
        return cls(**values)


@dataclass(frozen=True)
class Page:
    """One answer from a service."""

    total: int  # how many works the service says match
    candidates: tuple[Candidate, ...]
    next_cursor: str | None = None  # where the next page starts, when there is one
    notice: str = ""  # what the service said about the query (a phrase it could not find...)


def title_key(title: str, year: int | None, family: str) -> str:
    """'the ace study|1998|felitti': lower case, accents and punctuation removed, bounded."""
    return f"{_fold(title)[:300]}|{year or ''}|{_fold(family)[:60]}"


def _fold(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode("ascii")
    if not ascii_text.strip() and text:
        ascii_text = text.casefold()  # titles in scripts with no ASCII form keep their own letters
    return _SPACES.sub(" ", re.sub(r"[^\w]+", " ", ascii_text.lower())).strip()
