"""The shipped seed collection (references/) is complete, consistent and verified.

The collection is read in place and never written: the index goes to tmp_path.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from library import Library, Settings, latex
from library.bibtex import Entry, parse_file
from library.coverage import TOTAL, coverage_table, gaps
from library.facts import TITLE_MATCH, Facts, compare_entry, load_facts, title_similarity
from library.records import Record, normalise_doi
from library.taxonomy import load_vocabulary
from library.validation import DOI_SYNTAX

from .conftest import REPO
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


@pytest.fixture(scope="module")
def facts() -> Facts:
    """The project's compilation of checked facts, read in place from the shared folder."""
    return load_facts(shared_path("reference-facts", "verified.bib"))


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


def test_no_reference_is_missing_from_verified_bib(facts: Facts) -> None:
    assert sorted(set(ENTRIES) - set(facts.by_key)) == []


def test_the_facts_file_is_fully_understood(facts: Facts) -> None:
    # Every record names where it was checked, and every x-not-confirmed item names a field the
    # comparison knows: an item it could not read would otherwise be silently ignored.
    assert [p.describe() for p in facts.problems] == []


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
def test_reference_matches_the_verified_facts(key: str, facts: Facts) -> None:
    record = facts.by_key.get(key)
    assert record is not None, f"{key} has no record in the shared verified.bib"
    differences = compare_entry(ENTRIES[key], record)
    assert not differences, "\n".join(d.describe() for d in differences)


@pytest.mark.parametrize("key", sorted(ENTRIES))
def test_provenance_names_the_pages_the_facts_were_checked_on(key: str, facts: Facts) -> None:
    provenance = RECORDS[key].provenance.casefold()  # LaTeX decoded, as the record's pages are below
    for source in facts.by_key[key].verified_by.split(" ; "):
        first = source.split()[0]
        wanted = latex.decode(first if first.startswith("http") else source)
        assert wanted.casefold() in provenance, (key, wanted)


# Where a place named in a reference's `country` may be read from its checked record: the title,
# the notes, and for reports, books and theses the publisher's or institution's address.  A journal's
# name is no evidence ("American Journal of ..." says where the journal is, not the study).
PLACE_WORDS = {
    "United Kingdom": ("UK", "United Kingdom", "England", "Scotland", "Scottish", "Wales", "Welsh", "London"),
    "United States": ("US", "USA", "United States", "New York City", "Rockville, MD"),
    "Australia": ("Australia", "Australian"),
    "Scotland": ("Scotland", "Scottish"),
}
PLACE_FIELDS = ("title", "x-note", "address", "institution", "school")


@pytest.mark.parametrize("key", sorted(k for k, r in RECORDS.items() if r.countries))
def test_every_country_is_named_in_the_checked_record(key: str, facts: Facts) -> None:
    fields = facts.by_key[key].entry.fields
    text = " ".join(latex.decode(fields.get(name, "")) for name in PLACE_FIELDS)
    for country in RECORDS[key].countries:
        words = PLACE_WORDS.get(country, (country,))
        assert any(re.search(rf"\b{re.escape(word)}\b", text) for word in words), \
            f"{key}: country '{country}' is not named in its checked record; leave it out until it is"


# ---------------------------------------------------------------- unconfirmed candidates


def _unverified_section_a() -> str:
    text = shared_path("reference-facts", "unverified.txt").read_text(encoding="utf-8")
    assert "\nA. " in text and "\nB. " in text, "unverified.txt no longer has its sections A and B"
    # Section B lists references that ARE included (with some fields unconfirmed); only A is excluded.
    return text.split("\nA. ", 1)[1].split("\nB. ", 1)[0]


@dataclass(frozen=True)
class Candidate:
    """A work that could not be confirmed: what unverified.txt says of it."""

    label: str
    family_year: tuple[str, int] | None  # from a key such as purtle2020systematic or lewis2023
    dois: frozenset[str]
    titles: tuple[str, ...]


def _candidates(section: str) -> list[Candidate]:
    out = []
    for row in (line for line in section.splitlines() if " | " in line):
        label, _, rest = row.partition(" | ")
        key = re.match(r"([a-z]+)(\d{4})", label.split()[0])
        dois = {normalise_doi(d.rstrip('.,;)"')) for d in re.findall(r"10\.\d{4,9}/[^\s,;]+", row)}
        titles = tuple(t for t in re.findall(r'"([^"]{12,})"', rest) if not re.fullmatch(r"New Book \d{4}", t))
        out.append(Candidate(label.strip(), (key.group(1), int(key.group(2))) if key else None,
                             frozenset(dois), titles))
    return out


