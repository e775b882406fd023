"""Matching and ranking in bulk: a parsed Whoosh query run over whole posting lists.

Whoosh's matchers step through documents one at a time in Python.  That is
quick for rare words and slow for the words most records in this field share
("trauma", "care", "mental health"): a two-word query costs tens of
microseconds for every matching document, and a phrase reads positions for
each one.  Here each term's postings are read a block at a time into numpy
arrays, the query's And/Or/Not tree becomes arithmetic on per-segment masks,
and scores are Whoosh's own BM25F (same formula, same statistics, same field
boosts) summed per document, so the ranking does not change.  Phrases over
the stemmed text fields use the word-pair fields the index keeps for them.
A part of a query this module does not know is run by Whoosh's own matcher.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from whoosh import query as wq
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield
from whoosh.matching.wrappers import FilterMatcher
from whoosh.query.wrappers import ConstantScoreQuery
from whoosh.util.numeric import byte_to_length

from .index import TEXT_FIELDS, pair_term

_LENGTH_TABLE = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)
_LENGTH_TABLE[0] = 0.0
PAIRS_FIELD = "pairs"
# Below this many candidates a phrase is checked word position by word position (exact);
# above it, the hashed word pairs decide, which a hash collision gets wrong about once
# in a few thousand records that hold both words apart.
VERIFY_LIMIT = 100


@dataclass
class _Part:
    """A query part evaluated on every segment: which documents match and their scores."""

    masks: list[np.ndarray]
    scores: list[np.ndarray]


@dataclass
class Matched:
    """Every matching document (global numbers, ascending) with its score."""

    docnums: np.ndarray
    scores: np.ndarray
    # (field, text) of each term that matched somewhere, with its per-segment masks
    terms: list[tuple[str, str, list[np.ndarray]]] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return int(self.docnums.size)

    def matched_terms(self, docnum: int) -> list[tuple[str, str]]:
        """The (field, word) pairs of the query found in one document, for its snippet."""
        segment = max(i for i, offset in enumerate(self.offsets) if offset <= docnum)
        local = docnum - self.offsets[segment]
        return [(name, text) for name, text, masks in self.terms if masks[segment][local]]


class SegmentCache:
    """Per-segment arrays that do not change while a segment lives: deletions and field lengths."""

    def __init__(self) -> None:
        self._entries: dict[tuple, np.ndarray] = {}

    def retain(self, segment_ids: set) -> None:
        self._entries = {k: v for k, v in self._entries.items() if k[0] in segment_ids}

    def get(self, key: tuple, make) -> np.ndarray:  # type: ignore[no-untyped-def]
        value = self._entries.get(key)
        if value is None:
            value = self._entries[key] = make()
        return value


def _segment_id(reader) -> object:  # type: ignore[no-untyped-def]
    segment = getattr(reader, "segment", None)
    return segment().segment_id() if callable(segment) else id(reader)


class _Run:
    def __init__(self, searcher, cache: SegmentCache) -> None:  # type: ignore[no-untyped-def]
        self.searcher = searcher
        self.schema = searcher.schema
        self.leaves = list(searcher.leaf_searchers())
        self.readers = [s.reader() for s, _ in self.leaves]
        self.sizes = [r.doc_count_all() for r in self.readers]
        self.ids = [_segment_id(r) for r in self.readers]
        self.cache = cache
        weighting = searcher.weighting
        self.B = getattr(weighting, "B", 0.75)
        self.K1 = getattr(weighting, "K1", 1.2)
        self.field_B = getattr(weighting, "_field_B", {})
        self.terms: dict[tuple[str, bytes], _Part] = {}
        self.term_log: list[tuple[str, str, list[np.ndarray]]] = []
        cache.retain(set(self.ids))

    # ------------------------------------------------------------ per segment
    def live(self, segment: int) -> np.ndarray:
        reader = self.readers[segment]

        def make() -> np.ndarray:
            mask = np.ones(self.sizes[segment], dtype=bool)
            deleted = reader.deleted_docs_set if hasattr(reader, "deleted_docs_set") else set()
            if deleted:
                mask[np.fromiter(deleted, dtype=np.int64)] = False
            return mask

        # Deleting marks documents in a segment that keeps its id: the live count tells them apart.
        return self.cache.get((self.ids[segment], "live", self.sizes[segment], reader.doc_count()), make)

    def lengths(self, segment: int, fieldname: str) -> np.ndarray:
        reader = self.readers[segment]
        size = self.sizes[segment]

        def make() -> np.ndarray:
            out = np.zeros(size, dtype=np.float64)
            try:  # the codec's one-byte-per-document length column, read whole
                column = reader._perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
                count = min(column._count, size)
                raw = column._dbfile.get(column._basepos, count)
                out[:count] = _LENGTH_TABLE[np.frombuffer(raw, dtype=np.uint8)]
            except AttributeError:  # another codec: ask document by document
                for docnum in range(size):
                    out[docnum] = reader.doc_field_length(docnum, fieldname, 0) or 0
            return out

        return self.cache.get((self.ids[segment], "len", fieldname), make)

    def empty(self) -> _Part:
        return _Part([np.zeros(n, dtype=bool) for n in self.sizes], [np.zeros(n) for n in self.sizes])

    # ------------------------------------------------------------ leaves
    def term(self, fieldname: str, text, boost: float = 1.0, *, log: bool = True) -> _Part:  # type: ignore[no-untyped-def]
        if fieldname not in self.schema:
            return self.empty()
        btext = text if isinstance(text, bytes) else self.schema[fieldname].to_bytes(text)
        key = (fieldname, btext)
        part = self.terms.get(key)
        if part is None:
            part = self.terms[key] = self._read_term(fieldname, btext)
            if log:
                self.term_log.append((fieldname, self.schema[fieldname].from_bytes(btext), part.masks))
        if boost == 1.0:
            return part
        return _Part(part.masks, [s * boost for s in part.scores])

    def _read_term(self, fieldname: str, btext: bytes) -> _Part:
        scorable = self.schema[fieldname].scorable
        if scorable:
            idf = self.searcher.idf(fieldname, btext)
            avgfl = self.searcher.avg_field_length(fieldname) or 1
            B = self.field_B.get(fieldname, self.B)
        masks, scores = [], []
        for segment, reader in enumerate(self.readers):
            size = self.sizes[segment]
            mask = np.zeros(size, dtype=bool)
            score = np.zeros(size)
            if (fieldname, btext) in reader:
                ids, weights = _postings(reader.postings(fieldname, btext))
                mask[ids] = True
                if scorable:
                    lengths = self.lengths(segment, fieldname)[ids]
                    score[ids] = idf * ((weights * (self.K1 + 1)) /
                                        (weights + self.K1 * ((1 - B) + B * lengths / avgfl)))
                else:
                    score[ids] = weights
                mask &= self.live(segment)
            masks.append(mask)
            scores.append(score)
        return _Part(masks, scores)

    # ------------------------------------------------------------ the query tree
    def run(self, q: wq.Query) -> _Part:
        part = self._run(q)
        boost = getattr(q, "boost", 1.0)
        if boost != 1.0 and not isinstance(q, (wq.Term, ConstantScoreQuery)):
            part = _Part(part.masks, [s * boost for s in part.scores])
        return part

    def _run(self, q: wq.Query) -> _Part:  # noqa: C901 - one branch per kind of query
        if isinstance(q, wq.Term):
            return self.term(q.fieldname, q.text, q.boost)
        if isinstance(q, wq.And):
            positive = [c for c in q.subqueries if not isinstance(c, wq.Not)]
            negative = [c.query for c in q.subqueries if isinstance(c, wq.Not)]
            if not positive:
                return self._exclude(self._every(), negative)
            parts = [self.run(c) for c in positive]
            masks = [np.logical_and.reduce([p.masks[s] for p in parts]) for s in range(len(self.sizes))]
            scores = [np.sum([p.scores[s] for p in parts], axis=0) for s in range(len(self.sizes))]
            return self._exclude(_Part(masks, scores), negative)
        if isinstance(q, wq.Or) and not isinstance(q, wq.DisjunctionMax):
            if not q.subqueries:
                return self.empty()
            parts = [self.run(c) for c in q.subqueries]
            masks = [np.logical_or.reduce([p.masks[s] for p in parts]) for s in range(len(self.sizes))]
            scores = [np.sum([p.scores[s] for p in parts], axis=0) for s in range(len(self.sizes))]
            return _Part(masks, scores)
        if isinstance(q, wq.Not):
            return self._exclude(self._every(), [q.query])
        if isinstance(q, wq.AndNot):
            return self._exclude(self.run(q.a), [q.b])
        if isinstance(q, wq.AndMaybe):
            a, b = self.run(q.a), self.run(q.b)
            return _Part(a.masks, [sa + np.where(mb, sb, 0.0) for sa, mb, sb in zip(a.scores, b.masks, b.scores)])
        if isinstance(q, wq.Every) and not q.fieldname:
            return self._every()
        if isinstance(q, wq.qcore._NullQuery):
            return self.empty()
        if isinstance(q, ConstantScoreQuery):
            child = self.run(q.child)
            return _Part(child.masks, [np.where(m, q.score, 0.0) for m in child.masks])
        if isinstance(q, wq.NumericRange):
            return self.run(q._compile_query(self.searcher.reader()))
        if (isinstance(q, wq.Phrase) and q.fieldname in TEXT_FIELDS and q.slop == 1 and len(q.words) > 1
                and PAIRS_FIELD in self.schema):
            return self._phrase(q)
        if isinstance(q, wq.MultiTerm):
            words = [w for w in q._btexts(self.searcher.reader()) if w]
            if not words:
                return self.empty()
            parts = [self.term(q.field(), w) for w in words]
            masks = [np.logical_or.reduce([p.masks[s] for p in parts]) for s in range(len(self.sizes))]
            scores = [np.sum([p.scores[s] for p in parts], axis=0) for s in range(len(self.sizes))]
            return _Part(masks, scores)
        return self._by_whoosh(q)

    def _every(self) -> _Part:
        return _Part([self.live(s).copy() for s in range(len(self.sizes))],
                     [np.ones(n) for n in self.sizes])

    def _exclude(self, part: _Part, negative: list[wq.Query]) -> _Part:
        if not negative:
            return part
        masks = list(part.masks)
        for q in negative:
            other = self.run(q)
            masks = [m & ~o for m, o in zip(masks, other.masks)]
        return _Part(masks, part.scores)

    def _phrase(self, q: wq.Phrase) -> _Part:
        """Records with every word in the field and every adjacent pair in the pairs field.

        Scored like the words together.  Where few candidates are left, Whoosh's own
        phrase matcher checks their positions, so rare phrases are exact.
        """
        words = [self.term(q.fieldname, w) for w in q.words]
        pairs = [self.term(PAIRS_FIELD, pair_term(q.fieldname, a, b), log=False) for a, b in zip(q.words, q.words[1:])]
        masks = [np.logical_and.reduce([p.masks[s] for p in words + pairs]) for s in range(len(self.sizes))]
        scores = [np.sum([p.scores[s] for p in words], axis=0) for s in range(len(self.sizes))]
        if sum(int(m.sum()) for m in masks) <= VERIFY_LIMIT:
            for segment, (subsearcher, _) in enumerate(self.leaves):
                candidates = np.flatnonzero(masks[segment])
                if not candidates.size:
                    continue
                matcher = wq.Phrase(q.fieldname, q.words, slop=q.slop).matcher(subsearcher)
                for docnum in candidates.tolist():
                    if matcher.is_active():
                        matcher.skip_to(docnum)
                    if not (matcher.is_active() and matcher.id() == docnum):
                        masks[segment][docnum] = False
        return _Part(masks, scores)

    def _by_whoosh(self, q: wq.Query) -> _Part:
        """A query part this module does not evaluate itself: Whoosh's matcher, document by document."""
        masks, scores = [], []
        for segment, (subsearcher, _) in enumerate(self.leaves):
            mask = np.zeros(self.sizes[segment], dtype=bool)
            score = np.zeros(self.sizes[segment])
            matcher = q.matcher(subsearcher)
            while matcher.is_active():
                docnum = matcher.id()
                mask[docnum] = True
                score[docnum] = matcher.score()
                matcher.next()
            masks.append(mask & self.live(segment))
            scores.append(score)
        for name, text in q.iter_all_terms():
            if (name, text) not in ((n, t) for n, t, _ in self.term_log):
                self.term_log.append((name, text if isinstance(text, str) else self.schema[name].from_bytes(text),
                                      masks))
        return _Part(masks, scores)


