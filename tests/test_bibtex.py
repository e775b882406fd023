"""Reading BibTeX tolerantly and reporting completely (library.bibtex).

Real-world files written by others (../shared/testdata/bib) and small fixtures of
our own (tests/data/bib) either load or give a problem naming the file, the line
and the reason; no valid entry is lost without a word.
"""

from __future__ import annotations

import codecs
import re
import string
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from library.bibtex import Entry, format_entry, parse_bytes, parse_file, parse_text
from library.records import Record
from tests.shared_data import SHARED, shared_path

DATA = Path(__file__).resolve().parent / "data" / "bib"


# ---------------------------------------------------------------- counting entries independently

_NOT_ENTRIES = {"string", "preamble", "comment"}
# An entry block starts a line: optional blanks, '@', a type name, '{' or '('.  Line ends may
# be \n, \r\n or a lone \r (one of the JabRef files uses old Mac line ends).
_BLOCK = re.compile(r"(?:^|(?<=[\r\n]))[ \t]*(%?)[ \t]*@[ \t]*([A-Za-z][\w-]*)[ \t\r\n]*[{(]", re.MULTILINE)


def _text_for_counting(data: bytes) -> str:
    """The file as text, decoded without the library's help; only its ASCII structure matters."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    if b"\x00" in data:
        return data.decode("utf-16-be" if data[0] == 0 else "utf-16-le")
    return data.decode("latin-1")  # never fails, and keeps '@', braces and names as they are


def count_entry_blocks(data: bytes) -> tuple[int, int]:
    """(entry blocks, of which commented out with a leading %), @string/@preamble/@comment excluded.

    BibTeX has no comment syntax outside entries: a line `%@article{...` is still an
    entry to BibTeX and to pybtex, so those blocks are expected back too; they are
    counted separately only so that a failure says which kind went missing.
    """
    plain = commented = 0
    for match in _BLOCK.finditer(_text_for_counting(data)):
        if match.group(2).lower() in _NOT_ENTRIES:
            continue
        if match.group(1):
            commented += 1
        else:
            plain += 1
    return plain + commented, commented


def _shared_bib_names() -> list[str]:
    folder = SHARED / "testdata" / "bib"
    names = sorted(p.name for p in folder.glob("*.bib")) if folder.is_dir() else []
    return names or ["(shared test data missing)"]


def _shared_bib(name: str) -> Path:
    return shared_path("testdata", "bib", name)


# ---------------------------------------------------------------- every real-world file


@pytest.mark.parametrize("name", _shared_bib_names())
def test_real_world_file_loses_no_entry(name: str) -> None:
    path = _shared_bib(name)
    data = path.read_bytes()
    blocks, commented = count_entry_blocks(data)

    result = parse_bytes(data, str(path))

    assert len(result.entries) + len(result.errors) == blocks, (
        f"{name}: {blocks} entry blocks ({commented} commented out with %) in, "
        f"{len(result.entries)} entries + {len(result.errors)} errors out: "
        + "; ".join(p.describe() for p in result.problems)
    )
    for problem in result.problems:
        assert problem.source == str(path)
        assert problem.describe().startswith(str(path))
        assert problem.reason.strip()
        if problem.severity == "error" and problem.key:
            assert problem.line is not None, problem.describe()
    keys = [e.key.casefold() for e in result.entries]
    assert len(keys) == len(set(keys)), f"{name}: the same key was returned twice"


@pytest.mark.parametrize("name", _shared_bib_names())
def test_real_world_entries_become_records(name: str) -> None:
    """Everything the parser returns can be shown and indexed without an exception."""
    path = _shared_bib(name)
    for entry in parse_file(path).entries:
        record = Record.from_entry(entry)
        assert record.key == entry.key
        if "\\{" not in entry.get("title") and "\\}" not in entry.get("title"):
            # Only escaped braces (\{ \}) are text; grouping braces never reach the reader.
            assert "{" not in record.title and "}" not in record.title, entry.get("title")


def test_latin1_file_is_read_with_a_warning() -> None:
    path = _shared_bib("biber_encoding3.bib")
    result = parse_file(path)
    [entry] = result.entries
    assert entry.key == "test1"
    assert entry.fields["title"] == "Söme title"
    [warning] = result.problems
    assert warning.severity == "warning"
    assert warning.source == str(path) and warning.line == 7
    assert "not UTF-8" in warning.reason


def test_latin1_names_are_decoded() -> None:
    result = parse_file(DATA / "latin1-names.bib")
    [entry] = result.entries
    assert entry.persons["author"] == ("Müller, Jürgen", "Ødegård, Åse")
    assert [n.family for n in Record.from_entry(entry).authors] == ["Müller", "Ødegård"]
    assert entry.fields["journal"] == "Zeitschrift für Beispiele"
    assert [p.severity for p in result.problems] == ["warning"]


@pytest.mark.parametrize(
    ("name", "warned"),
    [
        ("jabref_tiny-LE-noBOM.bib", True),  # UTF-16 LE, no byte-order mark: guessed, so said
        ("jabref_tiny-BE-withBOM.bib", False),  # UTF-16 BE announced by its byte-order mark
    ],
)
def test_utf16_files_are_read(name: str, warned: bool) -> None:
    result = parse_file(_shared_bib(name))
    [entry] = result.entries
    assert entry.key == "Verwilghen+vanGalen+Wilke2011"
    assert entry.fields["title"].startswith("Investigation of the best suture pattern")
    assert entry.persons["author"] == ("D. Verwilghen", "V. Busoni", "G. van Galen", "M. Wilke")
    assert not result.errors
    assert any("UTF-16" in p.reason for p in result.problems) is warned


def test_utf16_be_with_old_mac_line_ends_is_read() -> None:
    result = parse_file(_shared_bib("jabref_encoding-utf-16BE-without-header.bib"))
    [entry] = result.entries
    assert entry.fields["title"] == "Ü ist ein Umlaut"


@pytest.mark.parametrize(
    ("name", "generated"),
    [
        ("jabref_MedlineImporterTestNbib.bib", ["gibb2013predictors", "uk2009rheumatoid"]),
        ("jabref_encoding-utf-8-with-header.bib", ["anonist"]),
    ],
)
def test_keyless_entries_get_a_key_and_a_warning(name: str, generated: list[str]) -> None:
    path = _shared_bib(name)
    result = parse_file(path)
    assert [e.key for e in result.entries] == generated
    warnings = [p for p in result.problems if "no citation key" in p.reason]
    assert [(p.severity, p.key) for p in warnings] == [("warning", key) for key in generated]
    assert all(p.line for p in warnings)


def test_undefined_macro_is_kept_with_a_warning() -> None:
    result = parse_file(_shared_bib("bibtextidy_php-bibtex-parser_tag-contents-multiple.bib"))
    [entry] = result.entries
    assert entry.fields["raw"] == "rawArawB"
    assert entry.fields["quoted"] == "quoted aquoted b"
    assert not result.errors
    named = {re.search(r"'(\w+)'", p.reason).group(1) for p in result.problems}  # type: ignore[union-attr]
    assert named == {"rawA", "rawB", "raw"}
    assert {(p.severity, p.line) for p in result.problems} == {("warning", 2), ("warning", 5), ("warning", 6)}


def test_the_big_zotero_export_loads_completely() -> None:
    result = parse_file(_shared_bib("bbt_export_Bulk_performance_test.bib"))
    assert len(result.entries) == 1241
    assert not result.problems
    assert len({e.key for e in result.entries}) == 1241


# ---------------------------------------------------------------- our own broken files


def _problems(result) -> list[tuple[str, int | None, str | None]]:  # type: ignore[no-untyped-def]
    return [(p.severity, p.line, p.key) for p in result.problems]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("broken-unclosed-field.bib", "cannot be read"),
        ("broken-bare-words.bib", "cannot be read"),
        ("broken-missing-equals.bib", "'=' expected"),
    ],
)
def test_one_broken_entry_between_two_good_ones(name: str, reason: str) -> None:
    path = DATA / name
    result = parse_file(path)

    assert [e.key for e in result.entries] == ["first2020good", "second2022good"]
    [error] = result.errors
    assert error.key == "broken2021entry"
    # The broken entry spans lines 7-11; the line must point into it, not at its neighbours.
    assert error.line is not None and 7 <= error.line <= 11, error.describe()
    assert reason in error.reason
    assert error.describe().startswith(f"{path}, line {error.line}, entry 'broken2021entry': Error:")


@pytest.mark.parametrize(
    ("name", "keys", "problems", "reason"),
    [
        # One '}' too many: BibTeX would quietly drop the fields after it.
        ("unbalanced-extra-brace.bib", ["extra2020brace", "after2021good"],
         [("warning", 3, "extra2020brace")], "'}' too many"),
        # One '{' never closed: the entry is reported, the next one still read.
        ("unbalanced-missing-brace.bib", ["after2021good"],
         [("error", 1, "missing2020brace")], "cannot be read"),
        ("duplicate-field.bib", ["twice2020title"],
         [("warning", 1, "twice2020title")], "'title' appears twice"),
        ("duplicate-key.bib", ["same2020key"],
         [("error", 7, "same2020key")], "used twice in this file (first on line 1)"),
        ("truncated.bib", ["whole2020entry"],
         [("error", 7, "cut2021short")], "not closed"),  # the entry that was cut, where it starts
        ("deep-nesting.bib", ["before2020deep", "after2022deep"],
         [("error", 8, "deep2021nesting")], "nested too deeply"),
        ("binary.bib", [], [("error", None, None)], "not a text file"),
        ("empty.bib", [], [], ""),
    ],
)
def test_problem_files(name: str, keys: list[str], problems: list, reason: str) -> None:
    path = DATA / name
    data = path.read_bytes()

    result = parse_bytes(data, str(path))

    assert [e.key for e in result.entries] == keys
    assert _problems(result) == problems
    for problem in result.problems:
        assert reason in problem.reason
        assert problem.describe().startswith(str(path))
    if name != "binary.bib":
        blocks, _ = count_entry_blocks(data)
        assert len(result.entries) + len(result.errors) == blocks


def test_duplicate_field_keeps_the_first_value() -> None:
    [entry] = parse_file(DATA / "duplicate-field.bib").entries
    assert entry.fields["title"] == "The first title"


def test_fields_before_an_extra_brace_are_kept() -> None:
    entry = parse_file(DATA / "unbalanced-extra-brace.bib").entries[0]
    assert entry.fields == {"title": "A title with one closing brace too many"}
    assert entry.persons == {"author": ("Smith, Jane",)}


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ("@article(paren2020, title = {Round brackets})", ["paren2020"]),
        ("Free text before.\n@misc{a1, title={A}}\nFree text between.\n@misc{b2, title={B}}", ["a1", "b2"]),
        ("@comment{jabref-meta: databaseType:bibtex;}\n@misc{c3, title={C}}", ["c3"]),
        ('@string{j = "Journal"}\n@article{d4, journal = j # " of Tests"}', ["d4"]),
        ("@misc{e5, title = {50% of staff}}", ["e5"]),
        ("", []),
        ("no entries here at all", []),
    ],
)
def test_valid_text_loads_without_problems(text: str, keys: list[str]) -> None:
    result = parse_text(text, "<test>")
    assert [e.key for e in result.entries] == keys
    assert not result.problems


def test_string_macros_are_expanded() -> None:
    [entry] = parse_text('@string{j = "Journal"}\n@article{d4, journal = j # " of Tests"}').entries
    assert entry.fields["journal"] == "Journal of Tests"


def test_a_bare_percent_does_not_cut_a_value() -> None:
    [entry] = parse_text("@misc{e5, title = {50% of staff}, year = {2020}}").entries
    assert entry.fields == {"title": "50% of staff", "year": "2020"}


# ---------------------------------------------------------------- writing and reading back


_WORD = st.text(alphabet=string.ascii_letters, min_size=1, max_size=8)
_PIECE = st.one_of(
    _WORD,
    st.sampled_from([
        r"{\"o}", r"\"{u}", r"\'e", r"{\'\i}", r"\c{c}", r"\v{S}", r"{\aa}", r"{\ss}", "é", "ü", "Ø",
        r"\%", r"50\%", r"\&", r"R\&D", "--", "---", "2020", "(1)", "a:b", ";", "?", "!", "@",
        r"\textit{x}", "$\\alpha$", "~", "''", "``", '"',
    ]),
)


def _phrase(pieces: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(pieces, min_size=1, max_size=6).map(" ".join)


_BALANCED_VALUE = st.recursive(
    _phrase(_PIECE),
    lambda inner: _phrase(st.one_of(_PIECE, inner.map(lambda s: "{" + s + "}"))),
    max_leaves=12,
)
_FIELD_NAME = st.from_regex(r"[a-z][a-z0-9-]{0,11}", fullmatch=True).filter(
    lambda n: n not in ("author", "editor", "translator", "crossref"))
_NAME_WORD = st.one_of(
    st.from_regex(r"[A-Z][a-z]{1,8}", fullmatch=True),
    st.sampled_from([r"M{\"u}ller", "Ødegård", r"Fran{\c{c}}ois", "O'Neil", "Smith-Jones", r"{\v{S}}koda"]),
)
_PERSON = st.one_of(
    st.builds(lambda last, first: f"{last}, {first}", _NAME_WORD, _NAME_WORD),
    st.builds(lambda first, last: f"{first} {last}", _NAME_WORD, _NAME_WORD),
    st.builds(lambda last, first: f"van der {last}, {first}", _NAME_WORD, _NAME_WORD),
    st.sampled_from(["{World Health Organization}", "{Substance Abuse and Mental Health Services Administration}"]),
)
_ENTRIES = st.builds(
    lambda key, kind, fields, authors, editors: Entry(
        key, kind, fields, {role: tuple(names) for role, names in (("author", authors), ("editor", editors)) if names}),
    st.from_regex(r"[a-z][a-z0-9]{0,15}", fullmatch=True),
    st.sampled_from(["article", "book", "incollection", "misc", "phdthesis", "techreport", "online"]),
    st.dictionaries(_FIELD_NAME, _BALANCED_VALUE, max_size=8),
    st.lists(_PERSON, max_size=4),
    st.lists(_PERSON, max_size=2),
)


@settings(max_examples=200, deadline=None)
@given(_ENTRIES)
def test_format_then_parse_keeps_every_field_and_person(entry: Entry) -> None:
    text = format_entry(entry)

    result = parse_text(text, "<round trip>")

    assert not result.problems, [p.describe() for p in result.problems]
    [back] = result.entries
    assert (back.key, back.type) == (entry.key, entry.type)
    assert back.fields == entry.fields
    assert back.persons == entry.persons
    assert format_entry(back) == text


def test_round_trip_of_a_real_entry() -> None:
    path = _shared_bib("pybtex_xampl.bib")
    for entry in parse_file(path).entries:
        [back] = parse_text(format_entry(entry)).entries
        assert (back.key, back.type, back.fields, back.persons) == \
            (entry.key, entry.type, entry.fields, entry.persons)


# ---------------------------------------------------------------- bounded work for every input (issue 11, item 7)


def chained_abbreviations(levels: int = 30) -> str:
    """1.2 KB that expands to 10 x 4^30 characters: each @string is four copies of the last."""
    lines = ['@string{s0 = "abcdefghij"}']
    lines += [f"@string{{s{n} = s{n - 1} # s{n - 1} # s{n - 1} # s{n - 1}}}" for n in range(1, levels + 1)]
    lines += [f"@article{{bomb2020x, author = {{Doe, J.}}, title = s{levels}, journal = {{J}}, year = {{2020}}}}",
              '@article{fine2020x, author = {Doe, J.}, title = s3 # " and more", journal = {J}, year = {2020}}']
    return "\n".join(lines) + "\n"


def test_chained_abbreviations_are_capped_with_the_file_and_line() -> None:
    import tracemalloc

    text = chained_abbreviations()
    assert len(text.encode()) < 1300
    tracemalloc.start()
    try:
        result = parse_text(text, "macros.bib")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert peak < 20_000_000, f"{peak:,} bytes to read a 1.2 KB file"
    first = result.errors[0]
    assert (first.source, first.line) == ("macros.bib", 8)
    assert "'s7' would be 163,840 characters long" in first.reason and "the limit is 100,000" in first.reason
    bomb = [p for p in result.errors if p.key == "bomb2020x"]
    assert bomb and "too long to expand" in bomb[0].reason and bomb[0].line == 32
    [fine] = result.entries
    assert fine.key == "fine2020x" and len(fine.fields["title"]) == 640 + len(" and more")


def test_a_value_just_within_the_limit_expands(tmp_path: Path) -> None:
    text = '@string{s = "' + "x" * 50_000 + '"}\n@misc{ok2020, title = s # s}\n'
    [entry] = parse_text(text).entries
    assert len(entry.fields["title"]) == 100_000


def test_the_command_line_refuses_the_abbreviation_bomb_without_a_traceback(tmp_path: Path) -> None:
    from tests.security_support import bib_files, cli, seed_collection

    seed_collection(tmp_path, 2)
    (tmp_path / "macros.bib").write_text(chained_abbreviations(), encoding="utf-8")
    before = bib_files(tmp_path / "references")

    result = cli(tmp_path, "add", str(tmp_path / "macros.bib"))

    assert result.returncode == 1
    assert b"macros.bib, line 8: Error: the value of 's7' would be 163,840 characters" in result.stderr
    assert b"Traceback" not in result.stderr and b"MemoryError" not in result.stderr
    assert bib_files(tmp_path / "references") == before
