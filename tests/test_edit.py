"""Every save is exact or refused (issue 11, items 1, 2 and 7): whatever is typed into a field, through
the API, the command line or the app's edit form, reads back exactly from the saved file; nothing
can add a field or an entry; a save over someone else's newer change is refused with who, when
and what; and unchanged fields keep their LaTeX exactly as on disk.

The property tests drive arbitrary text through the real verbs on real files in tmp_path.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from library import Library
from library.bibtex import PROJECT_FIELDS, Entry, parse_bytes, parse_file
from library.errors import (DuplicateReference, EditConflict, InvalidKey, InvalidValue, ReferenceNotFound,
                            SaveRefused, WriteFailed)
from library.forms import field_label
from library.records import Name
from library.values import canonical, canonical_name
from tests.security_support import REPO, assert_sound, bib_files, cli, seed_collection, settings_for

KEY = "maslach2016understanding"
PROTECTED = "bellis2014national"  # its title protects {England} with braces
# Fields a librarian can type into: the decoded bibliographic and project text fields.
TEXT_FIELDS = ("title", "journal", "booktitle", "publisher", "school", "institution", "address", "edition",
               "volume", "number", "pages", "month", "note", "abstract", "keywords", "series", "isbn", "issn",
               "howpublished", "organization", "country", "key-finding", "provenance", "added-by", "annote",
               "language")
SPECIALS = "{}\\%#@\"'`~^$&_-,=() \n\t"
TYPED = st.text(st.one_of(st.characters(blacklist_categories=("Cc", "Cs")), st.sampled_from(list(SPECIALS))),
                min_size=1, max_size=50).filter(lambda t: t.strip())
HOSTILE = {
    "stray opening brace": "Staff found the {pilot useful.",
    "stray closing brace": "Reduced burnout.} and more",
    "forged fields": "Reduced burnout.}, doi = {10.9999/forged.doi}, url = {https://evil.example/x",
    "forged entry": "x}\n}\n@article{forged2020x,\n  title = {Forged},\n  year = {2020}\n}",
    "backslashes": "C:\\Users\\nurse\\ and \\textbf{not bold} and \\",
    "comment sign": "50% of staff % not a comment",
    "typography": "self-harm -- pages 1---2 `quoted' ``double'' it's ~tilde",
    "maths": "$x^2$ & #1 _under_",
    "unicode": "Zoë Ødegård 中文 עברית 😀 \u200d\u00a0",
    "newlines": "line one\n\nline two\twith a tab",
}


@pytest.fixture(scope="module")
def _built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("edit-built")
    references = seed_collection(root, 4)
    for key in (KEY, PROTECTED):
        shutil.copy2(REPO / "references" / f"{key}.bib", references)
    Library(settings_for(root)).close()
    return root


@pytest.fixture
def root(tmp_path: Path, _built: Path) -> Path:
    for folder in ("references", "index"):
        shutil.copytree(_built / folder, tmp_path / folder)
    return tmp_path


@pytest.fixture
def library(root: Path) -> Library:
    lib = Library(settings_for(root))
    yield lib
    lib.close()


def only_entry(root: Path, key: str) -> Entry:
    result = parse_file(root / "references" / f"{key}.bib")
    assert not result.problems, [p.describe() for p in result.problems]
    [entry] = result.entries
    assert entry.key == key
    return entry


def unseeded() -> None:
    """Hypothesis seeds the global `random` the same way for every example, and Whoosh names its
    segments with it: two examples' index commits would pick the same segment name.  Reseed from
    the operating system inside each example (Hypothesis restores its own state afterwards)."""
    random.seed()


def log_lines(root: Path) -> list[dict]:
    path = root / "data" / "changes.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


# ---------------------------------------------------------------- item 1: exact or refused


@pytest.mark.parametrize("text", HOSTILE.values(), ids=list(HOSTILE))
def test_hostile_key_findings_are_saved_exactly_and_the_reference_stays_whole(root: Path, library: Library,
                                                                             text: str) -> None:
    before = only_entry(root, KEY)

    result = library.edit(KEY, {"key-finding": text}, who="alice")

    after = only_entry(root, KEY)
    assert set(after.fields) == set(before.fields), "a field was added or lost"
    assert library.get(KEY).key_finding == canonical(text)
    assert [h.key for h in library.search("burnout experience").hits].count(KEY) == 1  # found, once
    assert result.changes["key-finding"][1].startswith(canonical(text)[:40].rstrip())
    assert library.check().ok
    assert_sound(root)


def test_an_edit_keeps_the_other_fields_latex_exactly_as_on_disk(root: Path, library: Library) -> None:
    path = root / "references" / f"{PROTECTED}.bib"
    title_line = next(line for line in path.read_text(encoding="utf-8").splitlines() if "title = " in line)
    assert "{England}" in title_line

    library.edit(PROTECTED, {"key-finding": "A new finding."})

    assert title_line in path.read_text(encoding="utf-8").splitlines()
    assert only_entry(root, PROTECTED).fields["key-finding"] == "A new finding."


@settings(max_examples=int(os.environ.get("LIBRARY_API_EXAMPLES", "60")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(field=st.sampled_from(TEXT_FIELDS), text=TYPED)
@example(field="key-finding", text="Staff found the {pilot useful.")
@example(field="title", text="--")
def test_any_text_in_any_field_through_the_api_reads_back_exactly(library: Library, root: Path, field: str,
                                                                   text: str) -> None:
    unseeded()
    count = len(bib_files(root / "references"))

    library.edit(KEY, {field: text}, who="fuzzer")

    record = library.get(KEY)
    assert record.fields[field] == canonical(text)
    entry = only_entry(root, KEY)
    assert field in entry.fields and "doi" in entry.fields and len(bib_files(root / "references")) == count


@settings(max_examples=int(os.environ.get("LIBRARY_API_EXAMPLES", "60")) // 2, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(names=st.lists(st.builds(lambda f, g: Name(family=f, given=g), TYPED, st.one_of(st.just(""), TYPED)),
                      min_size=1, max_size=3))
def test_any_names_through_the_api_read_back_exactly(library: Library, root: Path, names: list[Name]) -> None:
    unseeded()
    library.edit(KEY, {"author": names})

    assert library.get(KEY).authors == tuple(canonical_name(n) for n in names)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("doi", "10.9999/forged}", "braces or spaces"),
    ("url", "javascript:alert(1)", "https://"),
    ("themes", "burnout}, x", "not a slug"),
    ("title", "bell\x07", "U\\+0007"),
    ("crossref", "other", "cannot be edited"),
    ("bad name", "x", "cannot be a field name"),
])
def test_values_that_cannot_be_saved_are_refused_and_nothing_changes(root: Path, library: Library, field: str,
                                                                     value: str, message: str) -> None:
    before = bib_files(root / "references")
    with pytest.raises(InvalidValue, match=message):
        library.edit(KEY, {field: value})
    assert bib_files(root / "references") == before
    assert log_lines(root) == []


def test_the_writer_refuses_bytes_that_would_not_read_back(root: Path, library: Library) -> None:
    """The last line of defence: raw LaTeX that would plant a field is never written."""
    entry = only_entry(root, KEY)
    forged = entry.with_fields(note="x}, doi = {10.9999/forged")
    before = bib_files(root / "references")

    with pytest.raises(SaveRefused, match="would not read back") as caught:
        library.update(forged)

    assert "Nothing was changed" in str(caught.value)
    assert bib_files(root / "references") == before
    for bad in (entry.with_fields(note="{unclosed"), entry.with_persons("author", ["Smith, J. and Doe, K."]),
                Entry(KEY, "article", {**entry.fields, "bad name": "x"}, entry.persons)):
        with pytest.raises(SaveRefused):
            library.update(bad)
    assert bib_files(root / "references") == before


def test_nothing_changed_writes_nothing_and_logs_nothing(root: Path, library: Library) -> None:
    before = bib_files(root / "references")
    current = library.get(KEY).key_finding
    result = library.edit(KEY, {"key-finding": "  " + current + "\n"})
    assert not result.changed and bib_files(root / "references") == before and log_lines(root) == []


def test_the_change_log_says_what_changed(root: Path, library: Library) -> None:
    old_title = library.get(KEY).title
    long_text = "A much longer finding " * 20
    library.edit(KEY, {"title": "Burnout, briefly", "key-finding": long_text, "note": "new"}, who="alice")

    [line] = log_lines(root)
    assert (line["who"], line["action"], line["key"]) == ("alice", "edit", KEY)
    assert line["changes"]["title"] == [old_title, "Burnout, briefly"]
    assert line["changes"]["note"] == ["", "new"]
    old, new = line["changes"]["key-finding"]
    assert len(new) <= 120 and new.endswith("…") and new.startswith("A much longer finding")
    assert line["version"] == library.get(KEY).version


# ---------------------------------------------------------------- item 2: versions and conflicts


def test_a_save_over_a_newer_version_is_refused_with_who_when_and_what(root: Path, library: Library) -> None:
    start = library.get(KEY)
    library.edit(KEY, {"title": "Changed by Bob"}, base_version=start.version, who="bob")
    before = bib_files(root / "references")

    with pytest.raises(EditConflict) as caught:
        library.edit(KEY, {"key-finding": "Alice's text"}, base_version=start.version, who="alice")

    conflict = caught.value
    assert bib_files(root / "references") == before
    assert "changed by bob at" in str(conflict) and "(Title: “" in str(conflict) and "Changed by Bob" in str(conflict)
    assert "Your changes were not saved" in str(conflict)
    [change] = conflict.changes
    assert change.who == "bob" and change.changes["title"][1] == "Changed by Bob"
    assert conflict.current_version == library.get(KEY).version != start.version
    # Reapplied on the new version: both changes kept.
    library.edit(KEY, {"key-finding": "Alice's text"}, base_version=conflict.current_version, who="alice")
    record = library.get(KEY)
    assert (record.title, record.key_finding) == ("Changed by Bob", "Alice's text")


def test_a_hand_edit_since_the_form_was_opened_is_a_conflict_too(root: Path, library: Library) -> None:
    start = library.get(KEY)
    path = root / "references" / f"{KEY}.bib"
    path.write_text(path.read_text(encoding="utf-8").replace("{2016}", "{2017}"), encoding="utf-8")

    with pytest.raises(EditConflict, match="changed outside the library"):
        library.edit(KEY, {"note": "x"}, base_version=start.version)
    with pytest.raises(EditConflict):
        library.delete(KEY, base_version=start.version)
    assert path.exists()


def test_versions_are_fingerprints_of_the_file(root: Path, library: Library) -> None:
    first = library.get(KEY).version
    assert first == library.get(KEY).version and len(first) == 16
    library.edit(KEY, {"note": "x"})
    assert library.get(KEY).version != first


# ---------------------------------------------------------------- keys, DOIs, restore


def test_a_new_key_renames_the_reference_in_one_logged_change(root: Path, library: Library) -> None:
    result = library.edit(KEY, {"note": "renamed"}, new_key="maslach2016renamed", who="carol")

    assert result.key == "maslach2016renamed"
    assert not (root / "references" / f"{KEY}.bib").exists()
    assert only_entry(root, "maslach2016renamed").fields["note"] == "renamed"
    [line] = log_lines(root)
    assert line["changes"]["key"] == [KEY, "maslach2016renamed"] and "renamed from" in line["detail"]
    assert [k for k, _ in library.collection.trashed()] == [KEY]
    assert_sound(root)


@pytest.mark.parametrize("new_key", ["abc\n", "abc\r\n", "../abc", "con", "a b"])
def test_unsafe_new_keys_are_refused(root: Path, library: Library, new_key: str) -> None:
    before = bib_files(root / "references")
    with pytest.raises(InvalidKey):
        library.edit(KEY, {}, new_key=new_key)
    assert bib_files(root / "references") == before


def test_a_key_that_differs_only_in_case_is_refused(root: Path, library: Library) -> None:
    other = sorted(bib_files(root / "references"))[0][:-4]
    with pytest.raises(DuplicateReference, match="already in the collection"):
        library.edit(KEY, {}, new_key=other.upper())


def test_a_doi_already_on_another_reference_is_refused(root: Path, library: Library) -> None:
    other = only_entry(root, PROTECTED).fields["doi"]
    with pytest.raises(DuplicateReference, match="two references cannot share a DOI"):
        library.edit(KEY, {"doi": other.upper()})
    assert library.check().ok


def test_restoring_a_reference_whose_doi_is_now_taken_is_refused(root: Path, library: Library) -> None:
    entry = only_entry(root, KEY)
    library.delete(KEY)
    library.add_entries([entry.with_key("maslach2016again")])
    with pytest.raises(DuplicateReference, match="its DOI is now on 'maslach2016again'"):
        library.restore(KEY)
    assert library.check().ok


def test_a_damaged_copy_in_the_trash_is_not_restored(root: Path, library: Library) -> None:
    library.delete(KEY)
    [(_, copy)] = library.collection.trashed()
    copy.write_text("@article{maslach2016understanding, title = {cut short", encoding="utf-8")
    with pytest.raises(SaveRefused, match="cannot be restored"):
        library.restore(KEY)
    assert not (root / "references" / f"{KEY}.bib").exists() and copy.exists()


def test_editing_a_missing_reference_says_so(library: Library) -> None:
    with pytest.raises(ReferenceNotFound):
        library.edit("nosuchkey2020", {"note": "x"})


# ---------------------------------------------------------------- the command line


def test_cli_finding_cannot_forge_a_doi_or_a_link(root: Path, tmp_path: Path) -> None:
    source = tmp_path / "new.bib"
    source.write_text("@article{zephyr2024quiet,\n  author = {Zephyr, Q.},\n  title = {Quiet rooms},\n"
                      "  journal = {J},\n  year = {2024}\n}\n", encoding="utf-8")
    finding = HOSTILE["forged fields"]

    result = cli(root, "add", str(source), "--finding", finding)

    assert result.returncode == 0, result.stderr
    entry = only_entry(root, "zephyr2024quiet")
    assert "doi" not in entry.fields and "url" not in entry.fields
    shown = cli(root, "show", "zephyr2024quiet")
    assert f"Key finding:     {finding}" in shown.stdout.decode()
    assert cli(root, "check").returncode == 0


def test_cli_set_cannot_plant_a_second_entry(root: Path) -> None:
    value = HOSTILE["forged entry"]
    result = cli(root, "edit", KEY, "--set", f"note={value}")

    assert result.returncode == 0, result.stderr
    assert only_entry(root, KEY).fields["note"]
    assert not (root / "references" / "forged2020x.bib").exists()
    assert Library(settings_for(root)).get(KEY).fields["note"] == canonical(value)
    assert cli(root, "check").returncode == 0


def test_cli_set_names_and_removes_fields(root: Path) -> None:
    result = cli(root, "edit", KEY, "--set", "author=van der Berg, Jan and {World Health Organization}",
                 "--set", "note=", "--set", "key_finding=Plain words.")
    assert result.returncode == 0, result.stderr
    record = Library(settings_for(root)).get(KEY)
    assert record.authors == (Name("Berg", "Jan", "van der"), Name("World Health Organization", literal=True))
    assert "note" not in only_entry(root, KEY).fields
    assert record.key_finding == "Plain words."
    unchanged = cli(root, "edit", KEY, "--set", "key-finding=Plain words.")
    assert unchanged.returncode == 0 and b"Nothing to change" in unchanged.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--new-key", "abc\n"], b"cannot be used as a file name"),
    (["--set", "url=javascript:alert(1)"], b"https://"),
    (["--set", "doi=10.9999/x}"], b"braces or spaces"),
    (["--set", "title=bell\x07"], b"U+0007"),
    (["--type", "not a type"], b"cannot be an entry type"),
])
def test_cli_refuses_bad_values_with_a_message_and_changes_nothing(root: Path, args: list[str],
                                                                   message: bytes) -> None:
    before = bib_files(root / "references")
    result = cli(root, "edit", KEY, *args)
    assert result.returncode == 1, result.stderr
    assert message in result.stderr and b"Traceback" not in result.stderr
    assert bib_files(root / "references") == before
    assert not (root / "references" / "abc\n.bib").exists()


def test_cli_edit_file_reads_latin1_as_add_does(root: Path, tmp_path: Path) -> None:
    text = (root / "references" / f"{KEY}.bib").read_text(encoding="utf-8").replace(
        "Maslach, Christina", "Maslach, Chrïstina")
    latin1 = tmp_path / "latin1.bib"
    latin1.write_bytes(text.encode("latin-1"))

    result = cli(root, "edit", KEY, "--file", str(latin1))

    assert result.returncode == 0, result.stderr
    assert b"not UTF-8" in result.stderr  # the same warning `add` gives
    assert Library(settings_for(root)).get(KEY).authors[0].given == "Chrïstina"
    assert parse_bytes((root / "references" / f"{KEY}.bib").read_bytes(), "x").entries[0].persons["author"][0] \
        == "Maslach, Chrïstina"


# ---------------------------------------------------------------- edit --file: a new bibliographic record

# The entry as Zotero or EndNote exports it (CRLF, EndNote's record number as ID): no themes, key
# finding or provenance, which no reference manager has.  Against the file on disk it leaves out
# the issue number, gives the journal's full NLM title and adds a note.
MASLACH_RIS = ("TY  - JOUR\r\nID  - 17\r\nAU  - Maslach, Christina\r\nAU  - Leiter, Michael P.\r\n"
               "TI  - Understanding the burnout experience: recent research and its implications for psychiatry\r\n"
               "T2  - World psychiatry : official journal of the World Psychiatric Association (WPA)\r\n"
               "PY  - 2016\r\nVL  - 15\r\nSP  - 103\r\nEP  - 111\r\nDO  - 10.1002/wps.20311\r\n"
               "N1  - Open access.\r\nER  - \r\n")


def bib_of(root: Path, key: str, *, drop: tuple[str, ...] = (), new_key: str | None = None) -> str:
    """The reference's file as a reference manager would export it: some fields left out, perhaps
    another key."""
    lines = (root / "references" / f"{key}.bib").read_text(encoding="utf-8").splitlines(keepends=True)
    text = "".join(line for line in lines if not any(line.lstrip().startswith(f"{name} =") for name in drop))
    return text.replace("{" + key + ",", "{" + (new_key or key) + ",", 1)


def own_fields(entry: Entry) -> dict[str, str]:
    return {name: value for name, value in entry.fields.items() if name in PROJECT_FIELDS}


def test_cli_edit_file_ris_keeps_the_librarys_own_fields_and_says_what_changed(root: Path, tmp_path: Path) -> None:
    before = only_entry(root, KEY)
    assert set(own_fields(before)) >= {"themes", "evidence-type", "key-finding", "provenance", "added"}
    ris = tmp_path / "maslach.ris"
    ris.write_bytes(MASLACH_RIS.encode("utf-8"))

    result = cli(root, "edit", KEY, "--file", str(ris))

    assert result.returncode == 0, result.stderr
    out = result.stdout.decode().splitlines()
    assert out[0] == f"Saved {KEY}: journal changed; number removed; annote added."
    assert out[1] == (f"Kept the library's own fields, which {ris} does not have: "
                      + ", ".join(own_fields(before)) + ".")
    after = only_entry(root, KEY)
    assert own_fields(after) == own_fields(before)  # byte for byte
    assert "number" not in after.fields  # the file is the new bibliographic record
    assert after.fields["annote"] == "Open access."
    assert after.fields["journal"].startswith("World psychiatry : official journal")
    assert (after.fields["volume"], after.fields["pages"], after.persons) == \
        (before.fields["volume"], before.fields["pages"], before.persons)
    assert not (root / "references" / "17.bib").exists()  # EndNote's record number is not a key
    [line] = log_lines(root)
    assert (line["action"], line["key"], sorted(line["changes"])) == ("edit", KEY, ["annote", "journal", "number"])
    assert cli(root, "check").returncode == 0
    assert KEY in [h.key for h in Library(settings_for(root)).search("burnout", themes=("burnout",)).hits]


def test_cli_edit_file_bib_values_win_and_set_still_removes(root: Path, tmp_path: Path) -> None:
    """A field the file does have replaces the library's; --set applies after the file, so it can
    remove one of the library's own fields the file leaves out."""
    before = only_entry(root, KEY)
    source = tmp_path / "edited.bib"
    source.write_text(bib_of(root, KEY, drop=("pages", "provenance")).replace(
        "themes = {burnout}", "themes = {burnout, leadership}"), encoding="utf-8")

    result = cli(root, "edit", KEY, "--file", str(source), "--set", "key-finding=", "--set", "note=Read in full.")

    assert result.returncode == 0, result.stderr
    out = result.stdout.decode().splitlines()
    assert out[0] == f"Saved {KEY}: pages removed; themes changed; key-finding removed; note added."
    assert out[1] == f"Kept the library's own fields, which {source} does not have: provenance."
    after = only_entry(root, KEY)
    assert after.fields["themes"] == "burnout, leadership"
    assert after.fields["provenance"] == before.fields["provenance"]
    assert "key-finding" not in after.fields and "pages" not in after.fields


