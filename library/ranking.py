"""Matching and ranking in bulk: exactly what Whoosh's own search returns, a posting list at a time.

Whoosh's matchers step through documents one at a time in Python: tens of
microseconds for every document that matches a word most records share
("trauma", "care", "mental health").  Here a parsed Whoosh query is evaluated
over whole posting lists with numpy: each term's postings are read a block at a
time, and the query tree becomes arithmetic on arrays with one slot per
document.  The result is defined as Whoosh's: for every query, `match` returns
the documents and scores of `searcher.search(q, limit=None)` (optionally with
`filter=`), which tests/test_ranking_equivalence.py checks over a generated
collection.  That means following Whoosh where it is surprising, for example:

- a term scores BM25F with the statistics of the whole index and the length of
  the field in the document (one byte per document, as the codec stores it);
- And adds its parts' scores, and a NOT inside it adds 1 (Whoosh's inverse
  matcher has weight 1);
- Or adds its parts' scores, except that for three or more parts in a segment
  of at most 5,000 documents Whoosh preloads them into an array, which drops
  documents scoring 0 and, when the parts are not scored (a prefix, wildcard,
  fuzzy or range expanded to several terms), scores every match 1;
- a prefix, wildcard or fuzzy term expanded to a single term in a segment scores
  that term without its boost;
- a phrase scores the sum of its words' scores, times its boost.

Phrases are exact: the positions of their words, which the index keeps as plain
numbers (`library/analysis.py`, WordPositions), are read a block at a time and
matched with numpy, as Whoosh's phrase matcher checks them one document at a
time.  A query part
this module does not evaluate itself (a phrase with slop, DisjunctionMax...) is
run by Whoosh's own matcher.  If the index is not scored or stored the way this
module was written for, `fast_path_problem` says why and the caller uses
Whoosh's search instead (`whoosh_match`).
"""

from __future__ import annotations

import io
import pickle
import struct
import zlib
from dataclasses import dataclass, field
from bisect import bisect_left
from functools import lru_cache

import numpy as np
from whoosh import query as wq, scoring
from whoosh.codec.base import Automata
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, WHOOSH3_HEADER_MAGIC, W3Codec, _lenfield
from whoosh.matching.binary import AndNotMatcher
from whoosh.matching.wrappers import FilterMatcher
from whoosh.query.compound import DefaultOr, PreloadedOr
from whoosh.query.wrappers import ConstantScoreQuery
from whoosh.reading import SegmentReader
from whoosh.searching import SearchContext
from whoosh.util.numeric import byte_to_length

from .analysis import WordPositions
from .postings import PackedValues

_LENGTH_TABLE = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)
# BM25F's B and K1 as the index is searched with (Whoosh's defaults): the scoring this module
# reproduces and its tests check.  Any other weighting is left to Whoosh.
FAST_SCORING = (0.75, 1.2)
# Whoosh's Or preloads its parts into an array in segments of at most this many documents
# (whoosh.query.compound.Or._matcher).
_PRELOAD_SEGMENT_LIMIT = 5000
# Phrases are matched in a table of one byte per document and word position while it needs at
# most this many bytes (64 MiB: 50,000 documents of up to about 1,300 words), else by sorting.
_PHRASE_TABLE_LIMIT = 1 << 26


def fast_path_problem(searcher) -> str | None:  # type: ignore[no-untyped-def]
    """Why this module cannot reproduce Whoosh's search on this searcher, or None when it can."""
    weighting = searcher.weighting
    if type(weighting) is not scoring.BM25F:
        return f"the index is scored with {type(weighting).__name__}, not BM25F"
    if (weighting.B, weighting.K1) != FAST_SCORING or weighting._field_B or weighting.use_final:
        return f"BM25F has B={weighting.B}, K1={weighting.K1}, not B={FAST_SCORING[0]}, K1={FAST_SCORING[1]}"
    for subsearcher, _ in searcher.leaf_searchers():
        reader = subsearcher.reader()
        if not isinstance(reader, SegmentReader) or not isinstance(reader.codec(), W3Codec):
            return f"a segment is stored with {type(reader.codec()).__name__}, not Whoosh's W3 codec"
    return None


