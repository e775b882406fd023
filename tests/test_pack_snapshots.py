"""A saved pack's snapshots: every seed reference renders the same after it is renamed or deleted.

A pack keeps each reference's BibTeX entry as written (`packs.Snapshot`), so that a
reference the collection no longer holds under the pack's key still renders every
export (APA and Harvard; PDF, Word, HTML, Markdown, BibTeX, RIS, CSL-JSON) exactly
as it did from the collection.  The proof runs over the real seed files, through a
real Library: renamed with `Library.edit(new_key=...)`, then deleted with
`Library.delete`.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from library.api import Library
from library.bibtex import parse_file
from library.citations import STYLES
from library.exporters import EXPORTERS, build_pack
from library.packs import (PACK_FORMAT_VERSION, KeyMessage, Pack, PackReference, Snapshot, dump_pack,
                           load_pack)
from library.packstore import PackStore
from library.records import Record
from tests.security_support import seed_collection, settings_for

REPO = Path(__file__).resolve().parent.parent
SEED_KEYS = sorted(path.stem for path in (REPO / "references").glob("*.bib"))
# Packs of a few references each: every seed reference is in one, and each pack fits the
# one page a PDF must fit.
GROUP = 7
GROUPS = [tuple(SEED_KEYS[i:i + GROUP]) for i in range(0, len(SEED_KEYS), GROUP)]
FORMATS = tuple(EXPORTERS)


def _pack(keys: tuple[str, ...], *, notes: bool = True) -> Pack:
    return Pack(title="Saved before the references changed",
                key_messages=(KeyMessage("Every reference backs this.", tuple(range(1, len(keys) + 1))),),
                references=tuple(PackReference(key, f"Why {key} matters." if notes else "") for key in keys))


def _comparable(fmt: str, data: bytes) -> object:
    """The rendering, to compare: a Word file by its parts (the zip's own clock times aside)."""
    if fmt != "docx":
        return data
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _render_all(library: Library, packs: list[Pack]) -> dict[tuple[int, str, str], object]:
    return {(number, fmt, style): _comparable(fmt, library.render_pack(pack, fmt, style))
            for number, pack in enumerate(packs) for fmt in FORMATS for style in STYLES}


@pytest.fixture(scope="module")
def renderings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[tuple[int, str, str], object]]:
    root = tmp_path_factory.mktemp("snapshots")
    seed_collection(root)
    library = Library(settings_for(root))
    # Saved as the app and the CLI save them: snapshots taken, written as JSON and read back.
    packs = [load_pack(dump_pack(_pack(keys).with_snapshots(library.get_many(keys)))) for keys in GROUPS]
    packs.append(load_pack(dump_pack(_pack(GROUPS[0], notes=False).with_snapshots(library.get_many(GROUPS[0])))))
    result = {"before": _render_all(library, packs)}
    for key in SEED_KEYS:
        library.edit(key, {}, new_key=f"{key}renamed")
    assert all(record is None for record in library.get_many(SEED_KEYS).values())
    result["renamed"] = _render_all(library, packs)
    for key in SEED_KEYS:
        library.delete(f"{key}renamed")
    assert not list((root / "references").glob("*.bib"))
    result["deleted"] = _render_all(library, packs)
    library.close()
    return result


@pytest.mark.parametrize("after", ["renamed", "deleted"])
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("number", range(len(GROUPS)), ids=[f"{keys[0]}..{keys[-1]}" for keys in GROUPS])
def test_every_seed_reference_renders_the_same_once_renamed_or_deleted(
        renderings: dict[str, dict[tuple[int, str, str], object]], number: int, fmt: str, after: str) -> None:
    for style in STYLES:
        before = renderings["before"][(number, fmt, style)]
        assert renderings[after][(number, fmt, style)] == before, (GROUPS[number], fmt, style)


def test_a_reference_without_a_note_keeps_its_saved_key_finding(
        renderings: dict[str, dict[tuple[int, str, str], object]]) -> None:
    # The brief prefills an empty note with the key finding; a removed reference's comes from its snapshot.
    last = len(GROUPS)
    for after in ("renamed", "deleted"):
        for fmt in FORMATS:
            for style in STYLES:
                assert renderings[after][(last, fmt, style)] == renderings["before"][(last, fmt, style)]
    markdown = renderings["deleted"][(last, "md", "apa")]
    assert isinstance(markdown, bytes)
    finding = Record.from_entry(parse_file(REPO / "references" / f"{GROUPS[0][0]}.bib").entries[0]).key_finding
    assert finding and finding.split(".")[0] in markdown.decode()


