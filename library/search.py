"""Searching the index: filters, facet counts, sorting, pages, snippets, and help when little matches.

The words are read by `library/query.py` and matched and ranked by
`library/ranking.py` (Whoosh's own BM25F ranking, over whole posting lists).
Around that, as a careful reference librarian would:

- each facet's counts are worked out with every other chosen filter applied but
  not its own, so "Systematic review (11)" gives 11 when chosen (themes in "all
  chosen themes" mode count with the chosen themes, since choosing narrows);
- when no reference has all the words typed one after another, the references
  with most of them are shown, ranked, with a notice saying so;
- "Did you mean" offers only a query of words from the collection that finds more
  references than the one typed.

Everything a result card shows comes from the index; no BibTeX is read.
"""

from __future__ import annotations

import html
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from whoosh import highlight, query as wq
from whoosh.analysis import STOP_WORDS
from whoosh.support.charset import accent_map
from whoosh.reading import TermNotFound

from . import ranking
from .analysis import (PLAIN, STEMMED, WORD, analyse, drop_invisible, needs_splitting, part_texts, split_word,
                       stem)
from .index import SCHEMA, SearchIndex
from .query import (MAX_QUERY_LENGTH, STEMMED_FIELDS, Lexicon, ParsedQuery, parse_query, plain_words,
                    term_of, word_spans)

Sort = Literal["relevance", "newest", "oldest"]
SORTS: tuple[str, ...] = ("relevance", "newest", "oldest")
MAX_PER_PAGE = 100
__all__ = ["MAX_PER_PAGE", "MAX_QUERY_LENGTH", "SORTS", "Facets", "Hit", "SearchRequest", "SearchResult", "Searcher",
           "plain_words"]


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
        # Invisible format characters (a soft hyphen pasted from a PDF) are no part of a search.
        text = drop_invisible(self.text or "")[:MAX_QUERY_LENGTH]
        return replace(self, text=text, sort=sort,  # type: ignore[arg-type]
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
    facets: Facets  # each facet counted with the other filters applied, not its own
    notice: str | None = None  # e.g. the query could not be read and plain words were used
    suggestion: str | None = None  # "did you mean": finds more references than the search typed
    seconds: float = 0.0
    # True when no reference had all the words and those with most of them are shown.
    partial: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.request.per_page))


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


class _Token:
    """What Whoosh's highlighter reads of a token."""

    __slots__ = ("text", "startchar", "endchar", "matched", "boost")

    def __init__(self, text: str, startchar: int, endchar: int, matched: bool) -> None:
        self.text, self.startchar, self.endchar, self.matched, self.boost = text, startchar, endchar, matched, 1.0

    def copy(self) -> "_Token":
        return _Token(self.text, self.startchar, self.endchar, self.matched)


def highlight_tokens(text: str, words: set[str] | frozenset[str], stemmed: bool) -> list[_Token]:
    """The tokens `STEMMED` or `PLAIN` make of a text (with removestops=False), marked where in `words`.

    The same tokens and terms as running the analyzer, without its chain of generators for
    every word of an abstract (a stop word keeps its text and is never marked).  The parts the
    index also holds for a word with an apostrophe ("connor" for O'Connor) are not tokens of
    their own here: a match on one marks the whole word.
    """
    terms = _STEMMED_TERMS if stemmed else _PLAIN_TERMS
    out = []
    special = needs_splitting(text)
    for match in WORD.finditer(text):
        written = match.group()
        word, parts = split_word(written) if special else (written, ())
        lower = word.lower()
        if len(lower) < 2 or lower in STOP_WORDS:
            out.append(_Token(lower, match.start(), match.end(), False))
            continue
        term = _term(terms, lower, stemmed)
        matched = term in words
        if parts and not matched:
            matched = any(_term(terms, part, stemmed) in words for part in part_texts(parts))
        out.append(_Token(term, match.start(), match.end(), matched))
    return out


def _term(terms: dict[str, str], lower: str, stemmed: bool) -> str:
    term = terms.get(lower)
    if term is None:
        folded = lower.translate(accent_map)
        term = terms[lower] = stem(folded) if stemmed else folded
    return term


_STEMMED_TERMS: dict[str, str] = {}
_PLAIN_TERMS: dict[str, str] = {}