@pytest.mark.parametrize(("new_key", "message"), [
    (None, "To rename maslach2016understanding to otherkey2016burnout, give the new key as such "
           "(--new-key otherkey2016burnout); to keep the key maslach2016understanding, change the key in the "
           "file to maslach2016understanding."),
    ("third2016key", "which is neither the reference being edited ('maslach2016understanding') nor its new "
                     "key ('third2016key')"),
])
def test_cli_edit_file_with_another_key_renames_nothing_by_itself(root: Path, tmp_path: Path, new_key: str | None,
                                                                  message: str) -> None:
    source = tmp_path / "other.bib"
    source.write_text(bib_of(root, KEY, new_key="otherkey2016burnout"), encoding="utf-8")
    before = bib_files(root / "references")

    result = cli(root, "edit", KEY, "--file", str(source), *(["--new-key", new_key] if new_key else []))

    assert result.returncode == 1, result.stderr
    stderr = result.stderr.decode()
    assert stderr.startswith("Nothing was changed:\n") and "Traceback" not in stderr
    assert f"{source}, line 1, entry 'otherkey2016burnout': Error: the file's entry has the key" in stderr
    assert message in " ".join(stderr.split())
    assert bib_files(root / "references") == before and log_lines(root) == []


def test_cli_edit_file_with_new_key_renames_through_the_rename_path(root: Path, tmp_path: Path) -> None:
    before = only_entry(root, KEY)
    source = tmp_path / "other.bib"
    source.write_text(bib_of(root, KEY, drop=("themes", "key-finding"), new_key="maslach2016burnout"),
                      encoding="utf-8")

    result = cli(root, "edit", KEY, "--file", str(source), "--new-key", "maslach2016burnout")

    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().splitlines()[0] == "Saved maslach2016burnout: key changed."
    assert not (root / "references" / f"{KEY}.bib").exists()
    assert own_fields(only_entry(root, "maslach2016burnout")) == own_fields(before)
    library = Library(settings_for(root))
    assert [k for k, _ in library.collection.trashed()] == [KEY]
    assert "renamed from maslach2016understanding" in log_lines(root)[-1]["detail"]


