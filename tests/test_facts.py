"""The fact check (library/facts.py) and `python -m library check --facts FILE.bib`.

Real data throughout: the project's facts file is read in place from the shared folder, and each
comparison starts from a shipped reference and its real record; a mutation then says exactly
which difference must be reported.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest
from hypothesis import given, settings, strategies as st

from library.bibtex import Entry, format_entry, parse_file
from library.facts import (
    AUTHOR_LIST, ENTRY_TYPE, EXEMPT_FIELDS, FORENAMES, NOT_CONFIRMED_MEANINGS, TITLE_MATCH, Difference, Facts,
    compare_collection, compare_entry, forename_beyond, is_bibliographic, load_facts, names_agree,
    read_facts, read_not_confirmed, title_similarity,
)
from library.errors import LibraryError
from library.records import Name

from .conftest import REPO
from .shared_data import shared_path

SHIPPED = REPO / "references"
DOCS_COPY = REPO / "docs" / "verified.bib"


def _shipped(key: str) -> Entry:
    [entry] = parse_file(SHIPPED / f"{key}.bib").entries
    return entry


@pytest.fixture(scope="module")
def shared_facts_file() -> Path:
    return shared_path("reference-facts", "verified.bib")


@pytest.fixture(scope="module")
def facts(shared_facts_file: Path) -> Facts:
    return load_facts(shared_facts_file)


# ---------------------------------------------------------------- the project's copy


def test_the_docs_copy_is_the_shared_facts_file_byte_for_byte(shared_facts_file: Path) -> None:
    # docs/verified.bib lets a librarian without the shared folder re-run the check; it must not drift.
    assert DOCS_COPY.read_bytes() == shared_facts_file.read_bytes(), \
        "docs/verified.bib differs from ../shared/reference-facts/verified.bib: copy the shared file over it"


# ---------------------------------------------------------------- x-not-confirmed, in words

# Every x-not-confirmed value in the project's facts file, and what each means.
NOT_CONFIRMED = [
    ("issue number", {"number"}),
    ("page range (start page 461 seen); DOI; author forenames (source gives initials only)",
     {"pages", "doi", FORENAMES}),
    ("volume; article number", {"volume", "pages"}),
    ("author forename; DOI (UEL theses often carry a 10.15123/uel.<item-id> DOI, but none was seen for this item)",
     {FORENAMES, "doi"}),
    ("author forename; repository URL", {FORENAMES, "url"}),
    ("volume; issue; pages; author forenames (source gives initials only)", {"volume", "number", "pages", FORENAMES}),
    ("volume", {"volume"}),
    ("full author list (last author seen as Lowery, J. C.; middle authors not seen)", {AUTHOR_LIST}),
    ("volume; pages", {"volume", "pages"}),
    ("issue number; DOI", {"number", "doi"}),
    ("DOI", {"doi"}),
    ("volume; issue; pages; exact title wording (the PubMed record shows a garbled word order)",
     {"volume", "number", "pages", "title"}),
    ("volume; issue; pages; fifth author (first name Robert, surname truncated on source); "
     "journal name not printed on the pages seen", {"volume", "number", "pages", AUTHOR_LIST, "journal"}),
    ("author forenames (source gives initials only)", {FORENAMES}),
    ("issue number; forenames of van Os and Morrison (source gives initials)", {"number", FORENAMES}),
    ("authors after Viechtbauer (source gives 'et al.'); author forenames (source gives initials)",
     {AUTHOR_LIST, FORENAMES}),
    # Forms a librarian might write in another facts file.
    ("volume, issue and pages", {"volume", "number", "pages"}),
    ("place of publication (Philadelphia vs New York)", {"address"}),
    ("ISBN; month", {"isbn", "month"}),
    ("", set()),
]


@pytest.mark.parametrize(("text", "meaning"), NOT_CONFIRMED, ids=[t[:40] or "empty" for t, _ in NOT_CONFIRMED])
def test_x_not_confirmed_is_read_as_the_fields_it_names(text: str, meaning: set[str]) -> None:
    meanings, unknown = read_not_confirmed(text)
    assert set(meanings) == meaning
    assert unknown == []


def test_every_x_not_confirmed_in_the_facts_file_is_in_the_table(facts: Facts) -> None:
    # The table above is the real file's vocabulary: a new wording there gets a row here.
    table = {text for text, _ in NOT_CONFIRMED}
    seen = {r.entry.get("x-not-confirmed") for r in facts.records if r.entry.get("x-not-confirmed")}
    assert seen <= table, seen - table


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_x_not_confirmed_text_is_read_into_known_fields_or_reported(text: str) -> None:
    meanings, unknown = read_not_confirmed(text)
    assert set(meanings) <= NOT_CONFIRMED_MEANINGS
    assert all(item.strip() for item in unknown)


def test_an_item_naming_no_field_is_reported_not_ignored() -> None:
    meanings, unknown = read_not_confirmed("volume; colour of the cover")
    assert set(meanings) == {"volume"} and unknown == ["colour of the cover"]


# ---------------------------------------------------------------- names and values

NAMES = [
    ("Felitti, Vincent J.", "Felitti, V. J.", True),
    ("Felitti, V. J.", "Felitti, Vincent J.", True),
    ("Vincent J. Felitti", "Felitti, V. J.", True),
    ("FELITTI, V. J.", "Felitti, V. J.", True),  # case ignored
    ("{Ten Have}, Margreet", "Ten Have, Margreet", True),  # brace protection ignored
    ("S{\\o}ndergaard, Rikke", "Søndergaard, Rikke", True),  # LaTeX decoded
    ("Lepine, J.-P.", "Lepine, Jean-Pierre", True),
    ("van Os, J.", "van Os, J.", True),
    ("{Substance Abuse and Mental Health Services Administration}",
     "{substance abuse and mental health services administration}", True),
    ("Felitti, V.", "Felitti, V. J.", False),  # a middle initial lost
    ("Felitti, J. V.", "Felitti, V. J.", False),  # initials out of order
    ("Os, J.", "van Os, J.", False),  # the particle is part of the family name
    ("Sondergaard, Rikke", "Søndergaard, Rikke", False),  # a lost accent is a different spelling
    ("Bellis, Mark A.", "Hughes, Karen", False),
]


@pytest.mark.parametrize(("shipped", "verified", "agree"), NAMES)
def test_names_are_compared_as_family_name_and_initials(shipped: str, verified: str, agree: bool) -> None:
    assert names_agree(Name.parse(shipped), Name.parse(verified)) is agree


FORENAMES_BEYOND = [
    ("Elliott, Doreen E.", "Elliott, D. E.", True),  # completed from memory
    ("Bellis, Mark A.", "Bellis, M. A.", True),
    ("Hardcastle, Kathryn A.", "Hardcastle, Katherine A.", True),  # same initials, other spelling
    ("Elliott, D. E.", "Elliott, D. E.", False),
    ("Bellis, M. A.", "Bellis, Mark A.", False),  # saying less is never wrong
    ("Bellis, Mark A.", "Bellis, Mark A.", False),
    ("Bellis, MARK A.", "Bellis, Mark A.", False),
    ("Lepine, Jean-Pierre", "Lepine, Jean-Pierre", False),
    ("Lepine, Jean-Pierre", "Lepine, J.-P.", True),
]


@pytest.mark.parametrize(("shipped", "verified", "beyond"), FORENAMES_BEYOND)
def test_a_forename_the_record_does_not_give_is_caught(shipped: str, verified: str, beyond: bool) -> None:
    assert forename_beyond(Name.parse(shipped), Name.parse(verified)) is beyond


def test_the_exempt_fields_are_the_projects_own() -> None:
    assert EXEMPT_FIELDS == {"themes", "evidence-type", "setting", "country", "key-finding", "finding-checked",
                             "provenance", "added", "added-by"}
    assert not is_bibliographic("x-verified-by") and not is_bibliographic("x-note")
    for name in ("title", "journal", "pages", "doi", "url", "abstract", "note", "month", "isbn"):
        assert is_bibliographic(name), name


# ---------------------------------------------------------------- one reference against its record


def _set(**fields: str | None) -> Callable[[Entry], Entry]:
    return lambda entry: entry.with_fields(**fields)


def _authors(*names: str) -> Callable[[Entry], Entry]:
    return lambda entry: entry.with_persons("author", names)


def _author_at(position: int, name: str) -> Callable[[Entry], Entry]:
    def change(entry: Entry) -> Entry:
        names = list(entry.persons["author"])
        names[position - 1] = name
        return entry.with_persons("author", names)
    return change


def _type(kind: str) -> Callable[[Entry], Entry]:
    return lambda entry: Entry(entry.key, kind, dict(entry.fields), dict(entry.persons), entry.source, entry.line)


# (reference, change to the shipped entry, the differences expected as (field, shipped, verified, reason)).
MUTATIONS = [
    ("felitti1998relationship", _set(pages="245--259"),
     [("pages", "245--259", "245--258", "differs")]),
    ("felitti1998relationship", _set(pages="245\u2013258"), []),  # the dash in a range is not a fact
    ("felitti1998relationship", _set(doi="https://doi.org/10.1016/s0749-3797(98)00017-8"), []),  # DOIs ignore case
    ("felitti1998relationship",
     _set(title="RELATIONSHIP OF CHILDHOOD ABUSE AND HOUSEHOLD DYSFUNCTION TO MANY OF THE LEADING CAUSES OF DEATH "
                "IN ADULTS: THE ADVERSE CHILDHOOD EXPERIENCES (ACE) STUDY"), []),  # case and braces ignored
    ("felitti1998relationship", _set(year="1999"), [("year", "1999", "1998", "differs")]),
    ("felitti1998relationship", _set(url=None),
     [("url", "", "https://www.ajpmonline.org/article/S0749-3797(98)00017-8/fulltext", "left out")]),
    ("felitti1998relationship", _type("misc"), [(ENTRY_TYPE, "misc", "article", "differs")]),
    ("felitti1998relationship", _author_at(3, "Nordenburg, Dale"),
     [("author 3", "Nordenburg, Dale", "Nordenberg, Dale", "differs")]),
    ("felitti1998relationship",
     _authors("Felitti, Vincent J.", "Anda, Robert F.", "Nordenberg, Dale", "Williamson, David F.",
              "Spitz, Alison M.", "Edwards, Valerie", "Koss, Mary P."),
     [("author 8", "", "Marks, James S.", "left out")]),
    ("felitti1998relationship",
     _set(themes="burnout", country="Narnia", setting="inpatient", **{"key_finding": "Changed."},
          provenance="Elsewhere.", added="2030-01-01", added_by="someone", finding_checked="yes"), []),
    ("felitti1998relationship", _set(x_note="Any note about the checking."), []),
    ("kessler2017trauma", _set(month="jul"), [("month", "jul", "", "not in the verified record")]),
    ("kessler2017trauma", _set(abstract="Copied from somewhere."),
     [("abstract", "Copied from somewhere.", "", "not in the verified record")]),
    ("bellis2019life", _set(number="10"), [("number", "10", "", "not confirmed: issue number")]),
    ("wilson2017literature", _set(pages="240--251"), [("pages", "240--251", "", "not confirmed: pages")]),
    ("emsley2022trauma", _set(pages="1556"), [("pages", "1556", "", "not confirmed: article number")]),
    ("elliott2005trauma", _set(pages="461--477", doi="10.1002/jcop.20063"),
     [("pages", "461--477", "", "not confirmed: page range (start page 461 seen)"),
      ("doi", "10.1002/jcop.20063", "", "not confirmed: DOI")]),
    ("azeem2011effectiveness", _set(journal="Journal of Child and Adolescent Psychiatric Nursing"),
     [("journal", "Journal of Child and Adolescent Psychiatric Nursing", "",
       "not confirmed: journal name not printed on the pages seen")]),
    ("turner2024implementing", _set(url="https://repository.uel.ac.uk/item/8y96y"),
     [("url", "https://repository.uel.ac.uk/item/8y96y", "", "not confirmed: repository URL")]),
    ("elliott2005trauma", _author_at(1, "Elliott, Doreen E."),
     [("author 1", "Elliott, Doreen E.", "Elliott, D. E.",
       "forename not confirmed: author forenames (source gives initials only)")]),
    ("engel1977need", _authors("Engel, George L."),
     [("author 1", "Engel, George L.", "Engel, G. L.", "forename not confirmed")]),
    ("varese2012childhood",
     _authors("Varese, F.", "Smeets, F.", "Drukker, M.", "Lieverse, R.", "Lataster, T.", "Viechtbauer, W.",
              "Read, J.", "van Os, J.", "Bentall, R. P."),
     [("author 7", "Read, J.", "others", "differs"),
      ("author 8", "van Os, J.", "", "not in the verified record"),
      ("author 9", "Bentall, R. P.", "", "not in the verified record")]),
    ("figley1995compassion", _set(address="New York"), [("address", "New York", "", "not in the verified record")]),
    ("figley1995compassion", lambda e: e.with_persons("editor", ["Figley, Charles Robert"]),
     [("editor 1", "Figley, Charles Robert", "Figley, Charles R.", "forename not confirmed")]),
    ("hughes2017effect", _author_at(3, "Hardcastle, Kathryn A."),
     [("author 3", "Hardcastle, Kathryn A.", "Hardcastle, Katherine A.", "forename differs")]),
    ("bloom2013restoring", _set(isbn="9780199796366"), []),  # the same ISBN without hyphens
    ("samhsa2014concept", _set(month="July"), []),  # the month macro jul and its name are one fact
]


@pytest.mark.parametrize(("key", "change", "expected"), MUTATIONS,
                         ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(MUTATIONS)])
def test_each_difference_is_reported_with_file_field_and_both_values(
        key: str, change: Callable[[Entry], Entry], expected: list[tuple[str, str, str, str]],
        facts: Facts) -> None:
    record = facts.by_key[key]
    assert compare_entry(_shipped(key), record) == []  # the shipped reference agrees before the change
    differences = compare_entry(change(_shipped(key)), record, file=f"references/{key}.bib")
    assert [(d.field, d.shipped, d.verified, d.reason) for d in differences] == expected
    assert all(d.file == f"references/{key}.bib" and d.key == key for d in differences)


def test_a_difference_reads_as_one_line() -> None:
    line = Difference("references/x.bib", "x", "pages", "1--9", "", "not confirmed: pages").describe()
    assert line == "references/x.bib: pages: shipped '1--9'; verified (none) (not confirmed: pages)"


# ---------------------------------------------------------------- reading a facts file

FACTS_WITH_PROBLEMS = """@article{first2020,
  author = {First, Ann},
  title = {A checked article},
  journal = {A Journal},
  year = {2020},
  x-verified-by = {https://example.org/first}
}

@article{unsourced2021,
  author = {Second, Bob},
  title = {An article nobody says where they checked},
  year = {2021}
}

@article{vague2022,
  author = {Third, Cy},
  title = {An article with a vague note},
  year = {2022},
  x-verified-by = {https://example.org/vague},
  x-not-confirmed = {volume; the colour of the cover}
}

@article{broken2023,
  author = {Fourth, Di}
  title = {A comma is missing above},
}
"""


def test_a_facts_file_is_read_tolerantly_and_every_problem_located() -> None:
    facts = read_facts(FACTS_WITH_PROBLEMS.encode("utf-8"), "facts.bib")
    assert [r.key for r in facts.records] == ["first2020", "unsourced2021", "vague2022"]
    described = [p.describe() for p in facts.problems]
    assert any(d.startswith("facts.bib, line 25, entry 'broken2023'") for d in described), described
    assert "facts.bib, line 9, entry 'unsourced2021': Error: has no x-verified-by" in "\n".join(described)
    assert any("entry 'vague2022'" in d and "'the colour of the cover'" in d for d in described), described
    assert facts.by_key["vague2022"].not_confirmed == {"volume": "volume"}


def test_a_missing_or_empty_facts_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LibraryError, match="does not exist"):
        load_facts(tmp_path / "nowhere.bib")
    (tmp_path / "empty.bib").write_text("% nothing here\n", encoding="utf-8")
    with pytest.raises(LibraryError, match="cannot be used as a facts file"):
        load_facts(tmp_path / "empty.bib")


# ---------------------------------------------------------------- the whole collection


def _all_shipped() -> list[Entry]:
    return [parse_file(path).entries[0] for path in sorted(SHIPPED.glob("*.bib"))]


def test_the_shipped_collection_agrees_with_the_shared_facts(facts: Facts) -> None:
    report = compare_collection(_all_shipped(), facts)
    assert report.ok, "\n".join(report.lines())
    assert len(report.compared) == len(_all_shipped()) and not report.without_record
    assert {how for _, _, how in report.compared} == {"key"}
    assert report.unused == ("huckshorn2004reducing",)  # left out of the seed: its exact title is unconfirmed


def test_a_reference_under_another_key_is_matched_by_doi_or_title(facts: Facts) -> None:
    felitti = _shipped("felitti1998relationship").with_key("ace1998").with_fields(pages="245--260")
    herman = _shipped("herman1992trauma").with_key("traumarecovery").with_fields(year="1997")
    stranger = Entry("nobody2020", "article", {"title": "A work nobody checked", "year": "2020"}, {})
    report = compare_collection([felitti, herman, stranger], facts)
    assert ("ace1998", "felitti1998relationship", "DOI") in report.compared
    assert ("traumarecovery", "herman1992trauma", "title") in report.compared
    assert report.without_record == ("nobody2020",)
    assert [(d.key, d.field, d.shipped, d.verified) for d in report.differences] == [
        ("ace1998", "pages", "245--260", "245--258"), ("traumarecovery", "year", "1997", "1992")]
    text = "\n".join(report.lines())
    assert "compared with the record 'felitti1998relationship' (same DOI)" in text
    assert "not compared: nobody2020" in text


def test_a_facts_file_that_matches_nothing_does_not_pass(facts: Facts) -> None:
    stranger = Entry("nobody2020", "article", {"title": "A work nobody checked", "year": "2020"}, {})
    report = compare_collection([stranger], facts)
    assert not report.ok and not report.differences
    assert "nothing was checked" in "\n".join(report.lines())


def test_the_report_prints_the_records_note_beside_its_differences(facts: Facts) -> None:
    nation = _shipped("nation2022implementing").with_fields(doi="10.3389/fpsyt.2022.810814")
    report = compare_collection([nation], facts)
    lines = report.lines()
    assert lines[0].endswith("doi: shipped '10.3389/fpsyt.2022.810814'; verified '10.3389/fpsyt.2021.810814' (differs)")
    assert lines[1].startswith("  checked on: https://www.frontiersin.org/")
    assert lines[2].startswith("  note: Published 20 Jan 2022 although the DOI contains '2021' -- do not "
                               "'correct' the DOI.")


TITLES = [
    ("Trauma informed interventions: a systematic review", "Trauma-Informed Interventions: A Systematic Review.", 1.0),
    ("Vicarious traumatization: a framework", "Vicarious traumatisation: a framework", 1.0),
    ("Burnout in mental health services", "Burnouts in mental-health service", 1.0),
    ("{SAMHSA}'s Concept of Trauma", "SAMHSA’s concept of trauma", 1.0),
    ("", "Anything", 0.0),
]


@pytest.mark.parametrize(("a", "b", "score"), TITLES)
def test_title_similarity_ignores_case_punctuation_spelling_and_plurals(a: str, b: str, score: float) -> None:
    assert title_similarity(a, b) == pytest.approx(score)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120), st.text(max_size=120))
def test_title_similarity_is_symmetric_and_between_0_and_1(a: str, b: str) -> None:
    score = title_similarity(a, b)
    assert 0.0 <= score <= 1.0 and score == title_similarity(b, a)
    assert title_similarity(a, a) in (0.0, 1.0)  # 0 only for a title with no content words


@pytest.mark.parametrize("path", sorted(SHIPPED.glob("*.bib")), ids=lambda p: p.stem)
def test_a_reference_agrees_with_a_record_made_from_itself(path: Path) -> None:
    [entry] = parse_file(path).entries
    facts = read_facts(format_entry(entry.with_fields(x_verified_by="https://example.org/")).encode("utf-8"),
                       "itself.bib")
    assert facts.problems == ()
    assert compare_entry(entry, facts.records[0]) == []


def test_the_closest_distinct_works_in_the_facts_file_stay_below_the_threshold(facts: Facts) -> None:
    titles = [(r.key, r.entry.get("title")) for r in facts.records]
    closest = max((title_similarity(a, b), ka, kb) for i, (ka, a) in enumerate(titles) for kb, b in titles[i + 1:])
    assert closest[0] < TITLE_MATCH, closest  # else two checked works would be taken for one


# ---------------------------------------------------------------- the command line


@pytest.fixture
def cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    references = tmp_path / "references"
    shutil.copytree(SHIPPED, references, ignore=shutil.ignore_patterns(".*"))
    env = {**os.environ, "PYTHONPATH": str(REPO), "LIBRARY_REFERENCES_DIR": str(references),
           "LIBRARY_INDEX_DIR": str(tmp_path / "index"), "LIBRARY_DATA_DIR": str(tmp_path / "data")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "library", *args], capture_output=True, text=True,
                              encoding="utf-8", env=env, cwd=tmp_path, timeout=120)
    return run


def test_check_facts_passes_on_the_shipped_collection(cli, shared_facts_file: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("check", "--facts", str(shared_facts_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "references checked: no errors" in result.stdout  # the usual check still runs first
    assert result.stdout.rstrip().endswith(
        f"55 reference(s) compared with {shared_facts_file} (56 record(s)): every bibliographic field agrees.")


def test_check_facts_lists_every_difference_with_a_tampered_facts_file(
        cli, shared_facts_file: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = shared_facts_file.read_text(encoding="utf-8")
    tampered = tmp_path / "tampered.bib"
    for old, new in [
        ("  pages        = {245--258},", "  pages        = {245--259},"),  # felitti: a wrong page range
        ("Bellis, Mark A. and Hughes, Karen and Leckenby", "Bellis, M. A. and Hughes, Karen and Leckenby"),
        ("  x-verified-by = {http://researchonline.ljmu.ac.uk/id/eprint/7161},",
         "  x-verified-by = {http://researchonline.ljmu.ac.uk/id/eprint/7161},\n  x-not-confirmed = {issue number},"),
        ("  doi          = {10.1192/bja.2018.29},\n", ""),  # sweeney2018paradigm: DOI not in the record
    ]:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    tampered.write_text(text, encoding="utf-8")

    result = cli("check", "--facts", str(tampered))

    assert result.returncode == 1, result.stdout + result.stderr
    references = tmp_path / "references"
    differences = [line for line in result.stdout.splitlines() if line.startswith(str(references))]
    assert differences == [
        f"{references}/bellis2014national.bib: author 1: shipped 'Bellis, Mark A.'; verified 'Bellis, M. A.' "
        "(forename not confirmed)",
        f"{references}/felitti1998relationship.bib: pages: shipped '245--258'; verified '245--259' (differs)",
        f"{references}/hughes2017effect.bib: number: shipped '8'; verified (none) (not confirmed: issue number)",
        f"{references}/sweeney2018paradigm.bib: doi: shipped '10.1192/bja.2018.29'; verified (none) "
        "(not in the verified record)",
    ]
    assert "4 difference(s) in 4 reference(s)" in result.stdout


def test_check_facts_refuses_a_facts_file_it_cannot_use(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("check", "--facts", str(tmp_path / "nowhere.bib"))
    assert (result.returncode, result.stdout) == (3, "")  # refused before the collection is checked
    assert f"{tmp_path / 'nowhere.bib'} does not exist" in result.stderr

    empty = tmp_path / "empty.bib"
    empty.write_text("% no entries\n", encoding="utf-8")
    result = cli("check", "--facts", str(empty))
    assert (result.returncode, result.stdout) == (1, "")
    assert f"{empty} cannot be used as a facts file:" in result.stderr

    huge = tmp_path / "huge.bib"
    huge.write_bytes(b"% " + b"x" * (5 * 1024 * 1024 + 10))
    result = cli("check", "--facts", str(huge))
    assert (result.returncode, result.stdout) == (3, "")
    assert "over the limit of 5 MB (LIBRARY_MAX_UPLOAD_MB)" in result.stderr


def test_check_facts_reports_problems_in_the_facts_file_and_fails(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    facts = tmp_path / "vague.bib"
    facts.write_text(FACTS_WITH_PROBLEMS, encoding="utf-8")
    result = cli("check", "--facts", str(facts))
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{facts}, line 9, entry 'unsourced2021': Error: has no x-verified-by" in result.stdout
    assert "0 reference(s) compared" in result.stdout and "3 problem(s) in the facts file" in result.stdout


def test_check_without_facts_is_unchanged(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("check")
    assert result.returncode == 0, result.stdout
    assert "compared with" not in result.stdout
    assert re.fullmatch(r"55 references checked: no errors(, \d+ warning\(s\) \(see them with --warnings\)|)\.\n",
                        result.stdout)