# ---------------------------------------------------------------- the defects QA found, as they were found


def _seed_record(key: str) -> Record:
    [entry] = parse_file(REPO / "references" / f"{key}.bib").entries
    return Record.from_entry(entry)


@pytest.mark.parametrize("key", SEED_KEYS)
def test_a_snapshot_rebuilds_the_record_the_collection_gave(key: str) -> None:
    record = _seed_record(key)
    saved = load_pack(dump_pack(_pack((key,)).with_snapshots({key: record}))).references[0].snapshot
    assert saved is not None
    rebuilt = saved.to_record(key)
    assert rebuilt == record  # every field of the dataclass: title, authors and editors, year, venue...
    assert rebuilt.fields == record.fields
    assert rebuilt.entry is not None and record.entry is not None
    assert (rebuilt.entry.type, rebuilt.entry.fields, rebuilt.entry.persons) == \
        (record.entry.type, record.entry.fields, record.entry.persons)


def test_the_share_link_keeps_the_editor_and_the_protected_capitals(tmp_path: Path) -> None:
    seed_collection(tmp_path)
    library = Library(settings_for(tmp_path))
    keys = ("figley1995compassion", "felitti1998relationship", "kessler2017trauma")
    pack = _pack(keys).with_snapshots(library.get_many(keys))
    stored = library.packs.create(pack, owner=None)
    token = library.packs.share(stored.edit_token, None).share_token
    assert token
    before = {fmt: library.render_pack(library.packs.shared(token).pack, fmt, "apa") for fmt in ("md", "bib")}
    library.edit("figley1995compassion", {}, new_key="figley1995b")
    library.edit("felitti1998relationship", {}, new_key="felitti1998ace")
    library.delete("kessler2017trauma")
    shared = library.packs.shared(token)
    markdown = library.render_pack(shared.pack, "md", shared.style).decode()
    assert markdown == before["md"].decode()
    assert "Figley, C. R. (Ed.). (1995)" in markdown
    assert "The Adverse Childhood Experiences (ACE) Study" in markdown
    assert "Trauma and PTSD in the WHO World Mental Health Surveys" in markdown
    bib = library.render_pack(shared.pack, "bib", shared.style).decode()
    assert bib == before["bib"].decode()
    assert "editor = {Figley, Charles R.}" in bib and "author = {Figley" not in bib
    library.close()


# ---------------------------------------------------------------- packs saved before format 2


# A pack as the library wrote it before snapshots kept the BibTeX entry (format 1): decoded
# details, every person an author.
FORMAT_1 = {
    "version": 1, "title": "Saved by an earlier version", "audience": "", "ask": "", "concern": "",
    "key_messages": [{"text": "Adversity is common.", "cites": [1, 2]}],
    "references": [
        {"key": "felitti1998relationship", "note": "n", "snapshot": {
            "type": "article",
            "title": "Relationship of Childhood Abuse and Household Dysfunction to Many of the Leading "
                     "Causes of Death in Adults: The Adverse Childhood Experiences (ACE) Study",
            "authors": [{"family": "Felitti", "given": "Vincent J."}, {"family": "Anda", "given": "Robert F."}],
            "year": 1998, "doi": "10.1016/S0749-3797(98)00017-8", "venue": "American Journal of Preventive Medicine",
            "volume": "14", "number": "4", "pages": "245–258", "evidence_type": "cohort-study",
            "themes": ["aces"]}},
        {"key": "removed2001", "note": "n", "snapshot": {
            "type": "book", "title": "A Book With {Braces} & 100% Symbols", "authors": [
                {"literal": "Department of Health and Social Care"}],
            "year": 2001, "doi": "", "venue": "HMSO", "url": "https://example.org/book"}},
    ],
    "prepared_by": "", "date": "2024-05-01", "selection": {"searches": [], "filters": [], "note": ""},
}


# Its references in Markdown as the version that wrote format 1 rendered them (checked against it):
# the details it kept render as they did, no better (the capitals of "ACE Study" were already lost).
MD_FORMAT_1 = (
    "- \\[1\\] Felitti, V. J., \\& Anda, R. F. (1998). Relationship of childhood abuse and household "
    "dysfunction to many of the leading causes of death in adults: The adverse childhood experiences (ACE) "
    "study. *American Journal of Preventive Medicine*, *14*(4), 245–258. "
    "[https://doi.org/10.1016/S0749-3797(98)00017-8](https://doi.org/10.1016/S0749-3797%2898%2900017-8)\n"
    "- \\[2\\] Department of Health and Social Care. (2001). *A Book With {Braces} \\& 100% Symbols*. HMSO. "
    "[https://example.org/book](https://example.org/book)\n")