def _highlight(text: str, words: set[str], stemmed: bool, *, whole: bool = False) -> str:
    """What Whoosh's `Hit.highlights` does when it re-reads the text, for words we already know matched.

    `whole` marks the words in the whole text instead of picking fragments; "" when none is there.
    """
    tokens = _HIGHLIGHTER._merge_matched_tokens(highlight_tokens(text, frozenset(words), stemmed))
    fragmenter = highlight.WholeFragmenter(charlimit=None) if whole else _FRAGMENTER
    fragments = highlight.top_fragments(fragmenter.fragment_tokens(text, tokens), 1 if whole else 2,
                                        _HIGHLIGHTER.scorer, _HIGHLIGHTER.order, minscore=1)
    return _FORMATTER.format(fragments)


def _snippet(stored: dict, words: dict[str, set[str]], name: str, *, whole: bool = False) -> str:
    """A stored field with the words that matched in it marked (stemmed words, or as typed in "_x")."""
    source = name if name in words else f"{name}_x" if f"{name}_x" in words else None
    if source is None or not stored.get(name):
        return ""
    return _highlight(stored[name], words[source], SCHEMA[source].analyzer is STEMMED, whole=whole)


# ------------------------------------------------------------------ facets


class _FacetTable:
    """Every document's themes (with ancestors), evidence type, settings and year, as arrays.

    Read from the index's "facets" column once per segment; joined once per state of the index.
    """

    def __init__(self) -> None:
        self._slugs: dict[str, dict[str, int]] = {"theme": {}, "type": {}, "setting": {}}

    def _id(self, kind: str, slug: str) -> int:
        table = self._slugs[kind]
        return table.setdefault(slug, len(table))

    def _segment(self, reader) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
        theme_rows, theme_ids, setting_rows, setting_ids, types, years = [], [], [], [], [], []
        for row, raw in enumerate(reader.column_reader("facets") if reader.has_column("facets") else ()):
            themes, evidence, settings, year = (raw.decode("utf-8").split("|") + ["", "", "", "0"])[:4]
            for slug in filter(None, themes.split(",")):
                theme_rows.append(row)
                theme_ids.append(self._id("theme", slug))
            for slug in filter(None, settings.split(",")):
                setting_rows.append(row)
                setting_ids.append(self._id("setting", slug))
            types.append(self._id("type", evidence) if evidence else -1)
            years.append(int(year or 0))
        size = reader.doc_count_all()
        type_codes = np.full(size, -1, dtype=np.int32)
        type_codes[:len(types)] = types
        year_values = np.zeros(size, dtype=np.int64)
        year_values[:len(years)] = years
        return {"theme_rows": np.asarray(theme_rows, np.int64), "theme_ids": np.asarray(theme_ids, np.int64),
                "setting_rows": np.asarray(setting_rows, np.int64), "setting_ids": np.asarray(setting_ids, np.int64),
                "types": type_codes, "years": year_values}

    def arrays(self, evaluator: ranking.Evaluator) -> dict:
        def make() -> dict:
            segments = [evaluator.cache.get((sid, "facets"), lambda r=reader: self._segment(r))
                        for sid, reader in zip(evaluator.ids, evaluator.readers)]
            out = {"types": np.concatenate([s["types"] for s in segments]) if segments else np.zeros(0, np.int32),
                   "years": np.concatenate([s["years"] for s in segments]) if segments else np.zeros(0, np.int64)}
            for kind in ("theme", "setting"):
                matrix = np.zeros((evaluator.size, max(len(self._slugs[kind]), 1)), dtype=np.float32)
                for segment, offset in zip(segments, evaluator.offsets):
                    matrix[segment[f"{kind}_rows"] + offset, segment[f"{kind}_ids"]] = 1.0
                out[kind] = matrix
            out["slugs"] = {kind: list(table) for kind, table in self._slugs.items()}
            return out

        return evaluator.cache.joined(evaluator.state, "facets", make)

    def count(self, evaluator: ranking.Evaluator, mask: np.ndarray, *, which: tuple[str, ...] = (
            "themes", "types", "settings", "years")) -> dict[str, dict]:
        arrays = self.arrays(evaluator)
        slugs = arrays["slugs"]
        out: dict[str, dict] = {}
        weights = mask.astype(np.float32)
        if "themes" in which:
            out["themes"] = _named(weights @ arrays["theme"], slugs["theme"])
        if "settings" in which:
            out["settings"] = _named(weights @ arrays["setting"], slugs["setting"])
        if "types" in which:
            codes = arrays["types"][mask]
            out["types"] = _named(np.bincount(codes[codes >= 0], minlength=len(slugs["type"])), slugs["type"])
        if "years" in which:
            years = arrays["years"][mask]
            years = years[years > 0]
            values, counts = np.unique(years, return_counts=True)
            out["years"] = {int(y): int(c) for y, c in zip(values, counts)}
        return out


