"""Searching the index: query syntax, filters, facet counts, sorting, pages and snippets.

Free text uses Whoosh's syntax (AND/OR/NOT, "phrases", `author:`, `title:`,
`theme:`, `year:[2015 TO 2020]`, `trainin*`, `traning~`), with AND between
words and title weighted above key finding above abstract.  A query that
cannot be read never fails: it falls back to its plain words and says so.
Everything a result card shows comes from the index; no BibTeX is read.
"""

from __future__ import annotations

import copy
import html
import re
import time
from collections import Counter
from itertools import chain
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from whoosh import highlight, query as wq
from whoosh.qparser import (AndGroup, FieldAliasPlugin, FuzzyTermPlugin, GtLtPlugin,
                            MultifieldParser)

from . import ranking
from .index import _PLAIN, _STEMMED as _STEMMER, SCHEMA, TEXT_FIELDS, SearchIndex

Sort = Literal["relevance", "newest", "oldest"]
SORTS: tuple[str, ...] = ("relevance", "newest", "oldest")
MAX_QUERY_LENGTH = 1000
MAX_PER_PAGE = 100

SEARCH_FIELDS = ("title", "authors", "finding", "abstract", "keywords", "venue")
FIELD_BOOSTS = {"title": 3.0, "authors": 1.5, "finding": 2.0, "abstract": 1.0, "keywords": 1.5,
                "venue": 0.5}
ALIASES = {
    "authors": ["author", "by"],
    "theme": ["themes", "topic"],
    "type": ["evidence", "evidence-type", "evidence_type"],
    "finding": ["key-finding", "key_finding", "summary"],
    "setting": ["settings"],
    "venue": ["journal", "source"],
}


@dataclass(frozen=True)
class SearchRequest:
    text: str = ""
    themes: tuple[str, ...] = ()
    theme_mode: Literal["any", "all"] = "any"
    evidence_types: tuple[str, ...] = ()
    settings: tuple[str, ...] = ()
    year_from: int | None = None
    year_to: int | None = None
    sort: Sort = "relevance"
    page: int = 1
    per_page: int = 20

    def normalised(self) -> "SearchRequest":
        """The same request with every value made safe to run."""
        sort = self.sort if self.sort in SORTS else "relevance"
        per_page = min(max(int(self.per_page or 20), 1), MAX_PER_PAGE)
        page = max(int(self.page or 1), 1)
        # The index stores years as unsigned 32-bit numbers; a bound beyond any real year
        # (from the CLI or the API) means "no bound" and must not reach it.
        year_from, year_to = (None if y is None else min(max(int(y), 0), 9999)
                              for y in (self.year_from, self.year_to))
        if year_from is not None and year_to is not None and year_from > year_to:
            year_from, year_to = year_to, year_from
        return replace(self, text=(self.text or "")[:MAX_QUERY_LENGTH], sort=sort,  # type: ignore[arg-type]
                       per_page=per_page, page=page, year_from=year_from, year_to=year_to,
                       theme_mode="all" if self.theme_mode == "all" else "any")


@dataclass(frozen=True)
class Hit:
    key: str
    title: str
    authors: str
    year: int | None
    venue: str
    themes: tuple[str, ...]
    evidence_type: str
    settings: tuple[str, ...]
    key_finding: str
    doi: str
    url: str
    entry_type: str
    finding_checked: bool
    snippet_html: str  # HTML-escaped, with <mark> around the matched words
    score: float | None = None
    # The key finding, HTML-escaped with <mark> around matched words; "" shows it unmarked.
    finding_html: str = ""

    @property
    def doi_url(self) -> str:
        return f"https://doi.org/{self.doi}" if self.doi else ""


@dataclass(frozen=True)
class Facets:
    themes: dict[str, int] = field(default_factory=dict)  # counted under every ancestor too
    evidence_types: dict[str, int] = field(default_factory=dict)
    settings: dict[str, int] = field(default_factory=dict)
    years: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchResult:
    request: SearchRequest
    hits: tuple[Hit, ...]
    total: int
    facets: Facets
    notice: str | None = None  # e.g. the query could not be read and plain words were used
    suggestion: str | None = None  # "did you mean"
    seconds: float = 0.0

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.request.per_page))


# ------------------------------------------------------------------ query parsing


def _make_parser() -> MultifieldParser:
    parser = MultifieldParser(list(SEARCH_FIELDS), SCHEMA, fieldboosts=FIELD_BOOSTS, group=AndGroup)
    parser.add_plugin(FuzzyTermPlugin())
    parser.add_plugin(GtLtPlugin())
    parser.add_plugin(FieldAliasPlugin(ALIASES))
    return parser


_PARSER = _make_parser()
_EXPANDING = (wq.Prefix, wq.Wildcard, wq.FuzzyTerm)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
_OPERATORS = {"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO"}