def test_a_pack_saved_in_format_1_still_loads_renders_and_is_written_in_format_2() -> None:
    pack = load_pack(json.dumps(FORMAT_1))
    felitti, book = (r.snapshot for r in pack.references)
    assert felitti is not None and book is not None
    record = felitti.to_record("felitti1998relationship")
    assert (record.title, [n.family for n in record.authors], record.year, record.venue, record.doi,
            record.fields["volume"], record.fields["pages"], record.evidence_type, record.themes) == (
        FORMAT_1["references"][0]["snapshot"]["title"], ["Felitti", "Anda"], 1998,  # type: ignore[index]
        "American Journal of Preventive Medicine", "10.1016/S0749-3797(98)00017-8", "14", "245–258",
        "cohort-study", ("aces",))
    other = book.to_record("removed2001")
    assert (other.title, other.authors[0].family, other.authors[0].literal, other.venue, other.url) == (
        "A Book With {Braces} & 100% Symbols", "Department of Health and Social Care", True, "HMSO",
        "https://example.org/book")
    references = build_pack(pack, {}, "md", "apa").decode().split("## References")[1]
    assert MD_FORMAT_1 in references
    for fmt in FORMATS:
        for style in STYLES:
            assert build_pack(pack, {}, fmt, style)  # every format renders from the snapshots alone
    written = json.loads(dump_pack(pack))
    assert written["version"] == PACK_FORMAT_VERSION == 2
    assert written["references"][0]["snapshot"]["persons"] == {"author": ["Felitti, Vincent J.", "Anda, Robert F."]}
    assert written["references"][1]["snapshot"]["persons"] == {"author": ["{Department of Health and Social Care}"]}
    assert load_pack(dump_pack(pack)) == pack  # read the old, write the new, read the new: the same pack


def test_packs_saved_in_format_1_in_the_database_still_open(tmp_path: Path) -> None:
    from library.database import Database, default_url
    from library.tables import packs as packs_table
    from sqlalchemy import update

    store = PackStore(Database(default_url(tmp_path / "data")))
    stored = store.create(Pack(title="placeholder"), owner=None)
    old_body = json.dumps(FORMAT_1)
    with store.database.write() as connection:  # the row as an earlier version left it
        connection.execute(update(packs_table).where(packs_table.c.id == stored.id).values(body=old_body))
    opened = store.open(stored.edit_token, None)
    assert opened.pack == load_pack(old_body)
    saved = store.save(stored.edit_token, opened.pack, who=None)
    assert json.loads(dump_pack(saved.pack))["version"] == 2 and saved.pack == opened.pack


# ---------------------------------------------------------------- what a pack file may hold


def _with_snapshot(snapshot: object) -> str:
    return json.dumps({"title": "T", "references": [{"key": "x2020", "snapshot": snapshot}]})


