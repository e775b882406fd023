"""Bad input, hostile content and access: whatever comes in is refused with a message or kept as
inert text, nothing half-written reaches `references/`, and only a signed-in librarian changes it.

The threat model these tests back is docs/security.md; its table names each test here.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import string
import zipfile
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st
from pypdf import PdfReader
from streamlit.testing.v1 import AppTest

from library import Library, SearchRequest, Settings
from library.auth import DatabaseAttemptStore, Signer, Throttle, hash_password
from library.bibtex import Entry, parse_bytes
from library.config import SETTINGS
from library.crossref import CrossrefClient
from library.database import Database, default_url
from library.errors import (AccessDenied, InvalidKey, LibraryError, LookupFailed, PackError,
                            ReferenceNotFound)
from library.packs import KeyMessage, Pack, PackReference, Snapshot, dump_pack, load_pack
from library.records import Name
from library.search import MAX_PER_PAGE, MAX_QUERY_LENGTH
from library.urlstate import params_from_request, request_from_params
from library.validation import MAX_FIELD_LENGTH, MAX_KEY_LENGTH
from views import ui
from tests.replay_server import Reply, serving
from tests.security_support import (REPO, SEED, bib_files, cli, entry_text, seed_collection, settings_for,
                                    synthetic_bib, tree)
from tests.shared_data import SHARED, shared_path

SEED_COUNT = len(list(SEED.glob("*.bib")))
SHARED_BIB = sorted(p.name for p in (SHARED / "testdata" / "bib").glob("*.bib")) or ["(missing)"]


@pytest.fixture(scope="module")
def _built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("built")
    seed_collection(root, 8)
    Library(settings_for(root)).close()
    return root


@pytest.fixture
def library(tmp_path: Path, _built: Path) -> Library:
    """Eight references with their index, copied (times kept, so nothing is re-indexed)."""
    for folder in ("references", "index"):
        shutil.copytree(_built / folder, tmp_path / folder)
    return Library(settings_for(tmp_path))


def _refused_without_a_trace(library: Library, root: Path, action, match: str) -> LibraryError:  # type: ignore[no-untyped-def]
    """`action` raises a LibraryError saying `match`, and no file changes anywhere under `root`."""
    before_files = bib_files(root / "references")
    before_tree = tree(root / "references")
    with pytest.raises(LibraryError, match=match) as caught:
        action()
    assert bib_files(root / "references") == before_files
    assert tree(root / "references") == before_tree
    assert str(caught.value).strip()
    return caught.value


# ================================================================== bad input


@pytest.mark.parametrize("name", SHARED_BIB)
def test_real_world_files_are_added_whole_or_refused_with_a_message(tmp_path: Path, library: Library,
                                                                    name: str) -> None:
    data = shared_path("testdata", "bib", name).read_bytes()
    before = bib_files(tmp_path / "references")
    try:
        result = library.add_bytes(data, name)
    except LibraryError as error:
        message = str(error)
        assert name in message, message  # the message names the file, and the line and key where known
        assert bib_files(tmp_path / "references") == before
        return
    after = bib_files(tmp_path / "references")
    assert set(after) - set(before) == {f"{key}.bib" for key in result.added}
    for key in result.added:
        assert [e.key for e in parse_bytes(after[f"{key}.bib"], key).entries] == [key]
    assert library.check().ok
    assert library.search("", per_page=1).total == len(after)


UTF16_ENTRY = entry_text("utf16ref1", 1).replace("Author1", "Müller")

BAD_FILES = {
    "empty": (b"", "no BibTeX entries"),
    "only-whitespace": (b" \n\t\r\n", "no BibTeX entries"),
    "only-a-comment": (b"% just a comment\n@comment{nothing here}\n", "no BibTeX entries"),
    "truncated": (entry_text("cut1", 1).encode()[:60], r"not closed|cut short"),
    "truncated-after-field": (entry_text("cut2", 2).encode()[:-3], r"not closed|cut short"),
    "at-sign-only": (b"@", r"cannot be read|no BibTeX entries|not closed"),
    "binary": (bytes(range(256)) * 64, "not a text file"),
    "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n\x00\x00\x00", "not a text file"),
    "zip-docx": (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 200, "not a text file"),
    "deep-braces": (("@article{deep1, author={A, B}, journal={J}, year={2020}, title={" + "{" * 5000 + "x"
                     + "}" * 5000 + "}}").encode(), "nested too deeply"),
    "braces-just-too-deep": (("@article{deep2, author={A, B}, journal={J}, year={2020}, title={" + "{" * 101
                              + "x" + "}" * 101 + "}}").encode(), "nested too deeply"),
    "unbalanced": (b"@article{unb1, author={A, B}, title={T}}}, journal={J}, year={2020}}", r"\w"),
    "utf16-damaged": (b"\xff\xfe" + UTF16_ENTRY.encode("utf-16-le")[:-1], r"damaged|not closed|cannot"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_files_are_refused_with_a_message_and_nothing_written(tmp_path: Path, library: Library,
                                                                  case: str) -> None:
    data, message = BAD_FILES[case]
    error = _refused_without_a_trace(library, tmp_path, lambda: library.add_bytes(data, f"{case}.bib"), message)
    assert f"{case}.bib" in str(error)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_is_read_and_saved_as_utf8(tmp_path: Path, library: Library,
                                                                   encoding: str) -> None:
    result = library.add_bytes(UTF16_ENTRY.encode(encoding), "export.bib")
    assert result.added == ("utf16ref1",)
    assert any("without a byte-order mark" in p.reason for p in result.problems)
    assert "Müller" in (tmp_path / "references" / "utf16ref1.bib").read_text(encoding="utf-8")


def test_files_over_the_upload_limit_are_refused_before_reading(tmp_path: Path) -> None:
    seed_collection(tmp_path, 3)
    library = Library(settings_for(tmp_path, max_upload_mb=0.01))
    data = synthetic_bib(200).encode()
    assert len(data) > library.settings.max_upload_bytes
    _refused_without_a_trace(library, tmp_path, lambda: library.add_bytes(data, "big.bib"),
                             r"big\.bib is .* over the limit of 0\.01 MB")


@pytest.mark.parametrize("suffix, extra", [(".bib", ()), (".bib", ("--themes", "burnout")), (".ris", ())])
def test_the_command_line_applies_the_upload_limit_to_every_kind_of_file(tmp_path: Path, suffix: str,
                                                                         extra: tuple[str, ...]) -> None:
    seed_collection(tmp_path, 3)
    big = tmp_path / f"big{suffix}"
    if suffix == ".ris":
        big.write_text("".join(f"TY  - JOUR\nAU  - Writer{n}, A\nTI  - Title {n}\nJO  - J\nPY  - 2020\nER  - \n\n"
                               for n in range(400)))
    else:
        big.write_text(synthetic_bib(400))
    before = bib_files(tmp_path / "references")
    result = cli(tmp_path, "add", str(big), *extra, LIBRARY_MAX_UPLOAD_MB="0.01")
    assert result.returncode in (1, 3)
    assert b"limit" in result.stderr and b"Traceback" not in result.stderr
    assert bib_files(tmp_path / "references") == before


def test_a_field_of_several_megabytes_is_refused_with_its_name(tmp_path: Path, library: Library) -> None:
    words = " ".join(f"word{n}" for n in range(400_000))  # about 4 MB, under the 5 MB upload limit
    text = entry_text("huge1", 1, extra=f",\n  abstract = {{{words}}}")
    assert len(text.encode()) < library.settings.max_upload_bytes
    _refused_without_a_trace(library, tmp_path, lambda: library.add_bytes(text.encode(), "huge.bib"),
                             r"huge\.bib, line 1, entry 'huge1': Error: the field 'abstract' is 4,\d{3},\d{3} "
                             r"characters long; the limit is 100,000")


def test_a_long_field_within_the_limit_is_kept_whole(tmp_path: Path, library: Library) -> None:
    words = " ".join(f"w{n}" for n in range(MAX_FIELD_LENGTH // 8))[: MAX_FIELD_LENGTH - 12] + " needleword"
    library.add_text(entry_text("long1", 1, extra=f",\n  abstract = {{{words}}}"))
    saved = parse_bytes((tmp_path / "references" / "long1.bib").read_bytes(), "long1.bib").entries[0]
    assert saved.fields["abstract"] == words
    assert [h.key for h in library.search("needleword").hits] == ["long1"]


def test_thousands_of_entries_with_one_bad_one_save_nothing(tmp_path: Path, library: Library) -> None:
    good = synthetic_bib(2000)
    data = (good + "\n@article{broken9, title = {No author, no year}}\n").encode()
    error = _refused_without_a_trace(library, tmp_path, lambda: library.add_bytes(data, "thousands.bib"),
                                     "Nothing was saved")
    assert f"thousands.bib, line {good.count(chr(10)) + 2}, entry 'broken9'" in str(error)


def test_a_thousand_entries_are_all_saved_and_found(tmp_path: Path, library: Library) -> None:
    before = len(bib_files(tmp_path / "references"))
    result = library.add_bytes(synthetic_bib(1000).encode(), "thousand.bib")
    assert len(result.added) == 1000
    assert len(bib_files(tmp_path / "references")) == before + 1000
    assert library.search("", per_page=1).total == before + 1000


HOSTILE_KEYS = ["../x", "../../etc/passwd", "/etc/passwd", "/tmp/evil", "a/b", "a\\b", "..", ".", ".hidden",
                "-rf", "a..b", "a\x00b", "x\x00/../../y", "CON", "con", "nul.txt", "COM1", "lpt9.bib", "aux",
                "a" * (MAX_KEY_LENGTH + 1), "a" * 5000, "key with spaces", "key\nnewline", "C:evil",
                "~root", "$(reboot)", "`id`", "k;rm -rf", "ключ", "a|b", "a*b", "a?b", "a<b>", "a\"b", ""]


@pytest.mark.parametrize("key", HOSTILE_KEYS, ids=lambda k: repr(k)[:30])
def test_keys_that_would_escape_the_collection_are_refused_everywhere(tmp_path: Path, library: Library,
                                                                      key: str) -> None:
    outside = {p for p in tree(tmp_path) if not p.endswith(".lock")}
    entry = Entry(key, "article", {"title": "T", "journal": "J", "year": "2020"}, {"author": ("Smith, J",)})
    _refused_without_a_trace(library, tmp_path, lambda: library.add_entries([entry]), r"key|Nothing was saved")
    with pytest.raises(InvalidKey):
        library.collection.path_for(key)
    with pytest.raises(ReferenceNotFound):
        library.get(key)
    with pytest.raises(LibraryError):
        library.delete(key)
    existing = library.collection.read(sorted(bib_files(tmp_path / "references"))[0][:-4])
    with pytest.raises(LibraryError):
        library.update(existing.with_key(key), previous_key=existing.key)
    if key:  # an empty previous key means "the entry's own key"
        with pytest.raises(LibraryError):
            library.update(existing, previous_key=key)
    with pytest.raises(LibraryError):
        library.restore(key)
    if key and "\\" not in key and "{" not in key:
        text = f"@article{{{key}, author={{Smith, J}}, title={{T}}, journal={{J}}, year={{2020}}}}"
        with pytest.raises(LibraryError):
            library.add_text(text)
    assert {p for p in tree(tmp_path) if not p.endswith(".lock")} == outside


def test_the_longest_allowed_key_works(tmp_path: Path, library: Library) -> None:
    key = "k" * MAX_KEY_LENGTH
    library.add_text(entry_text(key, 3))
    assert library.get(key).key == key


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.text(min_size=0, max_size=150))
def test_any_key_is_refused_or_names_a_file_directly_in_the_collection(key: str) -> None:
    from library.store import Collection

    collection = Collection(Path("/collection"), Path("/data"))
    try:
        path = collection.path_for(key)
    except InvalidKey as error:
        assert str(error)
        return
    assert path.parent == Path("/collection")
    assert path.name == f"{key}.bib" and not key.startswith(".")
    assert not set(key) & set("/\\\x00:*?\"<>| \t\n")


# ------------------------------------------------------------------ queries and URL parameters


@pytest.fixture(scope="module")
def shared_library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    root = tmp_path_factory.mktemp("searchable")
    seed_collection(root)
    return Library(Settings.from_env({}, references_dir=root / "references", index_dir=root / "index",
                                     data_dir=root / "data"))


QUERY_ALPHABET = st.sampled_from(list(string.printable) + list('"()[]{}*?~^:+-!\\/') + ["\x00", "é", "ß", "中",
                                                                                      "\u200b", "\ufeff"])
QUERY_WORDS = st.sampled_from(["trauma", "burnout", "AND", "OR", "NOT", "title:", "author:", "theme:", "year:",
                               "year:[", "TO", "*", "~", "~9", "^", '"', "(", ")", "[", "]", "{", "}",
                               "year:>", "year:[0 TO 99999999999]", "a*", "*a", "?", "traning~"])
QUERIES = st.one_of(st.text(max_size=300), st.text(QUERY_ALPHABET, max_size=80),
                    st.lists(QUERY_WORDS, max_size=12).map(" ".join),
                    st.text(QUERY_ALPHABET, min_size=MAX_QUERY_LENGTH, max_size=MAX_QUERY_LENGTH + 50))


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=QUERIES, themes=st.lists(st.text(max_size=20), max_size=4),
       years=st.tuples(st.none() | st.integers(-10**9, 10**9), st.none() | st.integers(-10**9, 10**9)),
       sort=st.text(max_size=10) | st.sampled_from(["relevance", "newest", "oldest"]),
       page=st.integers(-5, 10**6), per_page=st.integers(-5, 10**4))
def test_any_search_returns_a_result_never_an_error(shared_library: Library, text: str, themes: list[str],
                                                    years: tuple, sort: str, page: int, per_page: int) -> None:
    request = SearchRequest(text=text, themes=tuple(themes), evidence_types=tuple(themes[:1]),
                            year_from=years[0], year_to=years[1], sort=sort, page=page,  # type: ignore[arg-type]
                            per_page=per_page)
    result = shared_library.search(request)
    assert 0 <= result.total <= SEED_COUNT
    assert len(result.hits) <= result.request.per_page <= MAX_PER_PAGE
    for hit in result.hits:
        # The snippet is the only HTML the library makes: escaped text plus <mark>.
        assert re.sub(r"</?mark>", "", hit.snippet_html).count("<") == 0


PARAM_NAMES = st.sampled_from(["q", "theme", "mode", "type", "setting", "from", "to", "sort", "page", "key",
                               "librarian", "pack"]) | st.text(max_size=8)
PARAM_VALUES = st.text(max_size=40) | st.sampled_from(["burnout", "aces", "all", "newest", "2020", "1e9", "-1",
                                                       "999999999999", "0", "systematic-review", "burnout,aces"])


@hypothesis_settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(PARAM_NAMES, st.one_of(PARAM_VALUES, st.lists(PARAM_VALUES, max_size=60)), max_size=10))
def test_any_url_parameters_make_a_safe_search(shared_library: Library, params: dict) -> None:
    vocabulary = shared_library.vocabulary
    request = request_from_params(params, vocabulary)
    assert len(request.text) <= MAX_QUERY_LENGTH and "\x00" not in request.text
    assert set(request.themes) <= set(vocabulary.theme_by_slug)
    assert set(request.evidence_types) <= set(vocabulary.evidence_type_by_slug)
    assert set(request.settings) <= set(vocabulary.setting_by_slug)
    assert request.sort in ("relevance", "newest", "oldest") and request.theme_mode in ("any", "all")
    assert 1 <= request.page < 10**6 and 1 <= request.per_page <= MAX_PER_PAGE
    for year in (request.year_from, request.year_to):
        assert year is None or 1000 <= year <= 2999
    again = request_from_params(params_from_request(request), vocabulary)
    if not request.themes:  # "match all themes" means nothing without themes, so links leave it out
        again = replace(again, theme_mode=request.theme_mode)
    assert again == request
    shared_library.search(request)


@pytest.mark.parametrize("years", [("-5", "3000"), ("0", "99999999999"), ("-99999999999", "-1")])
def test_the_command_line_takes_any_year_bounds(tmp_path: Path, years: tuple[str, str]) -> None:
    seed_collection(tmp_path, 5)
    result = cli(tmp_path, "search", "--year-from", years[0], "--year-to", years[1])
    assert result.returncode == 0 and b"Traceback" not in result.stderr, result.stderr


# ------------------------------------------------------------------ pack files


def _pack_with(references: list, **fields: object) -> bytes:
    return json.dumps({"version": 1, "title": "A brief", "references": references, **fields}).encode()


BAD_PACKS = {
    "not-json": (b"{this is not json", "not valid JSON"),
    "empty": (b"", "not valid JSON"),
    "binary": (bytes(range(256)), "not UTF-8|not valid JSON"),
    "a-list": (b"[1, 2, 3]", "must hold a JSON object"),
    "deeply-nested": (b"[" * 100_000 + b"]" * 100_000, "not valid JSON|must hold"),
    "no-title": (b'{"references": []}', "'title' is missing"),
    "title-not-text": (b'{"title": {"a": 1}}', "'title' must be text"),
    "newer-format": (b'{"version": 99, "title": "x"}', "newer version"),
    "references-not-a-list": (_pack_with("abc"), "'references' must be a list"), # type: ignore[arg-type]
    "reference-without-key": (_pack_with([{"note": "x"}]), "'references\\[1\\].key' is missing"),
    "repeated-reference": (_pack_with(["a1", "A1"]), "repeats"),
    "too-many-references": (_pack_with([f"k{n}" for n in range(51)]), "the limit is 50"),
    "cite-out-of-range": (_pack_with(["a1"], key_messages=[{"text": "x", "cites": [2]}]), "refers to reference 2"),
    "cite-not-a-number": (_pack_with(["a1"], key_messages=[{"text": "x", "cites": ["1"]}]), "reference numbers"),
    "huge-field": (_pack_with([], ask="x" * 10_000), "the limit is 5,000"),
    "bad-date": (_pack_with([], date="yesterday"), "'date' must be a date"),
    "bad-snapshot": (_pack_with([{"key": "a1", "snapshot": {"year": "1998"}}]), "whole number"),
}


@pytest.mark.parametrize("case", BAD_PACKS)
def test_malformed_pack_files_are_refused_with_the_field_named(library: Library, case: str) -> None:
    data, message = BAD_PACKS[case]
    with pytest.raises(PackError, match=message):
        library.read_pack(data)


def test_a_huge_pack_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    seed_collection(tmp_path, 2)
    library = Library(settings_for(tmp_path, max_upload_mb=0.5))
    data = _pack_with([], ask="x" * 4000, concern="y" * 700_000)
    with pytest.raises(PackError, match="too large"):
        library.read_pack(data)


def test_a_pack_naming_missing_references_renders_from_snapshots_or_says_which(library: Library) -> None:
    snapshot = {"title": "Kept from the saved pack", "authors": [{"family": "Gone", "given": "A"}], "year": 2001}
    pack = library.read_pack(_pack_with([{"key": "removed1", "snapshot": snapshot}, "neverthere1"]))
    with pytest.raises(PackError, match=r"2 \('neverthere1'\) is not in the collection"):
        library.render_pack(pack, "html")
    kept = library.read_pack(_pack_with([{"key": "removed1", "snapshot": snapshot}]))
    assert b"Kept from the saved pack" in library.render_pack(kept, "html")


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda children: st.lists(children, max_size=5)
                           | st.dictionaries(st.text(max_size=12), children, max_size=6), max_leaves=30)
SNAPSHOT_FIELDS = ["title", "journal", "year", "doi", "url", "pages", "volume", "themes", "evidence-type",
                   "howpublished", "author"]
PACK_SHAPED = st.fixed_dictionaries(
    {"title": st.text(max_size=40) | JSON_VALUES},
    optional={"version": st.integers(-2, 3) | JSON_VALUES, "ask": st.text() | JSON_VALUES,
              "references": st.lists(st.text(max_size=12) | st.fixed_dictionaries(
                  {"key": st.text(max_size=12) | JSON_VALUES},
                  optional={"note": st.text() | JSON_VALUES, "snapshot": JSON_VALUES | st.fixed_dictionaries(
                      {"title": st.text()}, optional={"authors": JSON_VALUES, "year": JSON_VALUES})
                      | st.fixed_dictionaries(  # format 2: the BibTeX entry as written
                          {"fields": st.dictionaries(st.sampled_from(SNAPSHOT_FIELDS) | st.text(max_size=8),
                                                     st.text() | JSON_VALUES, max_size=6) | JSON_VALUES},
                          optional={"type": st.sampled_from(["article", "book", "misc"]) | JSON_VALUES,
                                    "persons": st.fixed_dictionaries(
                                        {}, optional={"author": st.lists(st.text(max_size=20), max_size=4),
                                                      "editor": st.lists(st.text(max_size=20), max_size=4)})
                                    | JSON_VALUES})}), max_size=4)
              | JSON_VALUES,
              "key_messages": st.lists(st.text(max_size=30) | st.fixed_dictionaries(
                  {"text": st.text(max_size=30) | JSON_VALUES, "cites": st.lists(st.integers(-1, 5)) | JSON_VALUES}),
                  max_size=6) | JSON_VALUES,
              "date": st.dates().map(str) | JSON_VALUES, "selection": JSON_VALUES})


@hypothesis_settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PACK_SHAPED | JSON_VALUES)
def test_any_json_is_a_pack_or_a_pack_error(shared_library: Library, raw: object) -> None:
    try:
        pack = shared_library.read_pack(json.dumps(raw))
    except PackError as error:
        assert str(error)
        return
    assert load_pack(dump_pack(pack)) == pack  # what loads can be saved (in the current format) and reopened
    for fmt in ("md", "bib"):
        try:
            shared_library.render_pack(pack, fmt)
        except PackError as error:
            assert str(error)


# ------------------------------------------------------------------ DOIs and Crossref answers

NOT_DOIS = ["", " ", "banana", "10.1000", "10.1/x", "11.1000/x", "doi:", "https://doi.org/", "10.1000/",
            "10.1000/a b", "10.1000/x\u200b", "10.1000/x\x00", "10.١٢٣٤/x", "javascript:alert(1)",
            "http://evil.example/10.1000/x", "10.1000/" + "x" * 400, "../../etc/passwd", "10.1000\n/x",
            "<script>alert(1)</script>", "{10.1000/x}"]


@pytest.mark.parametrize("text", NOT_DOIS, ids=lambda t: repr(t)[:30])
def test_strings_that_are_not_dois_are_refused_before_any_request(tmp_path: Path, text: str) -> None:
    seed_collection(tmp_path, 2)
    with serving({}) as server:
        settings = settings_for(tmp_path, crossref_url=server.url)
        with pytest.raises(LookupFailed, match="DOI"):
            CrossrefClient(settings, sleep=lambda _: None).lookup(text)
        assert server.received == []
    assert len(bib_files(tmp_path / "references")) == 2


DOI = "10.9999/test.1"
WORK_PATH = f"/works/{DOI}"
JSON_TYPE = (("Content-Type", "application/json"),)
BAD_ANSWERS = {
    "slow": Reply(200, b"{}", JSON_TYPE, delay=5.0),
    "huge": Reply(200, b'{"message": {"title": ["' + b"x" * (6 * 1024 * 1024) + b'"]}}', JSON_TYPE, streamed=True),
    "not-json": Reply(200, b"<html><body>Service unavailable</body></html>", (("Content-Type", "text/html"),)),
    "malformed-json": Reply(200, b'{"status": "ok", "message": {', JSON_TYPE),
    "json-list": Reply(200, b"[1, 2, 3]", JSON_TYPE),
    "no-message": Reply(200, b'{"status": "ok"}', JSON_TYPE),
    "message-not-object": Reply(200, b'{"status": "ok", "message": "hello"}', JSON_TYPE),
    "binary": Reply(200, bytes(range(256)) * 10, (("Content-Type", "application/octet-stream"),)),
    "error-500": Reply(500, b"oops", (("Content-Type", "text/plain"),)),
}


@pytest.mark.parametrize("case", BAD_ANSWERS)
def test_unusable_crossref_answers_give_a_message_and_save_nothing(tmp_path: Path, case: str) -> None:
    seed_collection(tmp_path, 2)
    with serving({WORK_PATH: [BAD_ANSWERS[case]]}) as server:
        settings = settings_for(tmp_path, crossref_url=server.url, http_timeout=0.5)
        with pytest.raises(LookupFailed) as caught:
            CrossrefClient(settings, sleep=lambda _: None).lookup(DOI)
    assert "DOI" in str(caught.value) and "Traceback" not in str(caught.value)
    assert len(bib_files(tmp_path / "references")) == 2


def test_the_command_line_reports_a_bad_crossref_answer_and_saves_nothing(tmp_path: Path) -> None:
    seed_collection(tmp_path, 2)
    with serving({WORK_PATH: [BAD_ANSWERS["not-json"]]}) as server:
        result = cli(tmp_path, "add", "--doi", DOI, LIBRARY_CROSSREF_URL=server.url)
    assert result.returncode == 3, result.stderr
    assert b"Traceback" not in result.stderr and b"DOI service" in result.stderr
    assert len(bib_files(tmp_path / "references")) == 2


# ================================================================== hostile content stays inert

SCRIPT = "<script>alert(1)</script>"
JS_LINK = "[click](javascript:alert(2))"
IMG = '<img src=x onerror="alert(3)">'
HOSTILE_TITLE = f"{SCRIPT} {JS_LINK} {IMG} **bold** :red[red] $x^2$"
HOSTILE_FINDING = (f"Finding {SCRIPT} [read more](javascript:alert(5)) <iframe src='javascript:alert(6)'></iframe> "
                   "=HYPERLINK(\"http://evil.example\") @SUM(1)")
HOSTILE_BIB = f"""@article{{hostile2020,
  author = {{Smith, <b>Jane</b> and {{<svg onload=alert(4)>}}}},
  title = {{{HOSTILE_TITLE} \\href{{javascript:alert(7)}}{{latex link}} \\url{{javascript:alert(8)}}}},
  journal = {{<i onmouseover="alert(9)">Journal</i>}},
  year = {{2020}},
  doi = {{10.1234/"><script>alert(10)</script>}},
  abstract = {{Abstract {SCRIPT} needle}},
  themes = {{burnout}},
  evidence-type = {{systematic-review}},
  key-finding = {{{HOSTILE_FINDING}}},
  url = {{javascript:alert(11)}}
}}
"""
ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "main", "header", "footer", "section", "h1", "h2",
                "p", "ul", "ol", "li", "span", "strong", "i", "b", "a", "small", "div", "mark"}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def assert_inert_html(markup: str) -> str:
    """Only harmless tags, no event handlers, links only to http(s); returns the visible text."""
    parser = _Tags()
    parser.feed(markup)
    for tag, attrs in parser.tags:
        assert tag in ALLOWED_TAGS, f"<{tag}> in {markup[:200]}"
        for name, value in attrs:
            assert not name.startswith("on"), f"{name} on <{tag}>"
            if name in ("href", "src"):
                assert value.lower().startswith(("https://", "http://", "#")), value
    return "".join(parser.text)


@pytest.fixture
def hostile(tmp_path: Path) -> Library:
    references = seed_collection(tmp_path, 3)
    library = Library(settings_for(tmp_path))
    # A 'javascript:' link is refused on the way in; it can still arrive by a hand edit of the file,
    # which is how it gets here, and must then stay inert wherever it is shown.
    link = "  url = {javascript:alert(11)}\n"
    library.add_text(HOSTILE_BIB.replace(link, "").replace("key-finding = {" + HOSTILE_FINDING + "},",
                                                            "key-finding = {" + HOSTILE_FINDING + "}"))
    path = references / "hostile2020.bib"
    text = path.read_text(encoding="utf-8").rstrip()
    assert text.endswith("}")
    path.write_text(text[:-1].rstrip() + ",\n" + link + "}\n", encoding="utf-8")
    library.refresh()
    assert library.get("hostile2020").url == "javascript:alert(11)"
    return library


def test_result_cards_show_hostile_values_as_text(hostile: Library) -> None:
    hit = hostile.search("needle").hits[0]
    assert hit.key == "hostile2020"
    markup = ui.hit_meta_html(hit, hostile.vocabulary)
    visible = assert_inert_html(markup)
    assert SCRIPT in visible and "javascript:alert(5)" in visible and "<svg onload=alert(4)>" in visible
    assert '<p><a href="javascript' not in markup and "alert(11)</a>" not in markup


@pytest.mark.parametrize("text", [HOSTILE_TITLE, HOSTILE_FINDING, "[x](javascript:alert(1))", "<b>x</b>",
                                  "# heading", "1. list", "> quote", "`code`", ":material/lock: icon",
                                  "![img](http://evil.example/x.png)", "\\[x\\](y)", "$$x$$",
                                  "see https://evil.example/a or WWW.evil.example or phish@evil.example"])
def test_markdown_escaping_leaves_no_markup_active(text: str) -> None:
    """In CommonMark a backslash before ASCII punctuation makes it literal, so escaping every
    character that can open a link, image, HTML tag, emphasis, code, maths, icon or block is enough
    for Markdown's own syntax; GitHub's bare-address links are matched after escapes are undone, so
    a word joiner breaks each of "https://", "www." and "name@host" (tests/test_e2e.py checks the
    browser makes no link of them)."""
    escaped = ui.escape_markdown(text)
    unescaped = re.sub(r"\\.", "", escaped)
    assert not set(unescaped) & set("[]()<>`*_#!$:\\|~{}+-.")
    shown = re.sub(r"\\(.)", r"\1", escaped)
    assert shown.replace(ui.WORD_JOINER, "") == text
    assert not re.search(r"(?i)https?://|www\.|@[\w-]", shown)


def test_app_pages_show_hostile_references_as_text(hostile: Library, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import streamlit as streamlit_module

    for name, folder in (("REFERENCES", "references"), ("INDEX", "index"), ("DATA", "data")):
        monkeypatch.setenv(f"LIBRARY_{name}_DIR", str(tmp_path / folder))
    streamlit_module.cache_resource.clear()
    for page, params in (("search", {"q": "needle"}), ("reference", {"key": "hostile2020"})):
        app = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
        if page != "search":
            app.run()
            app.switch_page(f"views/{page}.py")
        for name, value in params.items():
            app.query_params[name] = value
        app.run()
        assert not app.exception
        html_parts = [m.value for m in app.markdown if m.proto.allow_html] + [h.proto.body for h in app.get("html")]
        markdown_parts = [m.value for m in app.markdown if not m.proto.allow_html] + [t.value for t in app.title]
        hostile_html = [v for v in html_parts if "alert" in v]
        hostile_markdown = [v for v in markdown_parts if "alert" in v]
        assert hostile_markdown, f"the hostile title is not on the {page} page"
        assert any("\\<script\\>" in v for v in hostile_markdown)
        for value in hostile_html:  # the card's HTML (hit_meta_html) and the citations
            assert_inert_html(value)
        for value in hostile_markdown:  # what is left once escaped characters are dropped
            bare = re.sub(r"\\.", "", value)
            assert "<" not in bare and "](" not in bare, value
    streamlit_module.cache_resource.clear()


@pytest.fixture
def hostile_pack(hostile: Library) -> Pack:
    snapshot = Snapshot.from_details(title=f"Removed {SCRIPT}", authors=(Name(family="<b>Gone</b>", given="A"),),
                                     year=2001, url="javascript:alert(12)", venue=IMG)
    return Pack(title=f"Brief {SCRIPT}", ask=f"Please {JS_LINK} {IMG}", audience="<marquee>Board</marquee>",
                key_messages=(KeyMessage(f"Message {SCRIPT} [x](javascript:alert(13))", (1, 2)),),
                references=(PackReference("hostile2020"),
                            PackReference("removed2001", f"Note {SCRIPT}", snapshot=snapshot)),
                prepared_by="=HYPERLINK(\"http://evil.example\")")


def test_html_export_shows_hostile_values_as_text(hostile: Library, hostile_pack: Pack) -> None:
    page = hostile.render_pack(hostile_pack, "html").decode()
    visible = assert_inert_html(page)
    assert SCRIPT in visible and "[click](javascript:alert(2))" in visible and "<marquee>" in visible
    assert "Content-Security-Policy" in page and "script-src" not in page


def test_markdown_export_shows_hostile_values_as_text(hostile: Library, hostile_pack: Pack) -> None:
    text = hostile.render_pack(hostile_pack, "md").decode()
    assert "\\<script\\>alert\\(1\\)" in text or "\\<script\\>alert(1)" in text
    # A backslash before ASCII punctuation makes it literal in CommonMark: what is left
    # after dropping escaped characters is all that Markdown could read as markup.
    bare = re.sub(r"\\.", "", text)
    assert "<" not in bare, "raw HTML in the Markdown"
    targets = re.findall(r"\]\(([^)]*)\)", bare)
    assert targets and all(t.startswith(("https://", "http://")) for t in targets), targets


def test_word_export_shows_hostile_values_as_text(hostile: Library, hostile_pack: Pack) -> None:
    with zipfile.ZipFile(io.BytesIO(hostile.render_pack(hostile_pack, "docx"))) as docx:
        body = docx.read("word/document.xml").decode()
        relations = docx.read("word/_rels/document.xml.rels").decode()
        names = docx.namelist()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script" not in body
    assert "javascript:" not in relations.lower()
    assert not [n for n in names if n.endswith((".bin", "vbaProject.bin")) or "activeX" in n]


def test_pdf_export_shows_hostile_values_as_text(hostile: Library, hostile_pack: Pack) -> None:
    data = hostile.render_pack(hostile_pack, "pdf")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    assert "<script>alert(1)</script>" in re.sub(r"\s+", "", text)
    for marker in (b"/JavaScript", b"/JS ", b"/JS(", b"/JS<", b"/Launch", b"/SubmitForm", b"/ImportData", b"/RichMedia"):
        assert marker not in data
    for action in re.findall(rb"/OpenAction\s*(\S)", data):
        assert action == b"[", "the PDF opens with an action, not just a view"
    for uri in re.findall(rb"/URI\s*\(([^)]*)\)", data):
        assert uri.lower().startswith((b"https://", b"http://")), uri


def test_reference_file_exports_keep_hostile_values_as_data(hostile: Library, hostile_pack: Pack) -> None:
    items = json.loads(hostile.render_pack(hostile_pack, "csljson"))
    assert any(SCRIPT in item.get("title", "") for item in items)
    assert parse_bytes(hostile.render_pack(hostile_pack, "bib"), "pack.bib").entries


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def test_coverage_csv_cells_never_start_a_formula(tmp_path: Path) -> None:
    references = seed_collection(tmp_path, 10)
    vocabulary = (references / "themes.toml").read_text()
    vocabulary = re.sub(r'(?m)^label = "', lambda _: 'label = "=HYPERLINK(\\"http://evil.example\\") ', vocabulary)
    (references / "themes.toml").write_text(vocabulary)
    result = cli(tmp_path, "coverage", "--format", "csv")
    assert result.returncode == 0, result.stderr
    import csv

    cells = [cell for row in csv.reader(io.StringIO(result.stdout.decode())) for cell in row]
    assert len(cells) > 20
    assert not [c for c in cells if c.startswith(FORMULA_START)]


# ================================================================== access

PASSWORD = "correct horse battery staple"


@pytest.fixture
def app_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    import streamlit as streamlit_module

    seed_collection(tmp_path, 5)
    for name, folder in (("REFERENCES", "references"), ("INDEX", "index"), ("DATA", "data")):
        monkeypatch.setenv(f"LIBRARY_{name}_DIR", str(tmp_path / folder))
    streamlit_module.cache_resource.clear()
    yield tmp_path
    streamlit_module.cache_resource.clear()


def _forged_review() -> dict:
    entry = parse_bytes(entry_text("forged1", 1).encode(), "x").entries[0]
    return {"items": [{"entry": entry, "decision": "new", "duplicates": []}], "problems": [], "page": 1}


FORGED_PARAMS = {"librarian": "librarian (app)", "librarian_review": "1", "save-review": "true",
                 "key": "../../etc/passwd", "edit_key": "felitti1998relationship", "signed_in": "1",
                 "edit": "felitti1998relationship"}


@pytest.mark.parametrize("configured", [False, True], ids=["no-password-set", "password-set"])
def test_without_signing_in_no_page_changes_the_collection(app_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                           configured: bool) -> None:
    if configured:
        monkeypatch.setenv("LIBRARY_LIBRARIAN_PASSWORD_HASH", hash_password(PASSWORD))
    before = tree(app_env / "references")
    for page in ("search", "reference", "themes", "concerns", "pack", "librarian"):
        app = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
        for name, value in FORGED_PARAMS.items():
            app.query_params[name] = value
        app.session_state["librarian_review"] = _forged_review()
        app.session_state["paste_text"] = entry_text("forged2", 2)
        app.session_state["add_method"] = "paste"
        app.session_state["edit_key"] = "felitti1998relationship"
        app.session_state["confirm-delete"] = True
        app.run()
        if page != "search":
            app.switch_page(f"views/{page}.py").run()
        assert not app.exception, page
        if page == "librarian":
            assert not [b for b in app.button if b.key in ("save-review", "delete-ref", "read-input", "edit-save")]
            assert not app.session_state["librarian"] if "librarian" in app.session_state else True
        for index in range(6):  # whatever a reader can press changes nothing either
            enabled = [b for b in app.button if not b.disabled]
            if index >= len(enabled):
                break
            enabled[index].click().run()
            assert not app.exception, (page, enabled[index].label)
    assert tree(app_env / "references") == before
    assert not (app_env / "data" / "changes.jsonl").exists()


def test_the_librarian_flag_cannot_come_from_the_url(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIBRARY_LIBRARIAN_PASSWORD_HASH", hash_password(PASSWORD))
    app = AppTest.from_file(str(REPO / "views" / "librarian.py"), default_timeout=60)
    app.query_params["librarian"] = "Jo Librarian"
    app.run()
    assert "librarian" not in app.session_state
    assert [t.key for t in app.text_input] == ["signin_name", "password"]
    assert [m for m in app.markdown if "needs the librarian password" in m.value]


def test_wrong_passwords_are_refused_and_then_throttled_in_the_app(app_env: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIBRARY_LIBRARIAN_PASSWORD_HASH", hash_password(PASSWORD))
    # The app's throttle reads the clock given by default; stop it, so no wait ever runs out.
    monkeypatch.setitem(Throttle.__init__.__kwdefaults__, "clock", lambda: 0.0)
    app = AppTest.from_file(str(REPO / "views" / "librarian.py"), default_timeout=60)
    app.run()
    messages = []
    for attempt in range(5):
        app.text_input(key="signin_name").input("Jo Librarian")
        app.text_input(key="password").input(f"wrong guess {attempt}")
        app.button[0].click().run()
        messages.append(app.error[0].value)
    assert messages[:4] == ["That password is not right."] * 4
    assert messages[4].startswith("Too many wrong passwords from this browser")
    app.text_input(key="password").input(PASSWORD)  # even the right one waits out the delay
    app.button[0].click().run()
    assert "librarian" not in app.session_state
    # Another librarian, in another browser session, is not made to wait.
    other = AppTest.from_file(str(REPO / "views" / "librarian.py"), default_timeout=60)
    other.run()
    other.text_input(key="signin_name").input("Sam Carer")
    other.text_input(key="password").input(PASSWORD)
    other.button[0].click().run()
    assert other.session_state["librarian"] == "Sam Carer"


@pytest.mark.parametrize("stored", ["", "plain-text-password", "scrypt$1$1$1$$", "scrypt$16384$8$1$abc$",
                                    "md5$x$y$z$a$b", "scrypt$99999999999$8$1$c2FsdA$ZGlnZXN0"])
def test_an_unusable_hash_never_lets_anyone_in(stored: str, tmp_path: Path) -> None:
    database = Database(default_url(tmp_path / "data"))
    try:
        throttle = Throttle(DatabaseAttemptStore(database), clock=lambda: 0.0)
        for password in ("", PASSWORD, stored, "plain-text-password"):
            with pytest.raises(AccessDenied):
                throttle.sign_in(password, stored, Signer("a session", "", "Jo Librarian"))
    finally:
        database.close()


def test_secrets_never_appear_in_logs_pages_exports_or_output(app_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    stored = hash_password(PASSWORD)
    salt_and_digest = stored.split("$", 4)[4]
    secrets = (PASSWORD, stored, salt_and_digest)
    monkeypatch.setenv("LIBRARY_LIBRARIAN_PASSWORD_HASH", stored)
    monkeypatch.setenv("LIBRARY_USER", "tester")
    settings = Settings.from_env()
    assert settings.librarian_password_hash == stored
    for text in (repr(settings), str(settings)):
        assert not [s for s in secrets if s in text]

    app = AppTest.from_file(str(REPO / "views" / "librarian.py"), default_timeout=60)
    app.run()
    app.text_input(key="signin_name").input("Jo Librarian")
    app.text_input(key="password").input(PASSWORD)
    app.button[0].click().run()
    assert app.session_state["librarian"]
    app.radio(key="add_method").set_value("paste").run()
    app.text_area(key="paste_text").input(entry_text("signedin1", 1))
    app.button(key="read-input").click().run()
    app.button(key="save-review").click().run()
    assert not app.exception
    assert (app_env / "references" / "signedin1.bib").exists()
    for tab_run in range(2):
        page_text = " ".join(str(node.proto) for node in _elements(app._tree)
                             if getattr(node, "key", None) != "password")
        assert not [s for s in secrets if s in page_text], "a secret is shown on the page"
        app.run()
    log_text = (app_env / "data" / "changes.jsonl").read_text()
    assert "signedin1" in log_text and not [s for s in secrets if s in log_text]
    assert not [s for s in secrets if s in caplog.text]

    outputs = [cli(app_env, *args, LIBRARY_LIBRARIAN_PASSWORD_HASH=stored)
               for args in (["check", "--warnings"], ["search", "trauma", "--format", "json"], ["show", "signedin1"],
                            ["add", str(app_env / "missing.bib")], ["export"], ["themes"], ["coverage"])]
    outputs.append(cli(app_env, "hash-password", "--stdin", input=(PASSWORD + "\n").encode()))
    for result in outputs:
        combined = result.stdout.decode() + result.stderr.decode()
        assert PASSWORD not in combined and stored not in combined
    library = Library(Settings.from_env())
    pack = Pack(title="Brief", references=(PackReference("signedin1"),))
    for fmt in ("html", "md", "bib", "csljson"):
        rendered = library.render_pack(pack, fmt).decode()
        assert not [s for s in secrets if s in rendered]
    assert not [s for s in secrets if s in dump_pack(pack)]


def _elements(node):  # type: ignore[no-untyped-def]
    children = getattr(node, "children", None)
    if children is None:
        yield node
        return
    for child in (children.values() if isinstance(children, dict) else children):
        yield from _elements(child)


def test_every_setting_is_listed_in_the_threat_model() -> None:
    text = (REPO / "docs" / "security.md").read_text(encoding="utf-8")
    for spec in SETTINGS:
        assert spec.env in text, spec.env
    for name in re.findall(r"tests/(test_\w+\.py)::(\w+)", text):
        source = (REPO / "tests" / name[0]).read_text(encoding="utf-8")
        assert f"def {name[1]}(" in source, f"docs/security.md names a test that does not exist: {name}"


@pytest.mark.parametrize("text", ["walk_2024_second", "a`b", "``x``", "`start", "end`", "[x](javascript:alert(1))",
                                  "two\nlines"])
def test_code_spans_show_the_text_as_it_is_spelt(text: str) -> None:
    """A code span shows its content literally (no escapes are undone inside it): the fence must be
    longer than any run of backticks in the text, with a space inside when the text starts or ends
    with one (CommonMark strips one space from each side)."""
    shown = ui.code(text)
    fence = re.match("`+", shown).group(0)  # type: ignore[union-attr]
    inner = shown[len(fence):-len(fence)]
    assert shown.endswith(fence) and fence not in re.findall("`+", inner)
    if inner.startswith(" ") and inner.endswith(" ") and inner.strip():
        inner = inner[1:-1]
    assert inner == " ".join(text.splitlines())
