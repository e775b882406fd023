"""The baseline: the same records in SQLite FTS5, searched the same way.

The build reads and parses the same files with the project's own parser, in
the same number of worker processes, so that the ratio compares the search
engines and not the BibTeX parser.  Ranking is bm25 with the same field
weights; snippets come from `snippet()`; totals from `COUNT(*)`; the facet
count is evidence type by GROUP BY.  A second FTS5 table keeps words as
written (no stemmer), as our index does for prefix and fuzzy terms.
"""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from library.bibtex import parse_bytes
from library.records import Record
from library.taxonomy import Vocabulary

from .queries import FtsQuery

COLUMNS = ("title", "authors", "finding", "abstract", "keywords", "venue")
WEIGHTS = (3.0, 1.5, 2.0, 1.0, 1.5, 0.5)  # as library.search.FIELD_BOOSTS
UNSTEMMED = ("title", "finding", "abstract", "keywords")
CHUNK = 500


@dataclass(frozen=True)
class FtsResult:
    total: int
    keys: tuple[str, ...]
    snippets: tuple[str, ...]
    types: dict[str, int]


def _parse_chunk(paths: list[str]) -> list[tuple]:
    rows = []
    for path in paths:
        result = parse_bytes(Path(path).read_bytes(), path)
        if not result.entries:
            continue
        record = Record.from_entry(result.entries[0])
        rows.append((record.key, record.title, "; ".join(n.display() for n in record.creators),
                     record.year, record.venue, record.key_finding, record.abstract,
                     ", ".join(record.keywords), record.evidence_type, ",".join(record.settings),
                     record.themes))
    return rows


def _parsed(paths: list[str], procs: int) -> Iterator[list[tuple]]:
    chunks = [paths[i:i + CHUNK] for i in range(0, len(paths), CHUNK)]
    if procs <= 1:
        yield from map(_parse_chunk, chunks)
        return
    with ProcessPoolExecutor(max_workers=procs) as pool:
        yield from pool.map(_parse_chunk, chunks)


def build(root: Path, db_path: Path, vocabulary: Vocabulary, *, procs: int = 2) -> float:
    """Parse the collection and index it in FTS5; the seconds it took."""
    started = time.perf_counter()
    db_path.unlink(missing_ok=True)
    conn = sqlite3.connect(db_path)
    try:
        conn.executescript(f"""
            PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
            CREATE TABLE refs (id INTEGER PRIMARY KEY, key TEXT UNIQUE, {", ".join(COLUMNS)},
                               year INTEGER, type TEXT, setting TEXT);
            CREATE TABLE ref_theme (ref INTEGER, theme TEXT);
            CREATE VIRTUAL TABLE fts USING fts5({", ".join(COLUMNS)}, content='refs', content_rowid='id',
                                                tokenize='porter unicode61 remove_diacritics 2');
            CREATE VIRTUAL TABLE fts_x USING fts5({", ".join(UNSTEMMED)}, content='refs', content_rowid='id',
                                                  tokenize='unicode61 remove_diacritics 2');
            CREATE VIRTUAL TABLE fts_x_vocab USING fts5vocab(fts_x, 'row');
        """)
        paths = sorted(str(p) for p in Path(root).glob("*.bib"))
        next_id = 1
        with conn:
            for rows in _parsed(paths, procs):
                for key, title, authors, year, venue, finding, abstract, keywords, kind, setting, themes in rows:
                    rowid = next_id
                    next_id += 1
                    conn.execute("INSERT INTO refs VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                                 (rowid, key, title, authors, finding, abstract, keywords, venue, year, kind,
                                  setting))
                    conn.execute("INSERT INTO fts (rowid, title, authors, finding, abstract, keywords, venue) "
                                 "VALUES (?,?,?,?,?,?,?)", (rowid, title, authors, finding, abstract, keywords,
                                                            venue))
                    conn.execute("INSERT INTO fts_x (rowid, title, finding, abstract, keywords) VALUES (?,?,?,?,?)",
                                 (rowid, title, finding, abstract, keywords))
                    conn.executemany("INSERT INTO ref_theme VALUES (?, ?)",
                                     [(rowid, t) for t in vocabulary.with_ancestors(list(themes))])
            conn.execute("CREATE INDEX ref_theme_theme ON ref_theme (theme, ref)")
            conn.execute("CREATE INDEX refs_year ON refs (year)")
            conn.execute("INSERT INTO fts(fts) VALUES ('optimize')")
            conn.execute("INSERT INTO fts_x(fts_x) VALUES ('optimize')")
    finally:
        conn.close()
    return time.perf_counter() - started