@pytest.mark.parametrize(("snapshot", "message"), [
    ({"type": "article", "fields": {"title": "Unbalanced {brace"}},
     r"'references\[1\]\.snapshot\.fields\.title' is not BibTeX the library can read: an opening brace “\{” is "
     r"never closed"),
    ({"type": "article", "fields": {"title": "Open { brace"}},
     r"'references\[1\]\.snapshot\.fields\.title' is not BibTeX the library can read: an opening brace"),
    ({"type": "article", "fields": {"title": "Closes } early {"}},
     r"'references\[1\]\.snapshot\.fields\.title' is not BibTeX the library can read: a closing brace"),
    ({"type": "article", "fields": {"journal": "J", "title": "X}, note = {injected"}},
     r"'references\[1\]\.snapshot\.fields\.title' is not BibTeX the library can read: a closing brace “\}” "
     r"comes before its opening brace “\{”, so the value would end early"),
    ({"type": "article", "persons": {"author": ["Smith, A. and Jones, B."]}},
     r"'references\[1\]\.snapshot\.persons\.author\[1\]' is not BibTeX the library can read: “Smith, A\. and "
     r"Jones, B\.” would read as more than one name"),
    ({"type": "article", "persons": {"author": ["Doe, Jane", "Smith, John and Doe, Jane"]}},
     r"'references\[1\]\.snapshot\.persons\.author\[2\]' .* would read as more than one name"),
    ({"type": "article", "fields": {"title": "x" * 5_001}}, r"'references\[1\]\.snapshot\.fields\.title' is 5,001 "
                                                             r"characters long; the limit is 5,000"),
    ({"type": "article", "fields": {"abstract": "x" * 100_000}}, r"is 100,000 characters long; the limit is 5,000"),
    ({"type": "article", "fields": {"author": "Smith, A."}}, r"holds names: put them under"),
    ({"type": "article", "fields": {"bad name": "x"}}, r"is not a BibTeX field name"),
    ({"type": "article", "fields": {"title": 3}}, r"'references\[1\]\.snapshot\.fields\.title' must be text"),
    ({"type": "article", "fields": ["title"]}, r"must be an object of BibTeX fields"),
    ({"type": "article", "persons": {"reviewer": ["Smith, A."]}}, r"persons are author, editor, translator"),
    ({"type": "article", "persons": {"author": "Smith, A."}}, r"must be a list of text"),
    ({"type": "@article{", "fields": {}}, r"must be a BibTeX entry type"),
    ({"type": "article", "fields": {f"f{i}": "x" for i in range(101)}}, r"has 101 fields; the limit is 100"),
])
def test_a_snapshot_that_is_not_bibtex_is_refused_naming_the_field(snapshot: object, message: str) -> None:
    from library.errors import PackFileInvalid

    with pytest.raises(PackFileInvalid, match=message):
        load_pack(_with_snapshot(snapshot))


def test_a_snapshot_keeps_no_local_files_and_an_upload_keeps_no_links() -> None:
    from library import drafts

    snapshot = {"type": "misc", "fields": {"title": "Elsewhere", "file": "/home/someone/paper.pdf",
                                           "url": "https://evil.example/away",
                                           "howpublished": "\\url{https://evil.example/too}", "doi": "10.5555/x"}}
    pack = load_pack(_with_snapshot(snapshot))
    saved = pack.references[0].snapshot
    assert saved is not None and "file" not in dict(saved.fields)
    safe = drafts.from_upload(pack, {})
    kept = safe.references[0].snapshot
    assert kept is not None and dict(kept.fields) == {"title": "Elsewhere", "doi": "10.5555/x"}
    assert kept == Snapshot("misc", (("title", "Elsewhere"), ("doi", "10.5555/x")))


@hypothesis_settings(max_examples=300, deadline=None)
@given(title=st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=60), venue=st.text(max_size=30), kind=st.text(max_size=12),
       url=st.text(max_size=30), doi=st.text(max_size=30),
       names=st.lists(st.fixed_dictionaries({"family": st.text(min_size=1, max_size=20)},
                                            optional={"given": st.text(max_size=20), "particle": st.text(max_size=6),
                                                      "suffix": st.text(max_size=4)})
                      | st.fixed_dictionaries({"literal": st.text(min_size=1, max_size=30)}), max_size=3))
def test_any_format_1_snapshot_is_saved_again_in_format_2(title: str, venue: str, kind: str, url: str, doi: str,
                                                            names: list[dict[str, str]]) -> None:
    # Whatever an earlier version saved must stay savable: its details become a BibTeX entry that reads back.
    from library.errors import PackError

    raw = {"type": kind, "title": title, "venue": venue, "url": url, "doi": doi, "authors": names, "year": 2001}
    try:
        pack = load_pack(_with_snapshot(raw))
    except PackError:
        return  # a name with no family name once cleaned: refused, naming the field
    assert load_pack(dump_pack(pack)) == pack
    snapshot = pack.references[0].snapshot
    assert snapshot is not None
    # The title as typed, spaces as BibTeX reads them, without the characters loading drops.
    from library.values import BIDI_CONTROLS, INVISIBLE
    kept = "".join(c for c in title if c not in INVISIBLE | BIDI_CONTROLS)
    assert snapshot.to_record("x2020").title == " ".join(kept.split())


# ---------------------------------------------------------------- a key renamed, then given to another work

REUSED = "azeem2011effectiveness"
SAVED_TITLE = "Effectiveness of six core strategies based on trauma informed care"
OTHER_WORK = ("@article{azeem2011effectiveness,\n author = {Azeem, Zed},\n title = {A completely different paper},\n"
              " journal = {Other Journal},\n year = {2011},\n themes = {burnout},\n evidence-type = {qualitative}\n}\n")


