"""The shipped seed collection (references/) is complete, consistent and verified.

The collection is read in place and never written: the index goes to tmp_path.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from library import Library, Settings
from library.bibtex import Entry, parse_file
from library.coverage import TOTAL, coverage_table, gaps
from library.records import Record, normalise_doi
from library.taxonomy import load_vocabulary
from library.validation import DOI_SYNTAX

from .conftest import DATA, REPO
from .shared_data import shared_path

SHIPPED = REPO / "references"
FILES = sorted(SHIPPED.glob("*.bib"))
VOCABULARY = load_vocabulary(SHIPPED / "themes.toml")


def _entry(path: Path) -> Entry:
    result = parse_file(path)
    assert not result.problems, [p.describe() for p in result.problems]
    [entry] = result.entries
    return entry


ENTRIES = {path.stem: _entry(path) for path in FILES}
RECORDS = {key: Record.from_entry(entry) for key, entry in ENTRIES.items()}
VERIFIED = {e.key: Record.from_entry(e) for e in parse_file(DATA / "verified.bib").entries}


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    before = _tree(SHIPPED)
    index = tmp_path_factory.mktemp("shipped-index")
    lib = Library(Settings.from_env(references_dir=SHIPPED, index_dir=index / "index", data_dir=index / "data"))
    yield lib
    lib.close()
    assert _tree(SHIPPED) == before, "the tests wrote into the shipped references/ folder"


# ---------------------------------------------------------------- the collection as a whole


def test_the_collection_passes_check(library: Library) -> None:
    report = library.check()
    assert report.ok, "\n".join(p.describe() for p in report.errors)
    assert report.count == len(FILES)


def test_every_file_is_indexed(library: Library) -> None:
    assert library.index.doc_count() == len(FILES)
    assert not [p for p in library.index.file_problems() if p.severity == "error"]


def test_at_least_fifty_references() -> None:
    assert len(FILES) >= 50


def test_keys_are_unique_and_name_their_files() -> None:
    folded = [key.casefold() for key in ENTRIES]
    assert len(folded) == len(set(folded))
    assert all(entry.key == stem for stem, entry in ENTRIES.items())


def test_dois_are_unique() -> None:
    dois = [normalise_doi(r.doi) for r in RECORDS.values() if r.doi]
    duplicates = {d for d in dois if dois.count(d) > 1}
    assert not duplicates


def test_no_reference_is_missing_from_verified_bib() -> None:
    assert sorted(set(ENTRIES) - set(VERIFIED)) == []


# ---------------------------------------------------------------- each reference


@pytest.mark.parametrize("key", sorted(ENTRIES))
def test_reference_is_tagged_and_documented(key: str) -> None:
    record, entry = RECORDS[key], ENTRIES[key]
    assert 1 <= len(record.themes) <= 5, record.themes
    assert set(record.themes) <= set(VOCABULARY.theme_by_slug), record.themes
    assert len(set(record.themes)) == len(record.themes)
    assert record.evidence_type in VOCABULARY.evidence_type_by_slug
    assert set(record.settings) <= set(VOCABULARY.setting_by_slug)
    assert len(record.key_finding) >= 80, "the key finding is missing or too short to be useful"
    assert entry.fields.get("finding-checked") == "no"  # nobody has checked a finding against the full text yet
    assert record.provenance.strip()
    if record.doi:
        assert DOI_SYNTAX.match(record.doi), record.doi
        assert entry.fields["doi"] == record.doi  # written bare, not as a URL


@pytest.mark.parametrize("key", sorted(ENTRIES))
def test_reference_matches_the_verified_facts(key: str) -> None:
    verified = VERIFIED.get(key)
    assert verified is not None, f"{key} is not in tests/data/verified.bib"
    record = RECORDS[key]
    assert record.title == verified.title
    assert record.year == verified.year
    assert normalise_doi(record.doi) == normalise_doi(verified.doi)
    assert record.type == verified.type


def _unverified_section_a() -> str:
    text = shared_path("reference-facts", "unverified.txt").read_text(encoding="utf-8")
    assert "\nA. " in text and "\nB. " in text, "unverified.txt no longer has its sections A and B"
    # Section B lists references that ARE included (with some fields unconfirmed); only A is excluded.
    return text.split("\nA. ", 1)[1].split("\nB. ", 1)[0]


def test_no_unverified_reference_is_included() -> None:
    section = _unverified_section_a()
    rows = [line for line in section.splitlines() if " | " in line]
    assert len(rows) >= 5
    keys = [row.split()[0] for row in rows if re.fullmatch(r"[a-z]+\d{4}[a-z]*", row.split()[0])]
    dois = {normalise_doi(d.rstrip('.,;)"')) for d in re.findall(r"10\.\d{4,9}/[^\s,;]+", section)}
    titles = {_words(t) for t in re.findall(r'"([^"]{12,})"', section)}
    assert keys and dois and titles

    for key in keys:
        if re.fullmatch(r"[a-z]+\d{4}", key):  # only author and year are known: any key starting so
            assert not [k for k in ENTRIES if k.startswith(key)], key
        else:
            assert key not in ENTRIES
    assert not dois & {normalise_doi(r.doi) for r in RECORDS.values() if r.doi}
    assert not titles & {_words(r.title) for r in RECORDS.values()}


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.casefold()))


# ---------------------------------------------------------------- searching it


SEARCHES = [
    ("burnout", {"burnout", "barrier-burnout"}),
    ("medical model", {"barrier-medical-model"}),
    ("restraint", {"restraint-seclusion"}),
    ("adverse childhood experiences", {"aces"}),
    ("leadership", {"leadership", "facilitator-managers", "advice-management-on-board"}),
    ("psychosis", {"psychosis-smi"}),
]


def _related(themes: set[str]) -> set[str]:
    assert themes <= set(VOCABULARY.theme_by_slug), themes - set(VOCABULARY.theme_by_slug)
    return themes | {d for t in themes for d in VOCABULARY.descendants(t)}


@pytest.mark.parametrize(("query", "themes"), SEARCHES, ids=[q for q, _ in SEARCHES])
def test_searches_find_references_on_the_theme(library: Library, query: str, themes: set[str]) -> None:
    related = _related(themes)
    hits = library.search(query).hits
    assert hits, f"nothing found for {query!r}"
    on_theme = [bool(set(hit.themes) & related) for hit in hits[:3]]
    assert on_theme[0], f"the top result for {query!r} ({hits[0].key}) is not tagged {sorted(themes)}"
    assert sum(on_theme) * 2 >= len(on_theme), [(h.key, h.themes) for h in hits[:3]]


def test_the_founding_study_is_present_and_tagged(library: Library) -> None:
    record = library.get("clark2021mental")
    assert record.year == 2021 and record.type == "phdthesis"
    assert record.title.startswith("Mental Health Staff’s Understandings of the Barriers and Facilitators")
    founding = set(VOCABULARY.descendants("founding-study"))
    assert set(record.themes) & founding
    assert "clark2021mental" in {h.key for h in library.search("theme:founding-study", per_page=100).hits}


# ---------------------------------------------------------------- coverage


def _tagged_under(theme: str) -> int:
    wanted = {theme, *VOCABULARY.descendants(theme)}
    return sum(1 for r in RECORDS.values() if set(r.themes) & wanted)


def test_coverage_counts_every_theme_and_names_the_gaps(library: Library) -> None:
    table = coverage_table(library._searcher, VOCABULARY)
    assert list(table.index) == [theme.slug for theme, _ in VOCABULARY.walk()]
    expected = {theme.slug: _tagged_under(theme.slug) for theme in VOCABULARY.themes}
    assert table[TOTAL].to_dict() == expected
    missing = gaps(table)
    for theme in VOCABULARY.themes:
        assert (expected[theme.slug] > 0) != (theme.slug in missing), theme.slug
    by_type = table.drop(columns=[TOTAL]).sum(axis=1).to_dict()
    assert by_type == expected  # every reference has exactly one evidence type


def test_coverage_command_prints_the_table(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "LIBRARY_REFERENCES_DIR": str(SHIPPED),
           "LIBRARY_INDEX_DIR": str(tmp_path / "index"), "LIBRARY_DATA_DIR": str(tmp_path / "data")}
    before = _tree(SHIPPED)

    result = subprocess.run([sys.executable, "-m", "library", "coverage"], capture_output=True, text=True,
                            encoding="utf-8", env=env, cwd=tmp_path, timeout=120)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "All types" in lines[0]
    walk = VOCABULARY.walk()
    for (theme, depth), row in zip(walk, lines[1:1 + len(walk)], strict=True):
        label = "  " * depth + theme.label
        assert row.startswith(label + "  "), (label, row)  # one row per theme, in vocabulary order
        count = _tagged_under(theme.slug)
        assert row.endswith("<- gap: no references yet") == (count == 0), row
        assert re.search(rf"\s{count if count else '-'}(\s+<- gap: no references yet)?$", row), row
    gap_count = sum(1 for theme in VOCABULARY.themes if not _tagged_under(theme.slug))
    if gap_count:
        assert f"{gap_count} theme(s) have no references yet" in result.stdout
    assert _tree(SHIPPED) == before