def _within_one_edit(a: str, b: str) -> bool:
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diffs) == 1 or (len(diffs) == 2 and diffs[1] == diffs[0] + 1
                                   and a[diffs[0]] == b[diffs[1]] and a[diffs[1]] == b[diffs[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    for i in range(len(long_)):
        if long_[:i] + long_[i + 1:] == short:
            return True
    return False


class FtsSearcher:
    """Runs the translated queries on one open connection (kept warm, as our searcher is)."""

    def __init__(self, db_path: Path) -> None:
        self.conn = sqlite3.connect(db_path)

    def close(self) -> None:
        self.conn.close()

    def _fuzzy_match(self, words: tuple[str, ...]) -> str:
        groups = []
        for word in words:
            # Like Whoosh's FuzzyTerm with prefixlength=1: same first letter, at most one edit.
            rows = self.conn.execute("SELECT term FROM fts_x_vocab WHERE term >= ? AND term < ?",
                                     (word[0], chr(ord(word[0]) + 1))).fetchall()
            near = [t for (t,) in rows if _within_one_edit(word, t)] or [word]
            groups.append("(" + " OR ".join(f'"{t}"' for t in near) + ")")
        return " AND ".join(groups)

    def search(self, query: FtsQuery, limit: int = 20) -> FtsResult:
        conn = self.conn
        match = self._fuzzy_match(query.fuzzy) if query.fuzzy else query.match
        table = "fts_x" if (query.unstemmed or query.fuzzy) else "fts"
        where: list[str] = []
        params: list[object] = []
        if query.themes:
            where.append(f"refs.id IN (SELECT ref FROM ref_theme WHERE theme IN ({','.join('?' * len(query.themes))}))")
            params.extend(query.themes)
        if query.year_from is not None:
            where.append("refs.year >= ?")
            params.append(query.year_from)
        if query.year_to is not None:
            where.append("refs.year <= ?")
            params.append(query.year_to)
        if match:
            weights = ", ".join(str(w) for w in (WEIGHTS if table == "fts" else (3.0, 2.0, 1.0, 1.5)))
            source = f"{table} JOIN refs ON refs.id = {table}.rowid"
            conditions = " AND ".join([f"{table} MATCH ?"] + where)
            rows = conn.execute(
                f"SELECT refs.key, snippet({table}, -1, '<mark>', '</mark>', ' … ', 24) FROM {source} "
                f"WHERE {conditions} ORDER BY bm25({table}, {weights}) LIMIT ?",
                [match, *params, limit]).fetchall()
            total = conn.execute(f"SELECT COUNT(*) FROM {source} WHERE {conditions}", [match, *params]).fetchone()[0]
            types = conn.execute(f"SELECT refs.type, COUNT(*) FROM {source} WHERE {conditions} GROUP BY refs.type",
                                 [match, *params]).fetchall()
        else:
            conditions = " AND ".join(where) or "1"
            rows = conn.execute(f"SELECT key, '' FROM refs WHERE {conditions} ORDER BY year DESC LIMIT ?",
                                [*params, limit]).fetchall()
            total = conn.execute(f"SELECT COUNT(*) FROM refs WHERE {conditions}", params).fetchone()[0]
            types = conn.execute(f"SELECT type, COUNT(*) FROM refs WHERE {conditions} GROUP BY type",
                                 params).fetchall()
        return FtsResult(total, tuple(r[0] for r in rows), tuple(r[1] for r in rows), dict(types))
