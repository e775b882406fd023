"""RIS import and export: real-shaped exports in tests/data, problems by line, round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from library import bibtex, latex
from library.bibtex import Entry
from library.errors import Problem
from library.records import Record
from library.ris import NO_RECORDS, format_ris, parse_ris

DATA = Path(__file__).resolve().parent / "data"


def read(name: str) -> str:
    # Decoded from bytes so the file's own line ends (CRLF from Zotero) reach parse_ris.
    return (DATA / name).read_bytes().decode("utf-8")


def described(problems: tuple[Problem, ...]) -> list[tuple[int | None, str, str]]:
    return [(p.line, p.severity, p.reason) for p in problems]


def records_of(text: str) -> list[Record]:
    return [Record.from_entry(e) for e in parse_ris(text).entries]


# ---------------------------------------------------------------- reading real-shaped exports


def test_zotero_export_gives_good_records_and_reports_the_broken_one() -> None:
    result = parse_ris(read("zotero-export.ris"), "zotero-export.ris")

    assert [(p.source, p.line, p.severity) for p in result.problems] == [
        ("zotero-export.ris", 31, "error")]
    assert "no title" in result.problems[0].reason
    sweeney, samhsa = result.entries

    assert sweeney.type == "article"
    assert sweeney.key == "sweeney2016trauma"
    assert sweeney.line == 1
    assert sweeney.persons == {"author": ("Sweeney, Angela", "Clement, Sarah", "Filson, Beth",
                                          "Kennedy, Angela")}
    assert sweeney.fields == {
        "title": "Trauma-informed mental healthcare in the UK: what is it and how can we further "
                 "its development?",
        "journal": "Mental Health Review Journal",
        "year": "2016",
        "volume": "21",
        "number": "3",
        "pages": "174--192",
        "doi": "10.1108/MHRJ-01-2015-0006",
        "url": "http://www.emeraldinsight.com/doi/full/10.1108/MHRJ-01-2015-0006",
        "keywords": "trauma-informed care, mental health services",
    }

    assert samhsa.type == "techreport"
    # Zotero writes an organisation as one name with no comma: it must stay whole.
    assert samhsa.persons == {"author": ("{Substance Abuse and Mental Health Services Administration}",)}
    assert samhsa.fields["institution"] == "Substance Abuse and Mental Health Services Administration"
    assert samhsa.fields["address"] == "Rockville, MD"
    assert samhsa.fields["number"] == "(SMA) 14-4884"  # a report number in SN, not an ISBN
    assert "isbn" not in samhsa.fields
    assert Record.from_entry(samhsa).authors[0].natural() == \
        "Substance Abuse and Mental Health Services Administration"


def test_endnote_style_export_with_bom_wrapped_note_stray_line_and_cut_off_end() -> None:
    result = parse_ris(read("endnote-export.ris"), "endnote-export.ris")

    assert described(result.problems) == [
        (15, "warning", "this line is not in the form 'XX  - value'; it was read as the rest of "
                        "the 'N1' line above."),
        (23, "warning", "this line is not in the form 'XX  - value' and was ignored."),
        (35, "error", "this record has no 'ER  - ' line at its end, so it may be incomplete; "
                      "it was left out. Check the file was exported whole."),
    ]
    chapter, thesis, book = result.entries

    assert (chapter.key, chapter.type) == ("harris2001envisioning", "incollection")
    assert chapter.persons == {"author": ("Harris, Maxine", "Fallot, Roger D."),
                               "editor": ("Harris, Maxine", "Fallot, Roger D.")}
    assert chapter.fields["title"] == "Envisioning a trauma-informed service system: a vital paradigm shift"
    assert chapter.fields["booktitle"] == "Using trauma theory to design service systems"
    assert chapter.fields["year"] == "2001"
    assert chapter.fields["pages"] == "3--22"
    assert chapter.fields["doi"] == "10.1002/yd.23320018903"  # the https://doi.org/ link made bare
    assert chapter.fields["annote"].endswith("Mental Health Services; this note was wrapped by the exporter.")

    assert thesis.type == "phdthesis"
    assert thesis.fields["school"] == "University of East London, School of Psychology"
    assert thesis.fields["url"] == "https://repository.uel.ac.uk/item/89zzw"

    assert book.type == "book"
    assert book.persons == {"editor": ("Figley, Charles R.",)}
    assert book.fields["isbn"] == "0-87630-759-4"
    assert book.key == "figley1995compassion"


@pytest.mark.parametrize("name", ["zotero-export.ris", "endnote-export.ris"])
def test_imported_entries_write_bibtex_that_reads_back(name: str) -> None:
    for entry in parse_ris(read(name)).entries:
        result = bibtex.parse_text(bibtex.format_entry(entry))
        assert result.problems == ()
        (again,) = result.entries
        assert (again.key, again.type, again.fields, again.persons) == \
            (entry.key, entry.type, entry.fields, entry.persons)


# ---------------------------------------------------------------- problems, by line

RECORD = "TY  - JOUR\nAU  - Bloom, Sandra L.\nTI  - Advancing a national agenda\nPY  - 2016\nER  - \n"


@pytest.mark.parametrize(("text", "expected_keys", "expected_problems"), [
    ("", [], [(None, "error", NO_RECORDS)]),
    ("@article{key, title={BibTeX, not RIS}}\n", [], [(None, "error", NO_RECORDS)]),
    # A record cut short by the next one: the first is left out, the second kept.
    ("TY  - JOUR\nTI  - Unfinished\n" + RECORD, ["bloom2016advancing"],
     [(1, "error", "this record has no 'ER  - ' line at its end, so it may be incomplete; it was "
                   "left out. Check the file was exported whole.")]),
    ("TY  - BOOK\nAU  - Bloom, Sandra L.\nPY  - 1997\nER  - \n" + RECORD, ["bloom2016advancing"],
     [(1, "error", "this record has no title (no 'TI  - ' line); it was left out.")]),
    (RECORD.replace("PY  - 2016\n", "PY  - 2016\nnot a tag line\n"), ["bloom2016advancing"],
     [(5, "warning", "this line is not in the form 'XX  - value' and was ignored.")]),
    ("AU  - Stray, Line\n" + RECORD, ["bloom2016advancing"],
     [(1, "warning", "the 'AU' line is outside a record (there is no 'TY  - ' line before it) and "
                     "was ignored.")]),
    (RECORD + "ER  - \n", ["bloom2016advancing"],
     [(6, "warning", "an 'ER  - ' line without a record before it was ignored.")]),
    (RECORD.replace("PY", "ID  - bloom2016\nPY") * 2, ["bloom2016"],
     [(7, "error", "the key 'bloom2016' is used twice in this file (first on line 1); give one of "
                   "them another ID.")]),
    # Two records that would get the same generated key are told apart, quietly.
    (RECORD * 2, ["bloom2016advancing", "bloom2016advancinga"], []),
    (RECORD.replace("PY", "ID  - bloom, 2016\nPY"), ["bloom2016advancing"],
     [(4, "warning", "the ID 'bloom, 2016' cannot be used as a citation key (it has spaces or "
                     "punctuation such as commas or braces); the key 'bloom2016advancing' was used "
                     "instead.")]),
    (RECORD.replace("PY", "DO  - not a doi\nPY"), ["bloom2016advancing"],
     [(4, "warning", "'not a doi' is not a DOI, so it was left out.")]),
    (RECORD.replace("PY", "TI  - Another title\nPY"), ["bloom2016advancing"],
     [(4, "warning", "'TI' appears more than once with different values; the first was kept.")]),
    # A lone brace is kept as text (written so that BibTeX does not count it): no problem.
    (RECORD.replace("national agenda", "national {agenda"), ["bloom2016advancing"], []),
])
def test_problems_are_reported_by_line(text: str, expected_keys: list[str],
                                       expected_problems: list[tuple[int | None, str, str]]) -> None:
    result = parse_ris(text, "upload.ris")
    assert [e.key for e in result.entries] == expected_keys
    assert described(result.problems) == expected_problems
    assert all(p.source == "upload.ris" for p in result.problems)


@pytest.mark.parametrize("line_end", ["\r\n", "\r", "\n"])
def test_any_line_ending_and_a_byte_order_mark(line_end: str) -> None:
    text = "\ufeff" + RECORD.replace("\n", line_end)
    result = parse_ris(text)
    assert result.problems == ()
    assert result.entries[0].fields["title"] == "Advancing a national agenda"


@pytest.mark.parametrize(("ris_type", "kind"), [
    ("JOUR", "article"), ("BOOK", "book"), ("CHAP", "incollection"), ("CONF", "inproceedings"),
    ("CPAPER", "inproceedings"), ("RPRT", "techreport"), ("THES", "phdthesis"),
    ("ELEC", "misc"), ("GEN", "misc"), ("", "misc"),
])
def test_types(ris_type: str, kind: str) -> None:
    (entry,) = parse_ris(RECORD.replace("TY  - JOUR", f"TY  - {ris_type}")).entries
    assert entry.type == kind


@pytest.mark.parametrize(("lines", "field", "expected"), [
    ("SP  - 421-424", "pages", "421--424"),
    ("SP  - 421\nEP  - 424", "pages", "421--424"),
    ("SP  - e20476", "pages", "e20476"),
    ("Y1  - 2011/06/09/", "year", "2011"),
    ("DA  - 2011///", "year", "2011"),
    ("JF  - Journal of Trauma & Dissociation", "journal", r"Journal of Trauma \& Dissociation"),
    ("JA  - Am J Prev Med", "journal", "Am J Prev Med"),
    ("SN  - 1932-6203", "issn", "1932-6203"),
    ("AB  - 50% of_staff {reported}", "abstract", r"50\% of\_staff \textbraceleft{}reported\textbraceright{}"),
    ("KW  - burnout; compassion fatigue\nKW  - burnout", "keywords", "burnout, compassion fatigue"),
    ("DO  - doi:10.1192/bja.2018.29", "doi", "10.1192/bja.2018.29"),
    ("DO  - 10.1000/a_b", "doi", "10.1000/a_b"),  # DOIs are kept raw, never escaped
    ("UR  - https://example.org/{x}", "url", "https://example.org/%7Bx%7D"),
])
def test_fields(lines: str, field: str, expected: str) -> None:
    text = RECORD.replace("PY  - 2016\n", "") .replace("ER  - ", lines + "\nER  - ")
    (entry,) = parse_ris(text).entries
    assert entry.fields[field] == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("Felitti, Vincent J.", "Felitti, Vincent J."),
    ("King, Martin Luther, Jr.", "King, Jr., Martin Luther"),
    ("van der Kolk, Bessel A.", "van der Kolk, Bessel A."),
    ("World Health Organization", "{World Health Organization}"),
    ("Substance Abuse and Mental Health Services Administration",
     "{Substance Abuse and Mental Health Services Administration}"),
    ("Smith & Sons, Ann", r"Smith \& Sons, Ann"),
    ("Plato,", "Plato"),
])
def test_author_names(value: str, expected: str) -> None:
    (entry,) = parse_ris(RECORD.replace("Bloom, Sandra L.", value)).entries
    assert entry.persons["author"] == (expected,)


def test_editors_of_a_chapter_but_not_an_articles_secondary_authors() -> None:
    chapter = RECORD.replace("JOUR", "CHAP").replace("PY", "A2  - Harris, Maxine\nPY")
    article = RECORD.replace("PY", "A2  - Harris, Maxine\nPY")
    assert parse_ris(chapter).entries[0].persons["editor"] == ("Harris, Maxine",)
    assert "editor" not in parse_ris(article).entries[0].persons


# ---------------------------------------------------------------- writing


def roundtrip_records() -> list[Record]:
    result = bibtex.parse_file(DATA / "ris-roundtrip.bib")
    assert result.problems == ()
    return [Record.from_entry(e) for e in result.entries]


def test_export_matches_the_golden_file() -> None:
    expected = (DATA / "ris-roundtrip.expected.ris").read_bytes().decode("utf-8")
    assert format_ris(roundtrip_records()) == expected


def test_export_lines_end_with_crlf_and_every_record_ends_with_er() -> None:
    text = format_ris(roundtrip_records())
    assert "\n" not in text.replace("\r\n", "")
    lines = text.split("\r\n")
    assert lines.count("ER  - ") == len(roundtrip_records())
    assert all(line == "" or line[2:6] == "  - " for line in lines)


def test_export_writes_each_theme_and_keyword_and_the_key_finding() -> None:
    record = roundtrip_records()[-1]
    lines = format_ris([record]).split("\r\n")
    assert [line for line in lines if line.startswith("KW")] == [
        "KW  - workforce", "KW  - burnout", "KW  - staff-wellbeing", "KW  - leadership"]
    assert "N1  - Key finding: Test value: stands for a finding written in the project\u2019s own words." \
        in lines
    assert "ID  - example2020test" in lines


def _essentials(record: Record) -> tuple:
    return (record.key, record.type, record.title, record.authors, record.editors, record.year,
            record.venue, record.fields.get("volume"), record.fields.get("number"),
            record.fields.get("pages"), record.doi, record.url)


def test_round_trip_keeps_what_a_citation_needs() -> None:
    records = roundtrip_records()
    result = parse_ris(format_ris(records))
    assert result.problems == ()
    again = [Record.from_entry(e) for e in result.entries]
    assert [_essentials(r) for r in again] == [_essentials(r) for r in records]


def test_export_of_nothing_is_empty() -> None:
    assert format_ris([]) == ""
    assert parse_ris(format_ris([])).problems[0].reason == NO_RECORDS


# ---------------------------------------------------------------- properties

_PRINTABLE = st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Zl", "Zp", "Co", "Cn"),
                           blacklist_characters="{}")
_TEXT = st.text(_PRINTABLE, min_size=1, max_size=40).filter(lambda t: t.strip())
_WORD = st.from_regex(r"[A-Z][a-z]{1,10}", fullmatch=True)
_PERSON = st.builds("{}, {}".format, _WORD, _WORD)


@st.composite
def _entries(draw: st.DrawFn) -> list[Entry]:
    count = draw(st.integers(1, 4))
    entries = []
    for index in range(count):
        kind = draw(st.sampled_from(["article", "book", "incollection", "inproceedings",
                                     "techreport", "phdthesis", "misc"]))
        fields = {"title": latex.encode(draw(_TEXT))}
        for name in ("journal", "booktitle", "volume", "number", "publisher"):
            if draw(st.booleans()):
                fields[name] = latex.encode(draw(_TEXT))
        if draw(st.booleans()):
            fields["year"] = str(draw(st.integers(1900, 2030)))
        if draw(st.booleans()):
            fields["pages"] = f"{draw(st.integers(1, 999))}--{draw(st.integers(1000, 2000))}"
        if draw(st.booleans()):
            fields["doi"] = "10.5555/" + draw(st.from_regex(r"[A-Za-z0-9._;()/:-]{1,20}", fullmatch=True))
        persons = {"author": tuple(draw(st.lists(_PERSON, min_size=1, max_size=3)))}
        entries.append(Entry(f"key{index}", kind, fields, persons))
    return entries


@given(_entries())
@hypothesis_settings(max_examples=200, deadline=None)
def test_any_records_survive_export_and_import(entries: list[Entry]) -> None:
    records = [Record.from_entry(e) for e in entries]
    result = parse_ris(format_ris(records))
    assert result.errors == ()
    again = [Record.from_entry(e) for e in result.entries]
    assert [(r.key, r.title, r.authors, r.year, r.fields.get("volume"), r.fields.get("pages"), r.doi)
            for r in again] == \
        [(r.key, r.title, r.authors, r.year, r.fields.get("volume"), r.fields.get("pages"), r.doi)
         for r in records]


@given(st.text())
@hypothesis_settings(max_examples=300)
def test_any_text_parses_to_entries_and_problems_without_crashing(text: str) -> None:
    result = parse_ris(text)
    for entry in result.entries:
        assert bibtex.parse_text(bibtex.format_entry(entry)).errors == ()
    assert result.entries or result.problems or "TY" in text


_TAGS = st.sampled_from(["TY", "AU", "A1", "A2", "A3", "ED", "TI", "T1", "T2", "JO", "JF", "PY", "Y1",
                         "DA", "VL", "IS", "SP", "EP", "DO", "UR", "PB", "CY", "SN", "AB", "KW",
                         "N1", "ID", "ET", "ZZ"])
_VALUE = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@given(st.lists(st.lists(st.tuples(_TAGS, _VALUE), max_size=12), min_size=1, max_size=3))
@hypothesis_settings(max_examples=300, deadline=None)
def test_any_record_shaped_text_gives_entries_that_write_valid_bibtex(
        records: list[list[tuple[str, str]]]) -> None:
    text = "".join(
        "TY  - JOUR\r\nTI  - A title\r\n" + "".join(f"{tag}  - {value}\r\n" for tag, value in lines)
        + "ER  - \r\n" for lines in records)
    result = parse_ris(text)
    for entry in result.entries:
        written = bibtex.parse_text(bibtex.format_entry(entry))
        assert written.errors == ()
        (again,) = written.entries
        assert (again.key, again.fields, again.persons) == (entry.key, entry.fields, entry.persons)