def _named(counts: np.ndarray, slugs: list[str]) -> dict[str, int]:
    return {slugs[i]: int(round(counts[i])) for i in np.flatnonzero(counts[:len(slugs)] > 0.5)}


# ------------------------------------------------------------------ what the collection holds


class IndexLexicon(Lexicon):
    """Look-ups in the index's terms and positions, remembered for one state of the index."""

    def __init__(self, searcher, cache: ranking.SegmentCache | None = None) -> None:  # type: ignore[no-untyped-def]
        self.reader = searcher.reader()
        self._searcher = searcher
        self._cache = cache or ranking.SegmentCache()
        self._evaluator: ranking.Evaluator | None = None
        self._terms: dict[str, bool] = {}
        self._pairs: dict[tuple[str, str], bool] = {}

    def has_term(self, term: str) -> bool:
        found = self._terms.get(term)
        if found is None:
            btext = term.encode("utf-8")
            found = self._terms[term] = any((name, btext) in self.reader for name in STEMMED_FIELDS)
        return found

    def has_pair(self, first: str, second: str) -> bool:
        found = self._pairs.get((first, second))
        if found is None:
            if not (self.has_term(first) and self.has_term(second)):
                found = False
            else:
                if self._evaluator is None:
                    self._evaluator = ranking.Evaluator(self._searcher, self._cache)
                found = any(self._evaluator.phrase_docs(name, [first, second]).any() for name in STEMMED_FIELDS)
            self._pairs[(first, second)] = found
        return found


_SPELLING_FIELDS = ("title_x", "finding_x", "abstract_x", "keywords_x", "topics_x", "authors")


def _edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (adjacent transpositions count one), as Whoosh's corrector uses."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


# ------------------------------------------------------------------ searching


class _Engine:
    """One state of the index: the evaluator (or Whoosh's search when the fast path does not apply)."""

    def __init__(self, searcher, cache: ranking.SegmentCache) -> None:  # type: ignore[no-untyped-def]
        self.searcher = searcher
        self.evaluator = ranking.Evaluator(searcher, cache)
        self.problem = ranking.fast_path_problem(searcher)
        self.lexicon = IndexLexicon(searcher, cache)

    def new_run(self) -> ranking.Evaluator:
        return ranking.Evaluator(self.searcher, self.evaluator.cache)

    def part(self, run: ranking.Evaluator, q: wq.Query) -> tuple[np.ndarray, np.ndarray]:
        if self.problem is None:
            return run.run(q)
        mask, score = run.empty()
        for hit in self.searcher.search(q, limit=None).top_n:  # Whoosh's own search: correct, slower
            mask[hit[1]], score[hit[1]] = True, hit[0]
        run.term_log.extend((name, text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text), None)
                            for name, text in q.iter_all_terms())
        return mask, score

    def mask(self, run: ranking.Evaluator, q: wq.Query) -> np.ndarray:
        if self.problem is None:
            return run.mask(q)
        mask = np.zeros(run.size, dtype=bool)
        mask[list(self.searcher.docs_for_query(q))] = True
        return mask