def _to_unstemmed(q: wq.Query, originals: dict[str, str]) -> wq.Query:
    """Point prefix, wildcard and fuzzy terms at the unstemmed copies of the text fields.

    The parser stems a fuzzy term's word ("traning" becomes "trane") and a prefix
    ("traine*" becomes "train*", "early*" becomes "earli*"); `originals` maps stems
    back to the words as typed.
    """
    if isinstance(q, _EXPANDING) and q.fieldname in TEXT_FIELDS:
        q = copy.copy(q)
        q.fieldname = f"{q.fieldname}_x"
        if isinstance(q, (wq.FuzzyTerm, wq.Prefix)):
            q.text = originals.get(q.text, q.text)
        if isinstance(q, wq.FuzzyTerm):
            q.prefixlength = max(q.prefixlength, 1)  # keeps fuzzy terms quick on big vocabularies
        return q
    if isinstance(q, wq.FuzzyTerm):
        q = copy.copy(q)
        q.prefixlength = max(q.prefixlength, 1)
        return q
    return q.apply(lambda child: _to_unstemmed(child, originals))


def _unreadable(q: wq.Query) -> bool:
    """True when the parser met a part it could not read (it leaves a null query there)."""
    if isinstance(q, wq.qcore._NullQuery):
        return True
    return any(_unreadable(child) for child in q.children())


_FIELD_PREFIX = re.compile(r"(?<![\w.])([A-Za-z][\w-]*):")
_KNOWN_FIELDS = set(SCHEMA.names()) | {alias for names in ALIASES.values() for alias in names}


def syntax_problem(text: str) -> str | None:
    """A plain description of what makes the query unreadable, or None."""
    if text.count('"') % 2:
        return "a closing quotation mark is missing"
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            break
    if depth != 0:
        return "the brackets ( ) do not match"
    if text.count("[") != text.count("]") or text.count("{") != text.count("}"):
        return "the range brackets [ ] do not match"
    for match in _FIELD_PREFIX.finditer(text):
        if match.group(1).lower() not in _KNOWN_FIELDS:
            return (f"'{match.group(1)}:' is not something you can search by "
                    "(try title:, author:, theme:, type:, setting: or year:)")
        rest = text[match.end():]
        if not rest.strip() or rest[:1].isspace() or rest[:1] in ")":
            return f"nothing follows '{match.group(0)}'"
    words = text.split()
    if words and (words[0] in ("AND", "OR") or words[-1] in ("AND", "OR", "NOT", "ANDNOT")):
        return "a search word is missing next to AND, OR or NOT"
    return None


def parse_query(text: str) -> tuple[wq.Query, str | None]:
    """The Whoosh query for the text, and a notice when plain words had to be used instead."""
    text = text.replace("\x00", " ").strip()
    if not text:
        return wq.Every(), None
    problem = syntax_problem(text)
    if problem is None:
        try:
            q = _PARSER.parse(text)
            if _unreadable(q):
                raise ValueError("unreadable")
            _check_ranges(q)
            originals = {_stem(w): _unstemmed(w) for w in plain_words(text)}
            return _to_unstemmed(q, originals), None
        except Exception:  # whatever the parser makes of odd input, fall back to plain words
            problem = "part of it is not search syntax we understand"
    words = plain_words(text)
    if not words:
        return wq.NullQuery, "Your search has no words we could look for. Try some words from a title or topic."
    notice = f"We could not read your search as written ({problem}), so we searched for the words: {' '.join(words)}."
    return _PARSER.parse(" ".join(words)), notice


def _stem(word: str) -> str:
    tokens = [t.text for t in _STEMMER(word)]
    return tokens[0] if tokens else word


def _unstemmed(word: str) -> str:
    """The word as the unstemmed "_x" fields hold it (lower case, accents folded)."""
    tokens = [t.text for t in _PLAIN(word)]
    return tokens[0] if tokens else word


def plain_words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text) if w.upper() not in _OPERATORS][:50]


def _check_ranges(q: wq.Query) -> None:
    for leaf in q.leaves() if not q.is_leaf() else [q]:
        if isinstance(leaf, wq.NumericRange):
            for bound in (leaf.start, leaf.end):
                if bound is not None and not (0 <= int(bound) < 2**31):
                    raise ValueError("year out of range")


# ------------------------------------------------------------------ snippets


class _MarkFormatter(highlight.Formatter):
    """HTML-escaped text with <mark> around matches: safe to show as HTML."""

    between = " … "

    def _text(self, text: str) -> str:
        return html.escape(text, quote=False)

    def format_token(self, text: str, token, replace: bool = False) -> str:  # type: ignore[no-untyped-def]
        return "<mark>" + html.escape(highlight.get_text(text, token, replace), quote=False) + "</mark>"