def _postings(matcher) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """Document numbers and weights of a term's postings, a block at a time."""
    if isinstance(matcher, FilterMatcher):
        matcher = matcher.child  # deletions are applied with the live mask
    ids: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    if hasattr(matcher, "_read_data") and hasattr(matcher, "_next_block"):
        # Whoosh's W3 blocks, decoded as its _read_ids/_read_weights do, but in numpy.
        while matcher.is_active():
            matcher._read_data()
            block_ids, block_weights = matcher._data[0], matcher._data[1]
            block = np.asarray(block_ids, dtype=np.int64)
            ids.append(block if matcher._byteids else np.cumsum(block))
            if block_weights is None or isinstance(block_weights, float):
                weights.append(np.full(len(block), 1.0 if block_weights is None else block_weights))
            else:
                weights.append(np.asarray(block_weights, dtype=np.float64))
            matcher._next_block()
    else:
        one_ids, one_weights = [], []
        while matcher.is_active():
            one_ids.append(matcher.id())
            one_weights.append(matcher.weight())
            matcher.next()
        ids.append(np.asarray(one_ids, dtype=np.int64))
        weights.append(np.asarray(one_weights, dtype=np.float64))
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    return np.concatenate(ids), np.concatenate(weights)


def match(searcher, q: wq.Query, cache: SegmentCache) -> Matched:  # type: ignore[no-untyped-def]
    """Every document matching `q`, with Whoosh's BM25F score, in one pass over the postings."""
    run = _Run(searcher, cache)
    part = run.run(q)
    offsets = [offset for _, offset in run.leaves]
    docnums, scores = [], []
    for segment, offset in enumerate(offsets):
        local = np.flatnonzero(part.masks[segment] & run.live(segment))
        docnums.append(local + offset)
        scores.append(part.scores[segment][local])
    all_docnums = np.concatenate(docnums) if docnums else np.zeros(0, dtype=np.int64)
    all_scores = np.concatenate(scores) if scores else np.zeros(0)
    return Matched(all_docnums, all_scores, run.term_log, offsets)


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