class Searcher:
    """Runs searches against a `SearchIndex`; one per process, reused across searches."""

    def __init__(self, index: SearchIndex) -> None:
        self.index = index
        self._cache = ranking.SegmentCache()
        self._facets = _FacetTable()
        self._engine: _Engine | None = None
        self._overview: tuple[object, Facets] | None = None

    def engine(self) -> _Engine:
        """The engine for the index as it is now (checked for the fast path once per state)."""
        searcher = self.index.searcher()
        if self._engine is None or self._engine.searcher is not searcher:
            self._engine = _Engine(searcher, self._cache)
        return self._engine

    @property
    def fast_path_problem(self) -> str | None:
        """Why searches use Whoosh's own (slower) search, or None when they use library/ranking.py."""
        return self.engine().problem

    def search(self, request: SearchRequest) -> SearchResult:
        started = time.perf_counter()
        request = request.normalised()
        engine = self.engine()
        parsed = parse_query(request.text, engine.lexicon)
        run = engine.new_run()
        try:
            mask, score = engine.part(run, parsed.query)
        except TermNotFound:  # a prefix, wildcard or fuzzy term on a field the index does not hold
            parsed = parse_query(" ".join(plain_words(request.text)), engine.lexicon)
            parsed = replace(parsed, notice=parsed.notice or "Part of your search could not be run, "
                                                             "so we searched for its plain words instead.")
            run = engine.new_run()
            mask, score = engine.part(run, parsed.query)
        filters = {name: engine.mask(run, q) for name, q in _filter_queries(request).items()}
        chosen = np.logical_and.reduce([mask, *filters.values()])
        typed_total = int(np.count_nonzero(chosen))
        notice, partial = parsed.notice, False
        if typed_total == 0 and parsed.parts:
            best = self._most_of(engine, run, parsed, filters)
            if best is not None:
                mask, score, chosen, count = best
                if count == len(parsed.parts) and parsed.split:  # all the words; a hyphenated word's apart
                    written = " and ".join(f"'{word}'" for word in parsed.split)
                    most = f"No reference has {written} as written — showing those with all of its words."
                else:
                    most = (f"No reference has all of: {', '.join(label for label, _ in parsed.parts)} — "
                            "showing those with most of them.")
                notice = f"{notice} {most}" if notice else most
                partial = True
        docnums = np.flatnonzero(chosen)
        matched = ranking.Matched(docnums, score[docnums], run.term_log)
        facets = self._conventional_facets(run, mask, filters, request)
        hits: tuple[Hit, ...] = ()
        start = (request.page - 1) * request.per_page
        if matched.total and start < matched.total:
            hits = self._page(engine.searcher, run, matched, parsed.query, request, start)
        suggestion = None
        if typed_total == 0 and request.text.strip():
            suggestion = self._did_you_mean(engine, request, typed_total)
        return SearchResult(request, hits, matched.total, facets, notice, suggestion,
                            time.perf_counter() - started, partial)

    def _most_of(self, engine: _Engine, run: ranking.Evaluator, parsed: ParsedQuery,
                 filters: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int] | None:
        """The references with the most of the query's parts, scored as Whoosh scores their OR; how many."""
        allowed = np.logical_and.reduce([np.ones(run.size, dtype=bool), *filters.values()])
        counts = np.sum([engine.mask(run, q) & allowed for _, q in parsed.parts], axis=0)
        most = int(counts.max()) if counts.size else 0
        if most == 0:
            return None
        mask, score = engine.part(run, wq.Or([q for _, q in parsed.parts]))
        mask = mask & (counts == most)
        return mask, score, mask & allowed, most

    def _conventional_facets(self, run: ranking.Evaluator, mask: np.ndarray, filters: dict[str, np.ndarray],
                             request: SearchRequest) -> Facets:
        """Each facet counted with the other filters applied but not its own (its own too for "all" themes)."""
        own = {"themes": "theme", "types": "type", "settings": "setting", "years": "year"}
        counts: dict[str, dict] = {}
        for facet, name in own.items():
            keep = dict(filters)
            if not (facet == "themes" and request.theme_mode == "all"):
                keep.pop(name, None)
            counts.update(self._facets.count(run, np.logical_and.reduce([mask, *keep.values()]), which=(facet,)))
        return Facets(counts["themes"], counts["types"], counts["settings"], counts["years"])

    def overview(self) -> Facets:
        """Facet counts over the whole collection, worked out once per state of the index."""
        engine = self.engine()
        if self._overview is None or self._overview[0] is not engine.searcher:
            run = engine.evaluator
            counts = self._facets.count(run, run.live)
            self._overview = (engine.searcher, Facets(counts["themes"], counts["types"], counts["settings"],
                                                      counts["years"]))
        return self._overview[1]

    def theme_by_evidence_type(self) -> dict[str, Counter[str]]:
        """For every theme (counted under its ancestors too), how many references of each evidence type."""
        run = self.engine().evaluator
        arrays = self._facets.arrays(run)
        live = run.live
        types = arrays["types"][live]
        themes = arrays["theme"][live]
        type_slugs = arrays["slugs"]["type"] + ["unknown"]
        codes = np.where(types >= 0, types, len(type_slugs) - 1)
        onehot = np.zeros((codes.size, len(type_slugs)), dtype=np.float32)
        onehot[np.arange(codes.size), codes] = 1.0
        table = themes.T @ onehot
        out: dict[str, Counter[str]] = {}
        for row, slug in enumerate(arrays["slugs"]["theme"]):
            counts = Counter({type_slugs[c]: int(round(table[row, c])) for c in np.flatnonzero(table[row] > 0.5)})
            if counts:
                out[slug] = counts
        return out

    def _page(self, searcher, run: ranking.Evaluator, matched: ranking.Matched, q: wq.Query,  # type: ignore[no-untyped-def]
              request: SearchRequest, start: int) -> tuple[Hit, ...]:
        limit = start + request.per_page
        scored = request.sort == "relevance" and not isinstance(q, wq.Every)
        years = None if scored else self._facets.arrays(run)["years"]
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

    # ------------------------------------------------------------ did you mean
    def _did_you_mean(self, engine: _Engine, request: SearchRequest, typed_total: int) -> str | None:
        """A query of words from the collection that finds more references than the one typed, or None.

        Only words the collection does not hold are changed, each to a word of the collection
        within one edit (two for words of eight letters or more); short words are left alone,
        since a near word of three or four letters is more often another word than the one meant.
        """
        text = request.text.replace("\x00", " ")
        spans = word_spans(text)
        options: list[tuple[int, int, list[str]]] = []
        for index, (start, end, word) in enumerate(spans):
            lower = word.lower()
            if len(lower) < 5 or self._word_known(engine, lower, spans, index):
                continue
            near = self._near_words(engine, lower, 1 if len(lower) < 8 else 2)
            if near:
                options.append((start, end, near))
        if not options:
            return None
        best: tuple[int, str] | None = None
        for choice in itertools.islice(itertools.product(*[near for _, _, near in options]), 8):
            pieces, last = [], 0
            for (start, end, _), word in zip(options, choice):
                pieces.extend([text[last:start], word])
                last = end
            candidate = "".join(pieces) + text[last:]
            total = self._count(engine, replace(request, text=candidate))
            if total > typed_total and (best is None or total > best[0]):
                best = (total, candidate.strip())
        return best[1] if best else None

    @staticmethod
    def _word_known(engine: _Engine, word: str, spans: list[tuple[int, int, str]], index: int) -> bool:
        term = term_of(word)
        if not term:
            return True  # a stop word
        reader = engine.searcher.reader()
        written = [w.encode("utf-8") for w in analyse(word, PLAIN)]
        if engine.lexicon.has_term(term) or any((name, w) in reader for name in _SPELLING_FIELDS for w in written):
            return True
        # Part of a compound the collection writes joined ("burnt out" for "burnout").
        for other in (index - 1, index + 1):
            if 0 <= other < len(spans):
                first, second = (spans[other][2], word) if other < index else (word, spans[other][2])
                for joined in dict.fromkeys([f"{first}{second}".lower(), f"{term_of(first)}{second}".lower()]):
                    if term_of(joined) and engine.lexicon.has_term(term_of(joined)):
                        return True
        return False

    @staticmethod
    def _near_words(engine: _Engine, word: str, maxdist: int) -> list[str]:
        """Up to three words of the collection within `maxdist` edits, nearest and commonest first."""
        reader = engine.searcher.reader()
        found: dict[str, int] = {}
        for name in _SPELLING_FIELDS:
            # Whoosh's automaton counts a swap of two letters as two edits: ask for one more, then
            # keep the words within `maxdist` counting a swap as one.
            for near in reader.terms_within(name, word, maxdist + 1, prefix=1):
                if near != word and len(near) > 2 and term_of(near) and _edit_distance(word, near) <= maxdist:
                    found[near] = found.get(near, 0) + reader.doc_frequency(name, near)
        ranked = sorted(found, key=lambda w: (_edit_distance(word, w), -found[w], w))
        return ranked[:3]

    def _count(self, engine: _Engine, request: SearchRequest) -> int:
        """How many references a request finds, all its words matched (as a search would show)."""
        parsed = parse_query(request.text, engine.lexicon)
        run = engine.new_run()
        masks = [engine.part(run, parsed.query)[0]]
        masks.extend(engine.mask(run, q) for q in _filter_queries(request).values())
        return int(np.count_nonzero(np.logical_and.reduce(masks)))


def _filter_queries(request: SearchRequest) -> dict[str, wq.Query]:
    """The request's filters, by facet: theme, type, setting, year."""
    out: dict[str, wq.Query] = {}
    if request.themes:
        terms = [wq.Term("theme", t) for t in request.themes]
        out["theme"] = wq.And(terms) if request.theme_mode == "all" else wq.Or(terms)
    if request.evidence_types:
        out["type"] = wq.Or([wq.Term("type", t) for t in request.evidence_types])
    if request.settings:
        out["setting"] = wq.Or([wq.Term("setting", s) for s in request.settings])
    if request.year_from is not None or request.year_to is not None:
        out["year"] = wq.NumericRange("year", request.year_from, request.year_to)
    return out


def filter_query(request: SearchRequest) -> wq.Query | None:
    """All the request's filters as one query (for Whoosh's `search(..., filter=...)`)."""
    parts = list(_filter_queries(request.normalised()).values())
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else wq.And(parts)
