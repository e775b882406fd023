"""library/ranking.py returns exactly what Whoosh's own search returns.

One generated collection (bench/collection.py's generator: the field's words with
Zipf-like frequencies, LaTeX accents, skewed themes) is indexed in three segments,
with deletions and edits, once for the whole run (shared by pytest-xdist workers).
Then, for several hundred generated queries of every kind the search syntax allows
(words, AND/OR/NOT, ANDNOT/ANDMAYBE, fields, prefixes, wildcards, fuzzy terms,
phrases with and without slop, hyphens and compounds, boosts, year ranges,
theme/type/setting terms) and the search page's filters, `ranking.match` must
give the documents of `searcher.search(q, limit=None, filter=...)`, every score
within 1e-9, and the first 20 in Whoosh's order (two documents whose scores are
within 1e-9 of each other are a tie, which either may list first: Whoosh adds the
same numbers in an order that depends on the segment).
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest
from filelock import FileLock
from whoosh import index as whoosh_index, query as wq, scoring

from bench.collection import DOMAIN_WORDS, JOURNALS, PHRASES, TAIL_WORDS, generate
from library import Library, SearchRequest, Settings
from library import ranking
from library.index import SCHEMA, SearchIndex
from library.query import parse_query
from library.search import IndexLexicon, Searcher, filter_query
from library.taxonomy import load_vocabulary

from .conftest import REPO

SIZE = 1600
HELD_BACK = 120  # added after the first build: a second segment
SEED = 20_261_129


def _build(root: Path) -> None:
    refs, held = root / "references", root / "held"
    generate(refs, SIZE)
    held.mkdir()
    files = sorted(refs.glob("*.bib"))
    for path in files[-HELD_BACK:]:
        path.rename(held / path.name)
    settings = Settings.from_env(references_dir=refs, index_dir=root / "index", data_dir=root / "data")
    library = Library(settings)  # the first segment
    for path in sorted(held.glob("*.bib")):
        path.rename(refs / path.name)
    for path in files[:30]:  # deleted from the first segment
        path.unlink()
    for path in files[100:110]:  # edited: deleted there, added again in the second segment
        path.write_text(path.read_text(encoding="utf-8").replace("title = {", "title = {Revised "), encoding="utf-8")
    library.refresh()
    for path in files[200:206]:  # and a third segment
        path.unlink()
    (refs / files[100].name).write_text(files[100].read_text(encoding="utf-8").replace("Revised", "Again"),
                                        encoding="utf-8")
    library.refresh()
    library.close()


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Under pytest-xdist every worker would build its own: build once, beside the workers' folders
    # (this run's; without xdist, this run's own folder).
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "ranking-equivalence"
    with FileLock(str(shared) + ".lock"):
        if not (shared / "built").exists():
            shutil.rmtree(shared, ignore_errors=True)
            shared.mkdir()
            _build(shared)
            (shared / "built").write_text("ok")
    return shared / "index"


@pytest.fixture(scope="module")
def searcher(index_dir: Path):  # type: ignore[no-untyped-def]
    s = whoosh_index.open_dir(str(index_dir / "whoosh"), schema=SCHEMA).searcher()
    assert len(list(s.leaf_searchers())) >= 3, "the collection should be in several segments"
    assert any(reader.has_deletions() for reader in (sub.reader() for sub, _ in s.leaf_searchers()))
    yield s
    s.close()


# ---------------------------------------------------------------- the queries

_VOCABULARY = load_vocabulary(REPO / "references" / "themes.toml")
_THEMES = [t.slug for t in _VOCABULARY.themes]
_TYPES = [t.slug for t in _VOCABULARY.evidence_types]
_SETTINGS = [s.slug for s in _VOCABULARY.settings]
_AUTHORS = ["muller", "smith", "garcia", "nguyen", "okafor", "o'brien", "simic", "bellis", "van"]


def _misspell(rng: random.Random, word: str) -> str:
    i = rng.randrange(1, len(word))
    return word[:i] + rng.choice("aeiourstn") + word[i + 1:] if rng.random() < 0.5 else word[:i] + word[i + 1:]


def _queries() -> list[tuple[str, str, SearchRequest | None]]:
    rng = random.Random(SEED)
    common, rare = DOMAIN_WORDS[:60], DOMAIN_WORDS[60:] + TAIL_WORDS[:150]
    word = lambda: rng.choice(common if rng.random() < 0.6 else rare)  # noqa: E731
    phrase = lambda: rng.choice(PHRASES + ("trauma informed care", "mental health"))  # noqa: E731
    abbreviations = iter([lambda: "PTSD", lambda: "TIC", lambda: "post-traumatic stress disorder",
                          lambda: "ptsd symptoms", lambda: f"PTSD {word()}", lambda: f"{word()} TIC care",
                          lambda: "post traumatic stress", lambda: f"posttraumatic stress disorder OR {word()}"])
    makers = {
        "word": lambda: word(),
        "words": lambda: " ".join(word() for _ in range(rng.randint(2, 4))),
        "or": lambda: f"{word()} OR {word()}" + (f" OR {word()}" if rng.random() < 0.4 else ""),
        "and": lambda: f"{word()} AND {word()}",
        "not": lambda: f"{word()} NOT {word()}",
        "lone not": lambda: f"NOT {word()}",
        "andnot": lambda: f"{word()} ANDNOT {word()}",
        "andmaybe": lambda: f"{word()} ANDMAYBE {word()}",
        "group": lambda: f"({word()} OR {word()}) {word()}",
        "field": lambda: f"{rng.choice(['title', 'finding', 'abstract', 'keywords', 'topics'])}:{word()}",
        "author": lambda: f"author:{rng.choice(_AUTHORS)}",
        "venue": lambda: f"journal:{rng.choice(JOURNALS).split()[0].strip('{}').lower()}",
        "prefix": lambda: f"{(w := word())[:rng.randint(3, max(3, len(w) - 1))]}*",
        "field prefix": lambda: f"title:{word()[:4]}*",
        "wildcard": lambda: (lambda w: f"{w[:2]}?{w[3:]}" if len(w) > 4 else f"{w}*")(word()),
        "fuzzy": lambda: f"{_misspell(rng, word())}~",
        "fuzzy 2": lambda: f"{_misspell(rng, word())}~2",
        "phrase": lambda: f'"{phrase()}"',
        "word phrase": lambda: f'"{word()} {word()}"',
        "slop": lambda: f'"{phrase()}"~{rng.randint(2, 4)}',
        "phrase and word": lambda: f'"{phrase()}" {word()}',
        "title phrase": lambda: f'title:"{phrase()}"',
        "hyphen": lambda: rng.choice(["trauma-informed", "trauma-informed care", "well-being", "burn-out",
                                      f"{word()}-{word()}"]),
        "compound": lambda: rng.choice(["burn out", "well being", "staff well being", "care givers",
                                        "health care", "mental-health"]),
        "boost": lambda: f"{word()}^2 {word()}",
        "year": lambda: rng.choice([f"year:{rng.randint(1990, 2026)}", f"year:[{rng.randint(1990, 2010)} TO "
                                    f"{rng.randint(2010, 2026)}]", f"year:>{rng.randint(1995, 2024)}",
                                    f"year:<={rng.randint(1995, 2024)}", f"{word()} year:[TO 2005]"]),
        "theme": lambda: f"theme:{rng.choice(_THEMES)}" + (f" {word()}" if rng.random() < 0.5 else ""),
        "type": lambda: f"type:{rng.choice(_TYPES)} {word()}",
        "setting": lambda: f"setting:{rng.choice(_SETTINGS)} OR {word()}",
        "mixed": lambda: f'"{phrase()}" OR ({word()} {word()[:4]}*) NOT year:<2000',
        "everything": lambda: rng.choice(["*", "title:*"]),
        # Abbreviations and their spelt-out forms (library/query.py ABBREVIATIONS): OR groups of
        # words and phrases.  Last, so that the queries of the kinds above stay as they were.
        "abbreviation": lambda: next(abbreviations)(),
    }
    out = []
    for kind, make in makers.items():
        for number in range(8):
            text = make()
            request = None
            if number % 3 == 2:  # the search page's filters, passed as Whoosh's filter=
                request = rng.choice([
                    SearchRequest(themes=tuple(rng.sample(_THEMES, 2))),
                    SearchRequest(themes=tuple(rng.sample(_THEMES, 2)), theme_mode="all"),
                    SearchRequest(evidence_types=(rng.choice(_TYPES),), settings=(rng.choice(_SETTINGS),)),
                    SearchRequest(year_from=rng.randint(1990, 2015), year_to=rng.randint(2015, 2026)),
                ])
            out.append((f"{kind}-{number}", text, request))
    return out


QUERIES = _queries()


def _assert_same(searcher, q: wq.Query, fq: wq.Query | None) -> None:  # type: ignore[no-untyped-def]
    expected = [(docnum, score) for score, docnum in searcher.search(q, limit=None, filter=fq).top_n]
    matched = ranking.match(searcher, q, ranking.SegmentCache(), filter=fq)
    ours = dict(zip(matched.docnums.tolist(), matched.scores.tolist()))
    assert set(ours) == {docnum for docnum, _ in expected}, f"{q!r}: other documents"
    for docnum, score in expected:
        assert abs(ours[docnum] - score) <= 1e-9, f"{q!r}: document {docnum} scores {ours[docnum]}, not {score}"
    top = ranking.top(matched, 0, 20)
    assert len(top) == min(20, len(expected))
    for (theirs, their_score), (mine, my_score) in zip(expected[:20], top):
        assert theirs == mine or abs(their_score - my_score) <= 1e-9, f"{q!r}: another order in the top 20"


def test_the_generated_queries_are_many_and_of_every_kind() -> None:
    assert len(QUERIES) >= 200
    assert len({kind.rsplit("-", 1)[0] for kind, _, _ in QUERIES}) >= 30


@pytest.mark.parametrize(("label", "text", "request_"), QUERIES, ids=[label for label, _, _ in QUERIES])
def test_match_is_whoosh_search(searcher, label: str, text: str, request_: SearchRequest | None) -> None:  # type: ignore[no-untyped-def]
    q = parse_query(text, IndexLexicon(searcher)).query
    _assert_same(searcher, q, filter_query(request_) if request_ else None)


_TREES = [
    wq.Or([wq.Term("abstract", "trauma"), wq.Term("title", "care", boost=0.0), wq.Term("keywords", "staff")]),
    wq.And([wq.Term("abstract", "care"), wq.Not(wq.Term("title", "trauma"))], boost=1.5),
    wq.Or([wq.Term("abstract", "care"), wq.Not(wq.Term("abstract", "trauma")), wq.Term("title", "staff")]),
    wq.Every(boost=0.0),
    wq.Every("keywords", boost=2.0),
    wq.Every("theme"),
    wq.Prefix("abstract_x", "", boost=2.0),
    wq.ConstantScoreQuery(wq.Term("abstract", "trauma"), 0.0),
    wq.Phrase("abstract", ["mental"], boost=2.0),
    wq.Phrase("abstract", ["mental", "health", "servic", "staff"]),
    wq.Phrase("title", ["care", "care"]),
    wq.Require(wq.Term("abstract", "care"), wq.Term("title", "trauma")),
    wq.DisjunctionMax([wq.Term("abstract", "care"), wq.Term("title", "care")], tiebreak=0.1),
    wq.TermRange("title_x", "a", "c"),
    wq.FuzzyTerm("abstract_x", "traning", maxdist=2, prefixlength=1, constantscore=False),
    wq.Wildcard("authors", "m*er"),
    wq.Or([wq.Term("type", t) for t in ("trial", "qualitative", "guidance")], boost=3.0),
]


@pytest.mark.parametrize("q", _TREES, ids=[repr(q)[:60] for q in _TREES])
def test_match_is_whoosh_search_for_trees_the_parser_never_makes(searcher, q: wq.Query) -> None:  # type: ignore[no-untyped-def]
    _assert_same(searcher, q, None)


@pytest.mark.parametrize("matcher_type", [wq.Or.DEFAULT_MATCHER, wq.Or.ARRAY_MATCHER])
def test_match_follows_whoosh_whichever_way_it_joins_or(searcher, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                                        matcher_type: int) -> None:
    # Segments here are small, so Whoosh preloads ORs of three parts or more; a segment of more
    # than 5,000 documents would add them up as a tree instead.  Both ways, for a third of the queries.
    monkeypatch.setattr(wq.Or, "matcher_type", matcher_type)
    for _, text, request in QUERIES[::3]:
        q = parse_query(text, IndexLexicon(searcher)).query
        _assert_same(searcher, q, filter_query(request) if request else None)


_PHRASED = [(text, request) for _, text, request in QUERIES if '"' in text or "-" in text]


@pytest.mark.parametrize("limit", [ranking._PHRASE_TABLE_LIMIT, 0], ids=["table", "sorted keys"])
def test_phrases_match_whoosh_both_ways_they_are_checked(searcher, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                                         limit: int) -> None:
    # A phrase's positions are matched in a table while the collection's documents times its longest
    # field fit in _PHRASE_TABLE_LIMIT bytes (this one does), else as sorted keys: both are Whoosh's.
    monkeypatch.setattr(ranking, "_PHRASE_TABLE_LIMIT", limit)
    assert len(_PHRASED) >= 30
    for text, request in _PHRASED:
        q = parse_query(text, IndexLexicon(searcher)).query
        _assert_same(searcher, q, filter_query(request) if request else None)
    for q in _TREES:
        if isinstance(q, wq.Phrase):
            _assert_same(searcher, q, None)


# ---------------------------------------------------------------- an index the fast path was not written for


def test_another_scoring_falls_back_to_whooshs_own_search(index_dir: Path) -> None:
    weighting = scoring.BM25F(B=0.5, K1=2.0)
    index = SearchIndex(index_dir, weighting=weighting)
    searcher = Searcher(index)
    assert searcher.fast_path_problem == "BM25F has B=0.5, K1=2.0, not B=0.75, K1=1.2"
    for text in ("trauma care", '"mental health services"', "trainin* OR burnout", "NOT trauma"):
        result = searcher.search(SearchRequest(text=text, per_page=20))
        whoosh_searcher = index.searcher()
        q = parse_query(text, IndexLexicon(whoosh_searcher)).query
        expected = whoosh_searcher.search(q, limit=None)
        assert result.total == len(expected)
        assert [(hit.key, hit.score) for hit in result.hits] == [
            (whoosh_searcher.stored_fields(docnum)["key"], score) for score, docnum in expected.top_n[:20]]
    index.close()


def test_the_index_as_built_uses_the_fast_path(index_dir: Path) -> None:
    index = SearchIndex(index_dir)
    assert Searcher(index).fast_path_problem is None
    index.close()