@pytest.fixture
def reused(tmp_path: Path) -> Library:
    """A collection where a pack's reference was renamed, and its old key then given to another work."""
    seed_collection(tmp_path)
    library = Library(settings_for(tmp_path))
    pack = load_pack(dump_pack(_pack((REUSED,)).with_snapshots(library.get_many((REUSED,)))))
    library.__dict__["test_pack"] = pack
    library.edit(REUSED, {}, new_key="azeem2011six")
    library.add_text(OTHER_WORK)
    yield library
    library.close()


def test_a_key_given_to_another_work_is_cited_as_the_pack_saved_it_and_the_user_is_told(reused: Library) -> None:
    from library.packs import compare, replaced_notes, resolve_records

    pack = reused.__dict__["test_pack"]
    current = reused.get_many(pack.keys)
    assert current[REUSED] is not None and current[REUSED].title == "A completely different paper"
    [record] = resolve_records(pack, current)
    assert record.title.startswith(SAVED_TITLE)
    for fmt in ("md", "html", "bib", "ris", "csljson"):
        text = reused.render_pack(pack, fmt).decode()
        assert "completely different" not in text, fmt
        assert "six core strategies" in text, fmt
    # Saving the pack again keeps the work it cites: the snapshot is not replaced by the other work.
    assert pack.with_snapshots(current).references[0].snapshot == pack.references[0].snapshot
    [note] = compare(pack, current)
    assert note == replaced_notes(pack, current)[0]
    assert "now names a different work" in note and "A completely different paper" in note
    assert SAVED_TITLE in note
    assert reused.preview_pack(pack).notes == (note,)
    # The note prefilled for a reference without one is the saved work's key finding, not the other work's.
    empty = load_pack(dump_pack(_pack((REUSED,), notes=False).with_snapshots({REUSED: record})))
    assert "six core strategies" in reused.render_pack(empty, "md").decode()


@pytest.mark.parametrize(("change", "same"), [
    ({"title": "Effectiveness of six core strategies based on trauma-informed care in reducing seclusions and "
               "restraints at a child and adolescent psychiatric hospital"}, True),  # a corrected hyphen
    ({"pages": "6--11", "volume": "24"}, True),  # details added
    ({"year": "2010"}, True),  # a corrected year: same title and first author
    ({"doi": ""}, True),  # the DOI removed: the title, year and author still match
    ({"doi": "10.1111/j.1744-6171.2010.00999.x"}, True),  # a corrected DOI: the same title and first author
    ({"doi": "10.1111/j.1744-6171.2010.00999.x", "title": "Six core strategies revisited"}, False),
    ({"title": "A completely different paper"}, True),  # the same DOI: the same work, its title rewritten
    ({"title": "A completely different paper", "doi": ""}, False),
    ({"title": "Effectiveness of six core strategies based on trauma informed care in reducing seclusions and "
               "restraints at a child and adolescent psychiatric hospital", "year": "2019", "doi": ""}, True),
])
def test_a_corrected_reference_still_uses_the_current_record(tmp_path: Path, change: dict[str, str],
                                                             same: bool) -> None:
    from library.packs import compare, is_replaced, resolve_records

    seed_collection(tmp_path)
    library = Library(settings_for(tmp_path))
    try:
        pack = load_pack(dump_pack(_pack((REUSED,)).with_snapshots(library.get_many((REUSED,)))))
        library.edit(REUSED, change)
        current = library.get_many((REUSED,))
        [record] = resolve_records(pack, current)
        assert is_replaced(pack.references[0], current[REUSED]) is not same
        assert (record == current[REUSED]) is same
        assert any("now names a different work" in n for n in compare(pack, current)) is not same
    finally:
        library.close()


def test_a_snapshot_keeps_no_field_longer_than_a_pack_file_allows(tmp_path: Path) -> None:
    # The collection allows long fields (an abstract); the pack saved from it must still load.
    seed_collection(tmp_path)
    library = Library(settings_for(tmp_path))
    try:
        library.edit(REUSED, {"abstract": "Long. " * 1_000})
        record = library.get_many((REUSED,))[REUSED]
        assert record is not None and len(record.fields["abstract"]) > 5_000
        pack = load_pack(dump_pack(_pack((REUSED,)).with_snapshots({REUSED: record})))
        snapshot = pack.references[0].snapshot
        assert snapshot is not None and "abstract" not in dict(snapshot.fields)
        assert dict(snapshot.fields)["title"] == record.entry.fields["title"]  # type: ignore[union-attr]
    finally:
        library.close()