_FRAGMENTER = highlight.ContextFragmenter(maxchars=260, surround=70)
_FORMATTER = _MarkFormatter()
_HIGHLIGHTER = highlight.Highlighter(fragmenter=_FRAGMENTER, formatter=_FORMATTER)


def _highlight(text: str, words: set[str], analyzer, *, whole: bool = False) -> str:  # type: ignore[no-untyped-def]
    """What Whoosh's `Hit.highlights` does when it re-reads the text, for words we already know matched.

    `whole` marks the words in the whole text instead of picking fragments; "" when none is there.
    """
    tokens = analyzer(text, positions=True, chars=True, mode="index", removestops=False)
    tokens = _HIGHLIGHTER._merge_matched_tokens(highlight.set_matched_filter(tokens, frozenset(words)))
    fragmenter = highlight.WholeFragmenter(charlimit=None) if whole else _FRAGMENTER
    fragments = highlight.top_fragments(fragmenter.fragment_tokens(text, tokens), 1 if whole else 2,
                                        _HIGHLIGHTER.scorer, _HIGHLIGHTER.order, minscore=1)
    return _FORMATTER.format(fragments)


# ------------------------------------------------------------------ facets


class _FacetTable:
    """Per-document facet values read from the index's column, cached per segment."""

    def __init__(self) -> None:
        self._segments: dict[object, list[tuple]] = {}
        self._rows: list[tuple] = []
        self._years: np.ndarray | None = None
        self._searcher = None  # held, so that its id can never be reused by a newer searcher

    def rows(self, searcher) -> list[tuple]:  # type: ignore[no-untyped-def]
        if self._searcher is searcher:
            return self._rows
        rows: list[tuple] = []
        fresh: dict[object, list[tuple]] = {}
        for leaf, offset in searcher.reader().leaf_readers():
            segment = getattr(leaf, "segment", None)
            ident = segment().segment_id() if callable(segment) else id(leaf)
            values = self._segments.get(ident)
            if values is None:
                values = [_decode_facets(v) for v in leaf.column_reader("facets")]
            fresh[ident] = values
            if len(rows) < offset:
                rows.extend([((), "", (), 0)] * (offset - len(rows)))
            rows.extend(values)
        self._segments = fresh
        self._rows = rows
        self._years = None
        self._searcher = searcher
        return rows

    def years(self, searcher, rows: list[tuple]) -> np.ndarray:  # type: ignore[no-untyped-def]
        """Every document's year (0 when it has none), for sorting newest or oldest first."""
        if self._years is None or self._searcher is not searcher:
            self._years = np.fromiter((row[3] for row in rows), dtype=np.int64, count=len(rows))
        return self._years


_INTERN: dict[bytes, tuple] = {}


def _decode_facets(raw: bytes) -> tuple:
    cached = _INTERN.get(raw)
    if cached is None:
        themes, evidence, settings, year = (raw.decode("utf-8").split("|") + ["", "", "", "0"])[:4]
        cached = (tuple(t for t in themes.split(",") if t), evidence,
                  tuple(s for s in settings.split(",") if s), int(year or 0))
        if len(_INTERN) < 200_000:
            _INTERN[raw] = cached
    return cached


def _count(rows: list[tuple], docnums: list[int]) -> Facets:
    # map/zip/chain/Counter run their loops in C: this is the per-matched-document cost.
    picked = list(map(rows.__getitem__, docnums))
    if not picked:
        return Facets()
    theme_lists, evidence_types, setting_lists, years = zip(*picked)
    types = Counter(evidence_types)
    types.pop("", None)
    year_counts = Counter(years)
    year_counts.pop(0, None)
    return Facets(dict(Counter(chain.from_iterable(theme_lists))), dict(types),
                  dict(Counter(chain.from_iterable(setting_lists))), dict(sorted(year_counts.items())))


# ------------------------------------------------------------------ searching