def test_cli_edit_file_refuses_a_bad_value_and_changes_nothing(root: Path, tmp_path: Path) -> None:
    source = tmp_path / "edited.bib"
    source.write_text(bib_of(root, KEY).replace("themes = {burnout}", "themes = {no-such-theme}"), encoding="utf-8")
    before = bib_files(root / "references")

    result = cli(root, "edit", KEY, "--file", str(source))

    assert result.returncode == 1 and b"unknown theme" in result.stderr
    assert bib_files(root / "references") == before and log_lines(root) == []


def test_cli_edit_says_added_changed_or_removed_per_field(root: Path) -> None:
    steps = [(["--set", "note=First reading."], "note added"),
             (["--set", "note=Second reading.", "--set", "volume=16"], "volume changed; note changed"),
             (["--set", "note=", "--set", "editor=Leiter, Michael P."], "editor added; note removed"),
             (["--set", "editor=", "--set", "themes="], "editor removed; themes removed")]
    for args, summary in steps:
        result = cli(root, "edit", KEY, *args)
        assert result.returncode == 0, result.stderr
        assert result.stdout.decode() == f"Saved {KEY}: {summary}.\n"
    entry = only_entry(root, KEY)
    assert "note" not in entry.fields and "themes" not in entry.fields and "editor" not in entry.persons


