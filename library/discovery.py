"""Grow the collection: search public services for new research, screen it, import what is included.

`Discovery(library)` runs a `Query` against one service (`library.sources`),
marks each work found as already in the collection (same DOI, same PMID, or the
same title, year and first author) or as screened before (`library.screening`),
and leaves out works excluded earlier.  Saved searches re-run to show only what
they have not shown before, and keep a count of new works with its time.

Including a work imports it through the normal path: `import_candidate` turns
the candidate into a BibTeX `Entry` (`entry_for`) and hands it to
`Library.add_entries`, which validates it and refuses duplicates.

Statuses, as the command line's JSON and the app show them:
  "new"            not in the collection and never screened
  "in collection"  a reference in the collection has its DOI or PMID, or its title, year and first author
  "included"       screened in (and imported; the reference may since have been removed)
  "excluded"       screened out, with a reason (left out of results unless asked for)
  "maybe"          screened as a maybe: to look at again
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import latex
from .bibtex import Entry, make_key, protect_name_part
from .errors import LibraryError, Problem, ScreeningError
from .holdings import Holdings, holdings_of
from .records import Record
from .screening import Decision, SavedSearch, ScreeningStore
from .screening_session import ScreeningSession, ScreeningSessions
from .sources import open_source
from .sources.model import SOURCE_LABELS, Author, Candidate, Query
from .validation import MAX_FIELD_LENGTH

if TYPE_CHECKING:
    from .api import Library

STATUSES = ("new", "in collection", "included", "excluded", "maybe")
WATCH_MAX_AGE = dt.timedelta(hours=24)  # how stale a saved search's count may get before the app checks it
CONTAINER_FIELDS = {"article": "journal", "incollection": "booktitle", "inproceedings": "booktitle",
                    "phdthesis": "school", "techreport": "institution", "book": "publisher",
                    "misc": "howpublished"}
_AND = re.compile(r"\band\b", re.IGNORECASE)


@dataclass(frozen=True)
class Found:
    """A work a search found, with what the library already knows about it."""

    candidate: Candidate
    status: str  # one of STATUSES
    reference_key: str = ""  # the reference it matches, or the one it was imported as
    matched_by: str = ""  # how it is in the collection: "same DOI", "same PMID", "same title, year and first author"
    decision: Decision | None = None

    @property
    def reason(self) -> str:
        return self.decision.reason if self.decision else ""

    def to_json(self) -> dict[str, object]:
        c = self.candidate
        return {"title": c.title, "authors": [a.name for a in c.authors], "year": c.year, "venue": c.venue,
                "doi": c.doi or None, "pmid": c.pmid or None, "abstract": c.abstract or None,
                "oa_url": c.oa_url or None, "cited_by": c.cited_by, "status": self.status}


@dataclass(frozen=True)
class DiscoveryResult:
    query: Query
    total: int  # how many works the service says match
    items: tuple[Found, ...]  # what to show
    hidden: tuple[Found, ...] = ()  # excluded earlier, left out
    next_cursor: str | None = None  # where more results start, when there are more
    notice: str = ""  # what the service said about the query
    saved_search: str = ""
    already_shown: int = 0  # a saved search's re-run: works left out because it showed them before

    def to_json(self) -> dict[str, object]:
        return {"source": self.query.source, "query": self.query.text, "total": self.total,
                "candidates": [f.to_json() for f in self.items]}

    def counts(self) -> dict[str, int]:
        counts = {status: 0 for status in STATUSES}
        for found in self.items + self.hidden:
            counts[found.status] += 1
        return counts


@dataclass(frozen=True)
class Screened:
    """What a screening decision did."""

    decision: Decision
    reference_key: str = ""  # the new reference's key, for an included work
    warnings: tuple[Problem, ...] = ()


class Discovery:
    """Discovery and screening over one library; cheap to make (one per request or command)."""

    def __init__(self, library: "Library", *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, backoff_base: float = 1.0,
                 today: Callable[[], dt.date] = dt.date.today,
                 now: Callable[[], dt.datetime] | None = None) -> None:
        self.library = library
        self._source_options = {"sleep": sleep, "clock": clock, "backoff_base": backoff_base}
        self._today = today
        self._now = now or (lambda: dt.datetime.now(dt.timezone.utc))
        self.store = ScreeningStore(library.database, now=self._now)
        self.sessions = ScreeningSessions(library.database, now=self._now)

    # ------------------------------------------------------------ searching
    def search(self, query: Query, *, cursor: str | None = None, show_excluded: bool = False,
               saved_search: str = "") -> DiscoveryResult:
        """Run the query against its service; every work comes back marked with its status."""
        query = query.checked()
        with open_source(query.source, self.library.settings, **self._source_options) as source:
            page = source.fetch(query, cursor=cursor)
        self.store.remember(page.candidates, found_by=query.describe())
        found = self.classify(page.candidates)
        shown = tuple(f for f in found if show_excluded or f.status != "excluded")
        hidden = tuple(f for f in found if not show_excluded and f.status == "excluded")
        return DiscoveryResult(query, page.total, shown, hidden, page.next_cursor, page.notice, saved_search)

    def result_of(self, session: ScreeningSession) -> DiscoveryResult:
        """A screening list's works as a result, each with its status as it is now (decided in
        another tab, or added to the collection since, shows too)."""
        found = self.classify(session.works + session.hidden)
        split = len(session.works)
        return DiscoveryResult(session.query, session.total, tuple(found[:split]), tuple(found[split:]),
                               session.next_cursor, session.notice, session.saved_search, session.already_shown)

    def classify(self, candidates: Sequence[Candidate]) -> list[Found]:
        """Each candidate with its status: in the collection first, then its screening decision."""
        decisions = self.store.decisions_for(candidates)
        holdings = holdings_of(self.library)
        out = []
        for candidate in candidates:
            decision = decisions.get(candidate.id)
            hit = self.in_collection(candidate, holdings)
            if hit is not None:
                out.append(Found(candidate, "in collection", hit[0], hit[1], decision))
            elif decision is not None:
                out.append(Found(candidate, decision.decision, decision.reference_key, "", decision))
            else:
                out.append(Found(candidate, "new"))
        return out

    def in_collection(self, candidate: Candidate, holdings: Holdings | None = None) -> tuple[str, str] | None:
        """(key, how) of the reference this work already is, or None."""
        # Title, year and first author as the collection would hold them once imported.
        probe = Record.from_entry(entry_for(candidate, found_by="", found_on=self._today()))
        family = probe.creators[0].full_family if probe.creators else ""
        return (holdings or holdings_of(self.library)).match(
            doi=candidate.doi, pmid=candidate.pmid, title=probe.title, year=probe.year, family=family)

    # ------------------------------------------------------------ screening
    def decide(self, candidate: Candidate, decision: str, *, who: str, reason: str = "",
               themes: Sequence[str] = (), evidence_type: str = "", settings: Sequence[str] = (),
               query: Query | None = None, saved_search: str = "") -> Screened:
        """Include (import it), exclude (with a reason) or maybe; the decision is kept."""
        found_by = query.describe() if query is not None else self.store.found_by(candidate)
        if decision != "included":
            return Screened(self.store.decide(candidate, decision, who=who, reason=reason, query=found_by,
                                              saved_search=saved_search))
        hit = self.in_collection(candidate)
        if hit is not None:
            raise ScreeningError(f"This work is already in the collection as '{hit[0]}' (it has the {hit[1]}); "
                                 "nothing was added.")
        key, warnings = import_candidate(self.library, candidate, who=who, found_by=found_by,
                                         found_on=self._today(), themes=themes, evidence_type=evidence_type,
                                         settings=settings)
        try:
            recorded = self.store.decide(candidate, "included", who=who, reference_key=key, query=found_by,
                                         saved_search=saved_search)
        except LibraryError as error:
            raise ScreeningError(f"Added '{key}' to the collection, but the screening decision could not be "
                                 f"recorded ({error}). Include it again later to record the decision.") from None
        return Screened(recorded, key, warnings)

    def undo(self, candidate: Candidate) -> bool:
        """Forget a decision (an included work stays in the collection)."""
        return self.store.undo(candidate)

    # ------------------------------------------------------------ saved searches
    def save_search(self, name: str, result: DiscoveryResult, *, who: str) -> SavedSearch:
        """Follow this search by name; what it showed now counts as seen."""
        saved = self.store.save_search(name, result.query, who=who)
        self.store.mark_seen(saved.name, [f.candidate.id for f in result.items + result.hidden])
        return self.store.saved(saved.name)

    def run_saved(self, name: str, *, show_excluded: bool = False, mark_seen: bool = True) -> DiscoveryResult:
        """Re-run a saved search (newest first), keeping only the works it has not shown before."""
        saved = self.store.saved(name)
        result = self.search(saved.query, show_excluded=show_excluded, saved_search=saved.name)
        seen = self.store.seen(saved.name)
        fresh = tuple(f for f in result.items if f.candidate.id not in seen)
        hidden = tuple(f for f in result.hidden if f.candidate.id not in seen)
        if mark_seen:
            self.store.mark_seen(saved.name, [f.candidate.id for f in result.items + result.hidden])
        return DiscoveryResult(result.query, result.total, fresh, hidden, result.next_cursor, result.notice,
                               saved.name, already_shown=len(result.items) - len(fresh))

    def check_saved(self, *, max_age: dt.timedelta | None = None,
                    names: Sequence[str] | None = None) -> list[SavedSearch]:
        """Count each saved search's new works (those it has not shown and nobody has screened).

        With `max_age`, only searches checked longer ago than that (or never) are asked again;
        a failure is kept as the search's message and the old count stays.
        """
        now = self._now()
        for saved in self.store.saved_searches():
            if names is not None and saved.name not in names:
                continue
            if max_age is not None and saved.checked_at is not None and now - saved.checked_at < max_age:
                continue
            try:
                result = self.search(saved.query, saved_search=saved.name)
            except LibraryError as error:
                self.store.record_check(saved.name, saved.new_count, str(error))
                continue
            seen = self.store.seen(saved.name)
            count = sum(1 for f in result.items if f.status == "new" and f.candidate.id not in seen)
            self.store.record_check(saved.name, count)
        return self.store.saved_searches()

    def stale_searches(self, max_age: dt.timedelta = WATCH_MAX_AGE) -> list[SavedSearch]:
        now = self._now()
        return [s for s in self.store.saved_searches() if s.checked_at is None or now - s.checked_at >= max_age]


# ------------------------------------------------------------------ a candidate as a reference


def entry_for(candidate: Candidate, *, found_by: str, found_on: dt.date, themes: Sequence[str] = (),
              evidence_type: str = "", settings: Sequence[str] = (),
              taken: Callable[[str], bool] = lambda key: False) -> Entry:
    """The BibTeX entry an included candidate becomes: free text escaped for BibTeX, the abstract
    kept, the key finding still to be written and checked, and where it came from."""
    persons: dict[str, tuple[str, ...]] = {}
    names = tuple(_bibtex_name(a) for a in candidate.authors if a.name)
    if names:
        persons["author"] = names + (("others",) if candidate.more_authors else ())
    fields: dict[str, str] = {}

    def put(name: str, value: str) -> None:
        if value:
            fields[name] = value

    put("title", latex.encode(candidate.title))
    put(CONTAINER_FIELDS.get(candidate.kind, "howpublished"), latex.encode(candidate.venue))
    put("year", str(candidate.year) if candidate.year else "")
    put("volume", latex.encode(candidate.volume))
    put("number", latex.encode(candidate.issue))
    put("pages", latex.encode(candidate.pages))
    put("doi", candidate.doi)
    put("pmid", candidate.pmid)
    if not candidate.doi:
        put("url", _braceless(candidate.oa_url or candidate.url))
    if candidate.kind == "misc" and "preprint" in candidate.publication_type.lower():
        put("note", "Preprint")
    put("abstract", fit_abstract(candidate.abstract))
    put("themes", ", ".join(themes))
    put("evidence-type", evidence_type)
    put("setting", ", ".join(settings))
    put("finding-checked", "no")
    label = SOURCE_LABELS.get(candidate.source, candidate.source)
    record = f"{label} record {candidate.source_id}" if candidate.source_id else f"a {label} record"
    provenance = f"{found_by}, {found_on.isoformat()}; details from {record}" if found_by else \
        f"Details from {record}, {found_on.isoformat()}"
    put("provenance", latex.encode(provenance))
    put("added", found_on.isoformat())
    key = make_key(persons, fields)
    if taken(key):
        for suffix in "bcdefghijklmnopqrstuvwxyz":
            if not taken(key + suffix):
                key += suffix
                break
        else:
            key += found_on.strftime("%Y%m%d")
    return Entry(key, candidate.kind, fields, persons, source=f"{label} ({candidate.id})", line=None)


def import_candidate(library: "Library", candidate: Candidate, *, who: str, found_by: str, found_on: dt.date,
                     themes: Sequence[str] = (), evidence_type: str = "",
                     settings: Sequence[str] = ()) -> tuple[str, tuple[Problem, ...]]:
    """Add an included candidate to the collection through the normal import path (validation,
    duplicate check, one file written atomically, index updated); returns its key and any warnings.

    The one place where screening writes to the collection.
    """
    entry = entry_for(candidate, found_by=found_by, found_on=found_on, themes=themes,
                      evidence_type=evidence_type, settings=settings,
                      taken=lambda key: library.collection.path_for(key).exists())
    result = library.add_entries([entry], who=who)
    (key,) = result.added
    saved = library.collection.read(key)  # the bytes on disk, parsed again
    differ = sorted(name for name, value in entry.fields.items() if saved.fields.get(name) != value)
    if differ or saved.persons != entry.persons:
        raise ScreeningError(f"'{key}' was written, but it does not read back as the work that was included "
                             f"({', '.join(differ) or 'the authors'} differ). Check {library.collection.path_for(key)}.")
    return key, result.problems


def fit_abstract(text: str, limit: int = MAX_FIELD_LENGTH) -> str:
    """The abstract on one line, escaped for BibTeX, cut (at a word, with an ellipsis) to fit the field limit."""
    plain = " ".join(text.split())
    encoded = latex.encode(plain)
    while len(encoded) > limit:
        plain = plain[: max(0, len(plain) - (len(encoded) - limit) - 2)].rsplit(" ", 1)[0] + " …"
        encoded = latex.encode(plain)
    return encoded


def _bibtex_name(author: Author) -> str:
    if author.organisation:
        return "{" + latex.encode(author.name) + "}"
    if author.family:
        parts = [protect_name_part(latex.encode(author.family))]
        if author.suffix:
            parts.append(protect_name_part(latex.encode(author.suffix)))
        if author.given:
            parts.append(protect_name_part(latex.encode(author.given)))
        return ", ".join(parts)
    # Only a display name ("Vincent Larivière"): BibTeX takes its last word as the family name.
    name = latex.encode(author.name)
    return "{" + name + "}" if "," in name or _AND.search(name) else name


def _braceless(url: str) -> str:
    return url.replace("{", "%7B").replace("}", "%7D")