class Searcher:
    """Runs searches against a `SearchIndex`; one per process, reused across searches."""

    def __init__(self, index: SearchIndex) -> None:
        self.index = index
        self._facets = _FacetTable()
        self._segments = ranking.SegmentCache()
        self._overview: tuple[object, Facets] | None = None

    def search(self, request: SearchRequest) -> SearchResult:
        started = time.perf_counter()
        request = request.normalised()
        q, notice = parse_query(request.text)
        filters = _filter_query(request)
        combined = wq.And([q, filters]) if filters is not None else q
        searcher = self.index.searcher()
        # One pass over the postings gives the count, the facets and the scores; Whoosh's own
        # collectors would step through every matching document twice, in Python.
        try:
            matched = ranking.match(searcher, combined, self._segments)
        except Exception:  # e.g. a wildcard that expands past what can be run
            q, notice = parse_query(" ".join(plain_words(request.text)))
            notice = notice or "Part of your search could not be run, so we searched for its plain words instead."
            combined = wq.And([q, filters]) if filters is not None else q
            matched = ranking.match(searcher, combined, self._segments)
        rows = self._facets.rows(searcher)
        facets = _count(rows, matched.docnums.tolist())
        total = matched.total
        hits: tuple[Hit, ...] = ()
        start = (request.page - 1) * request.per_page
        if total and start < total:
            hits = self._page(searcher, matched, q, request, start, rows)
        suggestion = None
        if total == 0 and request.text.strip():
            suggestion = self._did_you_mean(searcher, request.text)
        return SearchResult(request, hits, total, facets, notice, suggestion, time.perf_counter() - started)

    def overview(self) -> Facets:
        """Facet counts over the whole collection, worked out once per state of the index."""
        searcher = self.index.searcher()
        if self._overview is None or self._overview[0] is not searcher:
            rows = self._facets.rows(searcher)
            self._overview = (searcher, _count(rows, list(searcher.reader().all_doc_ids())))
        return self._overview[1]

    def theme_by_evidence_type(self) -> dict[str, Counter[str]]:
        """For every theme (counted under its ancestors too), how many references of each evidence type."""
        searcher = self.index.searcher()
        rows = self._facets.rows(searcher)
        table: dict[str, Counter[str]] = {}
        for docnum in searcher.reader().all_doc_ids():
            themes, evidence, _, _ = rows[docnum]
            for theme in themes:
                table.setdefault(theme, Counter())[evidence or "unknown"] += 1
        return table

    def _page(self, searcher, matched: ranking.Matched, q: wq.Query, request: SearchRequest,  # type: ignore[no-untyped-def]
              start: int, rows: list[tuple]) -> tuple[Hit, ...]:
        limit = start + request.per_page
        scored = request.sort == "relevance" and not isinstance(q, wq.Every)
        years = None if scored else self._facets.years(searcher, rows)
        hits = []
        # Snippets only for the hits shown: each re-reads its text.
        for docnum, score in ranking.top(matched, start, limit, years=years, newest_first=request.sort != "oldest"):
            stored = searcher.stored_fields(docnum)
            words: dict[str, set[str]] = {}
            for name, text in matched.matched_terms(docnum):
                words.setdefault(name, set()).add(text)
            hits.append(Hit(
                key=stored["key"],
                title=stored.get("title", ""),
                authors=stored.get("authors", ""),
                year=stored.get("year"),
                venue=stored.get("venue", ""),
                themes=tuple(stored.get("themes", ())),
                evidence_type=stored.get("type", ""),
                settings=tuple(s for s in stored.get("setting", "").split(",") if s),
                key_finding=stored.get("finding", ""),
                doi=stored.get("doi", ""),
                url=stored.get("url", ""),
                entry_type=stored.get("entry_type", ""),
                finding_checked=bool(stored.get("checked", False)),
                snippet_html=_snippet(stored, words, "abstract"),
                finding_html=_snippet(stored, words, "finding", whole=True),
                score=score if scored else None,
            ))
        return tuple(hits)

    def _did_you_mean(self, searcher, text: str) -> str | None:  # type: ignore[no-untyped-def]
        words = plain_words(text)
        if not words:
            return None
        correctors = [searcher.corrector(f"{name}_x") for name in TEXT_FIELDS]
        reader = searcher.reader()
        changed = False
        out = []
        for word in words:
            known = any(reader.frequency(f"{name}_x", word) for name in TEXT_FIELDS)
            best = None
            if not known:
                for corrector in correctors:
                    suggestions = corrector.suggest(word, limit=1, maxdist=2)
                    if suggestions:
                        best = suggestions[0]
                        break
            if best and best != word:
                out.append(best)
                changed = True
            else:
                out.append(word)
        return " ".join(out) if changed else None


def _snippet(stored: dict, words: dict[str, set[str]], name: str, *, whole: bool = False) -> str:
    """A stored field with the words that matched in it marked (stemmed words, or as typed in "_x")."""
    source = name if name in words else f"{name}_x" if f"{name}_x" in words else None
    if source is None or not stored.get(name):
        return ""
    return _highlight(stored[name], words[source], SCHEMA[source].analyzer, whole=whole)


def _filter_query(request: SearchRequest) -> wq.Query | None:
    parts: list[wq.Query] = []
    if request.themes:
        terms = [wq.Term("theme", t) for t in request.themes]
        parts.append(wq.And(terms) if request.theme_mode == "all" else wq.Or(terms))
    if request.evidence_types:
        parts.append(wq.Or([wq.Term("type", t) for t in request.evidence_types]))
    if request.settings:
        parts.append(wq.Or([wq.Term("setting", s) for s in request.settings]))
    if request.year_from is not None or request.year_to is not None:
        parts.append(wq.NumericRange("year", request.year_from, request.year_to))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else wq.And(parts)