@settings(max_examples=int(os.environ.get("LIBRARY_CLI_EXAMPLES", "5")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(field=st.sampled_from(TEXT_FIELDS), text=TYPED.filter(lambda t: not t.startswith("-")))
@example(field="key-finding", text=HOSTILE["forged entry"])
def test_any_text_in_any_field_through_the_command_line_reads_back_exactly(root: Path, field: str,
                                                                            text: str) -> None:
    count = len(bib_files(root / "references"))
    result = cli(root, "edit", KEY, "--set", f"{field}={text}")
    assert result.returncode == 0, result.stderr.decode()
    library = Library(settings_for(root), sync=False)
    assert library.get(KEY).fields[field] == canonical(text)
    assert len(bib_files(root / "references")) == count


def test_a_write_failure_says_nothing_was_changed_only_when_true(root: Path, library: Library,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    before = bib_files(root / "references")
    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(WriteFailed, match="Nothing was changed"):
        library.edit(KEY, {"note": "x"})
    monkeypatch.undo()
    assert bib_files(root / "references") == before and log_lines(root) == []


# ---------------------------------------------------------------- the app's edit form

# BibTeX field: (the form's widget kind, its key suffix)
APP_FIELDS = {"title": ("text_area", "title"), "country": ("text_input", "country"),
              "key-finding": ("text_area", "key_finding"), "abstract": ("text_area", "abstract"),
              "volume": ("text_input", "volume")}


@pytest.fixture
def app_collection(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import streamlit as st_module

    from library.auth import hash_password
    from tests.test_app import PASSWORD

    for name, folder in (("REFERENCES", "references"), ("INDEX", "index"), ("DATA", "data")):
        monkeypatch.setenv(f"LIBRARY_{name}_DIR", str(root / folder))
    monkeypatch.setenv("LIBRARY_LIBRARIAN_PASSWORD_HASH", hash_password(PASSWORD))
    st_module.cache_resource.clear()
    yield root
    st_module.cache_resource.clear()


def _edit_session(key: str):  # type: ignore[no-untyped-def]
    from tests.test_app import librarian_session

    return librarian_session(edit=key)


@settings(max_examples=int(os.environ.get("LIBRARY_APP_EXAMPLES", "6")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(field=st.sampled_from(sorted(APP_FIELDS)), text=TYPED)
@example(field="key-finding", text=HOSTILE["stray opening brace"])
def test_any_text_in_the_app_edit_form_reads_back_exactly(app_collection: Path, field: str, text: str) -> None:
    unseeded()
    at = _edit_session(KEY)
    kind, suffix = APP_FIELDS[field]
    getattr(at, kind)(key=f"edit-{KEY}-{suffix}").input(text)
    at.button(key="edit-save").click().run()

    assert not at.exception, at.exception
    saved = [[f"Saved. {kind}: {field_label(field)}. Search shows the change now."]
             for kind in ("Changed", "Added", "Removed")]
    assert [s.value for s in at.success] in [*saved, ["Nothing had changed, so nothing was saved."],
                                             ["You have not changed anything, so nothing was saved."]]
    library = Library(settings_for(app_collection), sync=False)
    assert library.get(KEY).fields[field] == canonical(text)
    assert only_entry(app_collection, KEY).fields.get("doi")
    assert KEY in [h.key for h in library.search("maslach").hits]  # still whole, and found by its author


@pytest.mark.parametrize(("how", "checked_after"), [
    ("set the finding", "no"),
    ("set the finding and say it was checked", "yes"),
    ("a file with a new finding", "no"),
    ("a file with a new finding, checked", "yes"),
    ("change another field", "yes"),
])
def test_a_new_key_finding_is_not_checked_until_someone_says_so(tmp_path: Path, how: str,
                                                               checked_after: str) -> None:
    """A replaced key finding kept finding-checked = yes, presenting an unread text as checked."""
    seed_collection(tmp_path, 4)
    library = Library(settings_for(tmp_path))
    key = sorted(p.stem for p in (tmp_path / "references").glob("*.bib"))[0]
    library.edit(key, {"finding-checked": "yes"})
    finding = "A brand new claim about the ward."
    if how.startswith("set the finding"):
        changes = {"key-finding": finding, **({"finding-checked": "yes"} if "checked" in how else {})}
        result = library.edit(key, changes)
    elif how.startswith("a file"):
        entry = library.get(key).entry
        fields = {**{n: v for n, v in entry.fields.items() if n not in ("finding-checked",)}, "key-finding": finding}
        if how.endswith("checked"):
            fields["finding-checked"] = "yes"
        result = library.replace_record(key, Entry(key, entry.type, fields, entry.persons))
    else:
        result = library.edit(key, {"note": "Seen on the ward."})
    assert library.get(key).fields["finding-checked"] == checked_after
    warned = any("marked as not yet checked" in n for n in result.notices)
    assert warned == (checked_after == "no")