# ------------------------------------------------------------------ Whoosh's ANDNOT, fixed


class _AndNotMatcher(AndNotMatcher):
    def _find_first(self) -> None:
        # whoosh-reloaded 2.7.5 skips the excluded list forward only when both lists start on the
        # same document, so a first document that the excluded list holds further on ("care ANDNOT
        # practice" where the first "care" document also says "practice") was kept.
        if self.a.is_active() and self.b.is_active():
            self._find_next()


class AndNot(wq.AndNot):
    """`a ANDNOT b` as Whoosh runs it, with its first-document fix (`library/query.py` makes these)."""

    def matcher(self, searcher, context=None):  # type: ignore[no-untyped-def]
        return _AndNotMatcher(self.a.matcher(searcher, context), self.b.matcher(searcher, searcher.boolean_context()))


# ------------------------------------------------------------------ results


@dataclass
class Matched:
    """Every matching document (global numbers, ascending) with its score."""

    docnums: np.ndarray
    scores: np.ndarray
    # (field, text) of each term that matched somewhere, with the documents it matched
    terms: list[tuple[str, str, np.ndarray | None]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return int(self.docnums.size)

    def matched_terms(self, docnum: int) -> list[tuple[str, str]]:
        """The (field, word) pairs of the query found in one document, for its snippet."""
        return [(name, text) for name, text, mask in self.terms if mask is None or mask[docnum]]


class SegmentCache:
    """Arrays that do not change while a segment lives: deletions, field lengths, facet values."""

    def __init__(self) -> None:
        self._entries: dict[tuple, object] = {}
        self._joined: dict[str, np.ndarray] = {}  # the segments' arrays end to end, for one state of the index
        self._joined_for: tuple = ()

    def retain(self, segment_ids: set) -> None:
        self._entries = {k: v for k, v in self._entries.items() if k[0] in segment_ids}

    def joined(self, state: tuple, name: str, make):  # type: ignore[no-untyped-def]
        if state != self._joined_for:
            self._joined, self._joined_for = {}, state
        value = self._joined.get(name)
        if value is None:
            value = self._joined[name] = make()
        return value

    def get(self, key: tuple, make):  # type: ignore[no-untyped-def]
        value = self._entries.get(key)
        if value is None:
            value = self._entries[key] = make()
        return value


def _segment_id(reader) -> object:  # type: ignore[no-untyped-def]
    """A segment's lasting id; a reader without one (Whoosh's EmptyReader, for an index with no
    documents) is known by its own identity."""
    segment = getattr(reader, "segment", None)
    found = segment() if callable(segment) else None
    return found.segment_id() if found is not None else id(reader)


_Part = tuple[np.ndarray, np.ndarray]  # (which documents match, their scores), one slot per document


class Evaluator:
    """Evaluates Whoosh queries on one searcher, as Whoosh's matchers would, over whole arrays."""

    def __init__(self, searcher, cache: SegmentCache) -> None:  # type: ignore[no-untyped-def]
        self.searcher = searcher
        self.schema = searcher.schema
        self.leaves = list(searcher.leaf_searchers())
        self.readers = [s.reader() for s, _ in self.leaves]
        self.sizes = [r.doc_count_all() for r in self.readers]
        self.offsets = [offset for _, offset in self.leaves]
        self.size = sum(self.sizes)
        self.ids = [_segment_id(r) for r in self.readers]
        self.state = tuple(zip(self.ids, (r.doc_count() for r in self.readers)))
        self.cache = cache
        cache.retain(set(self.ids))
        weighting = searcher.weighting  # BM25F's parameters (see fast_path_problem for other weightings)
        self.B, self.K1 = getattr(weighting, "B", FAST_SCORING[0]), getattr(weighting, "K1", FAST_SCORING[1])
        self.field_B = getattr(weighting, "_field_B", {})
        self._terms: dict[tuple[str, bytes], _Part] = {}
        self._position_cache: dict[tuple[str, bytes], tuple[np.ndarray, np.ndarray]] = {}
        self.term_log: list[tuple[str, str, np.ndarray | None]] = []
        self._logged: set[tuple[str, str]] = set()
        self.live = self._concat("live", self._live_segment)

    # ------------------------------------------------------------ per-segment arrays, joined
    def _concat(self, name: str, make_segment, dtype=bool) -> np.ndarray:  # type: ignore[no-untyped-def]
        """Per-segment arrays (cached while the segment lives) joined end to end (cached for this state)."""
        def make() -> np.ndarray:
            # Deleting marks documents in a segment that keeps its id: the live count tells them apart.
            parts = [self.cache.get((sid, name, self.sizes[s], self.readers[s].doc_count()),
                                    lambda s=s: make_segment(s)) for s, sid in enumerate(self.ids)]
            return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

        return self.cache.joined(self.state, name, make)

    def _live_segment(self, segment: int) -> np.ndarray:
        reader = self.readers[segment]
        mask = np.ones(self.sizes[segment], dtype=bool)
        deleted = reader.deleted_docs_set if hasattr(reader, "deleted_docs_set") else set()
        if deleted:
            mask[np.fromiter(deleted, dtype=np.int64)] = False
        return mask

    def lengths(self, fieldname: str) -> np.ndarray:
        def make(segment: int) -> np.ndarray:
            reader, size = self.readers[segment], self.sizes[segment]
            out = np.zeros(size, dtype=np.float64)
            column = reader._perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
            if column is not None:  # the codec's one byte per document, read whole
                count = min(column._count, size)
                out[:count] = _LENGTH_TABLE[np.frombuffer(column._dbfile.get(column._basepos, count), np.uint8)]
            return out

        return self._concat(f"len:{fieldname}", make, np.float64)

    def segment_vector(self, values: list) -> np.ndarray:  # type: ignore[type-arg]
        """A per-segment value repeated for every document of its segment."""
        return np.repeat(np.asarray(values), self.sizes)

    def empty(self) -> _Part:
        return np.zeros(self.size, dtype=bool), np.zeros(self.size)

    # ------------------------------------------------------------ the public entry points
    def run(self, q: wq.Query, weighted: bool = True) -> _Part:
        """Which documents match `q` and their scores; `weighted` is Whoosh's context having a weighting."""
        mask, score = self._run(q, weighted)
        return mask & self.live, score

    def mask(self, q: wq.Query) -> np.ndarray:
        """The documents `q` matches when used as a filter (Whoosh's `q.docs(searcher)`)."""
        return self.run(q, weighted=False)[0]

    # ------------------------------------------------------------ the query tree
    def _run(self, q: wq.Query, weighted: bool) -> _Part:  # noqa: C901 - one branch per kind of query
        kind = type(q)
        if kind is wq.Term:
            return self._term_query(q)
        if kind is wq.And:
            return self._and(q, weighted)
        if kind in (wq.Or, DefaultOr, PreloadedOr) and not q.scale:
            return self._or(q, weighted)
        if kind is wq.Not:
            return self.live & ~self.mask(q.query), np.ones(self.size)
        if kind is AndNot:  # (Whoosh's own AndNot, first-document slip and all, is left to Whoosh)
            mask, score = self._run(q.a, weighted)
            return mask & ~self.mask(q.b), score
        if kind is wq.AndMaybe:
            mask, score = self._run(q.a, weighted)
            other, extra = self._run(q.b, weighted)
            return mask, score + np.where(other, extra, 0.0)
        if kind is wq.Require:
            mask, score = self._run(q.a, weighted)
            return mask & self.mask(q.b), score
        if kind is wq.Every:
            return self._every(q.fieldname, q.boost)
        if isinstance(q, wq.qcore._NullQuery):
            return self.empty()
        if kind is ConstantScoreQuery:
            mask, _ = self._run(q.child, weighted)
            return mask, np.full(self.size, q.score or 1.0)
        if isinstance(q, wq.NumericRange):
            return self._run(q._compile_query(self.searcher.reader()), weighted)
        if (kind is wq.Phrase and q.slop == 1 and q.fieldname in self.schema
                and type(self.schema[q.fieldname].format) is WordPositions):
            return self._phrase(q)
        if isinstance(q, wq.MultiTerm):
            return self._multiterm(q, weighted)
        return self._by_whoosh(q, weighted)

    def _term_query(self, q: wq.Term) -> _Part:
        mask, score = self._term(q.fieldname, q.text)
        return mask, (score * q.boost if q.boost != 1.0 else score)

    def _and(self, q: wq.And, weighted: bool) -> _Part:
        if not q.subqueries:
            return self.empty()
        if len(q.subqueries) == 1:
            return self._run(q.subqueries[0], weighted)  # Whoosh drops the boost here too
        parts = [self._run(sub, weighted) for sub in q.subqueries]
        mask = np.logical_and.reduce([m for m, _ in parts])
        score = np.sum([s for _, s in parts], axis=0)
        return mask, (score * q.boost if q.boost != 1.0 else score)

    def _or(self, q: wq.Or, weighted: bool) -> _Part:
        subs = q.subqueries
        if not subs:
            return self.empty()
        if len(subs) == 1:
            return self._run(subs[0], weighted)
        parts = [self._run(sub, weighted) for sub in subs]
        if type(q) is DefaultOr:
            preload = [False] * len(self.sizes)
        elif type(q) is PreloadedOr:
            preload = [True] * len(self.sizes)
        elif q.matcher_type == q.AUTO_MATCHER:
            preload = [not (len(subs) < q.TOO_MANY_CLAUSES and (len(subs) == 2 or size > _PRELOAD_SEGMENT_LIMIT))
                       for size in self.sizes]
        elif q.matcher_type in (q.DEFAULT_MATCHER, q.ARRAY_MATCHER):
            preload = [q.matcher_type == q.ARRAY_MATCHER] * len(self.sizes)
        else:
            return self._by_whoosh(q, weighted)
        return self._union(parts, q.boost, preload, weighted)

    def _union(self, parts: list[_Part], boost: float, preload: list[bool], weighted: bool) -> _Part:
        """Whoosh's Or of the parts, per segment either a tree of unions or a preloaded array."""
        mask = np.logical_or.reduce([m for m, _ in parts])
        if not any(preload):
            score = np.sum([np.where(m, s, 0.0) for m, s in parts], axis=0)
            return mask, (score * boost if boost != 1.0 else score)
        if weighted:  # ArrayUnionMatcher: a[i] += m.score() * boost, part by part; keeps a[i] > 0
            array_score = np.zeros(self.size)
            for m, s in parts:
                array_score = array_score + np.where(m, s * boost, 0.0)
            array_mask = mask & (array_score > 0)
        else:  # unscored: a[i] = 1
            array_score, array_mask = np.ones(self.size), mask
        if all(preload):
            return array_mask, array_score
        tree_score = np.sum([np.where(m, s, 0.0) for m, s in parts], axis=0)
        tree_score = tree_score * boost if boost != 1.0 else tree_score
        chosen = self.segment_vector(preload)
        return np.where(chosen, array_mask, mask), np.where(chosen, array_score, tree_score)

    def _every(self, fieldname: str | None, boost: float) -> _Part:
        score = np.full(self.size, boost or 1.0)  # ListMatcher(all_weights=boost): 0 reads as 1
        if not fieldname:
            return self.live.copy(), score
        if fieldname not in self.schema:
            return self.empty()
        if self.schema[fieldname].scorable:  # a document has terms in the field exactly when its length is not 0
            return self.lengths(fieldname) > 0, score
        mask = np.zeros(self.size, dtype=bool)
        for segment, reader in enumerate(self.readers):
            for btext in reader.lexicon(fieldname):
                mask[_read_postings(reader, fieldname, btext)[0] + self.offsets[segment]] = True
        return mask, score

    # ------------------------------------------------------------ terms
    def _term(self, fieldname: str, text, *, log: bool = True) -> _Part:  # type: ignore[no-untyped-def]
        """A term's documents and its unboosted score (BM25F, or its weight in an unscored field)."""
        if fieldname not in self.schema:
            return self.empty()
        fieldobj = self.schema[fieldname]
        try:
            btext = fieldobj.to_bytes(text)
        except ValueError:
            return self.empty()
        key = (fieldname, btext)
        part = self._terms.get(key)
        if part is None:
            part = self._terms[key] = self._read_term(fieldname, btext)
        if log:
            self._log(fieldname, fieldobj.from_bytes(btext), part[0])
        return part

    def _log(self, fieldname: str, text: str, mask: np.ndarray | None) -> None:
        if (fieldname, text) not in self._logged:
            self._logged.add((fieldname, text))
            self.term_log.append((fieldname, text, mask))

    def _read_term(self, fieldname: str, btext: bytes, *, positions: bool = False) -> _Part:
        mask = np.zeros(self.size, dtype=bool)
        score = np.zeros(self.size)
        all_ids, all_weights, all_docs, all_positions = [], [], [], []
        for segment, reader in enumerate(self.readers):
            if (fieldname, btext) not in reader:
                continue
            ids, weights, counts, found = _read_postings(reader, fieldname, btext, positions)
            all_ids.append(ids + self.offsets[segment])
            all_weights.append(weights)
            if positions:
                all_docs.append(np.repeat(all_ids[-1], counts))
                all_positions.append(found.astype(np.int64))
        if positions:
            empty = np.zeros(0, dtype=np.int64)
            self._position_cache[(fieldname, btext)] = (
                np.concatenate(all_docs) if all_docs else empty,
                np.concatenate(all_positions) if all_positions else empty)
        if not all_ids:
            return mask, score
        ids, weights = np.concatenate(all_ids), np.concatenate(all_weights)
        mask[ids] = True
        if self.schema[fieldname].scorable:
            idf = self.searcher.idf(fieldname, btext)
            avgfl = self.searcher.avg_field_length(fieldname) or 1
            B, K1 = self.field_B.get(fieldname, self.B), self.K1
            # Whoosh's scoring.bm25, operation for operation, so the floats are the same.
            score[ids] = idf * ((weights * (K1 + 1)) / (weights + K1 * ((1 - B) + B * self.lengths(fieldname)[ids]
                                                                         / avgfl)))
        else:
            score[ids] = weights
        return mask & self.live, score

    def _multiterm(self, q: wq.MultiTerm, weighted: bool) -> _Part:
        """A prefix, wildcard, fuzzy term or range: expanded per segment, scored as Whoosh does."""
        if ((isinstance(q, wq.Prefix) and q.text == "") or (isinstance(q, wq.Wildcard) and q.text == "*")
                or (isinstance(q, wq.Regex) and q.text == ".*")):
            return self._every(q.fieldname, q.boost)
        fieldname = q.field()
        expansions = self._expansions(q)
        words = sorted({b for found in expansions for b in found})
        if not words:
            return self.empty()
        parts = [self._term(fieldname, word) for word in words]
        counts = [len(found) for found in expansions]
        # Several terms: Or(terms, boost=q.boost), unscored when the query is constant-scoring.
        scored = weighted and not q.constantscore
        if wq.Or.matcher_type not in (wq.Or.AUTO_MATCHER, wq.Or.DEFAULT_MATCHER, wq.Or.ARRAY_MATCHER):
            return self._by_whoosh(q, weighted)
        preload = [not (count < wq.Or.TOO_MANY_CLAUSES and (count == 2 or size > _PRELOAD_SEGMENT_LIMIT))
                   if wq.Or.matcher_type == wq.Or.AUTO_MATCHER else wq.Or.matcher_type == wq.Or.ARRAY_MATCHER
                   for count, size in zip(counts, self.sizes)]
        mask, score = self._union(parts, q.boost, preload, scored)
        if 1 in counts:  # one term in a segment: that term's own matcher, boost and all left out
            single = self.segment_vector([count == 1 for count in counts])
            mask = np.where(single, np.logical_or.reduce([m for m, _ in parts]), mask)
            score = np.where(single, np.sum([np.where(m, s, 0.0) for m, s in parts], axis=0), score)
        return mask, score

    def _expansions(self, q: wq.MultiTerm) -> list[list]:
        """The terms a prefix, wildcard, fuzzy term or range stands for in each segment (Whoosh's `_btexts`).

        A fuzzy term runs Whoosh's own automaton once over the words of the whole field (cached
        for this state of the index) and keeps, for each segment, those the segment holds: the
        same words as running it on every segment's word list, without walking each list on disk.
        """
        fuzzy = type(q) is wq.FuzzyTerm and all(
            isinstance(r, SegmentReader) and type(r._codec.automata(r._storage, r._segment)) is Automata
            for r in self.readers)
        if not fuzzy:
            return [[b for b in q._btexts(reader) if b] for reader in self.readers]
        fieldname = q.fieldname
        spelling = self.schema[fieldname].spelling_fieldname(fieldname)
        words = [w for w in Automata.find_matches(_levenshtein_dfa(q.text, q.maxdist, q.prefixlength),
                                                  _WordCursor(self.field_words(spelling))) if w]
        found = [(word, self.schema[spelling].to_bytes(word)) for word in words]
        return [[word for word, btext in found if (spelling, btext) in reader] for reader in self.readers]

    def field_words(self, fieldname: str) -> list[str]:
        """Every word of a field in the index, sorted (each segment's read once while it lives)."""
        def make() -> list[str]:
            decode = self.schema[fieldname].from_bytes
            per_segment = [self.cache.get((sid, "words", fieldname),
                                          lambda r=reader: [decode(b) for b in r.lexicon(fieldname)])
                           for sid, reader in zip(self.ids, self.readers)]
            return sorted(set().union(*per_segment)) if per_segment else []

        return self.cache.joined(self.state, f"words:{fieldname}", make)

    # ------------------------------------------------------------ phrases
    def _phrase(self, q: wq.Phrase) -> _Part:
        """An exact phrase, checked position by position; scored as the sum of its words' scores, times its boost."""
        fieldobj = self.schema[q.fieldname]
        for word in q.words:
            try:
                fieldobj.to_bytes(word)
            except ValueError:
                return self.empty()
        mask = self.phrase_docs(q.fieldname, list(q.words))
        if not mask.any():
            return self.empty()
        parts = [self._term(q.fieldname, word, log=False) for word in q.words]
        for word in dict.fromkeys(q.words):
            self._log(q.fieldname, word, mask)
        score = np.sum([s for _, s in parts], axis=0)
        return mask, (score * q.boost if q.boost != 1.0 else score)

    def phrase_docs(self, fieldname: str, words: list[str]) -> np.ndarray:
        """The documents where the words stand one after another in the field (Whoosh's slop 1)."""
        if len(words) > 1:
            for word in words:  # one read of each word's postings gives its positions and its scores
                self._positions(fieldname, word)
        masks = [self._term(fieldname, word, log=False)[0] for word in words]
        mask = np.logical_and.reduce(masks)
        if len(words) == 1 or not mask.any():
            return mask.copy()
        found = [self._positions(fieldname, word) for word in words]
        stride = max(int(positions.max()) for _, positions in found if positions.size) + len(words)
        out = np.zeros(self.size, dtype=bool)
        if self.size * stride <= _PHRASE_TABLE_LIMIT:
            # Document and position as one number (document × stride + position), each word's
            # position moved back by its place in the phrase and forward by the phrase's length
            # less one (so never below 0 nor into the next document): the phrase starts where all
            # the words' numbers meet.  The rarest word's numbers are looked up in a table of
            # each other word's, one word at a time.
            numbers = sorted((docs * stride + (positions + (len(words) - 1 - step))
                              for step, (docs, positions) in enumerate(found)), key=len)
            keys, table = numbers[0], np.zeros(self.size * stride, dtype=bool)
            for other in numbers[1:]:
                table[other] = True
                keys = keys[table[keys]]
                if not keys.size:
                    break
                table[other] = False
            out[keys // stride] = True
            return out & mask  # (a deleted document's positions are still in its segment)
        # A collection too large for the table: the same numbers as sorted keys, intersected by
        # looking the smaller set up in the larger (both ascending and without repeats).
        keys = None
        for step, (docs, positions) in enumerate(found):
            keep = mask[docs] & (positions >= step)
            chain = (docs[keep] << 32) | (positions[keep] - step)  # ascending: by document, then position
            if keys is None:
                keys = chain
            elif keys.size <= chain.size:
                at = np.searchsorted(chain, keys)
                at[at == chain.size] = 0
                keys = keys[chain[at] == keys] if chain.size else chain
            else:
                at = np.searchsorted(keys, chain)
                at[at == keys.size] = 0
                keys = chain[keys[at] == chain]
            if not keys.size:
                break
        out[keys >> 32] = True
        return out

    def _positions(self, fieldname: str, word: str) -> tuple[np.ndarray, np.ndarray]:
        """(document, position) of every occurrence of a word in a field, in document then position order."""
        btext = self.schema[fieldname].to_bytes(word)
        key = (fieldname, btext)
        if key not in self._position_cache:
            part = self._read_term(fieldname, btext, positions=True)
            self._terms.setdefault(key, part)
        return self._position_cache[key]

    # ------------------------------------------------------------ anything else
    def _by_whoosh(self, q: wq.Query, weighted: bool) -> _Part:
        """A query part this module does not evaluate itself: Whoosh's matcher, document by document."""
        mask, score = self.empty()
        context = SearchContext(needs_current=False, weighting=self.searcher.weighting if weighted else None)
        for segment, (subsearcher, offset) in enumerate(self.leaves):
            matcher = q.matcher(subsearcher, context)
            while matcher.is_active():
                docnum = offset + matcher.id()
                mask[docnum] = True
                score[docnum] = matcher.score()
                matcher.next()
        for name, text in q.iter_all_terms():
            fieldobj = self.schema[name] if name in self.schema else None
            self._log(name, fieldobj.from_bytes(text) if isinstance(text, bytes) and fieldobj else text, mask)
        return mask, score


# ------------------------------------------------------------------ term expansion


@lru_cache(maxsize=256)
def _levenshtein_dfa(text: str, maxdist: int, prefix: int):  # type: ignore[no-untyped-def]
    return Automata.levenshtein_dfa(text, maxdist, prefix)


class _WordCursor:
    """Whoosh's field cursor (`text`, `find`, `next`) over a sorted list of words."""

    def __init__(self, words: list[str]) -> None:
        self.words, self.at = words, 0

    def text(self) -> str | None:
        return self.words[self.at] if self.at < len(self.words) else None

    def find(self, word: str) -> None:
        self.at = bisect_left(self.words, word)

    def next(self) -> None:
        self.at += 1


# ------------------------------------------------------------------ postings

_BLOCK_LENGTH = struct.Struct("!i")


def _blocks(reader, fieldname: str, btext: bytes):  # type: ignore[no-untyped-def]
    """Each posting block of a term in one segment: (ids, weights, values), read straight from the W3 file.

    The same bytes W3LeafMatcher reads (a length, a pickled block summary, the pickled and
    perhaps compressed data), without its per-block bookkeeping.
    """
    terms = reader._terms
    info = terms.term_info(fieldname, btext)
    if info.is_inlined():
        ids, weights, values = info.inlined_postings()
        yield np.asarray(ids, dtype=np.int64), weights, values
        return
    buffer = getattr(terms._postfile, "_buf", None)
    start = info._offset
    if buffer is None or bytes(buffer[start:start + 4]) != WHOOSH3_HEADER_MAGIC:
        yield from _matcher_blocks(reader.postings(fieldname, btext))  # not memory-mapped: through the matcher
        return
    view = memoryview(buffer)
    position = start + 4
    while True:
        length = _BLOCK_LENGTH.unpack_from(view, position)[0]
        position += 4
        end = position + abs(length)
        stream = io.BytesIO(view[position:end])
        summary = pickle.Unpickler(stream).load()
        data = stream.read()
        ids, weights, values = pickle.loads(zlib.decompress(data) if summary[3] else data)
        yield np.cumsum(np.asarray(ids, dtype=np.int64)), weights, values  # (arrays or tuples: both read so)
        if length < 0:
            return
        position = end


def _matcher_blocks(matcher):  # type: ignore[no-untyped-def]
    if isinstance(matcher, FilterMatcher):
        matcher = matcher.child  # deletions are applied with the live mask
    positional = matcher.supports("positions")
    while matcher.is_active():
        ids, weights, values = [], [], []
        while matcher.is_active() and len(ids) < 1024:
            ids.append(matcher.id())
            weights.append(matcher.weight())
            values.append(matcher.value() if positional else b"")
            matcher.next()
        yield np.asarray(ids, dtype=np.int64), tuple(weights), tuple(values)


def _read_postings(reader, fieldname: str, btext: bytes, positions: bool = False  # type: ignore[no-untyped-def]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Document numbers and weights of a term's postings in one segment; with `positions`, each
    posting's count of positions and all the positions (the field's format is WordPositions)."""
    ids: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    found: list[np.ndarray] = []
    for block_ids, block_weights, values in _blocks(reader, fieldname, btext):
        ids.append(block_ids)
        if block_weights is None or isinstance(block_weights, float):
            weights.append(np.full(len(block_ids), 1.0 if block_weights is None else block_weights))
        else:
            weights.append(np.asarray(block_weights, dtype=np.float64))
        if positions:
            if isinstance(values, PackedValues):
                ends = np.asarray(values.ends, dtype=np.int64) // 4
                ends[1:] -= ends[:-1].copy()
                counts.append(ends)
                found.append(np.frombuffer(values.data, "<u4"))
            else:
                counts.append(np.fromiter(map(len, values), dtype=np.int64, count=len(values)) // 4)
                found.append(np.frombuffer(b"".join(values), "<u4"))
    if not ids:
        empty = np.zeros(0, dtype=np.int64)
        return empty, np.zeros(0), empty, empty
    return (np.concatenate(ids), np.concatenate(weights), np.concatenate(counts) if positions else None,
            np.concatenate(found) if positions else None)


# ------------------------------------------------------------------ searching


def match(searcher, q: wq.Query, cache: SegmentCache, *, filter: wq.Query | None = None) -> Matched:  # type: ignore[no-untyped-def]
    """Every document matching `q` (and `filter`), with its score: `searcher.search(q, limit=None, filter=filter)`."""
    evaluator = Evaluator(searcher, cache)
    mask, score = evaluator.run(q)
    if filter is not None:
        mask = mask & evaluator.mask(filter)
    docnums = np.flatnonzero(mask)
    return Matched(docnums, score[docnums], evaluator.term_log)


def whoosh_match(searcher, q: wq.Query, *, filter: wq.Query | None = None) -> Matched:  # type: ignore[no-untyped-def]
    """The same as `match`, by Whoosh's own search (slower): for an index this module was not written for."""
    found = sorted((docnum, score) for score, docnum in searcher.search(q, limit=None, filter=filter).top_n)
    docnums = np.asarray([d for d, _ in found], dtype=np.int64)
    scores = np.asarray([s for _, s in found], dtype=np.float64)
    terms = [(name, text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text), None)
             for name, text in q.iter_all_terms()]
    return Matched(docnums, scores, terms)


def top(matched: Matched, start: int, stop: int, *, years: np.ndarray | None = None,
        newest_first: bool = True) -> list[tuple[int, float]]:
    """(docnum, score) for positions start..stop of the ranking: by score, or by year then score.

    Ties keep Whoosh's order: the lower document number first.
    """
    docnums, scores = matched.docnums, matched.scores
    if years is None:
        if docnums.size > stop:
            kth = np.partition(-scores, stop - 1)[stop - 1]
            keep = np.flatnonzero(-scores <= kth)
            docnums, scores = docnums[keep], scores[keep]
        order = np.lexsort((docnums, -scores))
    else:
        year_of = years[docnums]
        order = np.lexsort((docnums, -scores, -year_of if newest_first else year_of))
    chosen = order[start:stop]
    return [(int(docnums[i]), float(scores[i])) for i in chosen]