def _family(record: Record) -> str:
    if not record.creators:
        return ""
    return re.sub(r"[^a-z]", "", unicodedata.normalize("NFKD", record.creators[0].family)
                  .encode("ascii", "ignore").decode("ascii").casefold())


def unconfirmed_in(records: dict[str, Record], candidates: list[Candidate]) -> list[str]:
    """Each reference that looks like an unconfirmed candidate, and why: same DOI, same first
    author and year, or a title at least TITLE_MATCH similar (so renaming the key, or rewording
    the title a little, does not hide it)."""
    found = []
    for key, record in records.items():
        doi = normalise_doi(record.doi) if record.doi else ""
        for candidate in candidates:
            if doi and doi in candidate.dois:
                found.append(f"{key}: has the DOI of the unconfirmed {candidate.label}")
            if candidate.family_year and (_family(record), record.year) == candidate.family_year:
                found.append(f"{key}: has the first author and year of the unconfirmed {candidate.label}")
            for title in candidate.titles:
                score = title_similarity(record.title, title)
                if score >= TITLE_MATCH:
                    found.append(f"{key}: its title is {score:.2f} similar to the unconfirmed {candidate.label}")
    return found


@pytest.fixture(scope="module")
def candidates() -> list[Candidate]:
    found = _candidates(_unverified_section_a())
    assert len(found) >= 10
    assert sum(bool(c.family_year) for c in found) >= 5
    assert sum(bool(c.dois) for c in found) >= 5 and sum(bool(c.titles) for c in found) >= 8
    return found


def test_no_unverified_reference_is_included(candidates: list[Candidate]) -> None:
    assert unconfirmed_in(RECORDS, candidates) == []


def _renamed(key: str, title: str, author: str, year: str, doi: str = "") -> Record:
    fields = {"title": title, "year": year, "journal": "A Journal"} | ({"doi": doi} if doi else {})
    return Record.from_entry(Entry(key, "article", fields, {"author": (author,)}))


# A candidate under a new key, its title reworded as a copy-editor or another database would.
RENAMED = [
    ("purtle: British spelling, singular, title case",
     _renamed("smith2021review", "Systematic Review of Evaluations of Trauma-Informed Organisational Interventions "
              "That Include Staff Training", "Smith, Ann", "2021")),
    ("mccann: -isation and a full stop",
     _renamed("pearlman1991framework", "Vicarious traumatisation: a framework for understanding the psychological "
              "effects of working with victims.", "Pearlman, Laurie Anne", "1991")),
    ("damian: subtitle dropped, 'implementation' -> 'implementing'",
     _renamed("jones2018factors", "Organizational and provider-level factors in implementing trauma-informed care "
              "after a city-wide training", "Jones, Kim", "2018")),
    ("Destroying Sanctuary: shortened",
     _renamed("bloom2011destroying", "Destroying sanctuary: the crisis in human services", "Bloom, Sandra L.", "2011")),
    ("bunting: dash to colon, 'evidence review' reworded",
     _renamed("belfast2019child", "Trauma-informed child welfare systems: a rapid review of the evidence",
              "Doe, J.", "2019")),
    ("hanson: section heading dropped",
     _renamed("lang2016look", "A critical look at trauma-informed care among agencies and systems serving "
              "maltreated youth and their families", "Lang, Jason M.", "2016")),
    ("purtle: only the key renamed, same author and year",
     _renamed("purtle2020evaluations", "Evaluating organisational trauma training", "Purtle, Jonathan", "2020")),
    ("beckerblease: same author and year, hyphenated",
     _renamed("becker2017world", "A world becoming trauma-informed", "Becker-Blease, Kathryn A.", "2017")),
    ("benjet: only the DOI",
     _renamed("worldwide2016", "Traumatic events worldwide", "Other, A.", "2016", "https://doi.org/10.1017/S0033291715001981")),
]


@pytest.mark.parametrize(("what", "record"), RENAMED, ids=[w for w, _ in RENAMED])
def test_a_renamed_or_retitled_candidate_is_caught(what: str, record: Record, candidates: list[Candidate]) -> None:
    found = unconfirmed_in({record.key: record}, candidates)
    assert found, f"{what}: {record.key} slipped through"
    assert all(line.startswith(f"{record.key}: ") for line in found)


def test_an_unrelated_title_on_the_same_subject_is_not_caught(candidates: list[Candidate]) -> None:
    unrelated = _renamed("doe2021staff", "Staff training in trauma-informed care on acute wards: an evaluation",
                         "Doe, Jane", "2021")
    assert unconfirmed_in({unrelated.key: unrelated}, candidates) == []


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
